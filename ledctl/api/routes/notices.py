"""Notices: list and read them, draft one (free text or a template), preview it on its target
boards, and move it through its lifecycle — each step needing its role."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from ledctl import preview
from ledctl.api.deps import ERRORS, Approver, Console, ConsoleDep, NoticeId, Operator, Viewer, png
from ledctl.model import Board
from ledctl.notices.items import as_card_text, delivery_states, fit_problems
from ledctl.notices.users import User
from ledctl.notices.workflow import Notice

router = APIRouter()


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


def notice_json(console: Console, n: Notice) -> dict[str, Any]:
    now = console.clock.now()
    return {**n.to_json(now), "boards": delivery_states(console.notices, n, console.store.path, now)}


@router.get("/api/notices", responses=ERRORS)
def notices(user: Viewer, console: ConsoleDep) -> list[dict[str, Any]]:
    now = console.clock.now()
    return [n.to_json(now) for n in console.notices.list()]


@router.get("/api/notices/{notice_id}", responses=ERRORS)
def notice(notice_id: NoticeId, user: Viewer, console: ConsoleDep) -> dict[str, Any]:
    return notice_json(console, console.notices.get(notice_id))


def local(console: Console, t: datetime | None) -> datetime | None:
    if t is None:
        return None
    return t if t.tzinfo else t.replace(tzinfo=console.dep.tz)


@router.post("/api/notices", status_code=201, responses=ERRORS)
def draft(body: DraftIn, user: Operator, console: ConsoleDep) -> dict[str, Any]:
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
        if not body.text:
            raise HTTPException(400, "give text, or a template with its slots")
        n = console.notices.draft(
            user,
            title=body.title or "通知",
            text=body.text,
            level=body.level or "normal",
            targets=body.targets,
            start=local(console, body.start),
            end=end,
            mode=body.mode,
            share=body.share,
            blink=body.blink,
        )
    return notice_json(console, n)


@router.post("/api/notices/preview", responses=ERRORS)
def preview_notice(body: DraftIn, user: Operator, console: ConsoleDep) -> dict[str, Any]:
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
        pictures_out.append(
            {
                "boards": [b.id for b in members],
                "size": str(first.size),
                "pages": [
                    "data:image/png;base64,"
                    + base64.b64encode(png(preview.led_look(p.image, preview.led_scale(first)))).decode()
                    for p in result.program.pages[:4]
                ],
                "card_font": as_card_text(first, probe),  # the card draws it in its own font
            }
        )
    return {"title": title, "text": text, "errors": errors, "previews": pictures_out}


def act(
    console: Console, notice_id: NoticeId, user: User, action: str, reason: str | None = None
) -> dict[str, Any]:
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
    return notice_json(console, done)


@router.post("/api/notices/{notice_id}/approve", responses=ERRORS)
def approve(notice_id: NoticeId, user: Approver, console: ConsoleDep) -> dict[str, Any]:
    return act(console, notice_id, user, "approve")


@router.post("/api/notices/{notice_id}/publish", responses=ERRORS)
def publish(notice_id: NoticeId, user: Operator, console: ConsoleDep) -> dict[str, Any]:
    return act(console, notice_id, user, "publish")


@router.post("/api/notices/{notice_id}/review", responses=ERRORS)
def review(notice_id: NoticeId, user: Approver, console: ConsoleDep) -> dict[str, Any]:
    return act(console, notice_id, user, "review")


@router.post("/api/notices/{notice_id}/reject", responses=ERRORS)
def reject(notice_id: NoticeId, body: ReasonIn, user: Approver, console: ConsoleDep) -> dict[str, Any]:
    return act(console, notice_id, user, "reject", body.reason)


@router.post("/api/notices/{notice_id}/cancel", responses=ERRORS)
def cancel(notice_id: NoticeId, body: ReasonIn, user: Operator, console: ConsoleDep) -> dict[str, Any]:
    return act(console, notice_id, user, "cancel", body.reason)


@router.post("/api/notices/{notice_id}/override", responses=ERRORS)
def override(notice_id: NoticeId, body: ReasonIn, user: Approver, console: ConsoleDep) -> dict[str, Any]:
    return act(console, notice_id, user, "override", body.reason)
