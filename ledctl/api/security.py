"""Sessions, CSRF tokens and login rate limiting for the console.

Sessions live in memory (a restart of the service logs everyone out, which is the safe
side). A cookie session must send its CSRF token in `X-CSRF-Token` with every change;
an API token (`Authorization: Bearer …`) needs none, since a browser never adds it by itself.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

SESSION_COOKIE = "ledctl_session"
SESSION_LIFETIME = timedelta(hours=8)
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class Session:
    user: str
    csrf: str
    expires: datetime


class Sessions:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_token: dict[str, Session] = {}

    def create(self, user: str, now: datetime) -> tuple[str, Session]:
        token = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(24), now + SESSION_LIFETIME)
        with self._lock:
            self._by_token[token] = session
        return token, session

    def get(self, token: str | None, now: datetime) -> Session | None:
        if not token:
            return None
        with self._lock:
            session = self._by_token.get(token)
            if session is not None and session.expires <= now:
                del self._by_token[token]
                return None
            return session

    def drop(self, token: str | None) -> None:
        with self._lock:
            self._by_token.pop(token or "", None)

    def drop_user(self, user: str) -> None:
        with self._lock:
            for token in [t for t, s in self._by_token.items() if s.user == user]:
                del self._by_token[token]


class LoginLimiter:
    """At most MAX_FAILURES failed logins per user name and address in FAILURE_WINDOW."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], list[datetime]] = {}

    def retry_after(self, key: tuple[str, str], now: datetime) -> int:
        """Seconds to wait before trying again; 0 when a try is allowed."""
        with self._lock:
            recent = [t for t in self._failures.get(key, []) if now - t < FAILURE_WINDOW]
            self._failures[key] = recent
            if len(recent) < MAX_FAILURES:
                return 0
            return max(1, int((recent[0] + FAILURE_WINDOW - now).total_seconds()) + 1)

    def failed(self, key: tuple[str, str], now: datetime) -> None:
        with self._lock:
            self._failures.setdefault(key, []).append(now)

    def succeeded(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._failures.pop(key, None)


# Where the console may send a browser after logging in: a path of its own, and nothing a browser could
# read as another host. Only plain segments (letters, digits, '-', '_'): no second leading slash or
# backslash ("//host", "/\\host"), no dot segments or escapes that resolve to one ("/.//host",
# "/%2e%2e//host"), no tab or newline (browsers drop them: "/\t/host"); a query of plain characters.
_NEXT_PATH = re.compile(r"/(?:[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)*/?)?")
_NEXT_QUERY = re.compile(r"[A-Za-z0-9_=&%.-]*")


def safe_next(value: str) -> bool:
    """Whether `next` after a login is a same-origin path of the console (see _NEXT_PATH)."""
    path, _, query = value.partition("?")
    return len(value) <= 512 and bool(_NEXT_PATH.fullmatch(path)) and bool(_NEXT_QUERY.fullmatch(query))
