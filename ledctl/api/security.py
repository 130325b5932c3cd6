"""Sessions, CSRF tokens, login rate limiting and the password pool of the console.

Sessions live in memory (a restart of the service logs everyone out, which is the safe
side). A cookie session must send its CSRF token in `X-CSRF-Token` with every change;
an API token (`Authorization: Bearer …`) needs none, since a browser never adds it by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import secrets
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from ledctl.config import IPNetwork
from ledctl.errors import LedctlError
from ledctl.notices.users import User, Users

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


MAX_PEER_FAILURES = 20  # from one address, whatever the names: one password sprayed over many accounts
MAX_ACCOUNT_FAILURES = 20  # for one name, whatever the addresses: many addresses guessing one account
_KEEP_KEYS = 10_000  # past this many counters, the stale ones are dropped (names can be anything)


class LoginLimiter:
    """Failed logins in FAILURE_WINDOW, counted three ways: per name and address (MAX_FAILURES: a
    person mistyping), per address (MAX_PEER_FAILURES: password spraying), per name (MAX_ACCOUNT_
    FAILURES: a distributed guess). A try is refused, before any password is hashed, while any of
    them is full. The address is the real peer (`real_peer`), never what a client says it is.

    The per-name count means an attacker can keep one name from logging in through the console
    for a while; its user's sessions and API tokens keep working, and an admin can still act from
    the command line."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, str], list[datetime]] = {}

    @staticmethod
    def _keys(name: str, peer: str) -> tuple[tuple[tuple[str, str], int], ...]:
        return (((name, peer), MAX_FAILURES), (("", peer), MAX_PEER_FAILURES),
                ((name, ""), MAX_ACCOUNT_FAILURES))

    def retry_after(self, name: str, peer: str, now: datetime) -> int:
        """Seconds to wait before trying again; 0 when a try is allowed."""
        wait = 0
        with self._lock:
            for key, limit in self._keys(name, peer):
                recent = [t for t in self._failures.get(key, []) if now - t < FAILURE_WINDOW]
                if recent:
                    self._failures[key] = recent
                else:
                    self._failures.pop(key, None)
                if len(recent) >= limit:
                    wait = max(wait, int((recent[-limit] + FAILURE_WINDOW - now).total_seconds()) + 1)
        return wait

    def failed(self, name: str, peer: str, now: datetime) -> None:
        with self._lock:
            for key, _ in self._keys(name, peer):
                self._failures.setdefault(key, []).append(now)
            if len(self._failures) > _KEEP_KEYS:
                for key in [k for k, times in self._failures.items() if now - times[-1] >= FAILURE_WINDOW]:
                    del self._failures[key]

    def succeeded(self, name: str, peer: str) -> None:
        # Only this person's own count: a success must not reset what an address or a name has
        # been through (an attacker who also owns an account would wipe their tracks with it).
        with self._lock:
            self._failures.pop((name, peer), None)


def real_peer(client: str | None, forwarded_for: str | None, trusted: Sequence[IPNetwork]) -> str:
    """The address a request really comes from: the connection's, unless that is a trusted proxy;
    then X-Forwarded-For read from the right, past the trusted proxies, to the first address that is
    not one (what a client wrote further left is its own claim, never believed)."""
    peer = client or "-"
    if not forwarded_for or not _among(peer, trusted):
        return peer
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop)
        if address is None:
            return peer  # garbled: the last address known for certain
        peer = address
        if not _among(address, trusted):
            return address
    return peer


def _address(text: str) -> str | None:
    text = text.strip().removeprefix("[").split("]")[0]
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def _among(address: str, networks: Sequence[IPNetwork]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in networks)


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


HASH_WORKERS = 1  # passwords checked at once: scrypt takes ~16 MB and tens of ms of one core each
HASH_QUEUE = 8  # logins that may wait for a worker; more at once are turned away at once (503)
HASH_NICE = 10  # the workers yield the CPU to the dispatcher and the rest of the API


class PasswordsBusy(LedctlError):
    """More logins at once than the password pool takes: try again in a moment."""


class PasswordChecks:
    """Logins, each checked (scrypt) on a small pool of its own at a lower CPU priority.

    A flood of logins then costs at most HASH_WORKERS cores and HASH_QUEUE waiting requests: it
    never holds the web server's threads that the other routes run on (a publish, a page), and it
    leaves the CPU to the dispatcher, so an emergency still reaches the boards at once. The rest of
    the flood is answered 503 without hashing anything."""

    def __init__(self, workers: int = HASH_WORKERS, queue: int = HASH_QUEUE) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="password",
                                        initializer=_yield_cpu)
        self._slots = threading.BoundedSemaphore(workers + queue)

    async def login(self, users: Users, name: str, password: str) -> User:
        """The user, or AuthError (wrong name or password), or PasswordsBusy (the pool is full)."""
        if not self._slots.acquire(blocking=False):
            raise PasswordsBusy("too many logins at once: try again in a few seconds")
        try:
            job: Future[User] = self._pool.submit(users.login, name, password)
        except RuntimeError:  # the pool is shut down: the service is stopping
            self._slots.release()
            raise PasswordsBusy("the console is stopping") from None
        # Released when the check ends, even if the client went away meanwhile: the slot is the work.
        job.add_done_callback(lambda _: self._slots.release())
        return await asyncio.wrap_future(job)


def _yield_cpu() -> None:
    # On Linux a thread has its own nice value (its id is a "process" to setpriority); elsewhere the
    # pool's size alone bounds what a flood costs.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HASH_NICE)
