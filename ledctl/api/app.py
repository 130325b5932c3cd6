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

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledctl.api import messages
from ledctl.api.deps import Console, input_problems
from ledctl.api.routes import (
    audit,
    auth,
    boards,
    data,
    events,
    feeds,
    notices,
    pages,
    playlog,
    reports,
    sim,
    users,
)
from ledctl.api.security import safe_next
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
        if console.secure_cookies:  # served over HTTPS: browsers never try plain HTTP here again
            response.headers["Strict-Transport-Security"] = "max-age=31536000"
        return response

    def said(request: Request, text: str) -> dict[str, str]:
        """The error as the rules word it, and for the console in its language (what happened, what
        to do): `error` is what a person reads, `detail` the original for a script or a log."""
        lang = messages.console_lang(request.headers, request.cookies)
        if lang is None:
            return {"error": text}
        return {"error": messages.say(text, lang, console.dep.tz), "detail": text}

    @app.exception_handler(LedctlError)
    async def ledctl_error(request: Request, exc: LedctlError) -> JSONResponse:
        status = 403 if isinstance(exc, AuthError) else 409 if isinstance(exc, NoticeError) else 400
        return JSONResponse(said(request, str(exc)), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid_input(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Each field named, never its value echoed; the console gets the same as sentences in its language.
        errors = exc.errors()
        problems = input_problems(errors)
        lang = messages.console_lang(request.headers, request.cookies)
        text = messages.validation(errors, lang) if lang is not None else "; ".join(problems)
        return JSONResponse({"error": text, "problems": problems}, status_code=422)

    # Starlette's class: FastAPI raises it too (a body that cannot be parsed), and so does routing (404).
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 401 and not request.url.path.startswith("/api/") and request.method == "GET":
            path = request.url.path
            return RedirectResponse(f"/login?next={path}" if safe_next(path) else "/login", status_code=303)
        return JSONResponse(said(request, str(exc.detail)), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    for area in (auth, boards, data, notices, users, audit, reports, playlog, events, pages, sim, feeds):
        app.include_router(area.router)
    return app
