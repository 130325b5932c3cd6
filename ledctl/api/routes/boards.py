"""The fleet: every board's state as JSON, a board's timeline for today, and LED-look pictures of what
it should show, what it confirmed, and (in the demo) what its simulator shows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from PIL import Image

from ledctl import preview
from ledctl.api.deps import ERRORS, BoardId, Console, ConsoleDep, Viewer, png
from ledctl.model import Board, Program

router = APIRouter()


def board_rows(console: Console) -> list[dict[str, Any]]:
    rows = console.store.boards()
    out = []
    for b in console.dep.boards:
        row = rows.get(b.id)
        out.append(
            {
                "board": b.id,
                "name": b.name,
                "area": b.area,
                "driver": b.driver,
                "size": str(b.size),
                "groups": list(b.groups),
                "online": bool(row and row.online) if row and row.online is not None else None,
                "intended": row.intended if row else None,
                "confirmed": row.confirmed if row else None,
                "last_confirmed": row.confirmed_at if row else None,
                # sent to a board that cannot acknowledge: all its protocol allows, never "confirmed"
                "sent": row.sent if row else None,
                "last_sent": row.sent_at if row else None,
                "shows": row.intended_summary if row else "",
                "settings": row.settings_confirmed if row else None,
                "failures": row.failures if row else 0,
                "last_error": row.last_error if row else "",
                "items": list(row.intended_items) if row else [],
            }
        )
    return out


@router.get("/api/boards", responses=ERRORS)
def boards(user: Viewer, console: ConsoleDep) -> list[dict[str, Any]]:
    return board_rows(console)


def board_or_404(console: Console, board_id: str) -> Board:
    for b in console.dep.boards:
        if b.id == board_id:
            return b
    raise HTTPException(404, f"no board {board_id!r}")


@router.get("/api/boards/{board_id}", responses=ERRORS)
def board(board_id: BoardId, user: Viewer, console: ConsoleDep) -> dict[str, Any]:
    b = board_or_404(console, board_id)
    row = next(r for r in board_rows(console) if r["board"] == b.id)
    return {**row, "timeline": timeline(console, b)}


def timeline(console: Console, b: Board) -> list[dict[str, Any]]:
    service = console.service
    if service is None:
        return []
    now = console.clock.now().astimezone(console.dep.tz)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return [{"from": seg.start.isoformat(), "to": seg.end.isoformat(), "power": seg.settings.power,
             "brightness": seg.settings.brightness, "items": list(seg.items),
             "pages": [p.name for p in seg.pages]}
            for seg in service.timeline(b, start, start + timedelta(days=1))]


def program_of(console: Console, board_id: str, which: str) -> Program | None:
    service = console.service
    if service is None:
        return None
    return service.dispatcher.program_of(board_id, confirmed=which == "confirmed")


@router.get("/img/boards/{board_id}/{which}.png", include_in_schema=False)
def board_picture(
    board_id: str,
    which: Literal["intended", "confirmed", "sim"],
    user: Viewer,
    request: Request,
    console: ConsoleDep,
) -> Response:
    b = board_or_404(console, board_id)
    if which == "sim":
        if console.fleet is None or board_id not in console.fleet.boards:
            raise HTTPException(404, "no simulated board here (the demo has them)")
        image = console.fleet.boards[board_id].snapshot()
        return Response(
            png(preview.led_look(image, preview.led_scale(b))),
            media_type="image/png",
            headers={"Cache-Control": "no-store"},
        )
    program = program_of(console, board_id, which)
    if program is None or not program.pages:
        blank = Image.new("RGB", (b.size.width, b.size.height))
        return Response(png(preview.led_look(blank, preview.led_scale(b))), media_type="image/png")
    pictures: dict[tuple[str, str], bytes] = request.app.state.pictures  # per app, made by create_app
    key = (board_id, program.content_hash())
    if key not in pictures:
        if len(pictures) > 500:
            pictures.clear()
        pictures[key] = png(preview.led_look(program.pages[0].image, preview.led_scale(b)))
    return Response(pictures[key], media_type="image/png", headers={"Cache-Control": "no-cache"})
