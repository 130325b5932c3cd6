"""Delivery over real TCP and pty links to the simulated cards: confirmation, noise, faults, shared buses."""

from __future__ import annotations

import threading
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


def test_one_percent_corruption_all_confirm_and_no_torn_image(community) -> None:
    dep = community.rewired()
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
    for wire in community.wires.values():
        wire.faults.corrupt = 0.01
    results = deliver(dep, boards, contents)
    assert [r.board for r in results if not r.ok] == []
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
