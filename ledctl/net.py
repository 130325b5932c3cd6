"""One bounded HTTP GET for everything ledctl fetches (monitoring data, CAP feeds and alerts).

A peer may be slow or hostile: a server that sends one byte every two seconds never trips a
per-receive timeout. So every fetch has a **total deadline** (checked between receives, each of
which is itself bounded by what is left), a **size limit**, and a rule for redirects (never to
another scheme, host or port: headers carry credentials, and a redirect is how a feed would
send ledctl to fetch from somewhere else). `allowed_hosts` limits where a URL may point at all.

Nothing here runs under the service's lock: callers fetch first, then take the lock to act.
"""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urlsplit

CHUNK = 64 * 1024


class FetchFailed(Exception):
    """Why a GET gave nothing usable; `status` is the HTTP status when the server answered."""

    def __init__(self, what: str, *, retry: bool, status: int = 0, headers: Message | None = None) -> None:
        super().__init__(what)
        self.what, self.retry, self.status, self.headers = what, retry, status, headers


@dataclass(frozen=True, slots=True)
class Limits:
    deadline_s: float = 30.0  # the whole GET: connect, headers and body
    max_bytes: int = 16 * 1024 * 1024


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only to the same scheme, host and port."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Message, newurl: str) -> urllib.request.Request | None:
        old, new = urlsplit(req.full_url), urlsplit(newurl)
        if (old.scheme, old.hostname, old.port) != (new.scheme, new.hostname, new.port):
            return None  # urllib then reports the 3xx as an HTTPError
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameOriginRedirects())


def origin(url: str) -> str:
    """scheme://host:port of `url` ("" when it has none): what "the same server" means here."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return ""
    if not parts.hostname or port is None:
        return ""
    return f"{parts.scheme}://{parts.hostname.lower()}:{port}"


def host_allowed(url: str, allowed: Collection[str] | None) -> bool:
    """Whether `url` is on one of the `allowed` origins (None: anywhere)."""
    return allowed is None or origin(url) in allowed


def get(url: str, *, limits: Limits, headers: Mapping[str, str] | None = None,
        allowed: Collection[str] | None = None) -> bytes:
    """The body of `url`, or FetchFailed saying why (timeout, status, too large, refused redirect).
    `allowed`: the origins (scheme://host:port) it may be fetched from at all."""
    if not host_allowed(url, allowed):
        raise FetchFailed("points at a server that is not one of the configured feeds", retry=False)
    deadline = time.monotonic() + limits.deadline_s
    request = urllib.request.Request(url, headers=dict(headers or {}))
    try:
        response = _OPENER.open(request, timeout=limits.deadline_s)
    except urllib.error.HTTPError as e:
        status, reason, reply_headers = e.code, e.reason, e.headers
        e.close()
        raise FetchFailed(f"answered {status} {reason}".rstrip(), retry=status == 429 or status >= 500,
                          status=status, headers=reply_headers) from None
    except urllib.error.URLError as e:
        if isinstance(e.reason, TimeoutError):
            raise FetchFailed(f"timed out after {limits.deadline_s:g} s", retry=True) from None
        raise FetchFailed(f"cannot be reached: {e.reason}", retry=True) from None
    except TimeoutError:
        raise FetchFailed(f"timed out after {limits.deadline_s:g} s", retry=True) from None
    except (http.client.HTTPException, OSError) as e:
        raise FetchFailed(f"broke off the answer: {type(e).__name__}", retry=True) from None
    with response:
        return _body(response, deadline, limits)


def _body(response: Any, deadline: float, limits: Limits) -> bytes:
    """Read the body receive by receive: each receive bounded by the time left, the whole by the
    deadline, the size by the limit."""
    parts: list[bytes] = []
    size = 0
    sock = getattr(getattr(getattr(response, "fp", None), "raw", None), "_sock", None)
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise FetchFailed(f"sent its answer too slowly: not complete after {limits.deadline_s:g} s "
                              f"({size:,} bytes so far)", retry=True)
        if sock is not None:
            sock.settimeout(left)
        try:
            chunk = response.read1(CHUNK)
        except TimeoutError:
            raise FetchFailed(f"sent its answer too slowly: not complete after {limits.deadline_s:g} s "
                              f"({size:,} bytes so far)", retry=True) from None
        except (http.client.HTTPException, OSError) as e:
            raise FetchFailed(f"broke off the answer: {type(e).__name__}", retry=True) from None
        if not chunk:
            declared = response.getheader("Content-Length")
            if declared is not None and declared.isdigit() and size < int(declared):
                # The peer hung up early: a truncated document must never be read as a whole one.
                raise FetchFailed(f"broke off the answer after {size:,} of {int(declared):,} bytes",
                                  retry=True)
            return b"".join(parts)
        size += len(chunk)
        if size > limits.max_bytes:
            raise FetchFailed(f"sent more than {limits.max_bytes:,} bytes; refusing to read it", retry=False)
        parts.append(chunk)
