"""CAP 1.2 (OASIS Common Alerting Protocol) import and export.

`parse_alert` reads one <alert> document and validates what ledctl relies on: the namespace,
required elements, exact enumeration values, the CAP date-time form and the references
triples. `parse_feed` also accepts an Atom feed of alerts. `export_alert` writes a valid
CAP 1.2 document with children in XSD order.

Reading is deliberately a little lenient where the XSD cannot matter to us: element order and
unknown elements (polygons, resources, parameters...) are not checked, and surrounding
whitespace around enumeration values and date-times is ignored. Identifier and sender are
taken verbatim because references match on the exact strings.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ledctl.errors import LedctlError

NS = "urn:oasis:names:tc:emergency:cap:1.2"
_ATOM = "http://www.w3.org/2005/Atom"
_OLD_NAMESPACES = {
    "urn:oasis:names:tc:emergency:cap:1.1": "CAP 1.1",
    "http://www.incident.com/cap/1.0": "CAP 1.0",
}

STATUSES = ("Actual", "Exercise", "System", "Test", "Draft")
MSG_TYPES = ("Alert", "Update", "Cancel", "Ack", "Error")
SCOPES = ("Public", "Restricted", "Private")
CATEGORIES = ("Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra",
              "CBRNE", "Other")
URGENCIES = ("Immediate", "Expected", "Future", "Past", "Unknown")
SEVERITIES = ("Extreme", "Severe", "Moderate", "Minor", "Unknown")
CERTAINTIES = ("Observed", "Likely", "Possible", "Unlikely", "Unknown")

# The XSD pattern, minus the comma it lets through in the offset sign (no real offset has one).
_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[-+][0-9]{2}:[0-9]{2}")
_TIME_EXAMPLE = "2003-06-17T14:57:00-07:00"
# Identifier and sender end up inside comma/space separated references and XML text.
_ID_FORBIDDEN_RE = re.compile(r"[\s,<&]")
_LANGUAGE_RE = re.compile(r"[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*")
# Characters XML 1.0 cannot carry at all, not even escaped.
_XML_INVALID_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DTD_RE = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


class CapError(LedctlError):
    """A CAP document is unusable, or an alert cannot be written as valid CAP 1.2."""


@dataclass(frozen=True, slots=True)
class CapArea:
    desc: str
    geocodes: tuple[tuple[str, str], ...] = ()  # (valueName, value)


RESPONSE_TYPES = ("Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear",
                  "None")


@dataclass(frozen=True, slots=True)
class CapInfo:
    """One <info> block: what the alert says in one language, for its areas."""

    language: str = "en-US"
    event: str = ""
    urgency: str = "Unknown"
    severity: str = "Unknown"
    certainty: str = "Unknown"
    sender_name: str = ""
    headline: str = ""
    description: str = ""
    instruction: str = ""
    effective: datetime | None = None
    onset: datetime | None = None
    expires: datetime | None = None
    areas: tuple[CapArea, ...] = ()
    response_types: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class CapAlert(CapInfo):
    """One <alert>, its own fields plus those of its chosen <info> block (inherited from CapInfo;
    without a block, event is "" and the rest keep their defaults)."""

    identifier: str
    sender: str
    sent: datetime  # timezone-aware
    sent_text: str  # the exact <sent> string: references match on it
    status: str
    msg_type: str
    scope: str
    references: tuple[tuple[str, str, str], ...] = ()  # (sender, identifier, sent string)
    note: str = ""
    infos: tuple[CapInfo, ...] = ()  # every <info> block, in document order
    prefer_language: str = "zh"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.sender, self.identifier, self.sent_text)

    def blocks(self) -> list[CapAlert]:
        """One alert per <info> block in the preferred language (else the first block's language),
        each with its own areas: two blocks for two areas are two warnings, and neither is dropped."""
        chosen = [i for i in self.infos if _language_matches(i.language, self.prefer_language)]
        if not chosen:
            chosen = [i for i in self.infos if i.language == self.infos[0].language] if self.infos else []
        if len(chosen) <= 1:
            return [self]  # the alert's own fields are its one chosen block
        return [replace(self, **{f: getattr(i, f) for f in CapInfo.__dataclass_fields__}) for i in chosen]


@dataclass(frozen=True, slots=True)
class CapOut:
    identifier: str
    sender: str
    sent: datetime
    status: str = "Actual"
    msg_type: str = "Alert"
    scope: str = "Public"
    references: tuple[tuple[str, str, str], ...] = ()
    language: str = "zh-CN"
    category: str = "Env"
    event: str = ""
    urgency: str = "Immediate"
    severity: str = "Severe"
    certainty: str = "Observed"
    effective: datetime | None = None
    expires: datetime | None = None
    sender_name: str = ""
    headline: str = ""
    description: str = ""
    area_descs: tuple[str, ...] = ()


# ---------------------------------------------------------------------------------------------
# Reading


class _DoctypeFound(Exception):
    """Raised from inside the parser when a DOCTYPE slips past the byte-level check."""


class _NoDtdBuilder(ET.TreeBuilder):
    # Backstop for encodings (UTF-16...) where the byte search for "<!DOCTYPE" cannot see it:
    # expat reports the DOCTYPE before reading its internal subset, so no entity gets declared.
    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise _DoctypeFound(name)


def _dtd_message(where: str) -> str:
    return (f"{where}: the document contains a <!DOCTYPE> or <!ENTITY> declaration; CAP 1.2 messages "
            "must not declare a DTD or entities: remove the declaration")


def _parse_xml(data: bytes, where: str, expected: str) -> ET.Element:
    data = bytes(data)
    if _DTD_RE.search(data):
        raise CapError(_dtd_message(where))
    parser = ET.XMLParser(target=_NoDtdBuilder())
    try:
        parser.feed(data)
        return parser.close()
    except _DoctypeFound:
        raise CapError(_dtd_message(where)) from None
    except ET.ParseError as e:
        line, column = e.position
        reason = str(e).split(":", 1)[0]
        raise CapError(f"{where}: not well-formed XML at line {line}, column {column + 1} ({reason}); "
                       f"expected {expected}") from None
    except (LookupError, ValueError) as e:
        # An XML declaration naming an encoding expat cannot use (multi-byte, unknown, non-text).
        raise CapError(f"{where}: cannot decode the document ({e}); send it as UTF-8") from None


def _split_tag(tag: object) -> tuple[str, str]:
    if not isinstance(tag, str):
        return "", ""
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return "", tag


def _q(name: str) -> str:
    return f"{{{NS}}}{name}"


class _Reader:
    """Pulls validated values out of one <alert> element; `where` prefixes every error."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, message: str) -> CapError:
        return CapError(f"{self.where}: {message}")

    def text(self, parent: ET.Element, ctx: str, name: str, *, required: bool) -> str | None:
        found = parent.findall(_q(name))
        path = f"{ctx}/<{name}>" if ctx else f"<{name}>"
        if not found:
            if not required:
                return None
            here = ctx or "<alert>"
            stray = [c for c in parent if _split_tag(c.tag)[1] == name]
            if stray:
                ns = _split_tag(stray[0].tag)[0] or "no namespace"
                raise self.fail(f"{here} has <{name}> in {ns}, not in the CAP 1.2 namespace {NS}; "
                                "put it in the alert's namespace")
            raise self.fail(f"{here} is missing <{name}>; CAP 1.2 requires it")
        if len(found) > 1:
            raise self.fail(f"{path} appears {len(found)} times; CAP 1.2 allows one")
        el = found[0]
        if len(el):
            raise self.fail(f"{path} contains child elements; expected plain text")
        return el.text or ""

    def required(self, parent: ET.Element, ctx: str, name: str) -> str:
        value = self.text(parent, ctx, name, required=True)
        assert value is not None
        return value

    def enum(self, value: str, path: str, allowed: tuple[str, ...]) -> str:
        value = value.strip()
        if value not in allowed:
            raise self.fail(f"{path} = {value!r}: expected one of {', '.join(allowed)}")
        return value

    def ident(self, value: str, path: str) -> str:
        if not value:
            raise self.fail(f"{path} is empty; CAP 1.2 requires a value")
        if _ID_FORBIDDEN_RE.search(value):
            raise self.fail(f"{path} = {value!r}: must not contain whitespace, ',', '<' or '&' "
                            "(references match on it)")
        return value

    def time(self, value: str, path: str) -> datetime:
        try:
            return _parse_time(value.strip())
        except ValueError as e:
            raise self.fail(f"{path} = {value!r}: {e}") from None

    def optional_time(self, parent: ET.Element, ctx: str, name: str) -> datetime | None:
        value = self.text(parent, ctx, name, required=False)
        return None if value is None else self.time(value, f"{ctx}/<{name}>")

    def references(self, value: str) -> tuple[tuple[str, str, str], ...]:
        triples = []
        for token in value.split():
            parts = token.split(",")
            if len(parts) != 3 or not all(parts):
                raise self.fail(f"<references> entry {token!r}: expected 'sender,identifier,sent' (three "
                                "comma-separated parts, entries separated by spaces)")
            sender, identifier, sent = parts
            self.ident(sender, f"<references> entry {token!r}: sender")
            self.ident(identifier, f"<references> entry {token!r}: identifier")
            self.time(sent, f"<references> entry {token!r}: sent")
            triples.append((sender, identifier, sent))
        return tuple(triples)


def _parse_time(text: str) -> datetime:
    """The CAP date-time form only; ValueError says what is wrong and what is expected."""
    if _TIME_RE.fullmatch(text):
        try:
            return datetime.fromisoformat(text)
        except ValueError as e:
            raise ValueError(f"not a real date-time ({e}); expected e.g. {_TIME_EXAMPLE}") from None
    if text.endswith(("Z", "z")):
        raise ValueError("'Z' is not allowed in CAP date-times; write UTC as -00:00, "
                         "e.g. 2003-06-17T21:57:00-00:00")
    if re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.,][0-9]+([-+Zz].*)?", text):
        raise ValueError(f"fractional seconds are not allowed in CAP date-times; use whole seconds, "
                         f"e.g. {_TIME_EXAMPLE}")
    raise ValueError(f"expected a CAP date-time YYYY-MM-DDThh:mm:ss±hh:mm, e.g. {_TIME_EXAMPLE}")


