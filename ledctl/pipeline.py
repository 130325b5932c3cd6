"""One broadcast, end to end without delivery: sources → bulletin → each board's program."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from ledctl import fonts
from ledctl.config import Deployment
from ledctl.content.bulletin import build_bulletin
from ledctl.errors import ConfigError, DataError, LedctlError
from ledctl.model import Board, Bulletin, Program, Reading
from ledctl.render import layout as layout_mod
from ledctl.render.bulletin import render_bulletin
from ledctl.render.cache import PageCache
from ledctl.render.canvas import FontLoader
from ledctl.render.notice import render_notice
from ledctl.sources import SOURCE_TYPES
from ledctl.store import Store

log = logging.getLogger("ledctl.pipeline")


def read_all(dep: Deployment) -> list[Reading]:
    """Every reading of every source a station uses. Raises DataError naming the source."""
    readings, problems = gather(dep)
    if problems:
        raise DataError("; ".join(problems))
    return readings


def gather(dep: Deployment, store: Store | None = None,
           now: datetime | None = None) -> tuple[list[Reading], list[str]]:
    """Readings of every source, and what went wrong: a failed source never stops a broadcast.

    With a store, fresh readings are kept there, and a source that fails gives its last
    good readings from the store instead (the bulletin then judges how old they are).
    """
    used = {s.source for s in dep.stations.values()}
    readings: list[Reading] = []
    problems: list[str] = []
    for name in sorted(used):
        source = dep.sources[name]
        try:
            fresh = _read(dep, name)
        except DataError as e:
            log.warning("source %s failed: %s", name, e)
            if store is not None and now is not None:
                store.record_fetch(name, now, False, str(e))
            try:
                if not source.fallback:
                    raise
                fresh = [r for other in source.fallback for r in _read(dep, other)]
                log.warning("source %s: using its fallback %s", name, ", ".join(source.fallback))
            except DataError as e2:
                problems.append(str(e) if e2 is e else f"{e}; fallback: {e2}")
                if store is not None:
                    readings.extend(store.readings(name))
                continue
        if store is not None and now is not None:
            # Only what has begun by now is kept: a file with rows dated ahead (the sample data) must
            # not fill the store with figures the future has not measured yet.
            fresh = [r for r in fresh if r.time <= now]
            store.save_readings(name, fresh, now)
            store.record_fetch(name, now, True, f"{len(fresh)} readings")
        readings.extend(fresh)
    return readings, problems


def _read(dep: Deployment, name: str) -> list[Reading]:
    source = dep.sources[name]
    return SOURCE_TYPES[source.type].from_options(name, source.options).readings()


def broadcast_instant(dep: Deployment, day: date) -> datetime:
    """The moment of `day`'s scheduled broadcast in the site's time zone."""
    return datetime.combine(day, dep.schedule.broadcast, dep.tz)


def bulletin_at(dep: Deployment, now: datetime, standard: str | None = None,
                store: Store | None = None) -> Bulletin:
    """The bulletin as of `now`. Rejected readings are logged with their reason."""
    readings, _ = gather(dep, store, now)
    return bulletin_from(dep, readings, now, standard)


def bulletin_from(dep: Deployment, readings: list[Reading], now: datetime,
                  standard: str | None = None) -> Bulletin:
    """The bulletin as of `now` from readings already at hand (the store's, after a restart)."""
    bulletin = build_bulletin(
        readings, dep.stations, now,
        max_age=timedelta(hours=dep.schedule.data_max_age_hours), standard=standard,
        validation=dep.validation,
    )
    recent = now - timedelta(days=7)  # older faults were reported when they were news
    for r in bulletin.rejections:
        if r.time >= recent:
            log.warning("rejected %s %s: %s", r.station, r.time.isoformat(), r.reason)
    return bulletin


@dataclass(frozen=True, slots=True)
class BoardResult:
    board: Board
    program: Program | None
    error: str = ""


def font_loader(dep: Deployment) -> FontLoader:
    """Fonts by logical name, looked up in the deployment's font folders first.

    One loader per set of folders, so renders that share fonts share their caches.
    """
    return _loader(dep.font_dirs)


@functools.cache
def _loader(font_dirs: tuple[Path, ...]) -> FontLoader:
    loaded: dict[str, fonts.BoardFont] = {}

    def load_font(name: str) -> fonts.BoardFont:
        font = loaded.get(name)
        if font is None:
            font = loaded[name] = fonts.load(name, font_dirs)
        return font

    return load_font


def render_fleet(
    dep: Deployment, boards: tuple[Board, ...], bulletin: Bulletin, cache: PageCache | None = None,
    layouts: Mapping[str, layout_mod.Layout] | None = None,
) -> list[BoardResult]:
    """Each board's bulletin program, or the reason it could not be made.

    The layouts folder is checked first: a broken layout stops everything with a
    ConfigError rather than failing board by board.
    """
    cache = cache if cache is not None else PageCache()

    def make(board: Board, layout: layout_mod.Layout, load_font: FontLoader) -> Program:
        water = tuple(bulletin.water[w] for w in board.water_stations if w in bulletin.water)
        return render_bulletin(board, bulletin.stations[board.station], load_font, layout, cache, water)

    return _each_board(dep, boards, make, layouts)


def render_notice_fleet(
    dep: Deployment, boards: tuple[Board, ...], *, title: str, body: str, day: date,
    blink: bool = False,
) -> list[BoardResult]:
    """Each board's pages for a notice, or why it cannot show it (too long, a missing glyph …)."""
    def make(board: Board, layout: layout_mod.Layout, load_font: FontLoader) -> Program:
        pages = render_notice(board, layout, load_font, title=title, body=body, day=day, blink=blink)
        return Program(board=board.id, pages=tuple(pages))

    return _each_board(dep, boards, make)


def _each_board(
    dep: Deployment, boards: tuple[Board, ...],
    make: Callable[[Board, layout_mod.Layout, FontLoader], Program],
    layouts: Mapping[str, layout_mod.Layout] | None = None,
) -> list[BoardResult]:
    if layouts is None:
        layouts = layout_mod.load_dir(dep.layouts_dir)
    load_font = font_loader(dep)
    results = []
    for board in boards:
        try:
            results.append(BoardResult(board, make(board, layout_mod.layout_for(board, layouts), load_font)))
        except ConfigError as e:
            results.append(BoardResult(board, None, "; ".join(e.problems)))
        except LedctlError as e:
            results.append(BoardResult(board, None, str(e)))
    return results
