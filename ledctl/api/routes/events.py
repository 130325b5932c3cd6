"""Live updates: server-sent events whenever a board's state or the notices change."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from ledctl.api.deps import Console, ConsoleDep, Viewer
from ledctl.api.routes.boards import board_rows

router = APIRouter()


@router.get("/api/events", include_in_schema=False)
async def events(request: Request, user: Viewer, console: ConsoleDep) -> StreamingResponse:
    async def stream() -> AsyncIterator[str]:
        last = None
        while not await request.is_disconnected():
            state = await asyncio.to_thread(fingerprint, console)
            if state != last:
                last = state
                yield f"event: state\ndata: {json.dumps(state)}\n\n"
            await asyncio.sleep(1.0)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def fingerprint(console: Console) -> dict[str, Any]:
    rows = board_rows(console)
    return {
        "boards": {r["board"]: [r["intended"], r["confirmed"], r["online"], r["failures"]] for r in rows},
        "notices": console.notices.revision(),
    }
