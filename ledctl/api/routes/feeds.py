"""What the bureau published, for anyone, without a login: Atom 1.0 (/feed.atom), JSON Feed 1.1
(/feed.json), a CAP 1.2 feed of the notices in force (/cap/alerts.xml, which `ledctl cap import` of
another controller reads), the pictures they enclose, and a public page of what every board shows
now (/public). Feeds answer conditional GETs (ETag, Last-Modified) with 304.

Nothing here is secret: only what was already shown to the public. Drafts, approvals, users and
the audit stay behind the login.
"""

from __future__ import annotations

import hashlib
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from PIL import Image

from ledctl import preview
from ledctl.api.deps import BoardId, ConsoleDep, png
from ledctl.notices import cap_bridge
from ledctl.publications import Publication, Publications

router = APIRouter()

ATOM = "http://www.w3.org/2005/Atom"
CAP_RECENT = timedelta(hours=24)  # a cancelled notice stays in the CAP feed this long, as a Cancel


def _publications(console: Any) -> Publications:
    return Publications(console.store.path)


def _validators(items: list[Publication], extra: str = "") -> tuple[str, datetime | None]:
    digest = hashlib.sha256("|".join([extra, *(f"{p.id}:{p.revision}" for p in items)]).encode())
    last = max((p.updated_at for p in items), default=None)
    return f'"{digest.hexdigest()[:24]}"', last


def _conditional(request: Request, etag: str, last: datetime | None, body: bytes, media: str) -> Response:
    headers = {"ETag": etag, "Cache-Control": "public, max-age=60"}
    if last is not None:
        headers["Last-Modified"] = format_datetime(last.astimezone(UTC).replace(microsecond=0), usegmt=True)
    match = request.headers.get("if-none-match")
    if match is not None:
        if etag in [m.strip() for m in match.split(",")] or match.strip() == "*":
            return Response(status_code=304, headers=headers)
    elif last is not None and (since := request.headers.get("if-modified-since")):
        try:
            if last.replace(microsecond=0) <= parsedate_to_datetime(since):
                return Response(status_code=304, headers=headers)
        except (TypeError, ValueError):
            pass  # an unreadable date: answer in full
    return Response(body, media_type=media, headers=headers)


def _summary(pub: Publication) -> tuple[str, str]:
    """(title, text) of a publication, as the boards and the bureau word it."""
    doc = pub.doc
    if pub.kind == "bulletin":
        lines = [s["text"] for s in doc.get("stations", [])] + [w["text"] for w in doc.get("water", [])]
        return str(doc.get("title", pub.id)), "\n".join(lines)
    state = {"cancelled": "（已撤销）", "ended": "（已结束）"}.get(str(doc.get("state")), "")
    window = f"{doc.get('start', '')[:16].replace('T', ' ')} – {doc.get('end', '')[:16].replace('T', ' ')}"
    names = doc.get("target_names", [])
    where = "、".join(names[:6]) + ("等" if len(names) > 6 else "")
    text = f"{doc.get('text', '')}\n时间：{window}\n屏幕：{where}"
    if doc.get("state") == "cancelled":
        text += f"\n已于 {str(doc.get('cancelled_at', ''))[:16].replace('T', ' ')} 撤销"
    return f"{doc.get('title', pub.id)}{state}", text


def _pictures(pub: Publication) -> list[str]:
    seen: dict[str, None] = {}
    for digests in (pub.doc.get("pictures") or {}).values():
        for digest in digests:
            seen.setdefault(digest, None)
    return list(seen)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


