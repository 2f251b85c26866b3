"""Strict JSON request bodies: no NaN/Infinity, no overflowing numbers, bounded nesting.

Python's ``json`` accepts ``NaN`` and ``Infinity`` literals, turns ``1e999`` into infinity and recurses
once per nesting level; :class:`StrictJSONRoute` parses bodies with those holes closed (FastAPI's
"custom Request and APIRoute class" pattern).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

MAX_DEPTH = 8
MAX_INT_DIGITS = 300
# A string (to skip, even unterminated, so the scan stays linear) or a bracket
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)


def _invalid(reason: str) -> HTTPException:
    return HTTPException(status_code=422, detail=f"invalid JSON: {reason}")


def _constant(name: str) -> float:
    raise _invalid(f"{name} is not a JSON number")


def _float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise _invalid(f"{token[:20]} is too large")
    return value


def _int(token: str) -> int:
    if len(token) > MAX_INT_DIGITS:
        raise _invalid(f"integer with {len(token)} digits is too large")
    return int(token)


def check_depth(body: bytes, limit: int = MAX_DEPTH) -> None:
    """Raise when arrays and objects nest deeper than ``limit`` (strings are skipped)."""
    depth = 0
    for token in _TOKENS.findall(body):
        if token[:1] == b'"':
            continue
        depth += 1 if token in b"[{" else -1
        if depth > limit:
            raise _invalid(f"nested deeper than {limit} levels")


def parse(body: bytes) -> Any:
    """Decode a request body strictly; JSON syntax errors propagate as :class:`json.JSONDecodeError`."""
    check_depth(body)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid("the body is not UTF-8") from None
    return json.loads(text, parse_constant=_constant, parse_float=_float, parse_int=_int)


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = parse(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """A route whose JSON body is read by :func:`parse`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler
