"""The play log (proof of display): what each board showed when, confirmed by the board, and what
did not reach it — per board and for the fleet, as a page, as JSON and as CSV. It is the evidence
the disclosure report rests on: every row is a `displays` row of the store (first and last
confirmation of one program on one board), or failed delivery attempts of a program the board never
confirmed in the period."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from ledctl.api import i18n, messages
from ledctl.api.deps import ERRORS, Console, ConsoleDep, Viewer

router = APIRouter()

DAY = r"^\d{4}-\d{2}-\d{2}$"
DEFAULT_DAYS = 7


def period(console: Console, start: str | None, end: str | None) -> tuple[date, date]:
    """[start, end] as days of the deployment's zone (default: the last seven days)."""
    today = console.clock.now().astimezone(console.dep.tz).date()
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        raise HTTPException(400, "dates are YYYY-MM-DD, like 2026-11-28") from None
    if last < first:
        first, last = last, first
    return first, last


def entries(console: Console, board: str | None, first: date, last: date,
            lang: str) -> list[dict[str, Any]]:
    """The play log of [first, last] (days, inclusive), newest first."""
    tz = console.dep.tz
    now = console.clock.now()
    lo = datetime.combine(first, time(0), tz)
    hi = datetime.combine(last + timedelta(days=1), time(0), tz)
    names = {b.id: b.name for b in console.dep.boards}
    if board is not None and board not in names:
        raise HTTPException(404, f"no board {board!r}")
    titles = {n.id: n.title for n in console.notices.list()}
    rows = console.store.boards()
    out: list[dict[str, Any]] = []
    confirmed: set[tuple[str, str]] = set()
    displays = console.store.displays(board)
    following: dict[int, str] = {}  # a display's seq -> when the next one on its board began
    last_of: dict[str, int] = {}
    for d in displays:  # in order of seq
        if d.board in last_of:
            following[last_of[d.board]] = d.first_at
        last_of[d.board] = d.seq
    now_word = "now" if lang == "en" else "至今"
    for d in displays:
        a, z = i18n.local(d.first_at, tz), i18n.local(d.last_at, tz)
        if a is None or z is None or a >= hi or z < lo:
            continue
        confirmed.add((d.board, d.program))
        row = rows.get(d.board)
        current = d.seq not in following and row is not None and row.confirmed == d.program
        until = following.get(d.seq)
        out.append({
            "board": d.board, "name": names.get(d.board, ""), "confirmed": True,
            "first_at": a.isoformat(), "last_at": z.isoformat(),
            "until": None if current else i18n.local_iso(until or d.last_at, tz),
            "first_text": i18n.when(a, tz, now), "last_text": i18n.when(z, tz, now),
            "until_text": now_word if current else i18n.when(until or d.last_at, tz, now),
            "content": i18n.items_name(d.items, lang, tz, now, titles) if d.items else d.summary,
            "items": list(d.items), "program": d.program, "attempts": None, "why": "",
        })
    failed: dict[tuple[str, str], list[Any]] = {}
    for r in console.store.deliveries(board, failed_only=True):
        at = r.at.astimezone(tz)
        if lo <= at < hi and (r.board, r.program) not in confirmed:
            failed.setdefault((r.board, r.program), []).append(r)
    summaries = {b: (row.intended, row.intended_items) for b, row in rows.items()}
    for (b, program), attempts in failed.items():
        newest, oldest = attempts[0], attempts[-1]
        intended, items = summaries.get(b, (None, ()))
        content = (i18n.items_name(items, lang, tz, now, titles) if intended == program
                   else ("(a program no longer wanted)" if lang == "en" else "（已被替换的内容）"))
        out.append({
            "board": b, "name": names.get(b, ""), "confirmed": False,
            "first_at": oldest.at.astimezone(tz).isoformat(), "last_at": newest.at.astimezone(tz).isoformat(),
            "first_text": i18n.when(oldest.at, tz, now), "last_text": i18n.when(newest.at, tz, now),
            "until": None, "until_text": "—", "content": content,
            "items": list(items) if intended == program else [], "program": program,
            "attempts": len(attempts), "why": messages.result(newest.result, lang),
        })
    out.sort(key=lambda e: (e["first_at"], e["board"]), reverse=True)
    return out


def _lang(request: Request) -> str:
    return messages.request_lang(request.headers, request.cookies)


Day = Annotated[str | None, Query(pattern=DAY)]
BoardQ = Annotated[str | None, Query(max_length=64)]


@router.get("/api/playlog", responses=ERRORS)
def playlog(user: Viewer, console: ConsoleDep, request: Request, board: BoardQ = None,
            start: Day = None, end: Day = None) -> dict[str, Any]:
    first, last = period(console, start, end)
    return {"from": first.isoformat(), "to": last.isoformat(),
            "entries": entries(console, board or None, first, last, _lang(request))}


CSV_COLUMNS = {
    "zh": ["屏编号", "屏名称", "内容", "开始显示", "显示到", "最后确认", "是否确认", "未成功次数", "原因",
           "节目哈希", "内容标识"],
    "en": ["board", "name", "content", "first shown", "shown until", "last confirmed", "confirmed",
           "failed attempts", "why", "program", "items"],
}


@router.get("/api/playlog.csv", responses=ERRORS)
def playlog_csv(user: Viewer, console: ConsoleDep, request: Request, board: BoardQ = None,
                start: Day = None, end: Day = None) -> Response:
    lang = _lang(request)
    first, last = period(console, start, end)
    out = io.StringIO()
    out.write("\ufeff")  # a byte-order mark: spreadsheet programs on Windows then read the Chinese right
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS["en" if lang == "en" else "zh"])
    yes, no = ("yes", "no") if lang == "en" else ("是", "否")
    now_word = "now" if lang == "en" else "至今"
    for e in entries(console, board or None, first, last, lang):
        writer.writerow([e["board"], e["name"], e["content"], e["first_at"], e["until"] or now_word,
                         e["last_at"],
                         yes if e["confirmed"] else no, e["attempts"] or "", e["why"], e["program"],
                         " ".join(e["items"])])
    name = f"playlog-{board + '-' if board else ''}{first}-{last}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
