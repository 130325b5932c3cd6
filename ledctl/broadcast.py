"""Delivering programs to boards now: one thread per wire, boards on a wire one at a time.

This is the delivery path the service and the notice workflow use. Each board's
result is what its card confirmed — never assumed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ledctl.config import Deployment
from ledctl.drivers.link import LinkError, SerialLink
from ledctl.drivers.onbon import commands
from ledctl.drivers.onbon.driver import BxCard, DeliveryError
from ledctl.drivers.tpm2 import Tpm2Board
from ledctl.errors import LedctlError
from ledctl.model import Board, Program

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Delivery:
    board: str
    link: str
    ok: bool
    result: str  # "confirmed", or why not: "offline", "NACK …", "link …"
    mode: str  # "bitmap", "text", "-"
    bytes_sent: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Content:
    """What to put on a board: a program's first page, or text for the card's own font."""

    program: Program | None = None
    text: str | None = None
    text_timeout_s: int = 0


def card_can_draw(board: Board, text: str) -> bool:
    """Whether the fast path applies: a BX card whose own GB2312 font has every character."""
    if board.driver != "onbon-bx":
        return False
    try:
        commands.encode_text(text)
    except commands.TextNotEncodable:
        return False
    return True


class Links:
    """One SerialLink per configured wire, shared by the boards on it."""

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self._links: dict[str, SerialLink] = {}

    def get(self, name: str) -> SerialLink:
        if name not in self._links:
            link = self.dep.links[name]
            self._links[name] = SerialLink(name, link.url, baud=link.baud, parity=link.parity,
                                           timeout_s=link.timeout_s)
        return self._links[name]

    def close(self) -> None:
        for link in self._links.values():
            link.close()


def deliver(
    dep: Deployment,
    boards: Sequence[Board],
    contents: Mapping[str, Content],
    *,
    links: Links | None = None,
    progress: Progress = lambda line: None,
) -> list[Delivery]:
    """Deliver each board's content; wires run in parallel, each wire one frame at a time."""
    own = links is None
    links = links or Links(dep)
    by_link: dict[str, list[Board]] = {}
    for board in boards:
        by_link.setdefault(board.link, []).append(board)
    results: dict[str, Delivery] = {}
    lock = threading.Lock()

    def run_wire(link_name: str, members: list[Board]) -> None:
        link = links.get(link_name)
        try:
            for n, board in enumerate(members, start=1):
                delivery = _deliver_one(board, link, contents[board.id])
                with lock:
                    results[board.id] = delivery
                    progress(f"{link_name} [{n}/{len(members)}] {board.id}: {delivery.result} "
                             f"({delivery.mode}, {delivery.bytes_sent} bytes, {delivery.seconds:.1f} s)")
        finally:
            if own:
                link.close()  # here, in parallel: closing a socket link waits a moment

    threads = [threading.Thread(target=run_wire, args=(name, members), name=f"deliver-{name}")
               for name, members in by_link.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [results[b.id] for b in boards]


def _deliver_one(board: Board, link: SerialLink, content: Content) -> Delivery:
    start = time.monotonic()
    if board.driver == "tpm2":
        return _deliver_tpm2(board, link, content, start)
    if board.driver != "onbon-bx":
        return Delivery(board.id, board.link, False, f"driver {board.driver} cannot deliver yet", "-", 0, 0.0)
    card = BxCard(board, link)
    mode = "text" if content.text is not None else "bitmap"
    try:
        if content.text is not None:
            # The card's 16-dot font: beyond what fits in rows of 16 px, the text scrolls instead.
            fits = (board.size.width // 16) * (board.size.height // 16)
            card.show_text(content.text, timeout_s=content.text_timeout_s, scroll=len(content.text) > fits)
        else:
            assert content.program is not None and content.program.pages
            card.show_bitmap(content.program.pages[0].image)
        result, ok = "confirmed", True
    except DeliveryError as e:
        result, ok = {"offline": "offline (no reply)", "nack": "NACK", "link": "link error",
                      "content": "refused"}[e.kind], False
        result = f"{result}: {e}"
    except (LinkError, LedctlError) as e:
        result, ok = f"link error: {e}", False
    return Delivery(board.id, board.link, ok, result, mode, card.stats.bytes_out,
                    time.monotonic() - start)


def _deliver_tpm2(board: Board, link: SerialLink, content: Content, start: float) -> Delivery:
    receiver = Tpm2Board(board.size.width, board.size.height, link)
    if content.program is None:
        return Delivery(board.id, board.link, False, "tpm2 boards have no font: send a rendered page",
                        "-", 0, 0.0)
    try:
        ok = receiver.show(content.program.pages[0].image)
    except LinkError as e:
        return Delivery(board.id, board.link, False, f"link error: {e}", "frame", receiver.bytes_out,
                        time.monotonic() - start)
    result = "confirmed (ping after frame)" if ok else "offline (no ping reply)"
    return Delivery(board.id, board.link, ok, result, "frame", receiver.bytes_out, time.monotonic() - start)
