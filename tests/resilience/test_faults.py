"""Faults survived, nothing lost: a board offline and back, a flapping DTU, 5 % byte corruption,
a full disk under the store, the clock jumping, and the data source down for days.

(The controller killed with SIGKILL mid-broadcast: test_controller_killed.py here; a broker
restart mid-broadcast: tests/integration/test_mqtt_delivery.py; 1 % corruption on all 40 boards:
tests/integration/test_serial_delivery.py.)"""

from __future__ import annotations

import itertools
import shutil
from contextlib import contextmanager
from datetime import timedelta

import pytest

from ledctl import db as db_mod
from ledctl import store as store_mod
from ledctl.drivers.onbon.bitmap import page_bitmap
from ledctl.notices.users import User
from ledctl.schedule import Job
from ledctl.service import TICK
from ledctl.simulator.bx_card import BxCard
from tests.chain import approve_fully

from ..integration.conftest import play_loops

LI, WANG = User("li", "approver"), User("wang", "operator")
pytestmark = pytest.mark.skipif(not shutil.which("mosquitto"), reason="needs mosquitto (make test has it)")


def publish(notices, clock, **kw):
    args = dict(
        title="紧急通知",
        text="石化区发生化学品泄漏，请关闭门窗。",
        level="emergency",
        targets=["all"],
        end=clock.now() + timedelta(hours=2),
    )
    args.update(kw)
    n = notices.draft(WANG, **args)
    approve_fully(notices, n.id)
    return notices.publish(WANG, n.id)


def tick(service) -> None:
    service.run_job(Job(TICK, TICK, None, None))  # type: ignore[arg-type]
    service.dispatcher.settle()


def showing(card: BxCard, text: str) -> bool:
    return any(text in t for t in card.text_areas.values())


def proof_is_exact(service) -> None:
    """Per board: no program twice in a row, and the last one is what the board should show."""
    rows = service.store.boards()
    for board in service.dep.boards:
        mine = [d.program for d in service.store.displays(board.id)]
        assert all(a != b for a, b in itertools.pairwise(mine)), board.id
        assert mine[-1] == rows[board.id].intended == rows[board.id].confirmed, board.id


def test_a_board_offline_and_back_gets_the_notice(world) -> None:
    service, notices, fleet, clock = world
    fleet.set_fault("zbs-05", offline=True)
    publish(notices, clock)
    service.recompose(clock.now())
    service.dispatcher.settle()
    card = fleet.boards["zbs-05"].device
    assert not showing(card, "化学品泄漏")
    row = service.store.boards()["zbs-05"]
    assert row.failures >= 1 and row.online is False and row.confirmed != row.intended
    fleet.set_fault("zbs-05", offline=False)
    clock.advance(minutes=10)  # past the backoff; the health check finds it back
    service.dispatcher.check_health()
    service.dispatcher.settle()
    assert showing(card, "化学品泄漏")
    proof_is_exact(service)


def test_a_flapping_dtu(world) -> None:
    service, notices, fleet, clock = world
    n = publish(notices, clock, targets=["board:zbs-12"])
    service.recompose(clock.now())
    card = fleet.boards["zbs-12"].device
    for flap in range(6):  # down, up, down …: each pass fails or succeeds, nothing is half-done
        fleet.set_fault("zbs-12", offline=flap % 2 == 0)
        service.dispatcher.settle()
        clock.advance(minutes=6)
    fleet.set_fault("zbs-12", offline=False)
    service.dispatcher.settle()
    assert showing(card, "化学品泄漏")
    assert f"notice:{n.id}" in service.store.boards()["zbs-12"].confirmed_items
    proof_is_exact(service)


@pytest.mark.slow
def test_five_percent_of_bytes_corrupted(world) -> None:
    """At 5 % a 9600-baud wire is too noisy to carry a picture: the cards keep their whole old one, the
    operator sees why, and when the noise stops the new one goes through, whole."""
    service, _notices, fleet, clock = world
    noisy = ("zbs-08", "zbs-09")
    before = {b: fleet.boards[b].device.bitmap for b in noisy}
    for board_id in noisy:
        fleet.set_fault(board_id, corrupt=0.05)
    clock.advance(days=1)  # the next day's bulletin: new pictures to send
    service.broadcast(clock.now())
    service.recompose(clock.now())
    def bitmaps(b: str) -> list[bytes]:  # each page of the board's intended loop, as the card holds it
        pages = service.dispatcher.boards[b].intent.program.pages
        return [page_bitmap(p.image, service.dep.board(b).colour.value) for p in pages]

    wanted = {b: bitmaps(b) for b in noisy}
    assert all(before[b] not in wanted[b] for b in noisy)
    for _ in range(2):
        service.dispatcher.settle()
        for b in noisy:
            assert fleet.boards[b].device.bitmap in (before[b], *wanted[b]), b  # never torn
        clock.advance(minutes=6)
    assert sum(w.stats.corrupted for w in fleet.wires.values()) > 100
    failing = [b for b in noisy if service.store.boards()[b].confirmed != service.store.boards()[b].intended]
    assert all(service.store.boards()[b].last_error for b in failing)  # the operator sees why
    for board_id in noisy:
        fleet.set_fault(board_id, corrupt=0.0)
    clock.advance(minutes=10)
    play_loops(service.dispatcher, clock)
    for b in noisy:
        page = service.dispatcher.view()[b].page or 0
        assert fleet.boards[b].device.bitmap == wanted[b][page], b
    proof_is_exact(service)


