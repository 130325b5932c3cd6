"""Delivery over real TCP and pty links to the simulated cards: confirmation, noise, faults, shared buses."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest

from ledctl import pipeline
from ledctl.delivery import deliver_once as deliver
from ledctl.drivers.base import Content, Outcome
from ledctl.drivers.onbon.bitmap import page_bitmap
from ledctl.drivers.onbon.driver import BxCard as HostCard
from ledctl.drivers.onbon.driver import DeliveryError
from ledctl.drivers.pool import LinkPool
from ledctl.simulator.bx_card import BxCard as SimCard
from ledctl.simulator.fleet import Fleet

from .conftest import quick_replies


def now() -> datetime:
    return datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@pytest.fixture
def community(zhenhai):
    """The 40 community boards, simulated; wires fast (no baud pacing) so noise tests stay quick."""
    fleet = Fleet(zhenhai, clock=now, pace=False)
    fleet.build({b.id for b in zhenhai.boards_in("community")})
    fleet.start(ephemeral=True)
    yield fleet
    fleet.stop()


@contextmanager
def simulated(dep, board_ids: set[str], clock) -> Iterator[Fleet]:
    """Just these boards simulated, on unpaced wires, with the test's clock; stopped after."""
    fleet = Fleet(dep, clock=clock.now, pace=False)
    fleet.build(board_ids)
    fleet.start(ephemeral=True)
    try:
        yield fleet
    finally:
        fleet.stop()


def bulletin_contents(dep, boards):
    bulletin = pipeline.bulletin_at(dep, pipeline.broadcast_instant(dep, date(2026, 11, 25)))
    return {r.board.id: Content(program=r.program) for r in pipeline.render_fleet(dep, boards, bulletin)}


def text_content(board, text: str, timeout_s: int) -> Content:
    from PIL import Image

    from ledctl.model import Page, Program

    blank = Program(board.id, (Page("notice", Image.new("RGB", (board.size.width, board.size.height))),))
    return Content(blank, text=text, lifetime_s=timeout_s)


def expected_bitmap(board, content) -> bytes:
    return page_bitmap(content.program.pages[0].image, board.colour.value)


def test_all_40_confirm_and_show_exactly_the_page(community) -> None:
    dep = community.rewired()
    boards = dep.boards_in("community")
    contents = bulletin_contents(dep, boards)
    results = deliver(dep, boards, contents)
    # The bulletin has two pages; a BX card holds one picture: page 1 now, the service plays the loop.
    assert [(r.outcome, r.pages) for r in results] == [(Outcome.CONFIRMED, (1, 2))] * 40
    for board in boards:
        card = community.boards[board.id].device
        assert card.bitmap == expected_bitmap(board, contents[board.id]), board.id
        # What the emulator shows is the rendered page, pixel for pixel.
        assert card.snapshot().tobytes() == contents[board.id].program.pages[0].image.tobytes(), board.id


@pytest.mark.parametrize("seed", [None, 3])  # 3: seven boards went "offline" when the host guessed ahead
def test_one_percent_corruption_all_confirm_and_no_torn_image(community, seed) -> None:
    # A frame whose header the noise hit gets no reply at all, and the host waits the link's whole
    # timeout for it. These simulated wires answer at once, so 0.3 s (a link's `timeout`) will do.
    dep = quick_replies(community.rewired(), 0.3)
    boards = dep.boards_in("community")
    contents = bulletin_contents(dep, boards)
    seen: dict[str, set[bytes | None]] = {b.id: set() for b in boards}
    for board in boards:
        card = community.boards[board.id].device
        original = card.receive

        def watching(chunk: bytes, card: SimCard = card, board_id: str = board.id,
                     original=original) -> bytes:
            reply = original(chunk)
            seen[board_id].add(card.bitmap)  # every picture the card ever showed
            return reply

        card.receive = watching  # type: ignore[method-assign]
    for i, wire in enumerate(community.wires.values()):
        wire.faults.corrupt = 0.01
        if seed is not None:  # other noise than every wire's default Random(0)
            wire.rng = random.Random(seed * 100 + i)
    results = deliver(dep, boards, contents)
    assert [(r.board, r.describe()) for r in results if not r.ok] == []
    assert sum(w.stats.corrupted for w in community.wires.values()) > 100  # the noise was real
    for board in boards:
        # Never a partial image: only "nothing yet" or the complete page.
        assert seen[board.id] <= {None, expected_bitmap(board, contents[board.id])}, board.id
        assert community.boards[board.id].device.bitmap == expected_bitmap(board, contents[board.id])


