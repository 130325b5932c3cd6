"""The fleet: every board's state as JSON (from the dispatcher's snapshot, times in the deployment's
zone), what is wrong with it in words, a board's timeline for today, and LED-look pictures of what it
should show, what it confirmed, and (in the demo) what its simulator shows — drawn at whole LED
scales, never resampled into mush."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request, Response
from PIL import Image

from ledctl import preview
from ledctl.api import i18n, messages
from ledctl.api.deps import ERRORS, BoardId, Console, ConsoleDep, Viewer, png
from ledctl.model import Board, Program

router = APIRouter()

# What a board's state is, worst first: the problems strip lists every state but "ok".
STATES = ("offline", "busy", "failing", "pending", "override", "unknown", "sent", "ok")
STATE_WORDS = {
    "offline": ("离线", "offline"),
    "busy": ("在线·忙", "online, busy"),
    "failing": ("发送失败", "failing"),
    "pending": ("发送中", "being sent"),
    "override": ("紧急发布待审核", "override not yet reviewed"),
    "unknown": ("尚未联系", "not yet reached"),
    "sent": ("已发送", "sent"),
    "ok": ("正常", "fine"),
}

THUMB_WIDTH = 384  # px: a fleet card's picture, at a whole number of pixels per LED


def thumb_scale(board: Board) -> int:
    """Pixels per LED on a fleet card: about THUMB_WIDTH wide, at least 3 (a lit dot and its gap)."""
    return max(3, min(12, THUMB_WIDTH // board.size.width))


def big_scale(board: Board) -> int:
    return preview.led_scale(board)


def board_rows(console: Console, lang: str = "zh") -> list[dict[str, Any]]:
    """Every board: live state from the dispatcher's snapshot (when the service runs here), times and
    reasons from the store, and what is wrong with it in words."""
    rows = console.store.boards()
    view = console.service.dispatcher.view() if console.service is not None else {}
    tz = console.dep.tz
    now = console.clock.now()
    reviews = {n.id: n for n in console.notices.needs_review()}
    titles = {n.id: n.title for n in console.notices.list()} if any(
        r.intended_items or r.confirmed_items for r in rows.values()) else {}
    out = []
    for b in console.dep.boards:
        row = rows.get(b.id)
        v = view.get(b.id)
        if v is not None:
            intended, confirmed, online, failures = v.intended, v.confirmed, v.online, v.failures
            items, summary, pages = v.items, v.summary, v.pages
            last_result = v.last_result.describe() if v.last_result is not None else ""
            settings = v.settings_confirmed
            sent = v.sent
        else:
            intended = row.intended if row else None
            confirmed = row.confirmed if row else None
            online = row.online if row else None
            failures = row.failures if row else 0
            items = row.intended_items if row else ()
            summary = row.intended_summary if row else ""
            pages = row.pages if row else (0, 0)
            last_result = ""
            settings = row.settings_confirmed if row else None
            sent = row.sent if row else None
        last_error = (row.last_error if row else "") or ""
        state, why = _state(online, failures, intended, confirmed, pages, last_error, last_result, items,
                            reviews, lang, tz, now, sent)
        out.append(
            {
                "board": b.id,
                "name": b.name,
                "area": b.area,
                "location": b.location,
                "driver": b.driver,
                "size": str(b.size),
                "groups": list(b.groups),
                "online": online,
                "intended": intended,
                "confirmed": confirmed,
                "last_confirmed": i18n.local_iso(row.confirmed_at, tz) if row else None,
                "last_confirmed_text": i18n.when(row.confirmed_at, tz, now, seconds=True)
                if row and row.confirmed_at else "—",
                # sent to a board that cannot acknowledge: all its protocol allows, never "confirmed"
                "sent": sent,
                "last_sent": i18n.local_iso(row.sent_at, tz) if row else None,
                "last_seen": i18n.local_iso(row.last_seen, tz) if row else None,
                "shows": summary,
                "shows_text": i18n.items_name(items, lang, tz, now, titles),
                "settings": settings,
                "failures": failures,
                "last_error": last_error,
                "items": list(items),
                "pages": list(pages),
                "state": state,
                "state_text": i18n.pick(STATE_WORDS, state, lang),
                "why": why,
                "scale": thumb_scale(b),
                "width": b.size.width,
                "height": b.size.height,
            }
        )
    return out


def _state(online: bool | None, failures: int, intended: str | None, confirmed: str | None,
           pages: tuple[int, int] | list[int], last_error: str, last_result: str, items: tuple[str, ...],
           reviews: dict[int, Any], lang: str, tz: Any, now: datetime,
           sent: str | None = None) -> tuple[str, str]:
    en = lang == "en"
    reason = last_error or last_result
    busy = "busy" in reason.lower() and (online is False or failures > 0)
    if busy:
        return "busy", messages.result("nack: busy", lang)
    if online is False:
        return "offline", messages.result(f"offline: {reason}" if reason else "offline", lang)
    if failures:
        return "failing", messages.result(last_result or last_error, lang) or (
            "Not confirmed; it is tried again." if en else "未确认，系统会重试。")
    if intended is not None and confirmed != intended and sent == intended:
        return "sent", ("Sent: this board cannot acknowledge, so what it shows is not confirmed." if en else
                        "已发送：此屏不能回执，显示内容无法确认。")
    if intended is not None and confirmed != intended:
        shown, total = pages[0], pages[1]
        if total > 1 and shown:
            return "pending", (f"Being sent: {shown} of {total} pages are up; each page goes up for its "
                               "dwell, so this takes a loop." if en else
                               f"正在发送：{total} 页中已上屏 {shown} 页"
                               "（每页按其停留时间依次上屏，约需一轮）。")
        return "pending", "Being sent." if en else "正在发送，稍候即可确认。"
    for item in items:
        if item.startswith("notice:") and item[7:].isdigit() and int(item[7:]) in reviews:
            n = reviews[int(item[7:])]
            return "override", (f"Shows notice #{n.id} 「{n.title}」, published by {n.published_by} by "
                                "emergency override; another approver must review it." if en else
                                f"正在显示通知 #{n.id}「{n.title}」：由 {n.published_by} 紧急发布，"
                                "须由另一位审批人审核。")
    if intended is None and confirmed is None and online is None:
        return "unknown", ("Not reached yet (is the service running?)." if en else
                           "尚未联系上（服务是否在运行？）。")
    return "ok", ""


def problem_groups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Boards that need attention, worst first, those with the same state and reason together."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r["state"] not in ("ok", "sent"):  # sent is all such a board's protocol can say
            grouped.setdefault((r["state"], r["why"]), []).append(r)
    order = {s: i for i, s in enumerate(STATES)}
    return [
        {"state": state, "state_text": members[0]["state_text"], "why": why,
         "boards": [{"board": m["board"], "name": m["name"]} for m in members]}
        for (state, why), members in sorted(grouped.items(), key=lambda kv: order[kv[0][0]])
    ]


@router.get("/api/boards", responses=ERRORS)
def boards(user: Viewer, console: ConsoleDep, request: Request) -> list[dict[str, Any]]:
    return board_rows(console, _lang(request))


def _lang(request: Request) -> str:
    return messages.request_lang(request.headers, request.cookies)


def board_or_404(console: Console, board_id: str) -> Board:
    for b in console.dep.boards:
        if b.id == board_id:
            return b
    raise HTTPException(404, f"no board {board_id!r}")


@router.get("/api/boards/{board_id}", responses=ERRORS)
def board(board_id: BoardId, user: Viewer, console: ConsoleDep, request: Request) -> dict[str, Any]:
    b = board_or_404(console, board_id)
    lang = _lang(request)
    row = next(r for r in board_rows(console, lang) if r["board"] == b.id)
    return {**row, "timeline": timeline(console, b, lang)}


def timeline(console: Console, b: Board, lang: str = "zh") -> list[dict[str, Any]]:
    """Today (in the deployment's zone) as the running service will play it on this board."""
    service = console.service
    if service is None:
        return []
    tz = console.dep.tz
    now = console.clock.now()
    start = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
    titles = {n.id: n.title for n in console.notices.list()}
    out = []
    for seg in service.timeline(b, start, start + timedelta(days=1)):
        a, z = seg.start.astimezone(tz), seg.end.astimezone(tz)
        out.append({
            "from": a.isoformat(), "to": z.isoformat(),
            "span": f"{a:%H:%M} – {'24:00' if z == start + timedelta(days=1) else f'{z:%H:%M}'}",
            "now": a <= now < z,
            "power": seg.settings.power, "brightness": seg.settings.brightness,
            "items": list(seg.items),
            "what": i18n.items_name(seg.items, lang, tz, now, titles),
            "pages": [p.name for p in seg.pages],
        })
    return out


def program_of(console: Console, board_id: str, which: str) -> Program | None:
    service = console.service
    if service is None:
        return None
    return service.dispatcher.program_of(board_id, confirmed=which == "confirmed")


def shown_page(console: Console, board_id: str) -> int:
    """The page a board that holds one picture has up now (the host plays its loop), else the first."""
    service = console.service
    if service is None:
        return 0
    v = service.dispatcher.view().get(board_id)
    return v.page if v is not None and v.page is not None else 0


@router.get("/img/boards/{board_id}/{which}.png", include_in_schema=False)
def board_picture(
    board_id: str,
    which: Literal["intended", "confirmed", "sim"],
    user: Viewer,
    request: Request,
    console: ConsoleDep,
    scale: Annotated[int | None, Query(ge=1, le=16)] = None,
    page: Annotated[int | None, Query(ge=0, le=99)] = None,
) -> Response:
    b = board_or_404(console, board_id)
    dots = scale or big_scale(b)
    if which == "sim":
        if console.fleet is None or board_id not in console.fleet.boards:
            raise HTTPException(404, "no simulated board here (the demo has them)")
        image = console.fleet.boards[board_id].snapshot()
        return Response(png(preview.led_look(image, dots)), media_type="image/png",
                        headers={"Cache-Control": "no-store"})
    program = program_of(console, board_id, which)
    if program is None or not program.pages:
        blank = Image.new("RGB", (b.size.width, b.size.height))
        return Response(png(preview.led_look(blank, dots)), media_type="image/png",
                        headers={"Cache-Control": "no-cache"})
    index = page if page is not None else (shown_page(console, board_id) if which == "confirmed" else 0)
    index = min(index, len(program.pages) - 1)
    pictures: dict[tuple[str, str, int, int], bytes] = request.app.state.pictures  # made by create_app
    key = (board_id, program.content_hash(), dots, index)
    if key not in pictures:
        if len(pictures) > 800:
            pictures.clear()
        pictures[key] = png(preview.led_look(program.pages[index].image, dots))
    return Response(pictures[key], media_type="image/png", headers={"Cache-Control": "no-cache"})


def program_pages(console: Console, b: Board) -> list[dict[str, Any]]:
    """The pages of what a board should show: name, effect, dwell and the picture's size at `big_scale`."""
    program = program_of(console, b.id, "intended")
    if program is None:
        return []
    dots = big_scale(b)
    return [{"index": i, "name": p.name, "effect": p.effect, "dwell": p.dwell_s,
             "width": p.image.width * dots, "height": p.image.height * dots}
            for i, p in enumerate(program.pages)]
