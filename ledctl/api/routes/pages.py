"""The server-rendered pages of the console (Chinese first; ?lang= switches): the fleet with its
problems first, a board, the data, notices with the emergency insert, the play log, the audit log and
the reports. Any logged-in user may see them; the actions on them call the JSON API, which checks
roles. Every time on them is in the deployment's time zone."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ledctl.api import i18n, messages
from ledctl.api.deps import ConsoleDep, NoticeId, page_user
from ledctl.api.i18n import LANGS, translator
from ledctl.api.routes.audit import audit_check, audit_rows
from ledctl.api.routes.boards import (
    big_scale,
    board_or_404,
    board_rows,
    problem_groups,
    program_pages,
    thumb_scale,
    timeline,
)
from ledctl.api.routes.data import bulletin_figures
from ledctl.api.routes.notices import notice_json
from ledctl.api.routes.playlog import entries as playlog_entries
from ledctl.api.routes.playlog import period as playlog_period
from ledctl.api.routes.reports import availability, disclosure, figures
from ledctl.api.security import SESSION_COOKIE, safe_next
from ledctl.config import Deployment
from ledctl.errors import LedctlError
from ledctl.notices.users import User

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent.parent / "templates"),
    autoescape=select_autoescape(["html"]),
)

router = APIRouter()


def lang_of(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
    return lang if lang in LANGS else "zh"


def page(request: Request, name: str, user: User, **values: Any) -> HTMLResponse:
    console = request.app.state.console
    lang = lang_of(request)
    now = console.clock.now()
    tz = console.dep.tz
    session = console.sessions.get(request.cookies.get(SESSION_COOKIE), now)
    html = TEMPLATES.get_template(name).render(
        t=translator(lang),
        lang=lang,
        user=user,
        role_text=i18n.pick(i18n.ROLE_WORDS, user.role, lang) if user else "",
        site=console.dep.site,
        csrf=session.csrf if session else "",
        sim=console.fleet is not None,
        sample_data=_sample_data(console.dep),
        path=request.url.path,
        when=lambda v, seconds=False: i18n.when(v, tz, now, seconds=seconds),
        span=lambda a, b: i18n.span(a, b, tz, now),
        target_name=lambda t: i18n.target_name(t, lang, console.dep.groups,
                                               {b.id: b for b in console.dep.boards}),
        standard_name=lambda s: i18n.standard_name(s, lang),
        pollutant=lambda p: i18n.pollutant_name(p, lang),
        category=lambda c: i18n.category_name(c, lang),
        pick=lambda words, key: i18n.pick(getattr(i18n, words), key, lang),
        say=lambda text: messages.say(text, lang, tz, lead="") if text else "",
        today=now.astimezone(tz).date().isoformat(),
        tz_name=console.dep.site.timezone,
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


@router.get("/login", include_in_schema=False, response_model=None)
def login_page(request: Request, console: ConsoleDep) -> HTMLResponse | RedirectResponse:
    # The page's script goes to `next` after logging in: a `next` that is not one of the console's
    # own paths (or more than one, read differently by the server and the browser) is dropped here,
    # so the page is never served with it.
    nexts = request.query_params.getlist("next")
    if len(nexts) > 1 or not all(safe_next(n) for n in nexts):
        return RedirectResponse("/login", status_code=303)
    lang = lang_of(request)
    html = TEMPLATES.get_template("login.html").render(
        t=translator(lang),
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
    lang = lang_of(request)
    rows = board_rows(console, lang)
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["area"] or "—", []).append(row)
    return page(
        request,
        "fleet.html",
        user,
        groups=groups,
        rows=rows,
        problems=problem_groups(rows),
        total=len(rows),
        confirmed=sum(1 for r in rows if r["confirmed"] and r["confirmed"] == r["intended"]),
        online=sum(1 for r in rows if r["online"]),
        areas=sorted({r["area"] for r in rows if r["area"]}),
        board_groups={gid: g.name for gid, g in console.dep.groups.items() if gid != "all"},
        state_words=_state_words(lang),
    )


def _state_words(lang: str) -> dict[str, str]:
    from ledctl.api.routes.boards import STATE_WORDS, STATES

    return {s: i18n.pick(STATE_WORDS, s, lang) for s in STATES}


@router.get("/boards/{board_id}", include_in_schema=False)
def board_page(board_id: str, request: Request, console: ConsoleDep) -> HTMLResponse:
    user = page_user(request)
    lang = lang_of(request)
    b = board_or_404(console, board_id)
    row = next(r for r in board_rows(console, lang) if r["board"] == b.id)
    first, last = playlog_period(console, None, None)
    return page(request, "board.html", user, board=b, row=row, timeline=timeline(console, b, lang),
                pages=program_pages(console, b), scale=big_scale(b), thumb=thumb_scale(b),
                playlog=playlog_entries(console, b.id, first, last, lang)[:50],
                state_words=_state_words(lang))


@router.get("/data", include_in_schema=False)
def data_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    user = page_user(request)
    return page(request, "data.html", user, data=bulletin_figures(console))


def _midnight(console: Any) -> str:
    now = console.clock.now().astimezone(console.dep.tz)
    return datetime.combine(now.date() + timedelta(days=1), time(0), console.dep.tz).isoformat()


ONE_CLICK_CHOICES = 4  # a template whose one blank has at most this many choices gets a button each


def template_choices(console: Any) -> list[dict[str, Any]]:
    """One button per template, or per choice of a template whose one blank is a short choice
    (重污染天气黄色/橙色/红色预警): the emergency insert picks its wording with one click. A longer
    choice (the fourteen places of 就地避险通知) is one button, then a row of the places: thirty
    buttons at once would hide the one needed. Free-text blanks stay blanks to fill in."""
    import re as re_mod

    out = []
    for tid, tp in console.dep.notices.templates.items():
        choice = [k for k, v in tp.slots.items() if v]
        free = [k for k, v in tp.slots.items() if not v]

        def filled(text: str, values: dict[str, str]) -> str:
            return re_mod.sub(r"{([^{}]*)}", lambda m: values.get(m.group(1), "{" + m.group(1) + "}"), text)

        if len(choice) == 1 and len(tp.slots[choice[0]]) <= ONE_CLICK_CHOICES:
            for value in tp.slots[choice[0]]:
                fixed = {choice[0]: value}
                label = filled(tp.title, fixed) if "{" in tp.title else f"{tp.name}·{value}"
                out.append({"id": tid, "label": label, "fixed": fixed, "free": free, "level": tp.level,
                            "title": tp.title, "text": tp.text})
        else:
            out.append({"id": tid, "label": tp.name, "fixed": {}, "free": free, "level": tp.level,
                        "title": tp.title, "text": tp.text,
                        "choices": {k: list(v) for k, v in tp.slots.items() if v}})
    return out


@router.get("/notices", include_in_schema=False)
def notices_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    user = page_user(request)
    now = console.clock.now()
    from ledctl.api.routes.notices import notice_doc

    return page(
        request,
        "notices.html",
        user,
        notices=[{**notice_doc(console, n), "chain": console.notices.standing(n).as_json()}
                 for n in reversed(console.notices.list())],
        review=[notice_doc(console, n) for n in console.notices.needs_review()],
        templates=console.dep.notices.templates,
        groups=console.dep.groups,
        boards=console.dep.boards,
        midnight=_midnight(console),
        now_iso=now.astimezone(console.dep.tz).isoformat(timespec="minutes"),
        choices=template_choices(console),
        slot_words={k: i18n.pick(i18n.SLOT_WORDS, k, lang_of(request)) for k in i18n.SLOT_WORDS},
    )


@router.get("/notices/{notice_id}", include_in_schema=False)
def notice_page(notice_id: NoticeId, request: Request, console: ConsoleDep) -> HTMLResponse:
    user = page_user(request)
    return page(request, "notice.html", user,
                n=notice_json(console, console.notices.get(notice_id), lang_of(request)))


@router.get("/playlog", include_in_schema=False)
def playlog_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    user = page_user(request)
    board = request.query_params.get("board") or None
    if board is not None and board not in {b.id for b in console.dep.boards}:
        raise HTTPException(404, f"no board {board!r}")
    try:
        first, last = playlog_period(console, request.query_params.get("start"),
                                     request.query_params.get("end"))
    except HTTPException:
        first, last = playlog_period(console, None, None)
    rows = playlog_entries(console, board, first, last, lang_of(request))
    return page(request, "playlog.html", user, playlog=rows, board=board, first=first.isoformat(),
                last=last.isoformat(), boards=console.dep.boards,
                shown=sum(1 for r in rows if r["confirmed"]),
                unconfirmed=sum(1 for r in rows if not r["confirmed"]))


@router.get("/audit", include_in_schema=False)
def audit_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    user = page_user(request)
    return page(request, "audit.html", user, check=audit_check(console),
                entries=audit_rows(console, lang_of(request)))


@router.get("/reports", include_in_schema=False)
def report_page(request: Request, console: ConsoleDep, month: str | None = None,
                year: str | None = None) -> HTMLResponse:
    user = page_user(request)
    lang = lang_of(request)
    year_n = int(year) if year and year.isdigit() and len(year) == 4 else None
    if year_n is None:
        month = (
            month
            if month and len(month) == 7
            else console.clock.now().astimezone(console.dep.tz).strftime("%Y-%m")
        )
    try:
        r = disclosure(console, None if year_n else month, year_n)
    except LedctlError as e:
        return page(request, "report.html", user, r={"error": str(e)}, month=month, year=year_n,
                    figures=[], boards=[], query="")
    query = f"year={year_n}" if year_n else f"month={month}"
    return page(request, "report.html", user, r=r, month=month, year=year_n, figures=figures(r, lang),
                boards=availability(console, r), query=query)
