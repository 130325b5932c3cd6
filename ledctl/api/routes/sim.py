"""The demo's simulated boards, live: what each one shows now (`ledctl demo` has a fleet; elsewhere 404)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from ledctl.api.deps import ConsoleDep, page_user
from ledctl.api.routes.boards import board_rows
from ledctl.api.routes.pages import page

router = APIRouter()


@router.get("/sim", include_in_schema=False)
def sim_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    user = page_user(request)
    if console.fleet is None:
        raise HTTPException(404, "no simulator in this process (ledctl demo has one)")
    return page(request, "sim.html", user, rows=board_rows(console))
