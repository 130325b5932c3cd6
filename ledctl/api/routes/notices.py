"""Notices: list and read them, draft one (free text or a template), preview it on its target
boards, and move it through its lifecycle — each step needing its role."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import Field, StrictBool, model_validator

from ledctl import preview
from ledctl.api import i18n, messages
from ledctl.api.deps import ERRORS, Approver, Console, ConsoleDep, Input, NoticeId, Operator, Viewer, png
from ledctl.model import Board
from ledctl.notices.items import as_card_text, delivery_states, fit_problems
from ledctl.notices.users import User
from ledctl.notices.workflow import Notice

router = APIRouter()


class DraftIn(Input):
    """Free text (title and text, a level, share and blink) or a template (its slots): never a mix,
    so nothing sent is silently ignored or replaced by a default. `null` is the same as leaving a
    field out."""

    title: str | None = Field(default=None, min_length=1, max_length=40)
    text: str | None = Field(default=None, min_length=1, max_length=2000)
    template: str | None = Field(default=None, min_length=1, max_length=64)
    slots: dict[Annotated[str, Field(max_length=40)], Annotated[str, Field(max_length=60)]] = Field(
        default_factory=dict, max_length=10)
    level: Literal["emergency", "normal"] | None = None
    targets: list[Annotated[str, Field(min_length=1, max_length=80)]] = Field(min_length=1, max_length=60)
    start: datetime | None = None
    end: datetime
    mode: Literal["takeover", "share"] | None = None
    share: float | None = Field(default=None, ge=0.1, le=0.9, strict=True)  # a number, not "0.5"
    blink: StrictBool = False  # not "yes", not 1: true or false

    @model_validator(mode="after")
    def free_text_or_template(self) -> DraftIn:
        if self.template is not None:
            given = [name for name in ("title", "text", "level", "share") if getattr(self, name) is not None]
            given += ["blink"] if self.blink else []
            if given:
                raise ValueError(f"{given[0]}: a template brings its own wording and level; leave out "
                                 f"{', '.join(given)}")
            return self
        if self.slots:
            raise ValueError("slots: only with a template")
        if self.text is None:
            raise ValueError("text: give text, or a template with its slots")
        if self.title is None:
            raise ValueError("title: a notice of free text needs a title (at most 40 characters)")
        return self


class ReasonIn(Input):
    reason: str = Field(min_length=1, max_length=200)


class SignOffIn(Input):
    confidentiality_checked: StrictBool = False  # the confidentiality review (保密审查) was done


class EditIn(Input):
    """A new revision of a draft's wording, at a review stage that may edit."""

    title: str | None = Field(default=None, min_length=1, max_length=40)
    text: str | None = Field(default=None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def something(self) -> EditIn:
        if self.title is None and self.text is None:
            raise ValueError("text: give the new title, text or both")
        return self


TIMES = ("start", "end", "created", "published_at", "closed_at")


def notice_doc(console: Console, n: Notice) -> dict[str, Any]:
    """A notice as the API gives it: every time in the deployment's zone (one offset throughout)."""
    return i18n.localize_times(n.to_json(console.clock.now()), TIMES, console.dep.tz)


def notice_json(console: Console, n: Notice, lang: str | None = None) -> dict[str, Any]:
    now = console.clock.now()
    states = delivery_states(console.notices, n, console.store.path, now)
    chain = console.notices.standing(n).as_json()
    for stage in chain["stages"]:  # type: ignore[union-attr]
        stage["at"] = i18n.local_iso(stage["at"], console.dep.tz)
    return {**notice_doc(console, n), "chain": chain,
            "boards": [delivery_words(console, s, lang) for s in states]}


def delivery_words(console: Console, s: dict[str, Any], lang: str | None) -> dict[str, Any]:
    """One board's delivery of a notice; with `lang`, its detail in words and local time."""
    tz, now = console.dep.tz, console.clock.now()
    if lang is None:  # a script: the detail as the rules word it, its times in the deployment's zone
        return {**s, "detail": i18n.iso_in_zone(str(s.get("detail") or ""), tz)}
    state, detail = str(s["state"]), str(s.get("detail") or "")
    en = lang == "en"
    if state == "confirmed":
        at = detail.split(" ")[0]
        said = (("confirmed at " if en else "确认于 ") + i18n.when(at, tz, now, seconds=True)) if at else ""
        if "update is pending" in detail:
            said += " (an update is being sent)" if en else "（更新正在发送）"
    elif state == "pending":
        said = "being sent" if en else "正在发送"
    elif state == "failing":
        said = messages.result(detail, lang)
    elif detail.startswith("starts "):
        said = ("starts at " if en else "开始于 ") + i18n.when(detail[7:], tz, now)
    elif detail in i18n.STATE_WORDS:
        said = i18n.pick(i18n.STATE_WORDS, detail, lang)
    elif "has not taken it up" in detail:
        said = ("the service has not taken it up yet (is ledctl serve running?)" if en
                else "服务尚未接手（ledctl serve 是否在运行？）")
    else:
        said = messages.localised_times(detail, tz)
    return {**s, "detail": said}


def _lang(request: Request) -> str | None:
    return messages.console_lang(request.headers, request.cookies)


@router.get("/api/notices", responses=ERRORS)
def notices(user: Viewer, console: ConsoleDep) -> list[dict[str, Any]]:
    return [notice_doc(console, n) for n in console.notices.list()]


@router.get("/api/notices/{notice_id}", responses=ERRORS)
def notice(notice_id: NoticeId, user: Viewer, console: ConsoleDep, request: Request) -> dict[str, Any]:
    return notice_json(console, console.notices.get(notice_id), _lang(request))


def local(console: Console, t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t if t.tzinfo else t.replace(tzinfo=console.dep.tz)


@router.post("/api/notices", status_code=201, responses=ERRORS)
def draft(body: DraftIn, user: Operator, console: ConsoleDep, request: Request) -> dict[str, Any]:
    end = local(console, body.end)
    assert end is not None
    if body.template:
        n = console.notices.draft_from_template(
            user,
            body.template,
            body.slots,
            targets=body.targets,
            start=local(console, body.start),
            end=end,
            mode=body.mode,
        )
    else:
        assert body.title is not None and body.text is not None  # DraftIn says so
        n = console.notices.draft(
            user,
            title=body.title,
            text=body.text,
            level=body.level or "normal",
            targets=body.targets,
            start=local(console, body.start),
            end=end,
            mode=body.mode,
            share=body.share,
            blink=body.blink,
        )
    return notice_json(console, n, _lang(request))


PREVIEW_WIDTH = 480  # px: a draft's preview of one page, at a whole number of pixels per LED


def preview_scale(board: Board) -> int:
    return max(2, min(10, PREVIEW_WIDTH // board.size.width))


@router.post("/api/notices/preview", responses=ERRORS)
def preview_notice(body: DraftIn, user: Operator, console: ConsoleDep, request: Request) -> dict[str, Any]:
    """How the draft looks on its target boards (one picture per kind of board), and every fit error."""
    from ledctl import pipeline
    from ledctl.config import Template
    from ledctl.notices.workflow import clean_text, fill_template

    rules = console.dep.notices
    title, text = body.title or "", body.text or ""
    if body.template:
        template: Template | None = rules.templates.get(body.template)
        if template is None:
            raise HTTPException(400, f"no template {body.template!r}")
        title, text, _ = fill_template(template, body.slots, rules.banned_words)
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
        local(console, body.start) or now,
        local(console, body.end) or now,
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
        [result] = pipeline.notice_as_shown(
            console.dep,
            (first,),
            title=title,
            body=text,
            day=now.astimezone(console.dep.tz).date(),
            blink=body.blink,
        )
        if result.program is None:
            continue
        dots = preview_scale(first)
        pictures_out.append(
            {
                "boards": [b.id for b in members],
                "boards_text": messages.board_list([b.id for b in members], _lang(request) or "zh"),
                "size": str(first.size),
                "pages": [
                    "data:image/png;base64,"
                    + base64.b64encode(png(preview.led_look(p.image, dots))).decode()
                    for p in result.program.pages[:4]
                ],
                "sizes": [[p.image.width * dots, p.image.height * dots] for p in result.program.pages[:4]],
                "effects": [p.effect for p in result.program.pages[:4]],
                "card_font": as_card_text(first, probe),  # the card draws it in its own font
            }
        )
    lang = _lang(request)
    said = messages.problems(errors, lang) if lang is not None else errors
    return {"title": title, "text": text, "level": probe.level, "errors": said, "previews": pictures_out}


def act(
    console: Console, notice_id: NoticeId, user: User, action: str, reason: str | None = None,
    lang: str | None = None, *, checked: bool = False, edit: EditIn | None = None,
) -> dict[str, Any]:
    n = console.notices
    done = {
        "approve": lambda: n.approve(user, notice_id, confidentiality_checked=checked),
        "edit": lambda: n.edit(user, notice_id, title=edit.title if edit else None,
                               text=edit.text if edit else None),
        "publish": lambda: n.publish(user, notice_id),
        "review": lambda: n.review(user, notice_id),
        "reject": lambda: n.reject(user, notice_id, reason or ""),
        "cancel": lambda: n.cancel(user, notice_id, reason or ""),
        "override": lambda: n.override(user, notice_id, reason or ""),
    }[action]()
    if console.service is not None and done.state in ("published", "cancelled"):
        console.service.notices_changed()
    return notice_json(console, done, lang)


# An operator may act at a stage for operators (the department's confirmation): the chain decides.
@router.post("/api/notices/{notice_id}/approve", responses=ERRORS)
def approve(notice_id: NoticeId, user: Operator, console: ConsoleDep, request: Request,
            body: SignOffIn | None = None) -> dict[str, Any]:
    """Sign off the next stage of the notice's review chain; the last one approves it."""
    checked = body.confidentiality_checked if body is not None else False
    return act(console, notice_id, user, "approve", lang=_lang(request), checked=checked)


@router.post("/api/notices/{notice_id}/edit", responses=ERRORS)
def edit(notice_id: NoticeId, body: EditIn, user: Operator, console: ConsoleDep,
         request: Request) -> dict[str, Any]:
    """A new revision of a draft's title or text, at a review stage that may edit."""
    return act(console, notice_id, user, "edit", lang=_lang(request), edit=body)


@router.post("/api/notices/{notice_id}/publish", responses=ERRORS)
def publish(notice_id: NoticeId, user: Operator, console: ConsoleDep,
            request: Request) -> dict[str, Any]:
    return act(console, notice_id, user, "publish", lang=_lang(request))


@router.post("/api/notices/{notice_id}/review", responses=ERRORS)
def review(notice_id: NoticeId, user: Approver, console: ConsoleDep,
           request: Request) -> dict[str, Any]:
    return act(console, notice_id, user, "review", lang=_lang(request))


@router.post("/api/notices/{notice_id}/reject", responses=ERRORS)
def reject(notice_id: NoticeId, body: ReasonIn, user: Approver, console: ConsoleDep,
           request: Request) -> dict[str, Any]:
    return act(console, notice_id, user, "reject", body.reason, _lang(request))


@router.post("/api/notices/{notice_id}/cancel", responses=ERRORS)
def cancel(notice_id: NoticeId, body: ReasonIn, user: Operator, console: ConsoleDep,
           request: Request) -> dict[str, Any]:
    return act(console, notice_id, user, "cancel", body.reason, _lang(request))


@router.post("/api/notices/{notice_id}/override", responses=ERRORS)
def override(notice_id: NoticeId, body: ReasonIn, user: Approver, console: ConsoleDep,
             request: Request) -> dict[str, Any]:
    return act(console, notice_id, user, "override", body.reason, _lang(request))