def _language_matches(language: str, prefer: str) -> bool:
    # "zh" should match "zh-CN" and "zh" but not "zha" (Zhuang): compare whole subtags.
    language, prefer = language.lower(), prefer.lower()
    if not language.startswith(prefer):
        return False
    return len(language) == len(prefer) or prefer.endswith("-") or language[len(prefer)] == "-"


def _read_info(r: _Reader, info: ET.Element, ctx: str) -> dict[str, Any]:
    language = (r.text(info, ctx, "language", required=False) or "").strip() or "en-US"
    categories = info.findall(_q("category"))
    if not categories:
        r.required(info, ctx, "category")  # raises the "missing" message
    for cat in categories:
        if len(cat):
            raise r.fail(f"{ctx}/<category> contains child elements; expected plain text")
        r.enum(cat.text or "", f"{ctx}/<category>", CATEGORIES)
    event = r.required(info, ctx, "event")
    if not event.strip():
        raise r.fail(f"{ctx}/<event> is empty; CAP 1.2 requires text naming the event type")
    areas = []
    for j, area in enumerate(info.findall(_q("area")), 1):
        actx = f"{ctx}/<area>[{j}]"
        desc = r.required(area, actx, "areaDesc")
        geocodes = []
        for k, geo in enumerate(area.findall(_q("geocode")), 1):
            gctx = f"{actx}/<geocode>[{k}]"
            geocodes.append((r.required(geo, gctx, "valueName"), r.required(geo, gctx, "value")))
        areas.append(CapArea(desc=desc, geocodes=tuple(geocodes)))
    responses = []
    for rt in info.findall(_q("responseType")):
        if len(rt):
            raise r.fail(f"{ctx}/<responseType> contains child elements; expected plain text")
        responses.append(r.enum(rt.text or "", f"{ctx}/<responseType>", RESPONSE_TYPES))
    return {
        "response_types": tuple(responses),
        "language": language,
        "event": event,
        "urgency": r.enum(r.required(info, ctx, "urgency"), f"{ctx}/<urgency>", URGENCIES),
        "severity": r.enum(r.required(info, ctx, "severity"), f"{ctx}/<severity>", SEVERITIES),
        "certainty": r.enum(r.required(info, ctx, "certainty"), f"{ctx}/<certainty>", CERTAINTIES),
        "effective": r.optional_time(info, ctx, "effective"),
        "onset": r.optional_time(info, ctx, "onset"),
        "expires": r.optional_time(info, ctx, "expires"),
        "sender_name": r.text(info, ctx, "senderName", required=False) or "",
        "headline": r.text(info, ctx, "headline", required=False) or "",
        "description": r.text(info, ctx, "description", required=False) or "",
        "instruction": r.text(info, ctx, "instruction", required=False) or "",
        "areas": tuple(areas),
    }


