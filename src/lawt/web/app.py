"""The application factory: services, middleware, routers and the static page."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.middleware import Middleware

from lawt.solver import Calculator
from lawt.web import errors
from lawt.web.db import connect
from lawt.web.headers import SecurityHeadersMiddleware
from lawt.web.inference import InferencePool
from lawt.web.limits import BodyLimitMiddleware, TimeLimitMiddleware
from lawt.web.routers import comments, compute, examples, health, models, pages, stats
from lawt.web.routers.pages import STATIC_DIR
from lawt.web.services import Limits, Services
from lawt.web.store import Store
from lawt.web.visitors import VisitorTracker
from lawt.zoo import ZOO_DIR


def create_app(root: Path = ZOO_DIR, database_url: str | None = None, *, calculator: Calculator | None = None,
               limits: Limits | None = None) -> FastAPI:
    """The web calculator for the models under ``root``, storing comments and usage at ``database_url``.

    ``calculator`` replaces the one loaded from ``root`` (tests use fakes); ``limits`` tunes the bounds.
    """
    limits = limits or Limits()
    engine = connect(database_url)
    store = Store(engine)
    svc = Services(calculator=calculator or Calculator(root=root), store=store,
                   pool=InferencePool(limits.workers, limits.queue), visitors=VisitorTracker(store),
                   root=root, limits=limits)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        svc.pool.shutdown()
        engine.dispose()

    app = FastAPI(
        title="LAWT Calculator", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
        description="Linear algebra answered by trained transformers, beside the exact answer.",
        middleware=[Middleware(SecurityHeadersMiddleware),
                    Middleware(TimeLimitMiddleware, seconds=limits.request_seconds),
                    Middleware(BodyLimitMiddleware, max_bytes=limits.max_body_bytes)],
    )
    app.state.services = svc
    errors.install(app)
    for module in (compute, models, examples, comments, stats):
        app.include_router(module.router, prefix="/api")
    app.include_router(health.router)
    app.include_router(pages.router)
    app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="static")
    return app
