"""What every route of the console shares: the Console (everything it reads and changes), who is
asking (an API token, or a cookie session that shows its CSRF token with every change), the role
each call needs, the errors the OpenAPI document lists, and the picture encoding."""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi import Path as PathParam
from PIL import Image
from pydantic import BaseModel, ConfigDict

from ledctl.api.security import SESSION_COOKIE, LoginLimiter, PasswordChecks, Sessions
from ledctl.clock import Clock
from ledctl.config import Deployment
from ledctl.notices.users import AuthError, User, Users
from ledctl.notices.workflow import Notices
from ledctl.store import Store

NoticeId = Annotated[int, PathParam(ge=1, le=2**62, description="a notice id")]
BoardId = Annotated[str, PathParam(max_length=64)]


@dataclass
class Console:
    """Everything the console reads and changes. `service` and `fleet` are optional: without
    the service there are no pictures of intended programs; without a fleet no /sim."""

    dep: Deployment
    store: Store
    users: Users
    notices: Notices
    clock: Clock
    service: Any = None  # ledctl.service.Service
    fleet: Any = None  # ledctl.simulator.fleet.Fleet (the demo)
    sim_faults: Path | None = None  # the demo's STATE/sim/faults.toml: /sim's switches write it
    sim_faults_now: dict[str, dict[str, object]] = field(default_factory=dict)  # without that file
    secure_cookies: bool = False
    sessions: Sessions = field(default_factory=Sessions)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    passwords: PasswordChecks = field(default_factory=PasswordChecks)


async def console_of(request: Request) -> Console:
    """The Console this app serves (create_app puts it in app.state)."""
    return request.app.state.console


ConsoleDep = Annotated[Console, Depends(console_of)]


# -- input and errors -------------------------------------------------------------------------------


class Input(BaseModel):
    """Every request body: typed as the CLI's flags are. A field the API does not know, a number
    that is not finite (NaN, Infinity) or a string that is not text (a lone surrogate) is a 422
    naming the field, never a value taken silently or a 500."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class ErrorOut(BaseModel):
    error: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut},
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
    422: {"model": ErrorOut},
}
LOGIN_ERRORS = ERRORS | {429: {"model": ErrorOut}, 503: {"model": ErrorOut}}


def input_problems(errors: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each validation error as "field: what is wrong", without the value sent: it may be what
    cannot be written back (NaN, a lone surrogate), and it is the caller's own anyway."""
    out = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
            loc = loc[1:]
        message = str(error.get("msg", "not valid")).removeprefix("Value error, ")
        out.append(f"{'.'.join(loc)}: {message}" if loc else message)  # a whole-body check names its field
    return out


# -- who is asking ----------------------------------------------------------------------------------


def caller(request: Request) -> User | None:
    """The user of an API token or a cookie session; a cookie session's change needs its CSRF token."""
    console: Console = request.app.state.console
    now = console.clock.now()
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        try:
            return console.users.by_token(header[7:].strip())
        except AuthError:
            raise HTTPException(401, "the token is unknown or its user is disabled") from None
    session = console.sessions.get(request.cookies.get(SESSION_COOKIE), now)
    if session is None:
        return None
    user = console.users.get(session.user)
    if user is None or user.disabled:
        return None
    if request.method not in ("GET", "HEAD") and request.headers.get("x-csrf-token") != session.csrf:
        raise HTTPException(403, "missing or wrong X-CSRF-Token (reload the page)")
    return user


def _need(role: str) -> Callable[[Request], User]:
    def check(request: Request) -> User:
        user = caller(request)
        if user is None:
            raise HTTPException(401, "log in first (POST /api/login) or send an API token")
        if not user.can(role):
            raise HTTPException(403, f"{user.name} ({user.role}) may not do this: it needs the {role} role")
        return user

    return check


Viewer = Annotated[User, Depends(_need("viewer"))]
Operator = Annotated[User, Depends(_need("operator"))]
Approver = Annotated[User, Depends(_need("approver"))]
Admin = Annotated[User, Depends(_need("admin"))]


def page_user(request: Request) -> User:
    """The user of a page: anyone logged in (a 401 sends a browser to /login)."""
    user = caller(request)
    if user is None:
        raise HTTPException(401, "log in first")
    return user


# -- pictures ---------------------------------------------------------------------------------------


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
