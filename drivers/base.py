"""What every board driver does: the one interface between ledctl and a board protocol.

A driver turns what a board should show (`Content`) into its protocol and reports what the
board confirmed (`Result`, with a typed `Outcome`), applies screen settings, checks health
(comparing what the board reports showing with what it confirmed), and declares what its
boards can do (`Capabilities`). One driver instance drives every board of its protocol on
one link (a serial wire or a broker connection), which the dispatcher keeps open for its
life. The service, the console and the notices never name a protocol: they ask the driver
class (`DRIVERS[board.driver]`) for capabilities.

Adding a protocol: a module with a `Driver` subclass, its line in `DRIVERS`
(drivers/__init__.py) and its emulator in `ledctl.simulator` (EMULATORS).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, ClassVar

from ledctl.model import Board, ColourMode, Link, Page, Program, Size

if TYPE_CHECKING:
    from ledctl.schedule import Settings


class ProtocolError(Exception):
    """Bytes or messages that do not decode as the protocol says (a damaged frame, a malformed
    reply). Typed apart from LedctlError (a user can fix that) and from a bug in ledctl."""


class Outcome(StrEnum):
    """How one delivery (or settings pass) ended for one board."""

    CONFIRMED = "confirmed"  # the board acknowledged it, or ledctl read it back
    SENT = "sent"  # sent to a board that cannot acknowledge: honestly unconfirmed
    OFFLINE = "offline"  # no answer from the board (its will, a timeout)
    NACK = "nack"  # the board answered with an error
    REFUSED = "refused"  # the content cannot go to this board (size, font, pages): retrying won't help
    LINK = "link"  # the wire, DTU or broker failed
    # Stopped between two frames to let more urgent work use a shared wire (`Content.give_way`); the
    # board kept what it showed and the work goes again at the next pass. Not a failure.
    GAVE_WAY = "gave-way"

    @property
    def ok(self) -> bool:
        """Done with it: nothing to retry (SENT included: sending again proves nothing more)."""
        return self in (Outcome.CONFIRMED, Outcome.SENT)


@dataclass(frozen=True, slots=True)
class Result:
    board: str
    outcome: Outcome
    detail: str = ""  # what happened, in words a person can act on
    mode: str = "-"  # how it went: "bitmap", "text", "pages", "apps", "frame", "settings"
    bytes_sent: int = 0
    seconds: float = 0.0
    pages: tuple[int, int] = (0, 0)  # pages delivered, pages in the program

    @property
    def ok(self) -> bool:
        return self.outcome.ok

    @property
    def confirmed(self) -> bool:
        return self.outcome is Outcome.CONFIRMED

    def describe(self) -> str:
        """The outcome and its detail, for a table or a log line."""
        return f"{self.outcome.value}: {self.detail}" if self.detail else self.outcome.value


@dataclass(frozen=True, slots=True)
class Health:
    board: str
    online: bool
    shows: str | None = None  # the program the board says it shows, where the protocol tells
    detail: str = ""
    empty: bool = False  # the board says it holds nothing (a power cut emptied its RAM): send it again


@dataclass(frozen=True, slots=True)
class Content:
    """What to put on one board: its program (every page, with its dwell), or — for a board that
    draws text in its own font — the text to draw instead."""

    program: Program
    text: str | None = None
    expires: datetime | None = None  # boards that can remove it by themselves do so then
    lifetime_s: int | None = None  # the same as a duration, for boards that count (AWTRIX, BX)
    whole: bool = False  # every page matters (a notice): a board that cannot show them all refuses
    clear_text: bool = False  # remove text the board draws itself (an ended notice) first
    page: int | None = None  # the host plays the loop (see Capabilities.holds_pages): show this page now
    # Asked between the frames of a transfer that takes many (a BX picture goes in blocks): True
    # means more urgent work waits for the wire, so stop there (Outcome.GAVE_WAY). A frame is never
    # cut; the board keeps its previous picture until a transfer's last block.
    give_way: Callable[[], bool] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a board's controller can do, as the service, the console and the notices need it."""

    own_font: bool = False  # draws text in its own font (the fast path for urgent text)
    # Pages it holds and cycles by itself. A program with more is played by the host: the
    # dispatcher sends one page at a time (`Content.page`), each for its dwell (BX, TPM2: 1).
    holds_pages: int = 1000
    # The page effects it shows ("static", "blink", "scroll-left", "scroll-up"); None: all. Pages
    # are rendered for what the board can show (a BX picture cannot scroll: the text pages instead).
    effects: frozenset[str] | None = None
    refresh_s: float | None = None  # it drops a page not sent again within this (WLED's realtime timeout)
    largest_message: int = 0  # bytes in one message or frame the board accepts (0: no limit known)
    acknowledges: bool = True  # a delivery can be confirmed (else it is "sent", never "confirmed")
    reads_back: bool = False  # the health check can see what it really shows