def _alert_from_element(root: ET.Element, where: str, prefer_language: str) -> CapAlert:
    r = _Reader(where)
    ns, local = _split_tag(root.tag)
    if local == "alert" and ns in _OLD_NAMESPACES:
        raise r.fail(f"this is a {_OLD_NAMESPACES[ns]} message (namespace {ns}); ledctl reads CAP 1.2 only: "
                     f"ask the sender for CAP 1.2 (namespace {NS})")
    if local != "alert" or ns != NS:
        shown = f"<{local}> in namespace {ns}" if ns else f"<{local}> without a namespace"
        raise r.fail(f"root element is {shown}; expected <alert> in namespace {NS}")

    identifier = r.ident(r.required(root, "", "identifier"), "<identifier>")
    sender = r.ident(r.required(root, "", "sender"), "<sender>")
    sent_text = r.required(root, "", "sent").strip()
    sent = r.time(sent_text, "<sent>")
    status = r.enum(r.required(root, "", "status"), "<status>", STATUSES)
    msg_type = r.enum(r.required(root, "", "msgType"), "<msgType>", MSG_TYPES)
    scope = r.enum(r.required(root, "", "scope"), "<scope>", SCOPES)
    if scope == "Private" and not (r.text(root, "", "addresses", required=False) or "").strip():
        raise r.fail("<scope> is Private but <addresses> is missing or empty; CAP 1.2 requires the "
                     "recipients to be listed")
    references = r.references(r.text(root, "", "references", required=False) or "")
    if msg_type in ("Update", "Cancel") and not references:
        raise r.fail(f"<msgType> is {msg_type} but <references> is missing or empty; an {msg_type} must "
                     "name the message(s) it acts on as 'sender,identifier,sent'")
    note = r.text(root, "", "note", required=False) or ""

    infos = root.findall(_q("info"))
    # Validate every block, not just the chosen one: a broken block makes the message suspect.
    blocks = [_read_info(r, info, f"<info>[{i}]" if len(infos) > 1 else "<info>")
              for i, info in enumerate(infos, 1)]
    chosen = next((b for b in blocks if _language_matches(str(b["language"]), prefer_language)),
                  blocks[0] if blocks else {})
    return CapAlert(identifier=identifier, sender=sender, sent=sent, sent_text=sent_text, status=status,
                    msg_type=msg_type, scope=scope, references=references, note=note, **chosen,
                    infos=tuple(CapInfo(**b) for b in blocks), prefer_language=prefer_language)


