"""Published notices as items the service composes onto boards, and the fit check at drafting.

Boards that show pictures get the notice rendered for their size and fonts. A board that draws
text in its own font (capabilities().own_font: an Onbon BX card) gets the notice as text instead
(a scrolling text area that the card removes by itself when the notice ends) when its font can
draw every character; otherwise as pictures, like any other board.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from ledctl import pipeline
from ledctl.clock import Clock
from ledctl.compose import Item, Priority
from ledctl.config import Deployment
from ledctl.drivers import capabilities, driver_class
from ledctl.model import Board, Page
from ledctl.notices.workflow import Notice, Notices
from ledctl.store import Store


def card_text(notice: Notice) -> str:
    return pipeline.card_text(notice.title, notice.text)


def fit_problems(dep: Deployment, notice: Notice, boards: Sequence[Board]) -> list[str]:
    """Why the notice cannot be shown on some of the boards (empty: it fits them all)."""
    problems = []
    drawn = []
    for board in boards:
        if not as_card_text(board, notice):
            drawn.append(board)  # shown as pictures, drawn with ledctl's fonts
    day = notice.start.astimezone(dep.tz).date()
    for r in pipeline.render_notice_fleet(
        dep, tuple(drawn), title=notice.title, body=notice.text, day=day, blink=notice.blink
    ):
        if r.program is None:
            problems.append(f"{r.board.id}: {r.error}")
    return problems


class NoticeItems:
    """The service's view of the published notices: items per board, rendered once each."""

    def __init__(self, dep: Deployment, notices: Notices) -> None:
        self.dep = dep
        self.notices = notices
        self._pages: dict[tuple[int, str], tuple[Page, ...]] = {}
        self._current: dict[int, Notice] = {}

    def __call__(self, now: datetime) -> list[Item]:
        items = []
        self._current = {n.id: n for n in self.notices.published(now)}
        for notice in self._current.values():
            boards = self.notices.boards_of(notice.targets)
            for board in boards:
                items.append(
                    Item(
                        f"notice:{notice.id}",
                        _priority(notice),
                        self._render(notice, board),
                        start=notice.start,
                        end=notice.end,
                        boards=frozenset({board.id}),
                        takeover=notice.mode == "takeover" and notice.level == "emergency",
                        share=notice.share,
                    )
                )
        return items

    def _render(self, notice: Notice, board: Board) -> tuple[Page, ...]:
        key = (notice.id, board.id)
        if key not in self._pages:
            day = notice.start.astimezone(self.dep.tz).date()
            [result] = pipeline.render_notice_fleet(
                self.dep, (board,), title=notice.title, body=notice.text, day=day, blink=notice.blink
            )
            # A card that draws text itself needs no picture; elsewhere the draft's fit check passed.
            self._pages[key] = result.program.pages if result.program else ()
        return self._pages[key]

    def text_for(self, board: Board, active: Sequence[str]) -> str | None:
        """For a board that draws text itself: the text of the notices it should show now, or None
        (show the pictures)."""
        if not capabilities(board).own_font:
            return None
        shown = [
            self._current[int(i.split(":")[1])]
            for i in active
            if i.startswith("notice:") and int(i.split(":")[1]) in self._current
        ]
        if not all(as_card_text(board, n) for n in shown):
            return None  # one the card cannot draw: all as pictures, in their composed order
        shown.sort(key=lambda n: (_priority(n), n.start))
        return "　".join(card_text(n) for n in shown) or None


def as_card_text(board: Board, notice: Notice) -> bool:
    """Whether the board draws the notice as text in its own font. A card font holds GB2312 only
    (no traditional characters, no rare ones): other text goes as pictures, so an emergency in any
    script ledctl's fonts draw still reaches the board."""
    return capabilities(board).own_font and driver_class(board).can_draw(board, card_text(notice))


def _priority(notice: Notice) -> Priority:
    return Priority.EMERGENCY if notice.level == "emergency" else Priority.NORMAL


def notices_for(dep: Deployment, db: Path, clock: Clock) -> Notices:
    """The deployment's notices in the store at `db`, every draft fit-checked on its target boards."""
    return Notices(dep, db, clock, fit=lambda notice, boards: fit_problems(dep, notice, boards))


def delivery_states(notices: Notices, notice: Notice, db: Path, now: datetime) -> list[dict[str, object]]:
    """Per target board: confirmed (with when), sent (to a board that cannot acknowledge), pending,
    failing (why), or not shown (and why not)."""
    rows = Store(db).boards()
    item = f"notice:{notice.id}"
    out = []
    for board in notices.boards_of(notice.targets):
        row = rows.get(board.id)
        state, detail = "not shown", ""
        if notice.state_at(now) != "published":
            detail = notice.state_at(now)
        elif now < notice.start:
            detail = f"starts {notice.start.isoformat()}"
        elif row is not None and item in row.confirmed_items and row.confirmed == row.intended:
            state, detail = "confirmed", row.confirmed_at or ""
        elif row is not None and item in row.intended_items and row.sent == row.intended and not row.failures:
            state, detail = "sent", f"{row.sent_at} (the board cannot acknowledge)"
        elif row is not None and item in row.intended_items:
            state = "failing" if row.failures else "pending"
            detail = row.last_error if row.failures else "being sent"
        elif row is not None and item in row.confirmed_items:
            state, detail = "confirmed", f"{row.confirmed_at} (an update is pending)"
        else:
            detail = "the service has not taken it up yet (is ledctl serve running?)"
        out.append({"board": board.id, "state": state, "detail": detail})
    return out
