"""The disclosure report of a month or a year."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ledctl import report
from ledctl.api.deps import ERRORS, Console, ConsoleDep, Viewer

router = APIRouter()


@router.get("/api/report", responses=ERRORS)
def report_api(
    user: Viewer,
    console: ConsoleDep,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    year: Annotated[int | None, Query(ge=2000, le=2999)] = None,
) -> dict[str, Any]:
    return disclosure(console, month, year)


def disclosure(console: Console, month: str | None, year: int | None) -> dict[str, Any]:
    label, start, end = report.period(month, year, console.dep.tz)
    r = report.build(
        console.store, console.notices.list(), [b.id for b in console.dep.boards], label, start, end
    )
    return r.as_dict()
