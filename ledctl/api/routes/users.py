"""Users and roles: list them and add one (admins only; each addition is audited)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter
from pydantic import Field

from ledctl.api.deps import ERRORS, Admin, ConsoleDep, Input
from ledctl.notices import audit

router = APIRouter()


class UserIn(Input):
    name: str = Field(min_length=1, max_length=64)
    role: Literal["viewer", "operator", "approver", "admin"]
    password: str = Field(min_length=10, max_length=256)


@router.get("/api/users", responses=ERRORS)
def users(user: Admin, console: ConsoleDep) -> list[dict[str, Any]]:
    return [{"name": u.name, "role": u.role, "disabled": u.disabled} for u in console.users.list()]


@router.post("/api/users", status_code=201, responses=ERRORS)
def add_user(body: UserIn, user: Admin, console: ConsoleDep) -> dict[str, Any]:
    now = console.clock.now()
    seal = console.notices.seal  # the audit log's key and anchors
    added = console.users.add(
        body.name,
        body.role,
        body.password,
        now,
        user,
        lambda db: audit.append(
            db, now, user.name, "user-add", f"user:{body.name}", None, {"role": body.role}, seal=seal
        ),
    )
    seal.anchor(console.notices.db, now)
    return {"name": added.name, "role": added.role, "disabled": False}
