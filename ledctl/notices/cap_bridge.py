"""CAP 1.2 alerts in and out: an alert becomes a notice (following the approval rule unless its
sender is trusted), Update and Cancel act on the notices they reference, and any notice can
be exported as a CAP alert.

Only `status` Actual reaches a board: Test, Exercise, System and Draft alerts are written
to the audit log and go no further.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledctl import net
from ledctl.config import Deployment
from ledctl.errors import LedctlError
from ledctl.notices import audit
from ledctl.notices.cap import CapAlert, CapError, CapOut, export_alert, format_time, parse_feed
from ledctl.notices.users import User
from ledctl.notices.workflow import MAX_WINDOW, Notice, NoticeError, Notices

DEFAULT_LIFETIME = timedelta(hours=6)  # CAP leaves expiry to the recipient when <expires> is absent
MAX_BYTES = 1_000_000
MAX_LINKED = 20  # linked alerts fetched per feed and poll: a feed cannot make ledctl fetch without end
FETCH_DEADLINE_S = 20.0  # a whole fetch, however slowly the peer sends


@dataclass(frozen=True, slots=True)
class Imported:
    identifier: str
    action: str  # drafted, published, cancelled, ignored, duplicate, expired
    notices: tuple[int, ...]
    message: str


def fetch(url: str, deadline_s: float | None = None, allowed: Collection[str] | None = None) -> bytes:
    """GET a feed or alert, bounded in time and size, never redirected to another server; a clear
    error naming the URL when it cannot be had. `allowed`: the origins it may come from."""
    if not url.startswith(("http://", "https://")):
        raise CapError(f"{url}: give an http:// or https:// URL, or a file")
    try:
        limits = net.Limits(FETCH_DEADLINE_S if deadline_s is None else deadline_s, MAX_BYTES)
        return net.get(url, limits=limits, allowed=allowed,
                       headers={"Accept": "application/cap+xml, application/atom+xml, application/xml"})
    except net.FetchFailed as e:
        raise CapError(f"{url}: cannot be fetched: {e.what}") from None


def read_alerts(data: bytes, where: str, get: Callable[[str], bytes] | None = None,
                problems: list[str] | None = None) -> list[CapAlert]:
    """The alerts in a document: one alert, or an ATOM feed with embedded or linked alerts.

    Linked alerts are fetched only from the server the document came from (`where`, when it is a
    URL) and at most MAX_LINKED per document. With `problems`, an entry that cannot be read (or
    fetched) is described there and the rest are still read: one bad entry never hides a valid
    emergency behind it.
    """
    if get is None:
        home = net.origin(where) if where.startswith(("http://", "https://")) else ""

        def get(url: str) -> bytes:
            return fetch(url, allowed={home} if home else set())

    alerts, links = parse_feed(data, where=where, problems=problems)
    if len(links) > MAX_LINKED and problems is not None:
        problems.append(f"{where}: {len(links)} linked alerts; only the first {MAX_LINKED} are fetched")
    for url in links[:MAX_LINKED]:
        try:
            alerts.extend(parse_feed(get(url), where=url, problems=problems)[0])
        except CapError as e:
            if problems is None:
                raise
            problems.append(str(e))
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


# Markup some senders leave in their text (Markdown headings and emphasis, HTML tags): never on a board.
_MARKUP = re.compile(r"<[^<>]{1,200}>|^\s{0,3}#{1,6}\s*|\*\*|__|(?<!\w)[*_](?=\w)|(?<=\w)[*_](?!\w)",
                     re.MULTILINE)


def plain(text: str) -> str:
    """`text` without markup, on one line."""
    text = html.unescape(_MARKUP.sub(" ", text))
    return " ".join(text.replace("#", " ").split()) if "###" in text else " ".join(text.split())


def shorten(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a word (Latin) or character (Chinese) boundary,
    with an ellipsis when cut — never "…Mid Nort"."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1]
    clause = max(cut.rfind(p) for p in "，。；：、！？")
    if clause >= limit // 2:
        cut = cut[:clause]  # Chinese: end at the last clause that fits
    elif text[limit - 1].isascii() and text[limit - 1].isalnum() and " " in cut:
        # inside a Latin word: back to the last space
        head = cut.rsplit(" ", 1)[0]
        if len(head) >= limit // 2:
            cut = head
    return cut.rstrip(" ,;:，；：、") + "…"


TITLE_CHARS = 40


def _title(alert: CapAlert) -> str:
    """The headline when it fits a title, else the event name, else the headline cut cleanly."""
    headline, event = plain(alert.headline), plain(alert.event)
    for candidate in (headline, event):
        if candidate and len(candidate) <= TITLE_CHARS:
            return candidate
    return shorten(headline or event, TITLE_CHARS)


def _text(dep: Deployment, alert: CapAlert) -> str:
    """The longest honest text that fits a notice: never cut mid-sentence."""
    limit = dep.notices.max_chars
    description, instruction = plain(alert.description), plain(alert.instruction)
    headline = plain(alert.headline)
    candidates = [
        " ".join(p for p in (description, instruction) if p),
        description,
        " ".join(p for p in (headline, instruction) if p),
        headline,
        plain(alert.event),
    ]
    for text in candidates:
        if text and len(text) <= limit:
            return text
    raise NoticeError(f"CAP {alert.identifier}: even its headline is longer than {limit} characters; "
                      f"raise [notices] max_chars or ask the sender for a shorter headline")


# What counts as having handled an alert (a refusal does not: once the config is fixed, the same
# alert can be imported again).
HANDLED = ("cap-import", "cap-cancel", "cap-ignored", "cap-expired")


def ends_the_warning(alert: CapAlert, now: datetime) -> bool:
    """An Update that is really a cancellation: an all-clear (responseType AllClear) or one that
    expires as it is sent (e.g. WCATWC's "Tsunami Cancellation"), or whose every block is over."""
    if alert.msg_type != "Update":
        return False
    blocks = alert.blocks()
    if any("AllClear" in b.response_types for b in blocks):
        return True
    return bool(blocks) and all(b.expires is not None and (b.expires <= alert.sent or b.expires <= now)
                                for b in blocks)


def import_alert(dep: Deployment, notices: Notices, alert: CapAlert, *, may_trust: bool = False,
                 importer: User | None = None) -> Imported:
    """One alert into the notices. Each alert is handled once (its audit row says so).

    An Update or Cancel acts only on its own sender's alerts. An Update's replacement is drafted
    (and checked) before anything is withdrawn, and a published warning is withdrawn only when
    its replacement is published: the public is never left with nothing. An Update that is an
    all-clear ends the warnings it references. Each <info> block in the chosen language becomes
    its own notice. `may_trust`: the alert came from a feed the config lists, so a sender in
    `trusted_senders` publishes without a second person; an alert imported by hand always waits
    for an approver.

    `importer`: the user who imported the alert by hand (`ledctl cap import`). They are its author
    and the actor in the audit log, so the two-person rule sees them: whoever imports an alert
    cannot also approve it, exactly as with text they typed. Without one (a configured feed polled
    by the service) the sender is the author (`cap:<sender>`).
    """
    if importer is not None and may_trust:
        raise ValueError("an alert imported by hand is never trusted: it waits for an approver")
    actor = importer.name if importer is not None else f"cap:{alert.sender}"
    subject = f"cap:{alert.identifier}"
    summary = {
        "identifier": alert.identifier,
        "sender": alert.sender,
        "sent": alert.sent_text,
        "status": alert.status,
        "msgType": alert.msg_type,
    }
    # Handled already by anyone (by hand or from a feed): the alert is the sender's, whoever brought it.
    seen = [e for e in notices.audit_log(subject) if e.action in HANDLED and _sender_of(e) == alert.sender]
    if seen:
        done = [n.id for n in notices.by_cap(alert.sender, alert.identifier)]
        return Imported(alert.identifier, "duplicate", tuple(done),
                        f"handled already ({seen[0].action} at {seen[0].at[:19]})")
    if alert.status != "Actual":
        notices.record(actor, "cap-ignored", subject, {**summary, "why": "status is not Actual"})
        return Imported(alert.identifier, "ignored", (),
                        f"{alert.status} alert: never shown on a public board")
    if alert.msg_type in ("Ack", "Error"):
        notices.record(actor, "cap-ignored", subject,
                       {**summary, "why": f"{alert.msg_type} carries no notice"})
        return Imported(alert.identifier, "ignored", (), f"{alert.msg_type}: nothing to show")

    now = notices.clock.now()
    referenced = _referenced(notices, alert, now)
    if alert.msg_type == "Cancel" or ends_the_warning(alert, now):
        reason = f"CAP {alert.msg_type} {alert.identifier}"
        cancelled = [notices.cancel(importer, n.id, reason, actor=actor).id for n in referenced]
        why = "all clear" if alert.msg_type == "Update" else "cancel"
        notices.record(actor, "cap-cancel", subject, {**summary, "cancelled": cancelled, "why": why})
        return Imported(alert.identifier, "cancelled", tuple(cancelled),
                        f"ended notice(s) {', '.join(map(str, cancelled)) or '— none matched'} ({why})")

    drafts: list[dict[str, object]] = []
    try:
        for block in alert.blocks():
            args = _draft_args(dep, notices, block)
            if args is not None:
                drafts.append(args)
    except NoticeError as e:
        notices.record(actor, "cap-refused", subject, {**summary, "why": str(e)})
        raise
    if not drafts:  # already over
        notices.record(actor, "cap-expired", subject, summary)
        return Imported(alert.identifier, "expired", (), "its window is over already")

    # Referenced notices never published are simply superseded; published ones stay on the boards
    # until their replacement is published (then they end in the same transaction).
    live = [n for n in referenced if n.state_at(now) == "published"]
    made: list[Notice] = []
    try:
        for args in drafts:
            if importer is not None:  # the importer drafts it: their role is checked, they are the author
                made.append(notices.draft(importer, **args, replaces=[n.id for n in live]))  # type: ignore[arg-type]
            else:
                made.append(notices.draft(User(actor, "operator"), **args, author=actor,  # type: ignore[arg-type]
                                          replaces=[n.id for n in live]))
    except NoticeError as e:
        for n in made:  # all blocks or none: never a warning silently half-published
            notices.cancel(importer, n.id, f"CAP {alert.identifier} refused", actor=actor)
        notices.record(actor, "cap-refused", subject, {**summary, "why": str(e)})
        raise
    superseded = [notices.cancel(importer, n.id, f"CAP Update {alert.identifier}", actor=actor).id
                  for n in referenced if n not in live]
    ids = tuple(n.id for n in made)
    notices.record(actor, "cap-import", subject, {**summary, "notices": list(ids),
                                                   "replaces": [n.id for n in live], "cancelled": superseded})
    if may_trust and alert.sender in dep.cap.trusted_senders:
        for n in made:
            notices.publish_trusted(n.id, actor)
        return Imported(alert.identifier, "published", (*ids, *superseded),
                        f"published as notice {', '.join(map(str, ids))} (trusted sender)"
                        + (f"; replaced {', '.join(str(n.id) for n in live)}" if live else ""))
    waiting = f"; notice {', '.join(str(n.id) for n in live)} stays up until then" if live else ""
    standing = notices.standing(made[0]) if made else None
    nxt = f"next: {standing.describe()}" if standing is not None and standing.next else "next: approval"
    return Imported(alert.identifier, "drafted", (*ids, *superseded),
                    f"drafted as notice {', '.join(map(str, ids))}; it goes through the review chain "
                    f"({nxt}){waiting}")


def _sender_of(entry: audit.Entry) -> str | None:
    """The CAP sender an audit row of an import names (its `after` document says)."""
    try:
        after = json.loads(entry.after)
    except ValueError:
        return None
    return after.get("sender") if isinstance(after, dict) else None


def _referenced(notices: Notices, alert: CapAlert, now: datetime) -> list[Notice]:
    """The still-active notices an Update or Cancel refers to: its own sender's only."""
    if alert.msg_type not in ("Update", "Cancel"):
        return []
    keys = {(s, i, t) for s, i, t in alert.references if s == alert.sender}  # nobody withdraws another's
    found = {n.id: n for key in keys for n in notices.by_cap(*key)}
    return [n for _, n in sorted(found.items()) if n.state_at(now) in ("draft", "approved", "published")]


def _draft_args(dep: Deployment, notices: Notices, alert: CapAlert) -> dict[str, object] | None:
    """What the alert's notice would be, checked; None when its window is over."""
    now = notices.clock.now()
    start = alert.effective or alert.onset or alert.sent
    end = alert.expires or max(start, now) + DEFAULT_LIFETIME
    if end <= now:
        return None
    if start < now - timedelta(days=1):
        start = now  # in effect long since: the board window starts now (windows are at most 31 days)
    end = min(end, start + MAX_WINDOW)  # a standing alert (SMHI's run a year) is shown its first 31 days
    targets = targets_of(dep, alert)
    if not targets:
        areas = "; ".join(a.desc for a in alert.areas) or "no <area>"
        raise NoticeError(
            f"CAP {alert.identifier}: no area maps to a group ({areas}); add it under [cap.areas] in the "
            "config, then import the alert again"
        )
    return {
        "title": _title(alert),
        "text": _text(dep, alert),
        "level": level_of(alert),
        "targets": targets,
        "start": start,
        "end": end,
        "origin": "cap",
        "cap": (alert.sender, alert.identifier, alert.sent_text),
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
