"""The dispatcher with fake drivers and an injected clock: what it sends when, backoff, the two kinds of
work kept apart, health, and a quick close. The real drivers are tested against the emulators in
tests/integration; here the driver is a script, so every decision of the dispatcher can be seen."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from ledctl import config
from ledctl.clock import FixedClock
from ledctl.dispatch import BACKOFF_FIRST_S, Dispatcher, Intent
from ledctl.drivers.base import Content, Driver, Health, Outcome, Report, Result
from ledctl.drivers.pool import LinkPool
from ledctl.model import Board, Page, Program
from ledctl.schedule import Settings
from ledctl.store import Store, StoreError

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
BOARD = "zbs-09"  # alone on its DTU


@dataclass
class FakeDriver(Driver):
    """Answers from a script: outcome per board (default CONFIRMED); records every call."""

    outcomes: dict[str, list[Outcome]] = field(default_factory=dict)
    health: dict[str, Health] = field(default_factory=dict)
    delivered: list[tuple[str, str]] = field(default_factory=list)  # (board, first page name)
    applied: list[tuple[str, Settings]] = field(default_factory=list)
    during: Callable[[Board], None] = lambda board: None  # runs inside deliver (e.g. a new intent)
    cancelled: threading.Event = field(default_factory=threading.Event)


    def _next(self, board: Board) -> Outcome:
        queue = self.outcomes.get(board.id, [])
        return queue.pop(0) if queue else Outcome.CONFIRMED

    def deliver(self, jobs: Sequence[tuple[Board, Content]], report: Report) -> None:
        for board, content in jobs:
            shown = content.program.pages[content.page or 0]
            self.delivered.append((board.id, shown.name))
            self.during(board)
            report(Result(board.id, self._next(board), mode="page" if content.page is not None else "pages",
                          seconds=0.5 if content.page is not None else 0.0))

    def apply(self, jobs: Sequence[tuple[Board, Settings]], report: Report) -> None:
        for board, want in jobs:
            self.applied.append((board.id, want))
            report(Result(board.id, self._next(board), mode="settings"))

    def check(self, boards: Sequence[Board]) -> list[Health]:
        return [self.health.get(b.id, Health(b.id, True)) for b in boards]


class FakePool(LinkPool):
    def __init__(self, dep: config.Deployment, driver: FakeDriver) -> None:
        super().__init__(dep.links, dep.boards, dep.site.id)
        self.fake = driver

    def driver(self, link_name: str, driver_name: str) -> Driver:
        return self.fake

    def cancel(self) -> None:
        self.fake.cancelled.set()


@pytest.fixture
def world(tmp_path: Path):
    dep = config.load(REPO / "config" / "zhenhai.toml")
    clock = FixedClock(T0)
    driver = FakeDriver()
    store = Store(tmp_path / "s.sqlite")
    dispatcher = Dispatcher(dep, store, clock, pool=FakePool(dep, driver))
    yield dispatcher, driver, clock, store
    dispatcher.close()


def intent(name: str) -> Intent:
    return Intent.of(Program(BOARD, (Page(name, Image.new("RGB", (128, 32))),)), name)


def test_a_change_is_sent_at_once_and_its_confirmation_kept(world) -> None:
    dispatcher, driver, _, store = world
    assert dispatcher.set_intended({BOARD: intent("a")}) == [BOARD]
    dispatcher.settle()
    assert driver.delivered == [(BOARD, "a")]
    assert store.boards()[BOARD].confirmed == intent("a").hash
    assert [d.program for d in store.displays(BOARD)] == [intent("a").hash]
    dispatcher.settle()
    assert driver.delivered == [(BOARD, "a")]  # confirmed: nothing more to send


def test_a_failing_board_backs_off_then_tries_again(world) -> None:
    dispatcher, driver, clock, _ = world
    driver.outcomes[BOARD] = [Outcome.NACK]
    dispatcher.set_intended({BOARD: intent("a")})
    dispatcher.settle()
    assert len(driver.delivered) == 1 and dispatcher.pending(due_only=True) == []
    clock.advance(seconds=BACKOFF_FIRST_S - 1)
    dispatcher.settle()
    assert len(driver.delivered) == 1  # not before its time
    clock.advance(seconds=1)
    dispatcher.settle()
    assert len(driver.delivered) == 2 and dispatcher.boards[BOARD].confirmed == intent("a").hash


def test_a_new_intent_is_not_held_back_by_the_failure_of_the_old_one(world) -> None:
    # A notice published while the previous program was failing waited up to 5 minutes: the failing
    # attempt set next_try after set_intended had cleared it.
    dispatcher, driver, _, _ = world
    driver.outcomes[BOARD] = [Outcome.OFFLINE]
    driver.during = lambda board: (dispatcher.set_intended({BOARD: intent("notice")}),
                                   setattr(driver, "during", lambda b: None))
    dispatcher.set_intended({BOARD: intent("bulletin")})
    dispatcher.reconcile_link("dtu-09")
    assert dispatcher.pending("dtu-09") == [BOARD]  # due now, not in BACKOFF_FIRST_S
    dispatcher.reconcile_link("dtu-09")
    assert driver.delivered[-1] == (BOARD, "notice")
    assert dispatcher.boards[BOARD].confirmed == intent("notice").hash


def test_programs_and_settings_have_their_own_failures(world) -> None:
    dispatcher, driver, _, _ = world
    driver.outcomes[BOARD] = [Outcome.NACK, Outcome.CONFIRMED]  # the program fails, the settings work
    dispatcher.set_intended({BOARD: intent("a")})
    dispatcher.set_settings({BOARD: Settings(True, 60)})
    dispatcher.settle()
    rt = dispatcher.boards[BOARD]
    assert rt.settings_confirmed == Settings(True, 60).key()  # not held back by the program's backoff
    assert rt.program.failures == 1 and rt.settings_attempts.failures == 0  # and it resets nothing


def test_a_settings_confirmation_the_store_cannot_keep_is_not_an_error(world, monkeypatch) -> None:
    dispatcher, driver, _, store = world

    def full(*args: object, **kw: object) -> None:
        raise StoreError("the store s.sqlite failed: database or disk is full")

    monkeypatch.setattr(store, "settings_confirmed", full)
    dispatcher.set_settings({BOARD: Settings(False, None)})
    dispatcher.settle(max_passes=1)  # no exception escapes the pass
    assert driver.applied == [(BOARD, Settings(False, None))]


@pytest.mark.parametrize(("outcome", "online"), [(Outcome.OFFLINE, False), (Outcome.REFUSED, None),
                                                 (Outcome.NACK, None), (Outcome.LINK, None)])
def test_only_an_offline_outcome_marks_a_board_offline(world, outcome, online) -> None:
    dispatcher, driver, _, _ = world
    driver.outcomes[BOARD] = [outcome]
    dispatcher.set_intended({BOARD: intent("a")})
    dispatcher.settle(max_passes=1)
    assert dispatcher.boards[BOARD].online is online


def test_a_board_back_online_is_sent_everything_again(world) -> None:
    dispatcher, driver, _, _ = world
    dispatcher.set_intended({BOARD: intent("a")})
    dispatcher.settle()
    driver.health[BOARD] = Health(BOARD, False, detail="no reply")
    dispatcher.check_health()
    dispatcher.settle()
    assert dispatcher.boards[BOARD].online is False and len(driver.delivered) == 1
    driver.health[BOARD] = Health(BOARD, True)
    dispatcher.check_health()
    dispatcher.settle()
    assert len(driver.delivered) == 2  # it may have restarted blank


def test_a_board_showing_something_else_is_sent_its_program_again(world, caplog) -> None:
    dispatcher, driver, _, _ = world
    dispatcher.set_intended({BOARD: intent("a")})
    dispatcher.settle()
    driver.health[BOARD] = Health(BOARD, True, shows="forged")
    dispatcher.check_health()
    with caplog.at_level("WARNING", logger="ledctl.dispatch"):
        dispatcher.settle()
    assert len(driver.delivered) == 2
    assert "shows-other" in caplog.text and "tampering" in caplog.text


def test_close_cuts_a_long_exchange_short(world) -> None:
    dispatcher, driver, _, _ = world
    entered = threading.Event()

    def stuck(board: Board) -> None:
        entered.set()
        driver.cancelled.wait(60)  # a card that never answers, retried until cancelled

    driver.during = stuck
    dispatcher.set_intended({BOARD: intent("a")})
    dispatcher.start(period_s=60)
    assert entered.wait(10)
    dispatcher.close()
    assert all(not t.is_alive() for t in dispatcher._threads)  # the worker ended: it was cancelled


def test_the_view_is_a_copy(world) -> None:
    dispatcher, _, _, _ = world
    dispatcher.set_intended({BOARD: intent("a")})
    view = dispatcher.view()[BOARD]
    dispatcher.settle()
    assert view.confirmed is None and dispatcher.view()[BOARD].confirmed == intent("a").hash
    assert dispatcher.program_of(BOARD, confirmed=True) is not None


def test_backoff_grows_and_is_capped() -> None:
    from ledctl.dispatch import BACKOFF_MAX_S, backoff

    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [5, 10, 20]
    assert backoff(30) == timedelta(seconds=BACKOFF_MAX_S)


# -- loops the host plays (a BX card holds one picture) ---------------------------------------------


def two_pages() -> Intent:
    pages = (Page("air", Image.new("RGB", (128, 32)), dwell_s=8.0),
             Page("station", Image.new("RGB", (128, 32), "red"), dwell_s=6.0))
    return Intent.of(Program(BOARD, pages), "bulletin")


def test_every_page_of_a_loop_reaches_a_board_that_holds_one_and_only_then_is_it_confirmed(world) -> None:
    # issue 16.1: only page 1 of 2 ever reached a BX card, yet the whole program was "confirmed".
    dispatcher, driver, clock, store = world
    loop = two_pages()
    dispatcher.set_intended({BOARD: loop})
    dispatcher.settle()
    assert driver.delivered == [(BOARD, "air")]
    assert store.boards()[BOARD].confirmed is None  # one page of two is not the program
    assert dispatcher.view()[BOARD].pages == (1, 2) and dispatcher.view()[BOARD].page == 0
    # The next page goes as the first one's dwell ends, less its own wire time (0.5 s here).
    assert dispatcher.next_page_at("dtu-09") == T0 + timedelta(seconds=7.5)
    clock.advance(seconds=7)
    dispatcher.settle()
    assert driver.delivered == [(BOARD, "air")]  # not before its time
    clock.advance(seconds=0.5)
    dispatcher.settle()
    assert driver.delivered == [(BOARD, "air"), (BOARD, "station")]
    row = store.boards()[BOARD]
    assert row.confirmed == loop.hash and row.pages == (2, 2)
    assert [d.program for d in store.displays(BOARD)] == [loop.hash]
    # And round again, page by page, with no new confirmation written per page.
    clock.advance(seconds=5.5)
    dispatcher.settle()
    assert driver.delivered[-1] == (BOARD, "air") and len(store.displays(BOARD)) == 1


def test_a_new_intent_goes_before_the_next_page_of_the_old_loop(world) -> None:
    dispatcher, driver, clock, _ = world
    dispatcher.set_intended({BOARD: two_pages()})
    dispatcher.settle()
    clock.advance(seconds=60)  # page 2 long due …
    dispatcher.set_intended({BOARD: intent("notice")})  # … but an urgent notice came
    dispatcher.settle()
    assert driver.delivered == [(BOARD, "air"), (BOARD, "notice")]
    assert dispatcher.next_page_at("dtu-09") is None  # the old loop is over


def test_a_page_that_fails_is_retried_with_backoff_and_the_loop_goes_on(world) -> None:
    dispatcher, driver, clock, store = world
    dispatcher.set_intended({BOARD: two_pages()})
    dispatcher.settle()
    driver.outcomes[BOARD] = [Outcome.OFFLINE]
    clock.advance(seconds=8)
    dispatcher.settle()
    assert driver.delivered[-1] == (BOARD, "station") and store.boards()[BOARD].failures == 1
    assert "(page 2 of 2)" in store.boards()[BOARD].last_error
    clock.advance(seconds=BACKOFF_FIRST_S)
    dispatcher.settle()
    assert driver.delivered[-1] == (BOARD, "station") and store.boards()[BOARD].pages == (2, 2)


def test_on_a_shared_wire_a_notice_goes_before_bulletins_whatever_the_board_order(world) -> None:
    # bus-a: zbs-01 … zbs-04. A new bulletin for zbs-01 and zbs-02 and a notice for zbs-04 at once:
    # the notice does not queue behind two bulletin pictures.
    dispatcher, driver, _, _ = world

    def on(board: str, name: str, items: tuple[str, ...] = ()) -> Intent:
        return Intent.of(Program(board, (Page(name, Image.new("RGB", (128, 32))),)), name, items)

    dispatcher.set_intended({"zbs-01": on("zbs-01", "bulletin"), "zbs-02": on("zbs-02", "bulletin"),
                             "zbs-04": on("zbs-04", "notice", ("notice:3",))})
    dispatcher.settle()
    assert [b for b, _ in driver.delivered] == ["zbs-04", "zbs-01", "zbs-02"]


def test_a_transfer_that_gave_way_is_no_failure_and_goes_again_after_the_newer_intent(world) -> None:
    dispatcher, driver, _, store = world
    asked: list[bool] = []

    def deliver(jobs: Sequence[tuple[Board, Content]], report: Report) -> None:
        for board, content in jobs:
            driver.delivered.append((board.id, content.program.pages[0].name))
            if board.id == "zbs-01" and not asked:  # a newer intent arrives mid-transfer
                dispatcher.set_intended({"zbs-02": Intent.of(
                    Program("zbs-02", (Page("notice", Image.new("RGB", (128, 32))),)), "n", ("notice:1",))})
            gave_way = content.give_way is not None and content.give_way()
            asked.append(gave_way)
            report(Result(board.id, Outcome.GAVE_WAY if gave_way else Outcome.CONFIRMED))

    driver.deliver = deliver  # type: ignore[method-assign]
    dispatcher.set_intended({"zbs-01": Intent.of(Program("zbs-01", (Page("bulletin", Image.new(
        "RGB", (128, 32))),)), "bulletin")})
    dispatcher.settle()
    assert driver.delivered == [("zbs-01", "bulletin"), ("zbs-02", "notice"), ("zbs-01", "bulletin")]
    assert asked == [True, False, False]  # a notice itself is never asked to give way
    view = dispatcher.view()
    assert view["zbs-01"].failures == 0 and view["zbs-01"].confirmed == view["zbs-01"].intended
    assert store.deliveries(failed_only=True) == []


def test_a_pass_for_some_boards_leaves_the_others_on_their_page(world) -> None:
    # `ledctl broadcast` plays each loop once: a board whose loop went round keeps its last page while
    # the others on its wire finish theirs (it used to be sent page 1 again, under load).
    dispatcher, driver, clock, _ = world

    def loop(board: str) -> Intent:
        pages = (Page("air", Image.new("RGB", (128, 32)), dwell_s=8.0),
                 Page("station", Image.new("RGB", (128, 32), "red"), dwell_s=6.0))
        return Intent.of(Program(board, pages), "bulletin")

    dispatcher.set_intended({"zbs-01": loop("zbs-01"), "zbs-02": loop("zbs-02")})
    dispatcher.settle()
    clock.advance(seconds=60)  # every page long due
    dispatcher.reconcile_link("bus-a", only={"zbs-02"})
    assert [b for b, _ in driver.delivered] == ["zbs-01", "zbs-02", "zbs-02"]


@pytest.mark.parametrize(("newer", "gives_way"), [
    (("zbs-02", ("notice:4",)), True),  # a notice starts on the wire
    (("zbs-02", ()), False),  # another board's new bulletin waits its turn: churn cannot starve a wire
    (("zbs-01", ()), True),  # the board's own newer intent: this transfer is stale
])
def test_what_makes_a_picture_give_way(world, newer, gives_way) -> None:
    dispatcher, driver, _, _ = world
    board, items = newer
    asked: list[bool] = []

    def deliver(jobs: Sequence[tuple[Board, Content]], report: Report) -> None:
        for b, content in jobs:
            if b.id == "zbs-01" and not asked:
                dispatcher.set_intended({board: Intent.of(Program(board, (Page(
                    "newer", Image.new("RGB", (128, 32), "green")),)), "newer", items)})
                asked.append(content.give_way is not None and content.give_way())
            report(Result(b.id, Outcome.CONFIRMED))

    driver.deliver = deliver  # type: ignore[method-assign]
    dispatcher.set_intended({"zbs-01": Intent.of(Program("zbs-01", (Page("bulletin", Image.new(
        "RGB", (128, 32))),)), "bulletin")})
    dispatcher.settle()
    assert asked == [gives_way]


def test_a_delivery_the_shutdown_cut_short_is_not_recorded_against_the_board(world) -> None:
    # `demo --once` used to leave "link: … cancelled (shutting down)" as every looping board's last
    # error and a failure in a row: the shutdown says nothing of the board.
    dispatcher, driver, _, store = world
    entered = threading.Event()

    def stuck(board: Board) -> None:
        entered.set()
        driver.cancelled.wait(60)

    driver.during = stuck
    driver.outcomes[BOARD] = [Outcome.LINK]  # what the cancelled exchange reports
    dispatcher.set_intended({BOARD: intent("a")})
    dispatcher.start(period_s=60)
    assert entered.wait(10)
    dispatcher.close()
    row = store.boards()[BOARD]
    assert row.failures == 0 and not row.last_error and store.deliveries(failed_only=True) == []
