"""CAP 1.2 alerts in and out: an alert becomes a notice (following the approval rule unless its
sender is trusted), Update and Cancel act on the notices they reference, and any notice can
be exported as a CAP alert.

Only `status` Actual reaches a board: Test, Exercise, System and Draft alerts are written
to the audit log and go no further.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from ledctl.config import Deployment
from ledctl.errors import LedctlError
from ledctl.notices.cap import CapAlert, CapError, CapOut, export_alert, format_time, parse_feed
from ledctl.notices.users import User
from ledctl.notices.workflow import Notice, NoticeError, Notices

DEFAULT_LIFETIME = timedelta(hours=6)  # CAP leaves expiry to the recipient when <expires> is absent
MAX_BYTES = 1_000_000
MAX_LINKED = 50


@dataclass(frozen=True, slots=True)
class Imported:
    identifier: str
    action: str  # drafted, published, cancelled, ignored, duplicate, expired
    notices: tuple[int, ...]
    message: str


def fetch(url: str, timeout_s: float = 10.0) -> bytes:
    """GET a feed or alert; a clear error naming the URL when it cannot be had."""
    if not url.startswith(("http://", "https://")):
        raise CapError(f"{url}: give an http:// or https:// URL, or a file")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            data = response.read(MAX_BYTES + 1)
    except (urllib.error.URLError, OSError) as e:
        raise CapError(f"{url}: cannot be fetched: {getattr(e, 'reason', e)}") from None
    if len(data) > MAX_BYTES:
        raise CapError(f"{url}: larger than {MAX_BYTES} bytes; not a CAP alert or feed")
    return data


def read_alerts(data: bytes, where: str, get: Callable[[str], bytes] = fetch) -> list[CapAlert]:
    """The alerts in a document: one alert, or an ATOM feed with embedded or linked alerts."""
    alerts, links = parse_feed(data, where=where)
    for url in links[:MAX_LINKED]:
        alerts.extend(parse_feed(get(url), where=url)[0])
    return alerts


def level_of(alert: CapAlert) -> str:
    urgent = alert.urgency in ("Immediate", "Expected")
    return "emergency" if urgent and alert.severity in ("Extreme", "Severe") else "normal"


def targets_of(dep: Deployment, alert: CapAlert) -> list[str]:
    groups: list[str] = []
    for area in alert.areas:
        names = [area.desc, *(value for _, value in area.geocodes)]
        for name in names:
            group = dep.cap.areas.get(name)
            if group is not None and group not in groups:
                groups.append(group)
    if "all" in groups:
        return ["all"]
    return [f"group:{g}" for g in groups]


def _text(dep: Deployment, alert: CapAlert) -> str:
    """The longest honest text that fits a notice: never cut mid-sentence."""
    limit = dep.notices.max_chars
    candidates = [
        " ".join(p for p in (alert.description, alert.instruction) if p),
        alert.description,
        " ".join(p for p in (alert.headline, alert.instruction) if p),
        alert.headline,
        alert.event,
    ]
    for text in candidates:
        text = " ".join(text.split())
        if text and len(text) <= limit:
            return text
    raise NoticeError(f"CAP {alert.identifier}: even its headline is longer than {limit} characters")


def import_alert(dep: Deployment, notices: Notices, alert: CapAlert, *, may_trust: bool = False) -> Imported:
    """One alert into the notices. Each alert is handled once (its audit row says so).

    An Update or Cancel acts only on its own sender's alerts, and an Update's new notice is
    checked before the old one is cancelled. `may_trust`: the alert came from a feed the
    config lists, so a sender in `trusted_senders` publishes without a second person; an
    alert a user imports by hand always waits for an approver.
    """
    actor = f"cap:{alert.sender}"
    subject = f"cap:{alert.identifier}"
    summary = {
        "identifier": alert.identifier,
        "sender": alert.sender,
        "sent": alert.sent_text,
        "status": alert.status,
        "msgType": alert.msg_type,
    }
    seen = [e for e in notices.audit_log(subject) if e.actor == actor]
    if seen:
        done = [
            n.id
            for n in notices.list()
            if (n.cap_sender, n.cap_identifier) == (alert.sender, alert.identifier)
        ]
        return Imported(
            alert.identifier,
            "duplicate",
            tuple(done),
            f"handled already ({seen[0].action} at {seen[0].at[:19]})",
        )
    if alert.status != "Actual":
        notices.record(actor, "cap-ignored", subject, {**summary, "why": "status is not Actual"})
        return Imported(
            alert.identifier, "ignored", (), f"{alert.status} alert: never shown on a public board"
        )
    if alert.msg_type in ("Ack", "Error"):
        notices.record(
            actor, "cap-ignored", subject, {**summary, "why": f"{alert.msg_type} carries no notice"}
        )
        return Imported(alert.identifier, "ignored", (), f"{alert.msg_type}: nothing to show")

    draft: dict[str, object] | None = None
    if alert.msg_type in ("Alert", "Update"):
        try:
            draft = _draft_args(dep, notices, alert)
        except NoticeError as e:
            notices.record(actor, "cap-refused", subject, {**summary, "why": str(e)})
            raise
        if draft is None:  # already over
            notices.record(actor, "cap-expired", subject, summary)
            return Imported(alert.identifier, "expired", (), "its window is over already")

    cancelled = []
    if alert.msg_type in ("Update", "Cancel"):
        for sender, identifier, sent in alert.references:
            if sender != alert.sender:
                continue  # nobody withdraws another sender's warning
            for n in notices.list():
                if (n.cap_sender, n.cap_identifier, n.cap_sent) == (sender, identifier, sent) and n.state in (
                    "draft",
                    "approved",
                    "published",
                ):
                    notices.cancel(None, n.id, f"CAP {alert.msg_type} {alert.identifier}", actor=actor)
                    cancelled.append(n.id)
    if draft is None:
        notices.record(actor, "cap-cancel", subject, {**summary, "cancelled": cancelled})
        return Imported(
            alert.identifier,
            "cancelled",
            tuple(cancelled),
            f"cancelled notice(s) {', '.join(map(str, cancelled)) or '— none matched'}",
        )
    notice = notices.draft(User(actor, "operator"), **draft)  # type: ignore[arg-type]
    notices.record(actor, "cap-import", subject, {**summary, "notice": notice.id, "cancelled": cancelled})
    if may_trust and alert.sender in dep.cap.trusted_senders:
        notice = notices.publish_trusted(notice.id, actor)
        return Imported(
            alert.identifier,
            "published",
            (notice.id, *cancelled),
            f"published as notice {notice.id} (trusted sender)",
        )
    return Imported(
        alert.identifier,
        "drafted",
        (notice.id, *cancelled),
        f"drafted as notice {notice.id}; an approver must approve it",
    )


def _draft_args(dep: Deployment, notices: Notices, alert: CapAlert) -> dict[str, object] | None:
    """What the alert's notice would be, checked; None when its window is over."""
    now = notices.clock.now()
    start = alert.effective or alert.onset or alert.sent
    end = alert.expires or max(start, now) + DEFAULT_LIFETIME
    if end <= now:
        return None
    targets = targets_of(dep, alert)
    if not targets:
        areas = "; ".join(a.desc for a in alert.areas) or "no <area>"
        raise NoticeError(
            f"CAP {alert.identifier}: no area maps to a group ({areas}); add it under [cap.areas]"
        )
    return {
        "title": (alert.headline or alert.event)[:40],
        "text": _text(dep, alert),
        "level": level_of(alert),
        "targets": targets,
        "start": start,
        "end": end,
        "origin": "cap",
        "cap": (alert.sender, alert.identifier, alert.sent_text),
        "author": f"cap:{alert.sender}",
    }


