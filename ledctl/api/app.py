"""The HTTP API and the operator console (FastAPI), served inside `ledctl serve`.

JSON under /api (OpenAPI at /openapi.json), pages server-rendered with a little vanilla
JavaScript, live updates by server-sent events. Every call checks the caller's role;
the notice rules themselves live in the workflow, so the console and the CLI agree.
Nothing is loaded from the internet.

The routes live in `ledctl.api.routes`, one router per area; what they share (the Console,
the caller and the roles) in `ledctl.api.deps`. This module assembles them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from ledctl.api.deps import Console
from ledctl.api.routes import audit, auth, boards, data, events, feeds, notices, pages, reports, sim, users
from ledctl.errors import LedctlError
from ledctl.notices.users import AuthError
from ledctl.notices.workflow import NoticeError

__all__ = ["Console", "create_app"]

HERE = Path(__file__).parent


def create_app(console: Console) -> FastAPI:
    app = FastAPI(
        title="ledctl",
        version="1",
        description="Boards, data, notices, audit and reports of one "
        "ledctl deployment. Log in with POST /api/login (a cookie session: send X-CSRF-Token with "
        "changes) or send an API token as `Authorization: Bearer …`.",
        docs_url=None,
        redoc_url=None,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.state.console = console
    app.state.pictures = {}  # LED-look PNGs of programs by (board, program hash): routes/boards.py

    @app.middleware("http")
    async def locked_down(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        # Scripts and everything else only from the console itself: nothing from the internet.
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    @app.exception_handler(LedctlError)
    async def ledctl_error(request: Request, exc: LedctlError) -> JSONResponse:
        status = 403 if isinstance(exc, AuthError) else 409 if isinstance(exc, NoticeError) else 400
        return JSONResponse({"error": str(exc)}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 401 and not request.url.path.startswith("/api/") and request.method == "GET":
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    for area in (auth, boards, data, notices, users, audit, reports, events, pages, sim, feeds):
        app.include_router(area.router)
    return app