def parse_alert(data: bytes, *, where: str = "CAP alert", prefer_language: str = "zh") -> CapAlert:
    """Parse and validate one CAP 1.2 <alert>; CapError (prefixed with `where`) if unusable.

    With several <info> blocks, the first whose language matches `prefer_language` wins
    (case-insensitive, whole subtags: "zh" matches "zh-CN"), else the first block.
    """
    root = _parse_xml(data, where, "a CAP 1.2 <alert> document")
    return _alert_from_element(root, where, prefer_language)


def _link_href(entry: ET.Element) -> str | None:
    links = [link for link in entry.findall(f"{{{_ATOM}}}link") if (link.get("href") or "").strip()]
    for link in links:
        if (link.get("type") or "").split(";")[0].strip().lower() == "application/cap+xml":
            return link.get("href", "").strip()
    for link in links:
        if link.get("rel") in (None, "alternate"):  # Atom: a link without rel is "alternate"
            return link.get("href", "").strip()
    return None


def parse_feed(data: bytes, *, where: str = "CAP feed",
               problems: list[str] | None = None) -> tuple[list[CapAlert], list[str]]:
    """Read a single CAP <alert> or an Atom feed of them.

    Returns the alerts embedded in the document and, for Atom entries that only link to their
    alert, the URLs for the caller to fetch (as written: relative ones are not resolved).
    With `problems`, an unusable entry is described there and the others are still read (one
    bad entry must not hide a valid emergency behind it); without, it raises CapError.
    """
    root = _parse_xml(data, where, "a CAP 1.2 <alert> or an Atom <feed>")
    ns, local = _split_tag(root.tag)
    if local == "alert":
        return [_alert_from_element(root, where, "zh")], []
    if (ns, local) == (NS, "alerts"):
        # Not in CAP 1.2, but real: SMHI (Sweden) serves its alerts as <alerts> holding <alert>s.
        return _each_alert(root, where, problems), []
    if (ns, local) != (_ATOM, "feed"):
        raise CapError(f"{where}: root element is <{local}>{f' in namespace {ns}' if ns else ''}; expected "
                       f"a CAP 1.2 <alert> or an Atom <feed> (namespace {_ATOM})")
    alerts: list[CapAlert] = []
    urls: list[str] = []
    for i, entry in enumerate(root.findall(f"{{{_ATOM}}}entry"), 1):
        entry_id = (entry.findtext(f"{{{_ATOM}}}id") or "").strip()
        entry_where = f"{where}: entry {entry_id!r}" if entry_id else f"{where}: entry #{i} (no <id>)"
        content = entry.find(f"{{{_ATOM}}}content")
        embedded = next((c for c in content if _split_tag(c.tag)[1] == "alert"), None) \
            if content is not None else None
        try:
            if embedded is not None:
                alerts.append(_alert_from_element(embedded, entry_where, "zh"))
                continue
            href = _link_href(entry)
            if href is None:
                raise CapError(f"{entry_where}: has neither a CAP <alert> inside <content> nor a "
                               "<link href>; embed the alert or link to it with type=\"application/cap+xml\"")
            urls.append(href)
        except CapError as e:
            if problems is None:
                raise
            problems.append(str(e))
    return alerts, urls