def test_offline_board_is_reported_and_the_rest_confirm(community) -> None:
    community.set_fault("zbs-02", offline=True)
    dep = community.rewired()
    boards = dep.boards_in("community")[:7]  # both shared buses
    results = {r.board: r for r in deliver(dep, boards, bulletin_contents(dep, boards))}
    assert results["zbs-02"].ok is False and results["zbs-02"].outcome is Outcome.OFFLINE
    assert all(r.ok for b, r in results.items() if b != "zbs-02")


def test_busy_card_is_a_clear_nack(community) -> None:
    community.set_fault("zbs-10", nack_busy=True)
    dep = community.rewired()
    waits: list[float] = []
    with LinkPool(dep.links, dep.boards) as pool:
        card = HostCard(dep.board("zbs-10"), pool.serial("dtu-10"), sleep=waits.append)
        with pytest.raises(DeliveryError, match="ERR_BUSY") as err:
            card.ping()
    assert err.value.outcome is Outcome.NACK
    assert len(waits) == card.retries and waits == sorted(waits)  # it backed off, more each time


def test_boards_on_one_bus_never_interleave(community) -> None:
    dep = community.rewired()
    bus = [b for b in dep.boards if b.link == "bus-a"]
    pool = LinkPool(dep.links, dep.boards)
    contents = bulletin_contents(dep, bus)
    errors: list[BaseException] = []

    def send(board) -> None:
        try:
            HostCard(board, pool.serial("bus-a")).show_bitmap(contents[board.id].program.pages[0].image)
        except BaseException as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=send, args=(b,)) for b in bus]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pool.close()
    assert errors == []
    for board in bus:
        card = community.boards[board.id].device
        assert card.stats.frames_bad_crc == 0  # a frame cut into by another would fail its CRC
        assert card.bitmap == expected_bitmap(board, contents[board.id])


def test_urgent_text_fast_path(community) -> None:
    dep = community.rewired()
    boards = dep.boards_in("community")
    text = {b.id: text_content(b, "重污染天气预警", 600) for b in boards}
    results = deliver(dep, boards, text)
    assert all(r.ok and r.mode == "text" for r in results)
    assert max(r.bytes_sent for r in results) < 120  # tens of bytes, not a kilobyte bitmap
    card = community.boards["zbs-01"].device
    assert "重污染天气预警" in "".join(card.text_areas.values())


def test_text_the_card_cannot_draw_is_refused(community) -> None:
    dep = community.rewired()
    boards = (dep.board("zbs-01"),)
    (result,) = deliver(dep, boards, {"zbs-01": text_content(boards[0], "注意 😀", 60)})
    assert result.outcome is Outcome.REFUSED and "U+1F600" in result.detail


def test_pty_link(zhenhai) -> None:
    fleet = Fleet(zhenhai, clock=now, pace=False)
    fleet.build({"zbs-12"})
    fleet.start(pty=True)
    try:
        dep = fleet.rewired()
        assert dep.links["dtu-12"].url.startswith("/dev/")
        boards = (dep.board("zbs-12"),)
        (result,) = deliver(dep, boards, bulletin_contents(dep, boards))
        assert result.ok, result.describe()
    finally:
        fleet.stop()


