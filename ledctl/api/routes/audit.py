"""The audit log: its entries (raw for the API, in words for the page: who did what to which notice
or user, why, and what changed), and its check (chain, key, anchors)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from ledctl.api import i18n
from ledctl.api.deps import ERRORS, Console, ConsoleDep, Viewer

router = APIRouter()


@router.get("/api/audit", responses=ERRORS)
def audit_log(
    user: Viewer,
    console: ConsoleDep,
    subject: Annotated[str | None, Query(max_length=80)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[dict[str, Any]]:
    return audit_entries(console, subject, limit)


def audit_entries(console: Console, subject: str | None, limit: int) -> list[dict[str, Any]]:
    entries = console.notices.audit_log(subject)  # a read: no write lock for a page view
    return [i18n.localize_times(e.as_json(), ("at",), console.dep.tz) for e in entries[-limit:]]


@router.get("/api/audit/verify", responses=ERRORS)
def audit_verify(user: Viewer, console: ConsoleDep) -> dict[str, Any]:
    return audit_check(console)


def audit_check(console: Console) -> dict[str, Any]:
    check = console.notices.check_audit()  # the chain, its key and anchors, every notice's history
    return {"intact": check.intact, "problems": check.problems, "warnings": check.warnings,
            "rows": check.rows, "head": check.head, "keyed_from": check.keyed_from}


def audit_rows(console: Console, lang: str, limit: int = 300) -> list[dict[str, Any]]:
    """The newest entries first, as a person reads them."""
    tz = console.dep.tz
    now = console.clock.now()
    groups = console.dep.groups
    boards = {b.id: b for b in console.dep.boards}
    out = []
    for e in reversed(audit_entries(console, None, limit)):
        before = e["before"] if isinstance(e["before"], dict) else {}
        after = e["after"] if isinstance(e["after"], dict) else {}
        subject = str(e["subject"])
        kind, _, ident = subject.partition(":")
        title = after.get("title") or before.get("title")
        if kind == "notice":
            what = (f"通知 #{ident}" if lang != "en" else f"notice #{ident}")
            what += f"「{title}」" if title else ""
        elif kind == "user":
            what = f"用户 {ident}" if lang != "en" else f"user {ident}"
        else:
            what = subject
        if e["action"] == "override":
            reason = after.get("override_reason")
        else:
            reason = after.get("reason") or after.get("why")
        out.append({
            "seq": e["seq"], "at": e["at"], "when": i18n.when(e["at"], tz, now, seconds=True),
            "actor": e["actor"], "action": e["action"],
            "action_text": i18n.pick(i18n.ACTION_WORDS, str(e["action"]), lang),
            "subject": subject, "subject_text": what, "reason": reason or "",
            "changes": changes(before, after, lang, tz, now, groups, boards),
        })
    return out


def changes(before: dict[str, Any], after: dict[str, Any], lang: str, tz: Any, now: Any,
            groups: Any, boards: Any) -> list[str]:
    """What changed, field by field, in words: 状态：草稿 → 已发布."""
    out = []
    fresh = not before
    for key in i18n.FIELD_WORDS:
        if key not in after and key not in before:
            continue
        a, b = before.get(key), after.get(key)
        if not fresh and a == b:
            continue
        if (fresh and b in (None, "", [], False)) or key in ("reason", "override_reason", "why"):
            continue  # a new notice's empty fields; a reason has its own column

        def shown(v: Any, key: str = key) -> str:
            if v is None or v == "":
                return "—"
            if key == "state":
                return i18n.pick(i18n.STATE_WORDS, str(v), lang)
            if key == "level":
                return i18n.pick(i18n.WORDS, str(v), lang)
            if key == "mode":
                return i18n.pick(i18n.WORDS, str(v), lang)
            if key == "role":
                return i18n.pick(i18n.ROLE_WORDS, str(v), lang)
            if key in ("start", "end"):
                return i18n.when(str(v), tz, now)
            if key == "targets" and isinstance(v, list):
                return "、".join(i18n.target_name(str(t), lang, groups, boards) for t in v)
            if isinstance(v, bool):
                return ("是" if v else "否") if lang != "en" else ("yes" if v else "no")
            return str(v)

        label = i18n.pick(i18n.FIELD_WORDS, key, lang) + ("：" if lang != "en" else ": ")
        out.append(f"{label}{shown(b)}" if fresh else f"{label}{shown(a)} → {shown(b)}")
    return out
