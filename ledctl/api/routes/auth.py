"""Logging in and out (a cookie session with a CSRF token), and who the caller is."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from ledctl.api.deps import ERRORS, ConsoleDep, ErrorOut, Viewer, caller
from ledctl.api.security import SESSION_COOKIE
from ledctl.notices.users import AuthError

router = APIRouter()


class LoginIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


@router.post("/api/login", responses=ERRORS | {429: {"model": ErrorOut}})
def login(body: LoginIn, request: Request, response: Response, console: ConsoleDep) -> dict[str, str]:
    now = console.clock.now()
    key = (body.name, request.client.host if request.client else "-")
    wait = console.limiter.retry_after(key, now)
    if wait:
        raise HTTPException(429, f"too many failed logins: try again in {wait} s")
    where = {"from": key[1]}
    try:
        user = console.users.login(body.name, body.password)
    except AuthError as e:
        console.limiter.failed(key, now)
        # Who tried is only a claim: the name as typed is the subject, nobody is the actor.
        console.notices.record("-", "login-failed", f"user:{body.name}", where)
        raise HTTPException(401, str(e)) from None
    console.limiter.succeeded(key)
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