@router.get("/feed.atom", include_in_schema=False)
def feed_atom(request: Request, console: ConsoleDep) -> Response:
    items = _publications(console).latest()
    etag, last = _validators(items, "atom")
    base = _base(request)
    site = console.dep.site
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed", {"xml:lang": "zh-CN"})
    ET.SubElement(feed, f"{{{ATOM}}}id").text = f"tag:{site.id},2026:ledctl"
    ET.SubElement(feed, f"{{{ATOM}}}title").text = f"{site.name} 环境信息发布"
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = (last or console.clock.now()).isoformat()
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "self", "href": f"{base}/feed.atom"})
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "alternate", "href": f"{base}/public"})
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    ET.SubElement(author, f"{{{ATOM}}}name").text = site.name
    for pub in items:
        title, text = _summary(pub)
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        ET.SubElement(entry, f"{{{ATOM}}}id").text = f"tag:{site.id},2026:{pub.id}"
        ET.SubElement(entry, f"{{{ATOM}}}title").text = title
        ET.SubElement(entry, f"{{{ATOM}}}published").text = pub.published_at.isoformat()
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = pub.updated_at.isoformat()
        ET.SubElement(entry, f"{{{ATOM}}}category", {"term": pub.kind})
        ET.SubElement(entry, f"{{{ATOM}}}content", {"type": "text"}).text = text
        for digest in _pictures(pub):
            ET.SubElement(entry, f"{{{ATOM}}}link", {"rel": "enclosure", "type": "image/png",
                                                    "href": f"{base}/feed/pictures/{digest}.png"})
    body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8")
    return _conditional(request, etag, last, body, "application/atom+xml; charset=utf-8")


@router.get("/feed.json", include_in_schema=False)
def feed_json(request: Request, console: ConsoleDep) -> Response:
    items = _publications(console).latest()
    etag, last = _validators(items, "json")
    base = _base(request)
    out = []
    for pub in items:
        title, text = _summary(pub)
        out.append({
            "id": f"tag:{console.dep.site.id},2026:{pub.id}",
            "title": title,
            "content_text": text,
            "date_published": pub.published_at.isoformat(),
            "date_modified": pub.updated_at.isoformat(),
            "tags": [pub.kind],
            "attachments": [{"url": f"{base}/feed/pictures/{d}.png", "mime_type": "image/png"}
                            for d in _pictures(pub)],
            "_ledctl": {"publication": pub.id, "revision": pub.revision, "doc": pub.doc},
        })
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": f"{console.dep.site.name} 环境信息发布",
        "home_page_url": f"{base}/public",
        "feed_url": f"{base}/feed.json",
        "language": "zh-CN",
        "authors": [{"name": console.dep.site.name}],
        "items": out,
    }
    body = JSONResponse(feed).body
    return _conditional(request, etag, last, bytes(body), "application/feed+json; charset=utf-8")


@router.get("/cap/alerts.xml", include_in_schema=False)
def cap_alerts(request: Request, console: ConsoleDep) -> Response:
    """An Atom feed embedding one CAP 1.2 alert per notice in force, and a Cancel for each notice
    cancelled within the last day: what another controller's `ledctl cap import` reads."""
    now = console.clock.now()
    notices = [n for n in console.notices.list() if n.published_at is not None and (
        n.state_at(now) == "published"
        or (n.state == "cancelled" and n.closed_at is not None and now - n.closed_at < CAP_RECENT))]
    digest = hashlib.sha256("|".join(f"{n.id}:{n.state}:{n.closed_at}" for n in notices).encode())
    etag = f'"{digest.hexdigest()[:24]}"'
    last = max((n.closed_at or n.published_at for n in notices), default=None)  # type: ignore[type-var]
    base = _base(request)
    ET.register_namespace("", ATOM)
    feed = ET.Element(f"{{{ATOM}}}feed")
    ET.SubElement(feed, f"{{{ATOM}}}id").text = f"tag:{console.dep.site.id},2026:cap"
    ET.SubElement(feed, f"{{{ATOM}}}title").text = f"{console.dep.site.name} CAP"
    ET.SubElement(feed, f"{{{ATOM}}}updated").text = (last or now).isoformat()
    ET.SubElement(feed, f"{{{ATOM}}}link", {"rel": "self", "href": f"{base}/cap/alerts.xml"})
    for notice in notices:
        alert = ET.fromstring(cap_bridge.export(console.dep, notice))
        entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
        identifier = alert.findtext("{urn:oasis:names:tc:emergency:cap:1.2}identifier") or str(notice.id)
        ET.SubElement(entry, f"{{{ATOM}}}id").text = f"tag:{console.dep.site.id},2026:{identifier}"
        ET.SubElement(entry, f"{{{ATOM}}}title").text = notice.title
        changed = notice.closed_at or notice.published_at
        ET.SubElement(entry, f"{{{ATOM}}}updated").text = changed.isoformat()
        content = ET.SubElement(entry, f"{{{ATOM}}}content", {"type": "application/cap+xml"})
        content.append(alert)
    body = b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="utf-8")
    return _conditional(request, etag, last, body, "application/atom+xml; charset=utf-8")


