"""The one state directory: everything ledctl writes at run time goes under it.

Who drives the boards: one process at a time owns the boards of a state directory (`ledctl
serve`, `ledctl demo`, or a one-off `ledctl broadcast` while no service runs) and holds
`STATE/boards.lock` for as long as it does (an OS lock: a crashed owner leaves none behind).
Two processes never open the same wire. Another process that wants something delivered asks
the owner through `STATE/requests/`: it writes a request, the owner's service carries it out
and writes the outcome next to it.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ledctl.errors import LedctlError

DEFAULT_STATE_DIR = Path("var")
LOCK_FILE = "boards.lock"
REQUESTS = "requests"


def state_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--state DIR`, else `$LEDCTL_STATE`, else `./var`."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("LEDCTL_STATE")
    if env:
        return Path(env)
    return DEFAULT_STATE_DIR


class StateError(LedctlError):
    """The state directory cannot be used safely (it holds password hashes, tokens and the audit log)."""


def secure_state(state: Path) -> Path:
    """Make `state` (0700) if needed, and refuse it when others can read it or what is in it.

    The store holds password hashes, token digests and the audit log: readable by any local user,
    they are a gift. Files ledctl creates are private anyway (the CLI sets umask 077)."""
    try:
        state.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as e:
        raise StateError(f"cannot create the state directory {state}: {e.strerror}") from None
    problems = []
    for path in (state, *sorted(p for p in state.iterdir() if p.is_file() and p.name.startswith("ledctl."))):
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            fix = "chmod 700" if path.is_dir() else "chmod 600"
            problems.append(f"{path} is mode {mode:04o}, readable by others; run {fix} {path}")
    if problems:
        raise StateError("the state holds password hashes, tokens and the audit log: "
                         + "; ".join(problems))
    return state


@dataclass(frozen=True, slots=True)
class Owner:
    """The process that drives the boards of a state directory."""

    pid: int
    command: str  # "serve", "demo", "broadcast"
    since: str  # ISO 8601

    def describe(self) -> str:
        return f"ledctl {self.command} (pid {self.pid}, since {self.since[:19]})"


class BoardsLock:
    """The claim on a state directory's boards; `release()` (or the process ending) lets go."""

    def __init__(self, handle: IO[str], owner: Owner) -> None:
        self._handle: IO[str] | None = handle
        self.owner = owner

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> BoardsLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_boards(state: Path, command: str, now: str) -> BoardsLock | Owner:
    """Take the boards of `state` for this process, or say who has them."""
    state.mkdir(parents=True, exist_ok=True)
    path = state / LOCK_FILE
    handle = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return current_owner(state) or Owner(0, "unknown", "")
    owner = Owner(os.getpid(), command, now)
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": owner.pid, "command": owner.command, "since": owner.since}))
    handle.flush()
    return BoardsLock(handle, owner)


def current_owner(state: Path) -> Owner | None:
    """Who drives the boards of `state` now, or None when nobody does."""
    path = state / LOCK_FILE
    try:
        handle = path.open("r", encoding="utf-8")
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # held: read who holds it
            try:
                doc = json.loads(handle.read() or "{}")
            except json.JSONDecodeError:
                doc = {}
            return Owner(int(doc.get("pid", 0)), str(doc.get("command", "unknown")),
                         str(doc.get("since", "")))
        fcntl.flock(handle, fcntl.LOCK_UN)
        return None


# -- requests to the owner -------------------------------------------------------------------------


class RequestError(LedctlError):
    pass


def submit(state: Path, kind: str, params: Mapping[str, Any]) -> str:
    """Leave a request for the process that owns the boards; returns its id."""
    folder = state / REQUESTS
    folder.mkdir(parents=True, exist_ok=True)
    request_id = uuid.uuid4().hex[:12]
    temp = folder / f".{request_id}.tmp"
    temp.write_text(json.dumps({"id": request_id, "kind": kind, **params}), encoding="utf-8")
    temp.rename(folder / f"{request_id}.json")  # appears whole, never half-written
    return request_id


def pending_requests(state: Path) -> list[dict[str, Any]]:
    """Requests not yet answered, oldest first (the owner's service reads these)."""
    folder = state / REQUESTS
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime):
        if path.name.endswith(".done.json") or (folder / f"{path.stem}.done.json").exists():
            continue
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue  # being written, or damaged: not ours to guess at
    return out


def answer(state: Path, request_id: str, outcome: Mapping[str, Any]) -> None:
    folder = state / REQUESTS
    temp = folder / f".{request_id}.done.tmp"
    temp.write_text(json.dumps(outcome, ensure_ascii=False), encoding="utf-8")
    temp.rename(folder / f"{request_id}.done.json")


def wait_answer(state: Path, request_id: str, timeout_s: float,
                sleep: Callable[[float], None] = time.sleep) -> dict[str, Any] | None:
    """The owner's answer to a request, or None if it gave none in time."""
    done = state / REQUESTS / f"{request_id}.done.json"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if done.exists():
            doc: dict[str, Any] = json.loads(done.read_text(encoding="utf-8"))
            return doc
        sleep(0.2)
    return None
