"""Every error as JSON ``{"detail": "<sentence>"}``: validation, busy pool, and the unexpected."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from lawt.web.inference import Busy

log = logging.getLogger("lawt.web")
MAX_ERRORS = 5


def describe(exc: RequestValidationError) -> str:
    """One readable line per problem, e.g. ``operands: operand 1: rows have different lengths (2, 3)``."""
    lines = []
    for error in exc.errors()[:MAX_ERRORS]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "json_invalid":
            where, message = "body", f"invalid JSON: {error.get('ctx', {}).get('error', 'cannot be parsed')}"
        elif where == "body" and error.get("type") in ("model_attributes_type", "dict_type"):
            message = "expected a JSON object sent as Content-Type: application/json"
        lines.append(f"{where}: {message}")
    return "; ".join(lines)


async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": describe(exc)}, status_code=422)


async def _busy(_: Request, exc: Busy) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after)})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse({"detail": "internal error"}, status_code=500)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Busy, _busy)
    app.add_exception_handler(Exception, _unexpected)