@router.get("/feed/pictures/{digest}.png", include_in_schema=False)
def feed_picture(digest: str, console: ConsoleDep) -> Response:
    if not (len(digest) == 32 and all(c in "0123456789abcdef" for c in digest)):
        raise HTTPException(404, "no such picture")
    data = _publications(console).picture(digest)
    if data is None:
        raise HTTPException(404, "no such picture")
    return Response(data, media_type="image/png",
                    headers={"Cache-Control": "public, max-age=31536000, immutable"})


@router.get("/public/boards/{board_id}.png", include_in_schema=False)
def public_board(board_id: BoardId, console: ConsoleDep) -> Response:
    """What the board shows now, as far as it confirmed it: the page the host put up last, or its
    program's first page; dark when nothing is confirmed."""
    board = next((b for b in console.dep.boards if b.id == board_id), None)
    if board is None:
        raise HTTPException(404, f"no board {board_id}")
    image = Image.new("RGB", (board.size.width, board.size.height))
    service = console.service
    if service is not None:
        program = service.dispatcher.program_of(board_id, confirmed=True)
        if program is not None and program.pages:
            page = service.dispatcher.view()[board_id].page or 0
            image = program.pages[min(page, len(program.pages) - 1)].image
    data = png(preview.led_look(image, preview.led_scale(board)))
    return Response(data, media_type="image/png", headers={"Cache-Control": "no-cache"})


@router.get("/public", include_in_schema=False)
def public_page(console: ConsoleDep) -> HTMLResponse:
    """Today's bulletin and every board's mirror, for the bureau's website to link or embed."""
    from html import escape

    bulletins = _publications(console).latest("bulletin", limit=1)
    site = escape(console.dep.site.name)
    rows = ""
    if bulletins:
        title, text = _summary(bulletins[0])
        rows = f"<h2>{escape(title)}</h2><ul>" + "".join(
            f"<li>{escape(line)}</li>" for line in text.splitlines()) + "</ul>"
    areas: dict[str, list[str]] = {}
    for b in console.dep.boards:
        areas.setdefault(b.area, []).append(
            f'<figure><img src="/public/boards/{escape(b.id)}.png" alt="{escape(b.name)}" loading="lazy">'
            f"<figcaption>{escape(b.name)}</figcaption></figure>")
    boards = "".join(f"<h3>{escape(area)}</h3><div class=boards>{''.join(figs)}</div>"
                     for area, figs in areas.items())
    html = f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{site} · 屏幕实况</title>
<meta http-equiv="refresh" content="60">
<link rel="alternate" type="application/atom+xml" href="/feed.atom" title="{site}">
<link rel="alternate" type="application/feed+json" href="/feed.json" title="{site}">
<style>body{{font-family:sans-serif;margin:1em;background:#fafafa}}
.boards{{display:flex;flex-wrap:wrap;gap:1em}}
figure{{margin:0}} img{{max-width:384px;image-rendering:pixelated;background:#000}}
figcaption{{font-size:.9em;color:#444}}</style></head>
<body><h1>{site} · 屏幕实况</h1>{rows}
<p>订阅：<a href="/feed.atom">Atom</a> · <a href="/feed.json">JSON Feed</a>
 · <a href="/cap/alerts.xml">CAP 预警</a></p>
{boards}</body></html>"""
    return HTMLResponse(html, headers={"Cache-Control": "no-cache"})
