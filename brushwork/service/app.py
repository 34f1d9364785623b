"""`create_app(config)`: the FastAPI application (pages, API, static files), its middleware and
error handling, and the sweeper thread that re-queues jobs whose worker died.

This is the web process's composition root: it makes the Celery app (with the tasks bound to a
`jobs.Runner`, so an in-process worker can consume it too), hands its `Broker` to the `Service`,
and the Service to the routes (`app.state.service`).
"""
from __future__ import annotations

import logging
import secrets
import weakref
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from . import api, pages
from .config import MB, ServiceConfig
from .jobs import Runner, Service
from .queue import Broker, make_celery
from .security import BodyLimit, RateLimiter, RequestLimit, SecurityHeaders, StreamSlots
from .sweeper import Sweeper

log = logging.getLogger("brushwork.service")
HERE = Path(__file__).parent


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api") and "text/html" in request.headers.get("accept", "")


def create_app(cfg: ServiceConfig | None = None, sweeper: bool = True) -> FastAPI:
    cfg = cfg or ServiceConfig.from_env()
    svc = Service(cfg, Broker(make_celery(cfg, runner=lambda broker: Runner(cfg, broker))))

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        sw = Sweeper(svc, cfg.sweep_every_s).start() if sweeper else None
        try:
            yield
        finally:
            if sw is not None:
                sw.stop()

    app = FastAPI(title="brushwork", version=__version__, lifespan=lifespan, docs_url="/api/docs",
                  redoc_url=None, openapi_url="/api/openapi.json",
                  description="Neural style transfer as a service: submit a photo, follow its progress, "
                              "download the painting. Job URLs need the job's token "
                              "(`Authorization: Bearer TOKEN` or `?token=`).")
    base_openapi = app.openapi
    app.openapi = lambda: app.openapi_schema or api.document_limits(base_openapi(), cfg)   # type: ignore[method-assign]
    app.state.service = svc
    app.state.limiter = RateLimiter()
    app.state.streams = StreamSlots(cfg.max_streams_per_client, cfg.max_streams)
    app.state.watches = weakref.WeakKeyDictionary()    # event loop -> streams.JobWatch

    app.include_router(api.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    # innermost; plain ASGI (not @app.middleware): it does not wrap every event stream's chunks in a task
    app.add_middleware(RequestLimit, limiter=app.state.limiter, secret=svc.secret, rate=cfg.rate_requests,
                       trust_forwarded=cfg.trust_forwarded)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "request refused"
        if _wants_html(request):
            return pages.error_page(request, exc.status_code, detail)
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse({"detail": "malformed JSON"}, status_code=400)
        detail = api.one_line(exc)
        if _wants_html(request):
            return pages.error_page(request, 422, detail)
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception):
        ref = secrets.token_hex(4)
        log.error("internal error (reference %s) on %s %s", ref, request.method, request.url.path, exc_info=exc)
        detail = f"internal error (reference {ref}); it has been logged"
        if _wants_html(request):
            return HTMLResponse(f"<h1>Something went wrong</h1><p>{detail}</p>", status_code=500)
        return JSONResponse({"detail": detail}, status_code=500)

    if cfg.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware
        app.add_middleware(CORSMiddleware, allow_origins=list(cfg.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"], allow_credentials=False)
    slack = 1 * MB
    app.add_middleware(BodyLimit, default=64 * 1024, limits={
        "/api/jobs": 2 * cfg.max_upload_bytes + slack,    # photo + painting
        "/submit": max(cfg.max_video_bytes + cfg.max_upload_bytes, 2 * cfg.max_sound_bytes) + slack,  # photos, clips, sounds
        "/api/videos": cfg.max_video_bytes + cfg.max_upload_bytes + slack,
        "/api/sounds": 2 * cfg.max_sound_bytes + slack,    # content + style
    })
    app.add_middleware(SecurityHeaders)
    return app


__all__ = ["create_app", "HTTPException"]