NO_PAGE_LIMIT = 4294967294  # SQLite's largest max_page_count


def test_a_full_disk_loses_nothing(world, monkeypatch) -> None:
    service, notices, _fleet, clock = world
    real_write = db_mod.Database.write

    @contextmanager
    def full(self):  # SQLite's own "database or disk is full", from a page limit on every write
        with real_write(self) as db:
            pages = db.execute("PRAGMA page_count").fetchone()[0]
            db.execute(f"PRAGMA max_page_count = {pages}")
            try:
                yield db
            finally:  # connections are reused: the limit must not outlive the full disk
                db.execute(f"PRAGMA max_page_count = {NO_PAGE_LIMIT}")

    n = publish(notices, clock, targets=["group:community"])
    monkeypatch.setattr(db_mod.Database, "write", full)
    for _ in range(3):
        blob = "x" * 200_000  # something big enough to need new pages
        with pytest.raises(store_mod.StoreError, match="disk full"):
            service.store.record_fetch("probe", clock.now(), True, blob)
        service.recompose(clock.now())
        service.dispatcher.settle()
        clock.advance(minutes=6)
    monkeypatch.setattr(db_mod.Database, "write", real_write)  # space again
    clock.advance(minutes=10)
    service.recompose(clock.now(), force=True)
    service.dispatcher.settle()
    rows = service.store.boards()
    community = [b.id for b in service.dep.boards_in("community")]
    assert all(f"notice:{n.id}" in rows[b].confirmed_items for b in community)
    proof_is_exact(service)


def test_the_clock_jumps(world) -> None:
    service, notices, fleet, clock = world
    n = publish(notices, clock, end=clock.now() + timedelta(hours=1))
    service.recompose(clock.now())
    service.dispatcher.settle()
    card = fleet.boards["zbs-01"].device
    assert showing(card, "化学品泄漏")
    clock.advance(days=3)  # the machine slept, or NTP corrected a wrong clock
    tick(service)
    assert notices.get(n.id).state == "expired"
    assert not showing(card, "化学品泄漏")  # the card dropped it by its own timeout, too
    clock.advance(hours=-2)  # and back: nothing is resent twice, nothing breaks
    tick(service)
    proof_is_exact(service)


def test_the_data_source_down_for_days(world) -> None:
    service, _notices, _fleet, clock = world
    # Every source fails from now on; the store's last good data age until they are too old to show.
    for name in service.dep.sources:
        service.dep.sources[name].options["path"] = "/nonexistent/ledctl-test.csv"  # type: ignore[index]
        service.dep.sources[name].options["url"] = "http://127.0.0.1:9/down"  # type: ignore[index]
    clock.advance(days=4)
    service.broadcast(clock.now())
    service.recompose(clock.now())
    service.dispatcher.settle()
    assert service.bulletin is not None
    assert all(sb.assessment is None for sb in service.bulletin.stations.values())  # 数据更新中, no figure
    assert all(
        "old" in sb.problem or "no " in sb.problem or "数据" in sb.problem
        for sb in service.bulletin.stations.values()
    ), [sb.problem for sb in service.bulletin.stations.values()]
    proof_is_exact(service)


def test_a_power_cut_empties_a_card_and_the_health_check_brings_its_program_back(world) -> None:
    # Issue 16.6: dynamic and special areas live in RAM ("实时显示信息不能掉电保存"); the health
    # check only pinged, so a card that lost power stayed dark while the console said "confirmed".
    service, _notices, fleet, clock = world
    card = fleet.boards["zbs-05"].device
    page = service.dispatcher.view()["zbs-05"].page or 0
    shown = service.dispatcher.boards["zbs-05"].intent.program.pages[page].image.tobytes()
    assert card.snapshot().tobytes() == shown
    fleet.power_cycle("zbs-05")
    assert card.bitmap is None and card.snapshot().getbbox() is None  # dark
    service.dispatcher.check_health()
    play_loops(service.dispatcher, clock)
    page = service.dispatcher.view()["zbs-05"].page or 0
    pages = service.dispatcher.boards["zbs-05"].intent.program.pages
    assert card.snapshot().tobytes() == pages[page].image.tobytes()
    proof_is_exact(service)
