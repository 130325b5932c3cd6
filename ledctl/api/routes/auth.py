"""Logging in and out (a cookie session with a CSRF token), and who the caller is."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import Field

from ledctl.api.deps import ERRORS, LOGIN_ERRORS, ConsoleDep, Input, Viewer, caller
from ledctl.api.security import SESSION_COOKIE, PasswordsBusy, real_peer
from ledctl.notices.users import AuthError

router = APIRouter()


class LoginIn(Input):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


# Async, and the password checked on the console's own small pool (PasswordChecks): a flood of logins
# never occupies the threads the other routes run on.
@router.post("/api/login", responses=LOGIN_ERRORS)
async def login(body: LoginIn, request: Request, response: Response, console: ConsoleDep) -> dict[str, str]:
    now = console.clock.now()
    peer = real_peer(request.client.host if request.client else None,
                     request.headers.get("x-forwarded-for"), console.dep.console.trusted_proxies)
    wait = console.limiter.retry_after(body.name, peer, now)
    if wait:
        raise HTTPException(429, f"too many failed logins: try again in {wait} s")
    where = {"from": peer}
    try:
        user = await console.passwords.login(console.users, body.name, body.password)
    except PasswordsBusy as e:
        raise HTTPException(503, str(e), headers={"Retry-After": "2"}) from None
    except AuthError as e:
        console.limiter.failed(body.name, peer, now)
        # Who tried is only a claim: the name as typed is the subject, nobody is the actor.
        console.notices.record("-", "login-failed", f"user:{body.name}", where)
        raise HTTPException(401, str(e)) from None
    console.limiter.succeeded(body.name, peer)
    console.notices.record(user.name, "login", f"user:{user.name}", where)
    token, session = console.sessions.create(user.name, now)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=console.secure_cookies,
        max_age=8 * 3600,
        path="/",
    )
    return {"user": user.name, "role": user.role, "csrf": session.csrf}


@router.post("/api/logout")
def logout(request: Request, response: Response, console: ConsoleDep) -> dict[str, bool]:
    user = caller(request)  # a cookie session must show its CSRF token to log out too
    console.sessions.drop(request.cookies.get(SESSION_COOKIE))
    if user is not None:
        console.notices.record(user.name, "logout", f"user:{user.name}", None)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"ok": True}


@router.get("/api/me", responses=ERRORS)
def me(user: Viewer) -> dict[str, str]:
    return {"user": user.name, "role": user.role}
