"""The disclosure report of a month or a year: the figures of `ledctl report` (ledctl.report builds
them), each named in Chinese and English, every board's availability, and a CSV download."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from ledctl import report
from ledctl.api import i18n
from ledctl.api.deps import ERRORS, Console, ConsoleDep, Viewer

router = APIRouter()

Month = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")]
Year = Annotated[int | None, Query(ge=2000, le=2999)]


@router.get("/api/report", responses=ERRORS)
def report_api(user: Viewer, console: ConsoleDep, month: Month = None, year: Year = None) -> dict[str, Any]:
    return disclosure(console, month, year)


def disclosure(console: Console, month: str | None, year: int | None) -> dict[str, Any]:
    label, start, end = report.period(month, year, console.dep.tz)
    r = report.build(
        console.store, console.notices.list(), [b.id for b in console.dep.boards], label, start, end
    )
    return r.as_dict()


def figures(r: dict[str, Any], lang: str) -> list[dict[str, Any]]:
    """The report's figures in order, each with its Chinese and English name and its value as shown.
    A figure this page does not know yet (report.py grows) is listed under its key."""
    out = []
    for key, value in r.items():
        if key in ("period", "start", "end", "board_availability", "notices_published"):
            continue
        if isinstance(value, dict | list):
            continue
        zh, en = i18n.REPORT_WORDS.get(key, (key, key.replace("_", " ")))
        shown = i18n.percent(value) if key.endswith("availability") else ("—" if value is None else value)
        out.append({"key": key, "zh": zh, "en": en, "value": value, "shown": shown})
        if key == "notices_published_total":
            for level, origins in sorted((r.get("notices_published") or {}).items()):
                for origin, count in sorted(origins.items()):
                    out.append({
                        "key": f"notices_published.{level}.{origin}",
                        "zh": f"　其中{i18n.pick(i18n.WORDS, level, 'zh')}·"
                              f"{i18n.pick(i18n.ORIGIN_WORDS, origin, 'zh')}",
                        "en": f"  of which {level}, {i18n.pick(i18n.ORIGIN_WORDS, origin, 'en')}",
                        "value": count, "shown": count,
                    })
    return out


def availability(console: Console, r: dict[str, Any]) -> list[dict[str, Any]]:
    shares = r.get("board_availability") or {}
    return [{"board": b.id, "name": b.name, "area": b.area, "share": shares.get(b.id),
             "shown": i18n.percent(shares.get(b.id))} for b in console.dep.boards]


@router.get("/api/report.csv", responses=ERRORS)
def report_csv(user: Viewer, console: ConsoleDep, month: Month = None, year: Year = None) -> Response:
    r = disclosure(console, month, year)
    out = io.StringIO()
    out.write("\ufeff")  # for spreadsheet programs that otherwise misread UTF-8
    writer = csv.writer(out)
    writer.writerow(["指标", "figure", "key", "数值 value"])
    writer.writerow(["统计期间", "period", "period", r.get("period", "")])
    for f in figures(r, "zh"):
        value = f["value"]
        writer.writerow([f["zh"].strip("　"), f["en"].strip(), f["key"],
                         "" if value is None else (f"{value:.4f}" if isinstance(value, float) else value)])
    for a in availability(console, r):
        writer.writerow([f"可用率 {a['name']}", f"availability {a['board']}",
                         f"board_availability.{a['board']}",
                         "" if a["share"] is None else f"{a['share']:.4f}"])
    name = f"report-{r.get('period', '')}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