def test_a_notice_of_several_pages_is_refused_by_a_one_picture_card(community) -> None:
    from PIL import Image

    from ledctl.model import Page, Program

    dep = community.rewired()
    board = dep.board("zbs-10")
    pages = (Page("title", Image.new("RGB", (128, 32))),
             Page("body", Image.new("RGB", (300, 32)), effect="scroll-left"))
    (result,) = deliver(dep, (board,), {"zbs-10": Content(program=Program("zbs-10", pages), whole=True)})
    assert result.outcome is Outcome.REFUSED and "2 pages" in result.detail
    bulletin = bulletin_contents(dep, (board,))
    (result,) = deliver(dep, (board,), bulletin)  # a bulletin: page 1 now, the service plays the rest
    assert result.confirmed and result.pages == (1, 2)


def test_a_card_that_answers_late_is_waited_for_and_never_credited_wrongly(community) -> None:
    # Issue 16.4: the reply window was wire time + 0.25 s; a card (or a DTU) answering after a
    # second got spurious timeouts and resends, and a late ACK could be credited to the next frame.
    # The window is now the link's timeout, 2 s by default: the card's own CommTimeout on serial.
    community.set_fault("zbs-10", delay_s=1.0)
    dep = community.rewired()
    board = dep.board("zbs-10")
    image = bulletin_contents(dep, (board,))["zbs-10"].program.pages[0].image
    with LinkPool(dep.links, dep.boards) as pool:
        card = HostCard(board, pool.serial("dtu-10"))
        card.show_bitmap(image)
    assert card.stats.timeouts == 0 and card.stats.retries == 0
    assert card.stats.frames == 1 + 3  # the special area's set-up, then 504 + 504 + 16 bitmap bytes
    assert community.boards["zbs-10"].device.bitmap == page_bitmap(image, board.colour.value)


def test_a_silent_card_is_offline_after_three_timeouts_not_eleven(community) -> None:
    community.set_fault("zbs-10", offline=True)
    dep = community.rewired()
    with LinkPool(dep.links, dep.boards) as pool:
        card = HostCard(dep.board("zbs-10"), pool.serial("dtu-10"))
        with pytest.raises(DeliveryError, match=r"no reply \(timeout\) after 3 attempts") as err:
            card.ping()
    assert err.value.outcome is Outcome.OFFLINE


def test_a_card_draws_notice_text_frame_for_frame_as_its_preview_shows_it(zhenhai) -> None:
    # Issue 16.15: the preview showed a title page and the body scrolling in the bottom half, in
    # green; the card drew one red line at the top and left 16 rows dark. Now the preview is the
    # card's own drawing (drivers/onbon/card_screen.py), and the card is sent what that model draws.

    from ledctl.clock import FixedClock
    from ledctl.drivers import driver_class
    from ledctl.render.effects import frames

    clock = FixedClock(now())
    with simulated(zhenhai, {"zbs-10"}, clock) as fleet:
        dep = fleet.rewired()
        board = dep.board("zbs-10")
        text = "重污染天气预警：受重污染天气影响，今日PM2.5浓度较高，请减少户外活动。"
        [page] = driver_class(board).text_pages(board, text)
        assert page.effect == "scroll-left"
        (result,) = deliver(dep, (board,), {"zbs-10": text_content(board, text, 600)})
        assert result.confirmed and result.mode == "text"
        card = fleet.boards["zbs-10"].device
        elapsed = 0.0
        for n, frame in enumerate(frames(page, board.size)):
            assert card.snapshot().tobytes() == frame.image.tobytes(), f"frame {n} at {elapsed:.3f} s"
            clock.advance(seconds=frame.duration_s)
            elapsed += frame.duration_s
        box = page.image.getbbox()
        assert box is not None and box[1] >= 7 and box[3] <= 25  # centred, never stuck in the top half
        colours = {c for _, c in page.image.getcolors(maxcolors=1 << 16) or ()}
        assert colours == {(0, 0, 0), (255, 0, 0)}  # red, not the green of "good"


