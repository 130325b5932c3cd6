"""The server-rendered pages of the console (Chinese first; ?lang= switches): the fleet, a board,
the data, notices, the audit log and the reports. Any logged-in user may see them; the actions
on them call the JSON API, which checks roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ledctl.api.deps import ConsoleDep, NoticeId, page_user
from ledctl.api.i18n import LANGS, translator
from ledctl.api.routes.audit import audit_check, audit_entries
from ledctl.api.routes.boards import board_or_404, board_rows, timeline
from ledctl.api.routes.data import bulletin_figures
from ledctl.api.routes.notices import notice_json
from ledctl.api.routes.reports import disclosure
from ledctl.api.security import SESSION_COOKIE
from ledctl.config import Deployment
from ledctl.errors import LedctlError
from ledctl.notices.users import User

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

router = APIRouter()


def page(request: Request, name: str, user: User, **values: Any) -> HTMLResponse:
    console = request.app.state.console
    lang = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
    lang = lang if lang in LANGS else "zh"
    session = console.sessions.get(request.cookies.get(SESSION_COOKIE), console.clock.now())
    html = TEMPLATES.get_template(name).render(
        t=translator(lang),
        lang=lang,
        user=user,
        site=console.dep.site,
        csrf=session.csrf if session else "",
        sim=console.fleet is not None,
        sample_data=_sample_data(console.dep),
        path=request.url.path,
        **values,
    )
    response = HTMLResponse(html)
    if request.query_params.get("lang") in LANGS:
        response.set_cookie("lang", lang, samesite="strict", max_age=365 * 86400, path="/")
    return response


def _sample_data(dep: Deployment) -> bool:
    """Whether a station's figures may come from synthetic sample data (the demo, tests): then every
    page of the console says so, as every such page on a board does (示例数据)."""
    return any(dep.sources[name].sample for station in dep.stations
               for name in dep.source_chain(station) if name in dep.sources)


@router.get("/login", include_in_schema=False)
def login_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    lang = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
    html = TEMPLATES.get_template("login.html").render(
        t=translator(lang if lang in LANGS else "zh"),
        lang=lang,
        site=console.dep.site,
        user=None,
        csrf="",
        sim=False,
        path="/login",
    )
    return HTMLResponse(html)


@router.get("/", include_in_schema=False)
def fleet_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    user = page_user(request)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in board_rows(console):
        groups.setdefault(row["area"] or "—", []).append(row)
    return page(
        request,
        "fleet.html",
        user,
        groups=groups,
        total=len(console.dep.boards),
        confirmed=sum(1 for r in board_rows(console) if r["confirmed"] and r["confirmed"] == r["intended"]),
    )


@router.get("/boards/{board_id}", include_in_schema=False)
def board_page(board_id: str, request: Request, console: ConsoleDep) -> HTMLResponse:
    user = page_user(request)
    b = board_or_404(console, board_id)
    row = next(r for r in board_rows(console) if r["board"] == b.id)
    return page(request, "board.html", user, board=b, row=row, timeline=timeline(console, b))


@router.get("/data", include_in_schema=False)
def data_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    user = page_user(request)
    return page(request, "data.html", user, data=bulletin_figures(console))


@router.get("/notices", include_in_schema=False)
def notices_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    user = page_user(request)
    now = console.clock.now()
    return page(
        request,
        "notices.html",
        user,
        notices=[n.to_json(now) for n in reversed(console.notices.list())],
        review=[n.to_json(now) for n in console.notices.needs_review()],
        templates=console.dep.notices.templates,
        groups=console.dep.groups,
        boards=console.dep.boards,
    )


@router.get("/notices/{notice_id}", include_in_schema=False)
def notice_page(notice_id: NoticeId, request: Request, console: ConsoleDep) -> HTMLResponse:
    user = page_user(request)
    return page(request, "notice.html", user, n=notice_json(console, console.notices.get(notice_id)))


@router.get("/audit", include_in_schema=False)
def audit_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    user = page_user(request)
    return page(
        request, "audit.html", user, check=audit_check(console), entries=audit_entries(console, None, 200)
    )


@router.get("/reports", include_in_schema=False)
def report_page(request: Request, console: ConsoleDep, month: str | None = None) -> HTMLResponse:
    user = page_user(request)
    month = (
        month
        if month and len(month) == 7
        else console.clock.now().astimezone(console.dep.tz).strftime("%Y-%m")
    )
    try:
        r = disclosure(console, month, None)
    except LedctlError as e:
        r = {"error": str(e)}
    return page(request, "report.html", user, r=r, month=month)
