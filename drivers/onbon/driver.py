"""Onbon BX cards: the protocol engine for one card (`BxCard`) and the driver for every card on a
wire (`OnbonBxDriver`): exchanges with retries, bitmap pages, text, housekeeping.

Every frame is addressed to one card and confirmed by its ACK. Line noise is
expected: a frame the card NACKs for its checksum, or that gets no reply, is
sent again, and under noise the bitmap goes in smaller blocks (which are more
likely to cross intact). A card that does not answer after the retries is
reported offline. The card switches to a new bitmap only after its last block,
so an interrupted transfer never shows a torn image.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from PIL import Image

from ledctl.drivers.base import (
    Capabilities,
    Content,
    Driver,
    DriverSpec,
    Health,
    Outcome,
    PageOutline,
    Report,
    Result,
)
from ledctl.drivers.link import LinkError, SerialLink
from ledctl.drivers.onbon import commands
from ledctl.drivers.onbon.bitmap import page_bitmap
from ledctl.drivers.onbon.card_screen import (
    CARD_FONT,
    CELL,
    NOTICE_COLOUR,
    NotCardText,
    draw_page_text,
    page_text,
    stay_half_seconds,
    text_look,
    text_pages,
)
from ledctl.drivers.onbon.frame import CHECK_CRC16, HOST_ADDRESS, Frame, FrameDecoder, FrameError, encode
from ledctl.errors import LedctlError
from ledctl.model import Board, ColourMode, Page, Program

if TYPE_CHECKING:
    from ledctl.schedule import Settings

log = logging.getLogger("ledctl.drivers.onbon")

ERR_CHECKSUM = 5
ERR_BUSY = 3
ERR_FILE_BLOCK_NUM = 16
REPLY_BYTES = 31  # an ACK/NACK frame on the wire (nine A5, header, five data bytes, CRC, end)
MIN_BLOCK = 16
TEXT_AREA_OVERHEAD = 9 + 27  # A3 06 header and one area record around the text (commands.dynamic_text)
CARD_PAGES = 16  # text pages in a loop the card cycles (16 KB of area; ledctl's pages are tens of bytes)
SPECIAL_CAPACITY = 16 * 1024  # the special area: "16K" (protocol document §8.3)


@dataclass(frozen=True, slots=True)
class CardModel:
    """What one Onbon controller model can do (protocol document §2 and §8.3; BX-K SDK Led5kSDK.h)."""

    name: str
    code: int  # DeviceType
    generation: int  # 5 or 6: how X and width are counted in text areas (see commands._x_units)
    special_area: bool  # the A4 special dynamic area (pictures): "BX-5K2、BX-5MK 专属命令" (§8.3)
    buffer: int  # receive buffer, data field: 512 B on 5th generation, 1024 B on 6th (§5.1, A1 06)


MODELS: dict[str, CardModel] = {m.name: m for m in (
    CardModel("BX-5K2", 0x58, 5, True, 512),  # the first is the default: the Zhenhai cards
    CardModel("BX-5K1", 0x51, 5, False, 512),
    CardModel("BX-5MK1", 0x54, 5, True, 512),
    CardModel("BX-5MK2", 0x53, 5, True, 512),
    CardModel("BX-6K1", 0x61, 6, False, 1024),
    CardModel("BX-6K2", 0x62, 6, False, 1024),
    CardModel("BX-6K3", 0x63, 6, False, 1024),
)}


def model_of(board: Board) -> CardModel:
    return MODELS.get(board.model, MODELS["BX-5K2"])


class DeliveryError(LedctlError):
    """The card could not be made to confirm; `outcome` says how (offline, nack, link, refused)."""

    def __init__(self, board: str, outcome: Outcome, message: str) -> None:
        self.board, self.outcome = board, outcome
        super().__init__(f"board {board}: {message}")


@dataclass
class ExchangeStats:
    frames: int = 0
    retries: int = 0
    bytes_out: int = 0
    nacks: int = 0
    timeouts: int = 0


@dataclass
class BxCard:
    """The host's handle on one card on a (possibly shared) serial link."""

    board: Board
    link: SerialLink
    buffer: int = 0  # the card's receive buffer (data field); 0: its model's (512 on BX-5K, 1024 on BX-6K)
    retries: int = 10
    # How long after its frame the host waits for a reply: the link's `timeout`, 2 s by default —
    # the card's own CommTimeout ("串口—2秒,GPRS—30秒", protocol document, parameter file type 0x01;
    # Onbon's SDK waits 10 s). A reply later than that is never waited for, and the input is
    # cleared before the next frame, so a late ACK is never credited to the wrong request.
    reply_timeout_s: float | None = None  # None: the link's timeout
    silent_limit: int = 3  # attempts in a row with not a byte back: the card is offline
    plane_order: str = "RG"
    lit_bit: int = 0
    device_type: int = 0xFE
    sleep: Callable[[float], None] = time.sleep
    stats: ExchangeStats = field(default_factory=ExchangeStats)
    block: int = field(default=0, init=False)  # current bitmap block size (adapts to noise)
    answered: str = field(default="", init=False)  # the card's last refusal, if any
    heard: bool = field(default=False, init=False)  # the last exchange got at least a byte back

    def __post_init__(self) -> None:
        self.model = model_of(self.board)
        self.buffer = self.buffer or self.model.buffer
        # A4 03 adds 8 bytes in front of each block. Noise is a property of the wire, so start
        # from the block size the last transfer on this wire ended with.
        self.block = min(self.buffer - 8, self.link.hints.get("bx-block", self.buffer - 8))

    @property
    def address(self) -> int:
        assert self.board.address is not None, "onbon-bx boards have addresses (config check)"
        return self.board.address

    # -- one request, one confirmed reply ------------------------------------------------------

    def exchange(self, data: bytes) -> commands.Reply:
        """Send one request and return the card's reply; retry on noise, timeouts and busy."""
        frame = encode(Frame(dst=self.address, src=HOST_ADDRESS, data=data, device_type=self.device_type))
        last, kind = "no reply", Outcome.OFFLINE
        link_errors = 0
        silent = 0
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
            try:
                reply = self._once(frame)
            except LinkError as e:
                # The wire itself is down (a DTU refusing connections): a few tries, not the
                # whole retry budget meant for line noise.
                last, kind = str(e), Outcome.LINK
                link_errors += 1
                if link_errors > 2 or self.link.cancelled:
                    break
                continue
            if reply is None:
                self.stats.timeouts += 1
                last, kind = "no reply (timeout)", Outcome.OFFLINE
                silent = silent + 1 if not self.heard else 0
                if silent >= self.silent_limit:  # not a byte back, again and again: no card there
                    break
                continue
            if commands.is_ack(reply) or reply.group != 0xA0:
                return reply
            self.stats.nacks += 1
            last, kind = commands.nack_reason(reply), Outcome.NACK
            if reply.error == ERR_BUSY:
                if attempt < self.retries:
                    self.sleep(min(2.0, 0.2 * 2 ** attempt))  # give the card time, more each time
                continue
            if reply.error == ERR_CHECKSUM:
                continue
            return reply  # a refusal retrying cannot fix: the caller decides
        raise DeliveryError(self.board.id, kind, f"{last} after {attempt + 1} attempts")

    def _once(self, frame: bytes) -> commands.Reply | None:
        """One frame out, the card's reply back (None: nothing usable before the deadline; then
        `heard` says whether any byte came back at all — a damaged reply, not a silent card)."""
        decoder = FrameDecoder((CHECK_CRC16,))  # as we send: a reply must carry a real CRC
        self.heard = False
        with self.link.exclusive():
            self.link.discard_input()
            self.link.write(frame)
            self.stats.frames += 1
            self.stats.bytes_out += len(frame)
            timeout = self.link.timeout_s if self.reply_timeout_s is None else self.reply_timeout_s
            deadline = time.monotonic() + self.link.byte_time(len(frame) + REPLY_BYTES) + timeout
            while time.monotonic() < deadline:
                chunk = self.link.read(deadline)
                self.heard = self.heard or bool(chunk)
                for item in decoder.feed(chunk):
                    if isinstance(item, FrameError):
                        # A damaged reply: the card did answer. Wait only as long as the rest of
                        # a reply would take, not the whole margin, before trying again.
                        deadline = min(deadline, time.monotonic() + self.link.byte_time(REPLY_BYTES)
                                       + 0.02)
                        continue
                    if item.src == self.address and item.dst == HOST_ADDRESS:
                        try:
                            return commands.parse_reply(item.data)
                        except FrameError:
                            continue  # too short to be a reply: damaged
        return None

    def _confirm(self, data: bytes, what: str) -> None:
        reply = self.exchange(data)
        if not commands.is_ack(reply):
            raise DeliveryError(self.board.id, Outcome.NACK, f"{what}: {commands.nack_reason(reply)}")

    # -- what a board can be asked to do --------------------------------------------------------

    def ping(self) -> None:
        self._confirm(commands.ping(), "ping")

    def status(self) -> commands.Status:
        """The card's A1 02 status: screen, brightness, clock, and what its RAM holds."""
        reply = self.exchange(commands.query_status())
        try:
            return commands.parse_status(reply)
        except ValueError as e:
            raise DeliveryError(self.board.id, Outcome.NACK, f"status: {e}") from None

    def sync_time(self, now: datetime) -> None:
        self._confirm(commands.set_time(now), "time sync")

    def set_brightness(self, percent: int) -> None:
        """Brightness in percent, mapped onto the card's 16 steps (0 stays dark, 1 % is step 1)."""
        level = 0 if percent <= 0 else max(1, round(percent * 15 / 100))
        self._confirm(commands.brightness(level), "brightness")

    def power(self, on: bool) -> None:
        self._confirm(commands.screen(on), "screen on/off")

    def show_bitmap(self, image: Image.Image, *, timeout_s: int | None = None,
                    give_way: Callable[[], bool] | None = None) -> None:
        """Show one page: set up the special area, then the bitmap in blocks, each one ACKed.

        Between blocks, `give_way` is asked whether more urgent work waits for the wire: then the
        transfer stops there (DeliveryError, Outcome.GAVE_WAY) and the card keeps its old picture.
        A 1 KB page is two or three blocks, so an urgent notice waits one block, not the picture.

        A block the card NACKs for its checksum, or that gets no reply, goes again
        from the same offset — smaller, since under noise small blocks cross intact
        more often; clean replies let the size grow back. If the card loses track
        (a lost ACK made us repeat a block) the transfer starts over. The card keeps
        its old picture until the last block, so a failed transfer never shows.
        """
        width, height = image.size
        bitmap = page_bitmap(image, self.board.colour.value, plane_order=self.plane_order,
                             lit_bit=self.lit_bit)
        if timeout_s is None:
            setup = commands.special_area_setup(0, 0, width // 8, height, bitmap=True)
        else:  # the card removes it by itself after timeout_s without an update
            setup = commands.special_area_setup(0, 0, width // 8, height, bitmap=True, run_state=2,
                                                timeout_s=max(1, min(timeout_s, 65535)))
        for _ in range(self.retries + 1):
            self._give_way(give_way, 0, len(bitmap))
            self._confirm(setup, "special area set-up")
            done = self._send_blocks(bitmap, give_way)
            self.link.hints["bx-block"] = self.block
            if done:
                return
        if self.answered:  # it did answer, but kept refusing: not an offline card
            raise DeliveryError(self.board.id, Outcome.NACK,
                                f"bitmap transfer kept failing ({self.answered}); the card keeps its "
                                "previous picture")
        raise DeliveryError(self.board.id, Outcome.OFFLINE, "bitmap transfer kept failing; the card keeps "
                                                            "its previous picture")

    def _give_way(self, give_way: Callable[[], bool] | None, offset: int, size: int) -> None:
        if give_way is not None and give_way():
            raise DeliveryError(self.board.id, Outcome.GAVE_WAY,
                                f"gave way to more urgent work on the wire after {offset} of {size} bytes "
                                "(the card keeps its previous picture)")

    def _send_blocks(self, bitmap: bytes, give_way: Callable[[], bool] | None = None) -> bool:
        """True when the card has the whole bitmap; False when the transfer must start over.

        The host keeps the set of offsets the card may have reached. An ACK settles it;
        a lost reply adds a possibility (the block may have arrived); NACK
        ERR_FILE_BLOCK_NUM rules one out; a NACK for the checksum changes nothing. The
        next block goes at the nearest possible offset: a block damaged on its way (and so
        never taken) is far likelier than a lost ACK, the block being ten times longer than
        the reply, so guessing "it arrived" would mostly be wrong and walk the host ahead of
        the card. A lost ACK costs one NACK'd exchange, not a restart. Under noise blocks
        shrink (small ones cross intact more often); clean replies let them grow back.
        """
        end = len(bitmap)
        positions = {0}  # where the card may be; `end` means it has switched to the new bitmap
        failures = 0  # in a row
        silent = 0  # in a row, not a byte back
        link_errors = 0
        limit = 4 * (self.retries + 1)
        while positions != {end}:
            offset = min(p for p in positions if p < end)
            if offset:  # the first block follows its set-up at once (asked before that)
                self._give_way(give_way, offset, end)
            # As few blocks as the block size allows, of even size: a 1,024-byte page goes as three
            # of 342, not 504 + 504 + 16, so the most an urgent frame waits for is one short block.
            blocks = -(-(end - offset) // self.block)
            size = -(-(end - offset) // blocks)
            last = offset + size >= end
            data = commands.request(0xA4, 0x03, bytes((1 if last else 0,)) + offset.to_bytes(2, "little")
                                    + bitmap[offset:offset + size])
            try:
                reply = self._once(encode(Frame(dst=self.address, src=HOST_ADDRESS, data=data,
                                                device_type=self.device_type)))
            except LinkError as e:
                # The wire itself is down: a few tries, not the budget meant for line noise.
                link_errors += 1
                if link_errors > 2 or self.link.cancelled:
                    raise DeliveryError(self.board.id, Outcome.LINK, str(e)) from None
                self.sleep(min(2.0, 0.1 * 2 ** min(failures, 5)))
                continue
            if reply is not None and commands.is_ack(reply):
                positions = {offset + size}
                failures = silent = 0
                self.block = min(self.buffer - 8, self.block * 2)
                continue
            if reply is not None and reply.error == ERR_FILE_BLOCK_NUM:
                silent = 0
                self.answered = commands.nack_reason(reply)
                positions.discard(offset)  # the card is not there
                if not positions:
                    return False  # it lost track entirely: start over
                continue
            if reply is not None and reply.error not in (ERR_CHECKSUM, ERR_BUSY):
                raise DeliveryError(self.board.id, Outcome.NACK,
                                    f"bitmap block: {commands.nack_reason(reply)}")
            failures += 1
            self.stats.retries += 1
            silent = silent + 1 if reply is None and not self.heard else 0
            if silent >= self.silent_limit:
                raise DeliveryError(self.board.id, Outcome.OFFLINE,
                                    f"bitmap block at byte {offset}: no reply (timeout) after {failures} "
                                    "attempts")
            if reply is None:
                self.stats.timeouts += 1
                positions.add(offset + size)  # it may have arrived; only the reply was lost
            else:
                self.stats.nacks += 1
                self.answered = commands.nack_reason(reply)
            if reply is not None and reply.error == ERR_BUSY:
                self.sleep(min(2.0, 0.2 * 2 ** min(failures, 5)))
            else:
                self.block = max(MIN_BLOCK, self.block // 2)
            if failures > limit:
                kind = Outcome.OFFLINE if reply is None else Outcome.NACK
                why = "no reply" if reply is None else commands.nack_reason(reply)
                raise DeliveryError(self.board.id, kind, f"bitmap block at byte {offset}: {why} "
                                                         f"after {failures} attempts")
        return True

    def show_text_pages(self, pages: Sequence[bytes], *, stay_half_s: int,
                        timeout_s: int | None = None) -> None:
        """A loop the card plays itself: the special area in text mode with one page per entry, each
        shown for the area's StayTime (0.5-s units, one for every page), round and round — tens of
        bytes, and it goes on when the host is gone (until a power cut: it is RAM). With `timeout_s`
        the card removes it by itself when not sent again within that time (RunState 2)."""
        limit = min(self.buffer, 1024, SPECIAL_CAPACITY // len(pages))  # §8.3: 16 KB / pages, ≤ 1 KB
        for n, raw in enumerate(pages):
            if len(raw) > limit:
                raise DeliveryError(self.board.id, Outcome.REFUSED,
                                    f"text page {n + 1} is {len(raw)} bytes; a {self.model.name}'s special "
                                    f"area takes at most {limit} per page: shorten it")
        width, height = self.board.size.width, self.board.size.height
        run_state = 0 if timeout_s is None else 2
        self._confirm(commands.special_area_setup(
            0, 0, width // 8, height, bitmap=False, pages=len(pages), run_state=run_state,
            timeout_s=0 if timeout_s is None else max(1, min(timeout_s, 65535)), single_line=False,
            line_spacing=0, auto_wrap=False, stay_half_seconds=stay_half_s), "special area set-up (text)")
        for n, raw in enumerate(pages):
            self._confirm(commands.special_area_page(n, raw), f"text page {n + 1}")

    def clear_text(self) -> None:
        """Remove every dynamic (text) area, so only the special area's picture shows."""
        self._confirm(commands.delete_all_dynamic_areas(), "clear text")

    def show_text(self, text: str, *, timeout_s: int) -> None:
        """Fast path: the card draws `text` with its own font in dynamic area 0, for `timeout_s`: still
        and wrapped when it fits, else one line moving left, centred (card_screen.text_look — the
        previews draw it from the same model)."""
        look = text_look(self.board, text)
        try:
            payload = commands.encode_text(text, colour=NOTICE_COLOUR)
        except commands.TextNotEncodable as e:
            raise DeliveryError(self.board.id, Outcome.REFUSED,
                                f"the card's font cannot show this text: {e}") from None
        width, height = self.board.size.width, self.board.size.height
        if len(payload) > self.buffer - TEXT_AREA_OVERHEAD:
            raise DeliveryError(self.board.id, Outcome.REFUSED,
                                f"the text is {len(payload)} bytes; a {self.model.name} holds at most "
                                f"{self.buffer - TEXT_AREA_OVERHEAD} in a text area (its {self.buffer}-byte "
                                "receive buffer): shorten it")
        data = commands.dynamic_text(0, 0, 0, width, height, payload, timeout_s=timeout_s, run_mode=2,
                                     effect=look.effect, speed=look.speed, align=look.align,
                                     auto_wrap=not look.scroll, single_line=look.scroll, process_mode=1,
                                     generation=self.model.generation)
        self._confirm(data, "text")


# -- the driver: every card on one wire --------------------------------------------------------------


class OnbonBxDriver(Driver):
    """Onbon BX-5K/6K cards on one serial wire (an RS-485 bus or a DTU), told apart by address."""

    # Single or dual colour; the special dynamic area holds 16 KB of bitmap and its X/width are
    # counted in bytes (8 px).
    spec = DriverSpec(
        "onbon-bx", "serial", frozenset({ColourMode.MONO_RED, ColourMode.RED_GREEN}),
        needs_address=True, address_range=(0x0000, 0xFFFE),  # 0xFFFF is broadcast
        max_width=2048, max_height=512, width_multiple=8, max_bytes_per_page=16 * 1024,
        models=tuple(MODELS), options=("loop",),
    )

    def __init__(self, link: SerialLink) -> None:
        self.link = link

    @classmethod
    def capabilities(cls, board: Board) -> Capabilities:
        # The card draws text in its own GB2312 font and holds one picture in its special area:
        # bitmap mode is "数据单页显示", a single page, with no effect and no dwell of its own
        # (protocol document §8.3; Onbon's SDK BX5MK_SendLatticeMessage sends one bitmap). The host
        # plays a longer loop, page by page.
        # With `loop = "card"` the card holds a loop of text pages itself (the special area's text
        # mode, §8.3): pages of plain lines in its font go that way (`card_loop`).
        return Capabilities(own_font=True, holds_pages=CARD_PAGES if board.loop == "card" else 1,
                            effects=frozenset({"static"}), largest_message=model_of(board).buffer)

    @classmethod
    def option_problem(cls, key: str, value: object) -> str | None:
        if key == "loop" and value not in ("host", "card"):
            return ('"host" (ledctl sends the pages as pictures, one after another, each for its dwell) '
                    'or "card" (the card holds the pages as text in its own font and cycles them itself)')
        return None

    @classmethod
    def card_loop(cls, board: Board, program: Program) -> list[bytes] | None:
        """The program as text pages the card cycles itself, where the board is set to (`loop = "card"`)
        and every page is plain lines of text its font draws; else None (pictures)."""
        if board.loop != "card" or not 1 <= len(program.pages) <= CARD_PAGES:
            return None
        try:
            return [page_text(board, page) for page in program.pages]
        except (NotCardText, commands.TextNotEncodable):
            return None

    @classmethod
    def layout_notes(cls, board: Board, pages: Sequence[PageOutline]) -> list[str]:
        if board.loop != "card":
            return []
        other = [name for name, effect, lines in pages
                 if effect != "static" or any(font != CARD_FONT or y % CELL for font, y in lines)]
        if not other:
            return []
        return [f'loop = "card", but page(s) {", ".join(other)} are not plain lines of the card\'s {CELL}-px '
                f"font ({CARD_FONT}) on its {CELL}-px rows: a program with them goes as pictures the host "
                "plays, page by page"]

    @classmethod
    def host_plays(cls, board: Board, program: Program) -> bool:
        return len(program.pages) > 1 and cls.card_loop(board, program) is None

    @classmethod
    def as_shown(cls, board: Board, program: Program) -> Program:
        """A loop the card cycles is drawn in the card's font, every page for the area's one StayTime
        (the longest dwell, so none is shorter than its rule asks): the preview is the card."""
        loop = cls.card_loop(board, program)
        if loop is None:
            return program
        dwell = stay_half_seconds(max(p.dwell_s for p in program.pages)) / 2
        return replace(program, pages=tuple(replace(p, image=draw_page_text(board, raw), dwell_s=dwell)
                                            for p, raw in zip(program.pages, loop, strict=True)))

    @classmethod
    def board_problem(cls, board: Board) -> str | None:
        model = model_of(board)
        if not model.special_area:
            return (f"a {model.name} has no special dynamic area, so it cannot show ledctl's pictures (the "
                    "bulletin's pages); the protocol document gives it to BX-5K2 and BX-5MK only (§8.3): "
                    "use one of those, or another driver")
        return None

    @classmethod
    def can_draw(cls, board: Board, text: str) -> bool:
        try:
            payload = commands.encode_text(text)
        except commands.TextNotEncodable:
            return False
        return len(payload) <= model_of(board).buffer - TEXT_AREA_OVERHEAD

    @classmethod
    def text_pages(cls, board: Board, text: str) -> tuple[Page, ...]:
        return text_pages(board, text)

    def card(self, board: Board) -> BxCard:
        return BxCard(board, self.link)

    def deliver(self, jobs: Sequence[tuple[Board, Content]], report: Report) -> None:
        for board, content in jobs:
            if self.link.cancelled:
                return
            report(self._deliver_one(board, content))

    def _deliver_one(self, board: Board, content: Content) -> Result:
        start = time.monotonic()
        card = self.card(board)
        pages = len(content.program.pages)
        mode = "text" if content.text is not None else "bitmap"

        def result(outcome: Outcome, detail: str = "", shown: int = 0) -> Result:
            return Result(board.id, outcome, detail, mode, card.stats.bytes_out, time.monotonic() - start,
                          (shown, pages))

        if content.page is not None:
            return self._deliver_page(board, content, card, start)
        try:
            if content.text is not None:
                card.show_text(content.text, timeout_s=content.lifetime_s or 65535)
                return result(Outcome.CONFIRMED, shown=pages)
            loop = self.card_loop(board, content.program)
            if loop is not None:
                if content.clear_text:
                    card.clear_text()
                dwell = max(p.dwell_s for p in content.program.pages)
                card.show_text_pages(loop, stay_half_s=stay_half_seconds(dwell), timeout_s=content.lifetime_s)
                return Result(board.id, Outcome.CONFIRMED, "", "card-loop", card.stats.bytes_out,
                              time.monotonic() - start, (pages, pages))
            if pages > 1 and content.whole:
                return result(Outcome.REFUSED, f"this needs {pages} pages and the card shows one picture; "
                                               "shorten it, or use text the card's font can draw")
            if content.clear_text:
                card.clear_text()
            card.show_bitmap(content.program.pages[0].image, timeout_s=content.lifetime_s,
                             give_way=content.give_way)
            # The card holds one picture; the service plays the rest of the loop.
            return result(Outcome.CONFIRMED, "" if pages == 1 else f"page 1 of {pages}", 1)
        except DeliveryError as e:
            return result(e.outcome, str(e))
        except LinkError as e:
            return result(Outcome.LINK, str(e))

    def _deliver_page(self, board: Board, content: Content, card: BxCard, start: float) -> Result:
        """One page of a loop the host plays: the special area's picture, in place of the last."""
        assert content.page is not None
        page = content.program.pages[content.page]
        try:
            if content.clear_text:
                card.clear_text()
            card.show_bitmap(page.image, timeout_s=content.lifetime_s, give_way=content.give_way)
            outcome, detail = Outcome.CONFIRMED, ""
        except DeliveryError as e:
            outcome, detail = e.outcome, str(e)
        except LinkError as e:
            outcome, detail = Outcome.LINK, str(e)
        return Result(board.id, outcome, detail, "page", card.stats.bytes_out, time.monotonic() - start,
                      (1 if outcome is Outcome.CONFIRMED else 0, 1))

    def apply(self, jobs: Sequence[tuple[Board, Settings]], report: Report) -> None:
        for board, want in jobs:
            if self.link.cancelled:
                return
            start = time.monotonic()
            card = self.card(board)
            try:
                card.power(want.power)
                if want.brightness is not None:
                    card.set_brightness(want.brightness)
                outcome, detail = Outcome.CONFIRMED, ""
            except DeliveryError as e:
                outcome, detail = e.outcome, str(e)
            except LinkError as e:
                outcome, detail = Outcome.LINK, str(e)
            report(Result(board.id, outcome, detail, "settings", card.stats.bytes_out,
                          time.monotonic() - start))

    def check(self, boards: Sequence[Board]) -> list[Health]:
        """Each card's status (A1 02): there, and holding a picture or a text? Dynamic and special
        areas live in RAM ("实时显示信息不能掉电保存", protocol document §8.2): after a power cut the
        card answers with both empty, and the dispatcher sends its program again."""
        out = []
        for board in boards:
            try:
                status = self.card(board).status()
                empty = not status.special_area and not status.dynamic_area_ids
                out.append(Health(board.id, True, detail="holds nothing (power cut?)" if empty else "",
                                  empty=empty))
            except DeliveryError as e:
                out.append(Health(board.id, False, detail=str(e)))
            except LinkError as e:
                out.append(Health(board.id, False, detail=f"link error: {e}"))
        return out
