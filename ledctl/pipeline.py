"""One broadcast, end to end without delivery: sources → bulletin → each board's program."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ledctl import fonts
from ledctl.config import Deployment
from ledctl.content.bulletin import build_bulletin
from ledctl.errors import LedctlError
from ledctl.model import Board, Bulletin, Program, Reading
from ledctl.render.bulletin import render_bulletin
from ledctl.sources import SOURCE_TYPES


def read_all(dep: Deployment) -> list[Reading]:
    """Every reading of every source a station uses. Raises DataError naming the source."""
    used = {s.source for s in dep.stations.values()}
    readings: list[Reading] = []
    for name in sorted(used):
        source = dep.sources[name]
        readings.extend(SOURCE_TYPES[source.type].from_options(name, source.options).readings())
    return readings


def broadcast_instant(dep: Deployment, day: date) -> datetime:
    """The moment of `day`'s scheduled broadcast in the site's time zone."""
    return datetime.combine(day, dep.schedule.broadcast, dep.tz)


def bulletin_at(dep: Deployment, now: datetime, standard: str | None = None) -> Bulletin:
    return build_bulletin(
        read_all(dep), dep.stations, now,
        max_age=timedelta(hours=dep.schedule.data_max_age_hours), standard=standard,
    )


@dataclass(frozen=True, slots=True)
class BoardResult:
    board: Board
    program: Program | None
    error: str = ""


def render_fleet(dep: Deployment, boards: tuple[Board, ...], bulletin: Bulletin) -> list[BoardResult]:
    """Each board's bulletin program, or the reason it could not be made."""
    def load_font(name: str) -> fonts.BoardFont:
        return fonts.load(name, dep.font_dirs)

    results = []
    for board in boards:
        sb = bulletin.stations[board.station]
        try:
            results.append(BoardResult(board, render_bulletin(board, sb, load_font)))
        except LedctlError as e:
            results.append(BoardResult(board, None, str(e)))
    return results