def test_a_bx_card_shows_every_page_of_its_loop_for_its_dwell_as_the_preview_does(zhenhai, tmp_path) -> None:
    # Issue 16.1 / "a test per board kind": over one loop the card's screen equals the preview's pages,
    # page by page, each for its dwell (the host plays the loop: the card holds one picture).

    from ledctl.clock import FixedClock
    from ledctl.dispatch import Dispatcher, Intent
    from ledctl.store import Store

    clock = FixedClock(now())
    with simulated(zhenhai, {"zbs-10"}, clock) as fleet:
        dep = fleet.rewired()
        board = dep.board("zbs-10")
        program = bulletin_contents(dep, (board,))["zbs-10"].program
        assert len(program.pages) == 2
        card = fleet.boards["zbs-10"].device
        with Dispatcher(dep, Store(tmp_path / "s.sqlite"), clock) as dispatcher:
            dispatcher.set_intended({"zbs-10": Intent.of(program, "bulletin")})
            for loop in range(2):
                for n, page in enumerate(program.pages):
                    dispatcher.settle()
                    assert card.snapshot().tobytes() == page.image.tobytes(), (loop, n)
                    clock.advance(seconds=page.dwell_s - 1)  # a second before its dwell ends …
                    dispatcher.settle()
                    assert card.snapshot().tobytes() == page.image.tobytes(), (loop, n)  # … still up
                    clock.advance(seconds=1)
            assert dispatcher.view()["zbs-10"].pages == (2, 2)


def test_a_picture_gives_way_between_blocks_and_the_card_keeps_its_old_one(community) -> None:
    # Issue 16: an urgent notice must not wait for a whole bulletin picture on a shared wire. The
    # transfer stops at the next block when asked; the card keeps the picture it had.
    dep = community.rewired()
    board = dep.board("zbs-01")
    pages = bulletin_contents(dep, (board,))["zbs-01"].program.pages
    sim = community.boards["zbs-01"].device
    asked: list[int | None] = []

    def give_way() -> bool:
        asked.append(sim.pending_bitmap_bytes)
        return len(asked) > 2  # before the set-up, before block 2: no; before block 3: yes

    with LinkPool(dep.links, dep.boards) as pool:
        host = HostCard(board, pool.serial("bus-a"))
        host.show_bitmap(pages[0].image)
        before = sim.bitmap
        with pytest.raises(DeliveryError, match="gave way") as err:
            host.show_bitmap(pages[1].image, give_way=give_way)
        assert err.value.outcome is Outcome.GAVE_WAY
        assert sim.bitmap == before  # never a torn or half-new picture
        assert sim.snapshot().tobytes() == pages[0].image.tobytes()
        # It stopped between frames: two whole blocks in (1,024 bytes go as 342 + 341 + 341), none cut.
        assert asked[0] is None and asked[-1] == 342 + 341 and sim.stats.frames_bad_crc == 0
        # The wire is free at once for what is urgent, and the next picture starts clean.
        host.show_text("重污染天气预警", timeout_s=600)
        host.show_bitmap(pages[1].image)
        assert sim.snapshot().tobytes() != pages[0].image.tobytes()


