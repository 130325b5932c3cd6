"""The HTTP API and the operator console (FastAPI), served inside `ledctl serve`.

JSON under /api (OpenAPI at /openapi.json), pages server-rendered with a little vanilla
JavaScript, live updates by server-sent events. Every call checks the caller's role;
the notice rules themselves live in the workflow, so the console and the CLI agree.
Nothing is loaded from the internet.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from PIL import Image
from pydantic import BaseModel, Field

from ledctl import preview, report
from ledctl.api.i18n import LANGS, translator
from ledctl.api.security import SESSION_COOKIE, LoginLimiter, Sessions
from ledctl.clock import Clock
from ledctl.config import Deployment
from ledctl.errors import LedctlError
from ledctl.model import Board, Program
from ledctl.notices import audit
from ledctl.notices.items import delivery_states, fit_problems
from ledctl.notices.users import AuthError, User, Users
from ledctl.notices.workflow import Notice, NoticeError, Notices
from ledctl.store import Store

HERE = Path(__file__).parent
NoticeId = Annotated[int, PathParam(ge=1, le=2**62, description="a notice id")]
BoardId = Annotated[str, PathParam(max_length=64)]


@dataclass
class Console:
    """Everything the console reads and changes. `service` and `fleet` are optional: without
    the service there are no pictures of intended programs; without a fleet no /sim."""

    dep: Deployment
    store: Store
    users: Users
    notices: Notices
    clock: Clock
    service: Any = None  # ledctl.service.Service
    fleet: Any = None  # ledctl.simulator.fleet.Fleet (the demo)
    secure_cookies: bool = False
    sessions: Sessions = field(default_factory=Sessions)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)


# -- inputs -----------------------------------------------------------------------------------------


class LoginIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class DraftIn(BaseModel):
    title: str | None = Field(default=None, max_length=40)
    text: str | None = Field(default=None, max_length=2000)
    template: str | None = Field(default=None, max_length=64)
    slots: dict[str, Annotated[str, Field(max_length=60)]] = Field(default_factory=dict, max_length=10)
    level: Literal["emergency", "normal"] | None = None
    targets: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(min_length=1, max_length=60)
    start: datetime | None = None
    end: datetime
    mode: Literal["takeover", "share"] | None = None
    share: float | None = Field(default=None, ge=0.1, le=0.9)
    blink: bool = False


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


class UserIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    role: Literal["viewer", "operator", "approver", "admin"]
    password: str = Field(min_length=10, max_length=256)


class ErrorOut(BaseModel):
    error: str


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut},
    401: {"model": ErrorOut},
    403: {"model": ErrorOut},
    404: {"model": ErrorOut},
    409: {"model": ErrorOut},
}


# -- who is asking ----------------------------------------------------------------------------------


def caller(request: Request) -> User | None:
    """The user of an API token or a cookie session; a cookie session's change needs its CSRF token."""
    console: Console = request.app.state.console
    now = console.clock.now()
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        try:
            return console.users.by_token(header[7:].strip())
        except AuthError:
            raise HTTPException(401, "the token is unknown or its user is disabled") from None
    session = console.sessions.get(request.cookies.get(SESSION_COOKIE), now)
    if session is None:
        return None
    user = console.users.get(session.user)
    if user is None or user.disabled:
        return None
    if request.method not in ("GET", "HEAD") and request.headers.get("x-csrf-token") != session.csrf:
        raise HTTPException(403, "missing or wrong X-CSRF-Token (reload the page)")
    return user


def _need(role: str) -> Callable[[Request], User]:
    def check(request: Request) -> User:
        user = caller(request)
        if user is None:
            raise HTTPException(401, "log in first (POST /api/login) or send an API token")
        if not user.can(role):
            raise HTTPException(403, f"{user.name} ({user.role}) may not do this: it needs the {role} role")
        return user

    return check


Viewer = Annotated[User, Depends(_need("viewer"))]
Operator = Annotated[User, Depends(_need("operator"))]
Approver = Annotated[User, Depends(_need("approver"))]
Admin = Annotated[User, Depends(_need("admin"))]


