"""The audit log: its entries, and its check (chain, key, anchors)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ledctl.api.deps import ERRORS, Console, ConsoleDep, Viewer

router = APIRouter()


@router.get("/api/audit", responses=ERRORS)
def audit_log(
    user: Viewer,
    console: ConsoleDep,
    subject: Annotated[str | None, Query(max_length=80)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    return audit_entries(console, subject, limit)


def audit_entries(console: Console, subject: str | None, limit: int) -> list[dict[str, Any]]:
    entries = console.notices.audit_log(subject)  # a read: no write lock for a page view
    return [e.as_json() for e in entries[-limit:]]


@router.get("/api/audit/verify", responses=ERRORS)
def audit_verify(user: Viewer, console: ConsoleDep) -> dict[str, Any]:
    return audit_check(console)


def audit_check(console: Console) -> dict[str, Any]:
    check = console.notices.check_audit()  # the chain, its key and anchors, every notice's history
    return {"intact": check.intact, "problems": check.problems, "warnings": check.warnings,
            "rows": check.rows, "head": check.head, "keyed_from": check.keyed_from}