def test_a_loop_page_on_the_wire_gives_way_to_a_notice_and_goes_on_after_it(zhenhai, tmp_path) -> None:
    # The whole path: the dispatcher plays the bulletin loop on bus-a; a notice for zbs-03 arrives
    # while zbs-01's page is crossing the wire. That page stops at its next block (not a failure,
    # nothing recorded against the board), the notice goes first, then the loop goes on.
    from ledctl.clock import FixedClock
    from ledctl.dispatch import Dispatcher, Intent
    from ledctl.store import Store

    clock = FixedClock(now())
    bus = {"zbs-01", "zbs-02", "zbs-03", "zbs-04"}
    with simulated(zhenhai, bus, clock) as fleet:
        dep = fleet.rewired()
        boards = [dep.board(b) for b in sorted(bus)]
        programs = {b: c.program for b, c in bulletin_contents(dep, boards).items()}
        notice = text_content(dep.board("zbs-03"), "重污染天气预警", 600).program
        with Dispatcher(dep, Store(tmp_path / "s.sqlite"), clock) as dispatcher:
            dispatcher.set_intended({b: Intent.of(p, "bulletin") for b, p in programs.items()})
            dispatcher.settle()
            assert {dispatcher.view()[b].page for b in bus} == {0}
            sim = fleet.boards["zbs-01"].device
            original = sim.receive
            order: list[str] = []

            page_2 = page_bitmap(programs["zbs-01"].pages[1].image, "red-green")
            notice_card = fleet.boards["zbs-03"].device

            def receive(chunk: bytes) -> bytes:
                reply = original(chunk)
                if sim.pending_bitmap_bytes and not order:  # page 2's first block is in
                    order.append("notice approved")
                    dispatcher.set_intended({"zbs-03": Intent.of(notice, "notice", ("notice:1",),
                                                                 text="重污染天气预警")})
                if sim.bitmap == page_2 and len(order) == 1:
                    order.append("page 2 up; notice " + ("up" if notice_card.text_areas else "not yet up"))
                return reply

            sim.receive = receive  # type: ignore[method-assign]
            clock.advance(seconds=programs["zbs-01"].pages[0].dwell_s)
            dispatcher.settle()
            view = dispatcher.view()
            assert order == ["notice approved", "page 2 up; notice up"]
            assert view["zbs-03"].confirmed == view["zbs-03"].intended
            assert "重污染天气预警" in "".join(fleet.boards["zbs-03"].device.text_areas.values())
            # zbs-01's page gave way, then went after the notice: the loop goes on, no failure.
            assert view["zbs-01"].failures == 0 and view["zbs-01"].page == 1
            assert sim.snapshot().tobytes() == programs["zbs-01"].pages[1].image.tobytes()
            assert dispatcher.store.deliveries(failed_only=True) == []


def test_a_card_set_to_cycle_its_loop_shows_every_page_for_its_dwell_as_in_preview(zhenhai, tmp_path) -> None:
    # Issue 16, "choose per board": with loop = "card" the bulletin goes once as text pages of the
    # special area and the card cycles them itself; over one loop the card's screen equals the
    # preview's pages, page by page, each for its dwell, and the host sends nothing more.
    from dataclasses import replace

    from ledctl.clock import FixedClock
    from ledctl.dispatch import Dispatcher, Intent
    from ledctl.store import Store

    dep = replace(zhenhai, boards=(replace(zhenhai.board("zbs-10"), loop="card"),))  # alone on dtu-10
    clock = FixedClock(now())
    with simulated(dep, {"zbs-10"}, clock) as fleet:
        dep = fleet.rewired()
        program = bulletin_contents(dep, (dep.board("zbs-10"),))["zbs-10"].program
        assert len(program.pages) == 2 and all(p.lines for p in program.pages)
        card = fleet.boards["zbs-10"].device
        with Dispatcher(dep, Store(tmp_path / "s.sqlite"), clock) as dispatcher:
            dispatcher.set_intended({"zbs-10": Intent.of(program, "bulletin")})
            dispatcher.settle()
            view = dispatcher.view()["zbs-10"]
            assert view.confirmed == view.intended and view.pages == (2, 2)
            assert view.last_result is not None and view.last_result.mode == "card-loop"
            assert view.last_result.bytes_sent < 300  # tens of bytes a page, not a kilobyte picture
            frames = card.stats.frames_ok
            for loop in range(2):
                for n, page in enumerate(program.pages):
                    assert card.snapshot().tobytes() == page.image.tobytes(), (loop, n)
                    clock.advance(seconds=page.dwell_s - 0.5)  # half a second before its dwell ends …
                    dispatcher.settle()
                    assert card.snapshot().tobytes() == page.image.tobytes(), (loop, n)  # … still up
                    clock.advance(seconds=0.5)
            assert card.stats.frames_ok == frames  # the card played it alone
            # RAM: a power cut empties the area; the health check sees it and the loop goes again.
            card.power_cycle()
            dispatcher.check_health()
            dispatcher.settle()
            assert card.snapshot().tobytes() == program.pages[0].image.tobytes()