def _each_alert(root: ET.Element, where: str, problems: list[str] | None) -> list[CapAlert]:
    alerts: list[CapAlert] = []
    for i, element in enumerate(root.findall(f"{{{NS}}}alert"), 1):
        try:
            alerts.append(_alert_from_element(element, f"{where}: alert #{i}", "zh"))
        except CapError as e:
            if problems is None:
                raise
            problems.append(str(e))
    return alerts


# ---------------------------------------------------------------------------------------------
# Writing


def format_time(t: datetime) -> str:
    """`t` in the CAP form YYYY-MM-DDThh:mm:ss±hh:mm: seconds truncated, UTC written -00:00."""
    offset = t.utcoffset()
    if offset is None:
        raise CapError(f"CAP date-time {t.isoformat()} has no timezone; pass an aware datetime "
                       "(e.g. tzinfo=ZoneInfo('Asia/Shanghai'))")
    if offset % timedelta(minutes=1):
        # Historic local-mean-time offsets have seconds, which CAP cannot write: use UTC instead.
        t, offset = t.astimezone(UTC), timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes > 0 else "-"  # zero offset is written -00:00, as the spec asks
    hh, mm = divmod(abs(minutes), 60)
    return (f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
            f"{sign}{hh:02d}:{mm:02d}")