@dataclass(frozen=True, slots=True)
class DriverSpec:
    """What a config may ask of a driver: colours, sizes, addressing. Checked before any byte is sent."""

    name: str
    transport: str  # "serial" or "mqtt"
    colours: frozenset[ColourMode]
    needs_address: bool
    address_range: tuple[int, int] = (0, 0)
    max_width: int = 4096
    max_height: int = 4096
    width_multiple: int = 1
    max_bytes_per_page: int | None = None  # for the card's buffer
    exact_size: Size | None = None
    one_board_per_link: bool = False
    models: tuple[str, ...] = ()  # the controller models a board may name; the first is the default
    options: tuple[str, ...] = ()  # board keys of this driver's own (tpm2: pixel_order, acknowledges)

    def size_problem(self, size: Size, colour: ColourMode) -> str | None:
        """Why this driver cannot show a page of `size` in `colour`, or None."""
        if self.exact_size and size != self.exact_size:
            return f"{self.name} boards are exactly {self.exact_size}"
        if size.width > self.max_width or size.height > self.max_height:
            return f"{self.name} handles at most {self.max_width}x{self.max_height}"
        if size.width % self.width_multiple:
            return f"{self.name} needs a width that is a multiple of {self.width_multiple}"
        if self.max_bytes_per_page is not None:
            planes = {ColourMode.MONO_RED: 1, ColourMode.RED_GREEN: 2, ColourMode.FULL: 24}[colour]
            page_bytes = size.width * size.height * planes // 8
            if page_bytes > self.max_bytes_per_page:
                return (
                    f"a {size} {colour} page is {page_bytes} bytes; "
                    f"{self.name} holds at most {self.max_bytes_per_page}"
                )
        return None


Report = Callable[[Result], None]
PageOutline = tuple[str, str, Sequence[tuple[str, int]]]  # a layout page: name, effect, its lines' (font, y)


@dataclass
class DriverContext:
    """What a driver knows beyond its link: the site (MQTT topics) and how long to wait."""

    site: str = "site"
    ack_timeout_s: float = 15.0
    boards: Sequence[Board] = field(default_factory=tuple)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # the time boards are told


class Driver(ABC):
    """Drives every board of one protocol on one link. Created by the dispatcher when the link
    is first used; `close()` when the dispatcher closes. Methods are called from that link's
    worker thread only (one pass at a time per link)."""

    spec: ClassVar[DriverSpec]

    @classmethod
    def capabilities(cls, board: Board) -> Capabilities:
        return Capabilities()

    @classmethod
    def board_problem(cls, board: Board) -> str | None:
        """Why this driver cannot drive `board` as configured (checked with the config), or None."""
        return None

    @classmethod
    def option_problem(cls, key: str, value: object) -> str | None:
        """What a board key of this driver's own (`spec.options`) expects, when `value` is not it."""
        return None

    @classmethod
    def link_problem(cls, board: Board, link: Link) -> str | None:
        """Why `board` cannot be driven over `link` as configured (its baud rate …), or None."""
        return None

    @classmethod
    def program_problem(cls, board: Board, program: Program) -> str | None:
        """Why the board cannot show `program` (too many pages, an effect it cannot play …), or None.
        Asked when pages are made (preview, drafts, broadcast), so the content never goes out to be
        refused; `deliver` refuses it too (Outcome.REFUSED)."""
        return None

    @classmethod
    def host_plays(cls, board: Board, program: Program) -> bool:
        """Whether ledctl must play this program's loop, sending page after page (`Content.page`):
        the board holds fewer pages, or drops a page not sent again in time."""
        caps = cls.capabilities(board)
        return len(program.pages) > caps.holds_pages or caps.refresh_s is not None

    @classmethod
    def layout_notes(cls, board: Board, pages: Sequence[PageOutline]) -> list[str]:
        """What `ledctl config check` should tell about a layout's pages on this board — each page as
        (name, effect, its lines' (font, y)) — beyond the fit check (nothing by default)."""
        return []

    @classmethod
    def as_shown(cls, board: Board, program: Program) -> Program:
        """`program` as the board will show it, for previews and the console: the same, unless the
        board draws it itself (a BX card cycling text pages in its own font)."""
        return program

    @classmethod
    def can_draw(cls, board: Board, text: str) -> bool:
        """Whether the board's own font can draw `text` (only drivers with `own_font` say yes)."""
        return False

    @classmethod
    def text_pages(cls, board: Board, text: str) -> tuple[Page, ...]:
        """What the board shows for `text` drawn in its own font, as pages a preview plays (drivers
        with `own_font` say; the console and the previews show these instead of ledctl's pictures)."""
        raise NotImplementedError(f"{cls.spec.name} draws no text of its own")

    @abstractmethod
    def deliver(self, jobs: Sequence[tuple[Board, Content]], report: Report) -> None:
        """Put each board's content on it; `report` one Result per board as each one ends."""

    @abstractmethod
    def apply(self, jobs: Sequence[tuple[Board, Settings]], report: Report) -> None:
        """Screen on/off and brightness; one Result per board (mode "settings")."""

    @abstractmethod
    def check(self, boards: Sequence[Board]) -> list[Health]:
        """Is each board there, and what does it say it shows?"""

    def close(self) -> None:  # noqa: B027 - an optional hook: most drivers hold nothing of their own
        """Let go of whatever the driver holds beyond its link (the link is closed by its owner)."""
