"""Arbitration: what one board plays at one instant, from everything that wants the board.

One priority lattice covers it all, highest first: an emergency notice (which may
take the board over), normal notices (sharing the loop with the bulletin by a
ratio), the daily bulletin, and idle content. Every item has an absolute window
[start, end) that nothing extends silently. `compose` is pure: the service, the
timeline and the tests all ask the same function.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from ledctl.model import Page, Program


class Priority(IntEnum):
    EMERGENCY = 1
    NORMAL = 2
    BULLETIN = 3
    IDLE = 4


@dataclass(frozen=True, slots=True)
class Item:
    """Something that wants a board's time: its pages, for which boards, when."""

    id: str
    priority: Priority
    pages: tuple[Page, ...]
    start: datetime | None = None  # None: since always
    end: datetime | None = None  # None: until cancelled
    boards: frozenset[str] | None = None  # None: every board
    takeover: bool = False  # an emergency that shows alone
    share: float = 0.5  # a notice's share of the loop time, 0 < share < 1

    def active(self, board: str, now: datetime) -> bool:
        if self.boards is not None and board not in self.boards:
            return False
        return (self.start is None or self.start <= now) and (self.end is None or now < self.end)


def compose(board: str, now: datetime, items: Iterable[Item]) -> Program:
    """The program `board` plays at `now`, valid until the next instant something changes."""
    items = tuple(items)
    active = [i for i in items if i.active(board, now)]
    chosen = _choose(active)
    pages = _loop(chosen)
    return Program(board=board, pages=pages, valid_from=_latest_start(chosen),
                   valid_to=_next_change(board, now, items))


def shown(board: str, now: datetime, items: Iterable[Item]) -> list[Item]:
    """The items whose pages `compose` puts on the board at `now` (a takeover hides the rest)."""
    return _choose([i for i in items if i.active(board, now)])


def _choose(active: Sequence[Item]) -> list[Item]:
    by_start = sorted(active, key=lambda i: i.start.timestamp() if i.start else float("-inf"))
    takeover = [i for i in by_start if i.priority is Priority.EMERGENCY and i.takeover]
    if takeover:
        return takeover  # the board is taken over: nothing else shows
    notices = [i for i in by_start if i.priority in (Priority.EMERGENCY, Priority.NORMAL)]
    bulletin = [i for i in by_start if i.priority is Priority.BULLETIN][-1:]  # the newest bulletin
    base = bulletin or [i for i in by_start if i.priority is Priority.IDLE][-1:]
    return [*sorted(notices, key=lambda i: i.priority), *base]


def _loop(chosen: Sequence[Item]) -> tuple[Page, ...]:
    """Notices first, each repeated so that it gets at least its share of the loop's time."""
    notices = [i for i in chosen if i.priority in (Priority.EMERGENCY, Priority.NORMAL) and not i.takeover]
    base = [i for i in chosen if i not in notices]
    base_pages = tuple(p for i in base for p in i.pages)
    if not notices or not base_pages:
        return tuple(p for i in chosen for p in i.pages)
    base_time = sum(p.dwell_s for p in base_pages)
    out: list[Page] = []
    for notice in notices:
        own = sum(p.dwell_s for p in notice.pages) or 1.0
        share = min(max(notice.share, 0.01), 0.99)
        repeats = max(1, math.ceil(share * base_time / ((1 - share) * own)))
        out.extend(notice.pages * repeats)
    return (*out, *base_pages)


def _latest_start(chosen: Sequence[Item]) -> datetime | None:
    starts = [i.start for i in chosen if i.start is not None]
    return max(starts) if starts else None


def _next_change(board: str, now: datetime, items: Sequence[Item]) -> datetime | None:
    """The first instant after `now` at which an item for this board starts or ends."""
    edges = [t for i in items if i.boards is None or board in i.boards
             for t in (i.start, i.end) if t is not None and t > now]
    return min(edges) if edges else None


def timeline(board: str, items: Iterable[Item], start: datetime, end: datetime) -> list[Program]:
    """Every program the board plays between `start` and `end`, in order (each with its window)."""
    items = tuple(items)
    out: list[Program] = []
    now = start
    while now < end:
        program = compose(board, now, items)
        out.append(Program(program.board, program.pages, now, program.valid_to))
        if program.valid_to is None:
            break
        now = program.valid_to
    return out
