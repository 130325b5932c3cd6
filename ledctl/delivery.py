"""One pass of delivery over the links of a pool: wires in parallel, the boards on a wire one frame
at a time, every broker's boards at once.

This is the inside of the dispatcher (ledctl/dispatch.py), the only thing that talks to boards;
it knows no protocol: each board's driver does the talking and reports a typed Result.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from ledctl.config import Deployment
from ledctl.drivers.base import Content, Driver, Outcome, Result
from ledctl.drivers.pool import LinkPool
from ledctl.errors import FaultError, LedctlError
from ledctl.model import Board
from ledctl.schedule import Settings

log = logging.getLogger("ledctl.delivery")

Progress = Callable[[str], None]
T = TypeVar("T")
ACK_TIMEOUT_S = 15.0  # how long a one-off delivery waits for MQTT boards' acks


def deliver(pool: LinkPool, boards: Sequence[Board], contents: Mapping[str, Content], *,
            progress: Progress = lambda line: None) -> list[Result]:
    """Each board's content, confirmed (or not) by the board; one Result per board, in order."""

    def run(driver: Driver, jobs: Sequence[tuple[Board, Content]], report: Callable[[Result], None]) -> None:
        driver.deliver(jobs, report)

    return _each_link(pool, boards, {b.id: contents[b.id] for b in boards}, run, progress, "delivery")


def deliver_once(dep: Deployment, boards: Sequence[Board], contents: Mapping[str, Content], *,
                 progress: Progress = lambda line: None) -> list[Result]:
    """One delivery over links opened for it and closed after (tests, benchmarks, tools that own the
    wires for the moment; a running service is the only thing that talks to its boards)."""
    with LinkPool(dep.links, dep.boards, dep.site.id, ack_timeout_s=ACK_TIMEOUT_S) as pool:
        return deliver(pool, boards, contents, progress=progress)


def apply_settings(pool: LinkPool, boards: Sequence[Board], settings: Mapping[str, Settings], *,
                   progress: Progress = lambda line: None) -> list[Result]:
    """Screen on/off and brightness on each board; one Result per board (mode "settings")."""

    def run(driver: Driver, jobs: Sequence[tuple[Board, Settings]], report: Callable[[Result], None]) -> None:
        driver.apply(jobs, report)

    return _each_link(pool, boards, {b.id: settings[b.id] for b in boards}, run, progress, "settings")


def _each_link(pool: LinkPool, boards: Sequence[Board], work: Mapping[str, T],
               run: Callable[[Driver, Sequence[tuple[Board, T]], Callable[[Result], None]], None],
               progress: Progress, what: str) -> list[Result]:
    by_link: dict[str, list[Board]] = {}
    for board in boards:
        by_link.setdefault(board.link, []).append(board)
    results: dict[str, Result] = {}
    lock = threading.Lock()

    def one_link(link_name: str, members: list[Board]) -> None:
        def report(result: Result) -> None:
            with lock:
                results[result.board] = result
                progress(f"{link_name} {result.board}: {result.describe()} ({result.mode}, "
                         f"{result.bytes_sent} bytes, {result.seconds:.1f} s)")

        by_driver: dict[str, list[Board]] = {}
        for board in members:
            by_driver.setdefault(board.driver, []).append(board)
        for driver_name, group in by_driver.items():
            try:
                driver = pool.driver(link_name, driver_name)
                run(driver, [(b, work[b.id]) for b in group], report)
            except (FaultError, LedctlError) as e:  # the link could not be opened (a broker that refuses …)
                for b in group:
                    if b.id not in results:
                        report(Result(b.id, Outcome.LINK, str(e)))
            except Exception as e:  # one link's bug must not lose the other boards' results
                log.exception("%s on %s failed", what, link_name)
                for b in group:
                    if b.id not in results:
                        report(Result(b.id, Outcome.LINK, f"internal error: {e!r} (see the log)"))

    threads = [threading.Thread(target=one_link, args=(name, members), name=f"{what}-{name}")
               for name, members in by_link.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [results.get(b.id) or Result(b.id, Outcome.LINK, "not delivered (see the log)") for b in boards]
