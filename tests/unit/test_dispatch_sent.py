"""A board that cannot acknowledge (Outcome.SENT) is sent its program and left alone, and nothing
calls that "confirmed": no proof of display, no `confirmed` column, a state of its own everywhere
the confirmation is shown (issue 16, item 10)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta

from ledctl.drivers.base import Outcome
from ledctl.notices.items import delivery_states
from ledctl.report import build, render
from tests.chain import approve_fully
from tests.unit.test_dispatch import BOARD, T0, intent, world

__all__ = ["world"]


def test_a_sent_program_is_kept_as_sent_never_as_confirmed(world) -> None:
    dispatcher, driver, _, store = world
    driver.outcomes[BOARD] = [Outcome.SENT]
    dispatcher.set_intended({BOARD: intent("a")})
    dispatcher.settle()
    row = store.boards()[BOARD]
    assert row.confirmed is None and row.sent == intent("a").hash and row.sent_at
    assert store.displays(BOARD) == []  # no proof of display: nobody saw it confirmed
    view = dispatcher.view()[BOARD]
    assert view.confirmed is None and view.sent == intent("a").hash
    assert dispatcher.program_of(BOARD, confirmed=True) is None
    with sqlite3.connect(store.path) as raw:
        assert raw.execute("SELECT ok, outcome FROM deliveries").fetchall() == [(0, "sent")]


def test_a_sent_program_is_not_sent_again_until_it_changes_or_is_reasserted(world) -> None:
    dispatcher, driver, _, _ = world
    driver.outcomes[BOARD] = [Outcome.SENT, Outcome.SENT, Outcome.SENT]
    dispatcher.set_intended({BOARD: intent("a")})
    dispatcher.settle()
    dispatcher.settle()
    assert driver.delivered == [(BOARD, "a")]  # done: sending again proves nothing more
    dispatcher.reassert([BOARD])
    dispatcher.settle()
    dispatcher.set_intended({BOARD: intent("b")})
    dispatcher.settle()
    assert driver.delivered == [(BOARD, "a"), (BOARD, "a"), (BOARD, "b")]


def test_a_restart_remembers_what_was_sent(world, tmp_path) -> None:
    from ledctl.dispatch import Dispatcher

    dispatcher, driver, clock, store = world
    driver.outcomes[BOARD] = [Outcome.SENT]
    dispatcher.set_intended({BOARD: intent("a")})
    dispatcher.settle()
    again = Dispatcher(dispatcher.dep, store, clock, pool=dispatcher.pool)
    again.restore()
    assert again.view()[BOARD].sent == intent("a").hash
    assert again.view()[BOARD].confirmed is None


def test_the_disclosure_report_counts_sent_apart(world) -> None:
    dispatcher, driver, _, store = world
    driver.outcomes[BOARD] = [Outcome.SENT]
    dispatcher.set_intended({BOARD: intent("a")})
    dispatcher.settle()
    report = build(store, [], [BOARD], "2026-11", T0 - timedelta(days=1), T0 + timedelta(days=1))
    assert (report.deliveries_confirmed, report.deliveries_sent, report.deliveries_failed) == (0, 1, 0)
    assert "sent, unconfirmed" in render(report, "text")


def test_a_notice_on_a_board_that_cannot_acknowledge_reads_sent(world) -> None:
    from ledctl.notices.users import User
    from ledctl.notices.workflow import Notices

    dispatcher, driver, clock, store = world
    notices = Notices(dispatcher.dep, store.path, clock)
    n = notices.draft(User("wang", "operator"), title="停水通知", text="明天上午停水。", level="normal",
                      targets=[f"board:{BOARD}"], end=T0 + timedelta(hours=3))
    n = notices.publish(User("wang", "operator"), approve_fully(notices, n.id).id)
    notice_intent = replace(intent("notice"), items=(f"notice:{n.id}",))
    driver.outcomes[BOARD] = [Outcome.SENT]
    dispatcher.set_intended({BOARD: notice_intent})
    dispatcher.settle()
    (state,) = delivery_states(notices, n, store.path, clock.now())
    assert state["state"] == "sent" and "cannot acknowledge" in str(state["detail"])


def test_a_loop_the_host_plays_to_a_board_that_cannot_acknowledge_ends_sent(world) -> None:
    # A board holding one page (zbs-09's card) gets its loop page by page; when every page was only
    # sent, the program is sent, not confirmed, and the board is not taken for online.
    from PIL import Image

    from ledctl.dispatch import Intent
    from ledctl.model import Page, Program

    dispatcher, driver, clock, store = world
    still = Image.new("RGB", (128, 32))
    pages = (Page("a", still, dwell_s=8), Page("b", still, dwell_s=8))
    loop = Intent.of(Program(BOARD, pages), "loop")
    driver.outcomes[BOARD] = [Outcome.SENT, Outcome.SENT]
    dispatcher.set_intended({BOARD: loop})
    dispatcher.settle(max_passes=1)
    clock.advance(seconds=8)
    dispatcher.settle(max_passes=1)
    assert driver.delivered == [(BOARD, "a"), (BOARD, "b")]  # page after page
    view = dispatcher.view()[BOARD]
    assert (view.confirmed, view.sent, view.online) == (None, loop.hash, None)
    assert store.boards()[BOARD].sent == loop.hash and store.displays(BOARD) == []