def export(dep: Deployment, notice: Notice) -> bytes:
    """The notice as a CAP 1.2 alert (a Cancel referencing it once cancelled)."""
    if notice.published_at is None:
        raise LedctlError(f"notice {notice.id} was never published; only published notices are exported")
    identifier = f"{dep.site.id}-notice-{notice.id}"
    sent = notice.published_at.replace(microsecond=0)
    severity, urgency = ("Severe", "Immediate") if notice.level == "emergency" else ("Moderate", "Expected")
    areas = tuple(_area_name(dep, t) for t in notice.targets)
    common = dict(
        sender=dep.cap.sender,
        language="zh-CN",
        category="Env",
        event=notice.title,
        urgency=urgency,
        severity=severity,
        certainty="Observed",
        sender_name=dep.site.name,
        headline=notice.title,
        description=notice.text,
        area_descs=areas,
        effective=notice.start.replace(microsecond=0),
        expires=notice.end.replace(microsecond=0),
    )
    if notice.state == "cancelled" and notice.closed_at is not None:
        return export_alert(
            CapOut(
                identifier=f"{identifier}-cancel",
                sent=notice.closed_at.replace(microsecond=0),
                msg_type="Cancel",
                references=((dep.cap.sender, identifier, format_time(sent)),),
                **common,
            )
        )  # type: ignore[arg-type]
    return export_alert(CapOut(identifier=identifier, sent=sent, **common))  # type: ignore[arg-type]


def _area_name(dep: Deployment, target: str) -> str:
    kind, _, name = target.partition(":")
    if target == "all":
        return dep.site.name
    if kind == "group" and name in dep.groups:
        return dep.groups[name].name
    if kind == "board":
        board = next((b for b in dep.boards if b.id == name), None)
        return board.location or board.name if board else name
    return name