def _check_enum(where: str, field: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise CapError(f"{where}: {field} = {value!r}: expected one of {', '.join(allowed)}")


def _check_ident(where: str, field: str, value: str) -> None:
    if not value:
        raise CapError(f"{where}: {field} is empty; CAP 1.2 requires a value")
    if _ID_FORBIDDEN_RE.search(value):
        raise CapError(f"{where}: {field} = {value!r}: must not contain whitespace, ',', '<' or '&' "
                       "(references match on it)")


def _escape(where: str, field: str, value: str) -> str:
    bad = _XML_INVALID_RE.search(value)
    if bad:
        raise CapError(f"{where}: {field} contains {bad.group()!r}, which XML cannot carry; remove it")
    # \r is escaped so that it survives the parser's line-end normalisation.
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _time(where: str, field: str, t: datetime) -> str:
    try:
        return format_time(t)
    except CapError as e:
        raise CapError(f"{where}: {field}: {e}") from None


def export_alert(out: CapOut) -> bytes:
    """Write `out` as a CAP 1.2 document (UTF-8, children in XSD order, 2-space indentation)."""
    where = f"CAP export of {out.identifier!r}"
    _check_ident(where, "identifier", out.identifier)
    _check_ident(where, "sender", out.sender)
    _check_enum(where, "status", out.status, STATUSES)
    _check_enum(where, "msg_type", out.msg_type, MSG_TYPES)
    _check_enum(where, "scope", out.scope, SCOPES)
    if out.scope == "Private":
        raise CapError(f"{where}: scope Private needs <addresses>, which ledctl does not write; "
                       "use Public or Restricted")
    refs = []
    for sender, identifier, sent in out.references:
        _check_ident(where, "references sender", sender)
        _check_ident(where, "references identifier", identifier)
        if not _TIME_RE.fullmatch(sent):
            raise CapError(f"{where}: references sent = {sent!r}: expected the referenced message's exact "
                           f"<sent> string, e.g. {_TIME_EXAMPLE} (use format_time)")
        refs.append(f"{sender},{identifier},{sent}")
    if out.msg_type in ("Update", "Cancel") and not refs:
        raise CapError(f"{where}: msg_type {out.msg_type} needs references to the message(s) it acts on")

    lines = ['<?xml version="1.0" encoding="UTF-8"?>', f'<alert xmlns="{NS}">']

    def add(depth: int, name: str, value: str) -> None:
        lines.append(f"{'  ' * depth}<{name}>{_escape(where, name, value)}</{name}>")

    add(1, "identifier", out.identifier)
    add(1, "sender", out.sender)
    add(1, "sent", _time(where, "sent", out.sent))
    add(1, "status", out.status)
    add(1, "msgType", out.msg_type)
    add(1, "scope", out.scope)
    if refs:
        add(1, "references", " ".join(refs))

    has_info_content = any((out.headline, out.description, out.sender_name, out.area_descs,
                            out.effective, out.expires))
    if not out.event.strip():
        if has_info_content:
            raise CapError(f"{where}: event is empty but headline/description/areas are set; CAP 1.2 "
                           "<info> requires an event (e.g. '重污染天气')")
    else:
        _check_enum(where, "category", out.category, CATEGORIES)
        _check_enum(where, "urgency", out.urgency, URGENCIES)
        _check_enum(where, "severity", out.severity, SEVERITIES)
        _check_enum(where, "certainty", out.certainty, CERTAINTIES)
        if not _LANGUAGE_RE.fullmatch(out.language):
            raise CapError(f"{where}: language = {out.language!r}: expected an RFC 3066 tag such as zh-CN")
        lines.append("  <info>")
        add(2, "language", out.language)
        add(2, "category", out.category)
        add(2, "event", out.event)
        add(2, "urgency", out.urgency)
        add(2, "severity", out.severity)
        add(2, "certainty", out.certainty)
        if out.effective is not None:
            add(2, "effective", _time(where, "effective", out.effective))
        if out.expires is not None:
            add(2, "expires", _time(where, "expires", out.expires))
        if out.sender_name:
            add(2, "senderName", out.sender_name)
        if out.headline:
            add(2, "headline", out.headline)
        if out.description:
            add(2, "description", out.description)
        for i, desc in enumerate(out.area_descs, 1):
            if not desc.strip():
                raise CapError(f"{where}: area_descs[{i}] is empty; describe the area or leave it out")
            lines.append("    <area>")
            add(3, "areaDesc", desc)
            lines.append("    </area>")
        lines.append("  </info>")
    lines.append("</alert>")
    return ("\n".join(lines) + "\n").encode("utf-8")