def create_app(console: Console) -> FastAPI:
    app = FastAPI(
        title="ledctl",
        version="1",
        description="Boards, data, notices, audit and reports of one "
        "ledctl deployment. Log in with POST /api/login (a cookie session: send X-CSRF-Token with "
        "changes) or send an API token as `Authorization: Bearer …`.",
        docs_url=None,
        redoc_url=None,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    pictures: dict[tuple[str, str], bytes] = {}
    app.state.console = console

    @app.middleware("http")
    async def locked_down(request: Request, call_next: Any) -> Response:
        response = await call_next(request)
        # Scripts and everything else only from the console itself: nothing from the internet.
        response.headers["Content-Security-Policy"] = (
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "frame-ancestors 'none'"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    @app.exception_handler(LedctlError)
    async def ledctl_error(request: Request, exc: LedctlError) -> JSONResponse:
        status = 403 if isinstance(exc, AuthError) else 409 if isinstance(exc, NoticeError) else 400
        return JSONResponse({"error": str(exc)}, status_code=status)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 401 and not request.url.path.startswith("/api/") and request.method == "GET":
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code)

    # -- login ------------------------------------------------------------------------------------------

    @app.post("/api/login", responses=ERRORS | {429: {"model": ErrorOut}})
    def login(body: LoginIn, request: Request, response: Response) -> dict[str, str]:
        now = console.clock.now()
        key = (body.name, request.client.host if request.client else "-")
        wait = console.limiter.retry_after(key, now)
        if wait:
            raise HTTPException(429, f"too many failed logins: try again in {wait} s")
        try:
            user = console.users.login(body.name, body.password)
        except AuthError as e:
            console.limiter.failed(key, now)
            raise HTTPException(401, str(e)) from None
        console.limiter.succeeded(key)
        token, session = console.sessions.create(user.name, now)
        response.set_cookie(
            SESSION_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=console.secure_cookies,
            max_age=8 * 3600,
            path="/",
        )
        return {"user": user.name, "role": user.role, "csrf": session.csrf}

    @app.post("/api/logout")
    def logout(request: Request, response: Response) -> dict[str, bool]:
        caller(request)  # a cookie session must show its CSRF token to log out too
        console.sessions.drop(request.cookies.get(SESSION_COOKIE))
        response.delete_cookie(SESSION_COOKIE, path="/")
        return {"ok": True}

    @app.get("/api/me", responses=ERRORS)
    def me(user: Viewer) -> dict[str, str]:
        return {"user": user.name, "role": user.role}

    # -- boards -----------------------------------------------------------------------------------------

    def board_rows() -> list[dict[str, Any]]:
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
                    "shows": row.intended_summary if row else "",
                    "settings": row.settings_confirmed if row else None,
                    "failures": row.failures if row else 0,
                    "last_error": row.last_error if row else "",
                    "items": list(row.intended_items) if row else [],
                }
            )
        return out

    @app.get("/api/boards", responses=ERRORS)
    def boards(user: Viewer) -> list[dict[str, Any]]:
        return board_rows()

    def board_or_404(board_id: str) -> Board:
        for b in console.dep.boards:
            if b.id == board_id:
                return b
        raise HTTPException(404, f"no board {board_id!r}")

    @app.get("/api/boards/{board_id}", responses=ERRORS)
    def board(board_id: BoardId, user: Viewer) -> dict[str, Any]:
        b = board_or_404(board_id)
        row = next(r for r in board_rows() if r["board"] == b.id)
        return {**row, "timeline": timeline(b)}

    def timeline(b: Board) -> list[dict[str, Any]]:
        service = console.service
        if service is None:
            return []
        now = console.clock.now().astimezone(console.dep.tz)
        start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        return [{"from": seg.start.isoformat(), "to": seg.end.isoformat(), "power": seg.settings.power,
                 "brightness": seg.settings.brightness, "items": list(seg.items),
                 "pages": [p.name for p in seg.pages]}
                for seg in service.timeline(b, start, start + timedelta(days=1))]

    def program_of(board_id: str, which: str) -> Program | None:
        service = console.service
        if service is None:
            return None
        rt = service.dispatcher.boards.get(board_id)
        if rt is None or rt.intent is None:
            return None
        if which == "confirmed" and rt.confirmed != rt.intent.hash:
            return None
        return rt.intent.program

    @app.get("/img/boards/{board_id}/{which}.png", include_in_schema=False)
    def board_picture(
        board_id: str, which: Literal["intended", "confirmed", "sim"], user: Viewer
    ) -> Response:
        b = board_or_404(board_id)
        if which == "sim":
            if console.fleet is None or board_id not in console.fleet.boards:
                raise HTTPException(404, "no simulated board here (the demo has them)")
            image = console.fleet.boards[board_id].snapshot()
            return Response(
                png(preview.led_look(image, preview.led_scale(b))),
                media_type="image/png",
                headers={"Cache-Control": "no-store"},
            )
        program = program_of(board_id, which)
        if program is None or not program.pages:
            blank = Image.new("RGB", (b.size.width, b.size.height))
            return Response(png(preview.led_look(blank, preview.led_scale(b))), media_type="image/png")
        key = (board_id, program.content_hash())
        if key not in pictures:
            if len(pictures) > 500:
                pictures.clear()
            pictures[key] = png(preview.led_look(program.pages[0].image, preview.led_scale(b)))
        return Response(pictures[key], media_type="image/png", headers={"Cache-Control": "no-cache"})

    # -- data -------------------------------------------------------------------------------------------

    @app.get("/api/data", responses=ERRORS)
    def data(user: Viewer) -> dict[str, Any]:
        service = console.service
        bulletin = service.bulletin if service is not None else None
        if bulletin is None:
            return {"issued": None, "stations": [], "water": []}
        stations = []
        for sid, sb in bulletin.stations.items():
            a = sb.assessment
            stations.append(
                {
                    "station": sid,
                    "name": sb.station_name,
                    "day": str(sb.day) if sb.day else None,
                    "aqi": a.display if a else None,
                    "level": a.level if a else None,
                    "category": a.category if a else None,
                    "colour": a.colour if a else None,
                    "primary": list(a.primary) if a else [],
                    "standard": a.standard if a else None,
                    "problem": sb.problem,
                }
            )
        water = [
            {
                "station": wid,
                "name": w.station_name,
                "day": str(w.day) if w.day else None,
                "class": w.label or None,
                "category": w.category or None,
                "colour": w.colour or None,
                "limiting": list(w.limiting),
                "problem": w.problem,
            }
            for wid, w in bulletin.water.items()
        ]
        return {"issued": bulletin.issued.isoformat(), "stations": stations, "water": water}

    # -- notices ----------------------------------------------------------------------------------------

    def notice_json(n: Notice) -> dict[str, Any]:
        now = console.clock.now()
        return {**n.to_json(now), "boards": delivery_states(console.notices, n, console.store.path, now)}

    @app.get("/api/notices", responses=ERRORS)
    def notices(user: Viewer) -> list[dict[str, Any]]:
        now = console.clock.now()
        return [n.to_json(now) for n in console.notices.list()]

    @app.get("/api/notices/{notice_id}", responses=ERRORS)
    def notice(notice_id: NoticeId, user: Viewer) -> dict[str, Any]:
        return notice_json(console.notices.get(notice_id))

    def local(t: datetime | None) -> datetime | None:
        if t is None:
            return None
        return t if t.tzinfo else t.replace(tzinfo=console.dep.tz)

    @app.post("/api/notices", status_code=201, responses=ERRORS)
    def draft(body: DraftIn, user: Operator) -> dict[str, Any]:
        end = local(body.end)
        assert end is not None
        if body.template:
            n = console.notices.draft_from_template(
                user,
                body.template,
                body.slots,
                targets=body.targets,
                start=local(body.start),
                end=end,
                mode=body.mode,
            )
        else:
            if not body.text:
                raise HTTPException(400, "give text, or a template with its slots")
            n = console.notices.draft(
                user,
                title=body.title or "通知",
                text=body.text,
                level=body.level or "normal",
                targets=body.targets,
                start=local(body.start),
                end=end,
                mode=body.mode,
                share=body.share,
                blink=body.blink,
            )
        return notice_json(n)

    @app.post("/api/notices/preview", responses=ERRORS)
    def preview_notice(body: DraftIn, user: Operator) -> dict[str, Any]:
        """How the draft looks on its target boards (one picture per kind of board), and every fit error."""
        from ledctl import pipeline
        from ledctl.config import Template
        from ledctl.notices.workflow import clean_text, fill_template

        rules = console.dep.notices
        title, text = body.title or "通知", body.text or ""
        if body.template:
            template: Template | None = rules.templates.get(body.template)
            if template is None:
                raise HTTPException(400, f"no template {body.template!r}")
            title, text = fill_template(template, body.slots)
        text = clean_text(text, "the text", rules.max_chars, rules.banned_words)
        title = clean_text(title, "the title", 40, rules.banned_words)
        boards = console.notices.boards_of(body.targets)
        now = console.clock.now()
        probe = Notice(
            0,
            title,
            text,
            body.level or "normal",
            tuple(body.targets),
            local(body.start) or now,
            local(body.end) or now,
            "draft",
            user.name,
            now,
            blink=body.blink,
        )
        errors = fit_problems(console.dep, probe, boards)
        kinds: dict[tuple[str, str, str], list[Board]] = {}
        for b in boards:
            kinds.setdefault((str(b.size), b.colour.value, b.driver), []).append(b)
        pictures_out = []
        for members in kinds.values():
            first = members[0]
            [result] = pipeline.render_notice_fleet(
                console.dep,
                (first,),
                title=title,
                body=text,
                day=now.astimezone(console.dep.tz).date(),
                blink=body.blink,
            )
            if result.program is None:
                continue
            pictures_out.append(
                {
                    "boards": [b.id for b in members],
                    "size": str(first.size),
                    "pages": [
                        "data:image/png;base64,"
                        + base64.b64encode(png(preview.led_look(p.image, preview.led_scale(first)))).decode()
                        for p in result.program.pages[:4]
                    ],
                    "card_font": first.driver == "onbon-bx",
                }
            )
        return {"title": title, "text": text, "errors": errors, "previews": pictures_out}

    def act(notice_id: NoticeId, user: User, action: str, reason: str | None = None) -> dict[str, Any]:
        n = console.notices
        done = {
            "approve": lambda: n.approve(user, notice_id),
            "publish": lambda: n.publish(user, notice_id),
            "review": lambda: n.review(user, notice_id),
            "reject": lambda: n.reject(user, notice_id, reason or ""),
            "cancel": lambda: n.cancel(user, notice_id, reason or ""),
            "override": lambda: n.override(user, notice_id, reason or ""),
        }[action]()
        if console.service is not None and done.state in ("published", "cancelled"):
            console.service.notices_changed()
        return notice_json(done)

    @app.post("/api/notices/{notice_id}/approve", responses=ERRORS)
    def approve(notice_id: NoticeId, user: Approver) -> dict[str, Any]:
        return act(notice_id, user, "approve")

    @app.post("/api/notices/{notice_id}/publish", responses=ERRORS)
    def publish(notice_id: NoticeId, user: Operator) -> dict[str, Any]:
        return act(notice_id, user, "publish")

    @app.post("/api/notices/{notice_id}/review", responses=ERRORS)
    def review(notice_id: NoticeId, user: Approver) -> dict[str, Any]:
        return act(notice_id, user, "review")

    @app.post("/api/notices/{notice_id}/reject", responses=ERRORS)
    def reject(notice_id: NoticeId, body: ReasonIn, user: Approver) -> dict[str, Any]:
        return act(notice_id, user, "reject", body.reason)

    @app.post("/api/notices/{notice_id}/cancel", responses=ERRORS)
    def cancel(notice_id: NoticeId, body: ReasonIn, user: Operator) -> dict[str, Any]:
        return act(notice_id, user, "cancel", body.reason)

    @app.post("/api/notices/{notice_id}/override", responses=ERRORS)
    def override(notice_id: NoticeId, body: ReasonIn, user: Approver) -> dict[str, Any]:
        return act(notice_id, user, "override", body.reason)

    # -- users, audit, reports --------------------------------------------------------------------------

    @app.get("/api/users", responses=ERRORS)
    def users(user: Admin) -> list[dict[str, Any]]:
        return [{"name": u.name, "role": u.role, "disabled": u.disabled} for u in console.users.list()]

    @app.post("/api/users", status_code=201, responses=ERRORS)
    def add_user(body: UserIn, user: Admin) -> dict[str, Any]:
        now = console.clock.now()
        added = console.users.add(
            body.name,
            body.role,
            body.password,
            now,
            user,
            lambda db: audit.append(
                db, now, user.name, "user-add", f"user:{body.name}", None, {"role": body.role}
            ),
        )
        return {"name": added.name, "role": added.role, "disabled": False}

    @app.get("/api/audit", responses=ERRORS)
    def audit_log(
        user: Viewer,
        subject: Annotated[str | None, Query(max_length=80)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[dict[str, Any]]:
        entries = console.notices.audit_log(subject)  # a read: no write lock for a page view
        return [e.as_json() for e in entries[-limit:]]

    @app.get("/api/audit/verify", responses=ERRORS)
    def audit_verify(user: Viewer) -> dict[str, Any]:
        problems, (seq, head) = console.notices.verify_audit()
        return {"intact": not problems, "problems": problems, "rows": seq, "head": head}

    @app.get("/api/report", responses=ERRORS)
    def report_api(
        user: Viewer,
        month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
        year: Annotated[int | None, Query(ge=2000, le=2999)] = None,
    ) -> dict[str, Any]:
        label, start, end = report.period(month, year, console.dep.tz)
        r = report.build(
            console.store, console.notices.list(), [b.id for b in console.dep.boards], label, start, end
        )
        return r.as_dict()

    # -- live updates -----------------------------------------------------------------------------------

    @app.get("/api/events", include_in_schema=False)
    async def events(request: Request, user: Viewer) -> StreamingResponse:
        async def stream() -> AsyncIterator[str]:
            last = None
            while not await request.is_disconnected():
                state = await asyncio.to_thread(fingerprint)
                if state != last:
                    last = state
                    yield f"event: state\ndata: {json.dumps(state)}\n\n"
                await asyncio.sleep(1.0)

        return StreamingResponse(
            stream(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    def fingerprint() -> dict[str, Any]:
        rows = board_rows()
        return {
            "boards": {r["board"]: [r["intended"], r["confirmed"], r["online"], r["failures"]] for r in rows},
            "notices": console.notices.revision(),
        }

    # -- pages ------------------------------------------------------------------------------------------

    def page(request: Request, name: str, user: User, **values: Any) -> HTMLResponse:
        lang = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
        lang = lang if lang in LANGS else "zh"
        session = console.sessions.get(request.cookies.get(SESSION_COOKIE), console.clock.now())
        html = env.get_template(name).render(
            t=translator(lang),
            lang=lang,
            user=user,
            site=console.dep.site,
            csrf=session.csrf if session else "",
            sim=console.fleet is not None,
            path=request.url.path,
            **values,
        )
        response = HTMLResponse(html)
        if request.query_params.get("lang") in LANGS:
            response.set_cookie("lang", lang, samesite="strict", max_age=365 * 86400, path="/")
        return response

    def page_user(request: Request) -> User:
        user = caller(request)
        if user is None:
            raise HTTPException(401, "log in first")
        return user

    @app.get("/login", include_in_schema=False)
    def login_page(request: Request) -> HTMLResponse:
        lang = request.query_params.get("lang") or request.cookies.get("lang") or "zh"
        html = env.get_template("login.html").render(
            t=translator(lang if lang in LANGS else "zh"),
            lang=lang,
            site=console.dep.site,
            user=None,
            csrf="",
            sim=False,
            path="/login",
        )
        return HTMLResponse(html)

    @app.get("/", include_in_schema=False)
    def fleet_page(request: Request) -> HTMLResponse:
        user = page_user(request)
        groups: dict[str, list[dict[str, Any]]] = {}
        for row in board_rows():
            groups.setdefault(row["area"] or "—", []).append(row)
        return page(
            request,
            "fleet.html",
            user,
            groups=groups,
            total=len(console.dep.boards),
            confirmed=sum(1 for r in board_rows() if r["confirmed"] and r["confirmed"] == r["intended"]),
        )

    @app.get("/boards/{board_id}", include_in_schema=False)
    def board_page(board_id: str, request: Request) -> HTMLResponse:
        user = page_user(request)
        b = board_or_404(board_id)
        row = next(r for r in board_rows() if r["board"] == b.id)
        return page(request, "board.html", user, board=b, row=row, timeline=timeline(b))

    @app.get("/data", include_in_schema=False)
    def data_page(request: Request) -> HTMLResponse:
        user = page_user(request)
        return page(request, "data.html", user, data=data(user))

    @app.get("/notices", include_in_schema=False)
    def notices_page(request: Request) -> HTMLResponse:
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

    @app.get("/notices/{notice_id}", include_in_schema=False)
    def notice_page(notice_id: NoticeId, request: Request) -> HTMLResponse:
        user = page_user(request)
        return page(request, "notice.html", user, n=notice_json(console.notices.get(notice_id)))

    @app.get("/audit", include_in_schema=False)
    def audit_page(request: Request) -> HTMLResponse:
        user = page_user(request)
        return page(request, "audit.html", user, check=audit_verify(user), entries=audit_log(user, None, 200))

    @app.get("/reports", include_in_schema=False)
    def report_page(request: Request, month: str | None = None) -> HTMLResponse:
        user = page_user(request)
        month = (
            month
            if month and len(month) == 7
            else console.clock.now().astimezone(console.dep.tz).strftime("%Y-%m")
        )
        try:
            r = report_api(user, month, None)
        except LedctlError as e:
            r = {"error": str(e)}
        return page(request, "report.html", user, r=r, month=month)

    @app.get("/sim", include_in_schema=False)
    def sim_page(request: Request) -> HTMLResponse:
        user = page_user(request)
        if console.fleet is None:
            raise HTTPException(404, "no simulator in this process (ledctl demo has one)")
        return page(request, "sim.html", user, rows=board_rows())

    return app


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
