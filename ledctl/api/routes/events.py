"""Live updates: server-sent events whenever a board's state or the notices change. Each event carries
every board's state as the fleet page shows it (in the page's language), and the problems, so the
page updates its badges and its problems strip without a reload."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from ledctl.api.deps import Console, ConsoleDep, Viewer
from ledctl.api.i18n import LANGS
from ledctl.api.routes.boards import board_rows, problem_groups

router = APIRouter()


@router.get("/api/events", include_in_schema=False)
async def events(request: Request, user: Viewer, console: ConsoleDep) -> StreamingResponse:
    lang = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
    lang = lang if lang in LANGS else "zh"

    async def stream() -> AsyncIterator[str]:
        last = None
        while not await request.is_disconnected():
            state = await asyncio.to_thread(fingerprint, console, lang)
            if state != last:
                last = state
                yield f"event: state\ndata: {json.dumps(state, ensure_ascii=False)}\n\n"
            await asyncio.sleep(1.0)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def fingerprint(console: Console, lang: str = "zh") -> dict[str, Any]:
    rows = board_rows(console, lang)
    return {
        # [intended, confirmed, online, failures, state, state text, why, last confirmed, shows]
        "boards": {r["board"]: [r["intended"], r["confirmed"], r["online"], r["failures"], r["state"],
                                r["state_text"], r["why"], r["last_confirmed_text"], r["shows_text"],
                                r["pages"]]
                   for r in rows},
        "problems": problem_groups(rows),
        "notices": console.notices.revision(),
    }
