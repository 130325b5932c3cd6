"""One broadcast, end to end without delivery: sources → bulletin → each board's program."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from pathlib import Path

from ledctl import fonts
from ledctl.config import Deployment
from ledctl.content.bulletin import PERIOD_LENGTH, build_bulletin
from ledctl.drivers import DRIVERS, capabilities, driver_class
from ledctl.errors import ConfigError, DataError, LedctlError
from ledctl.model import Board, Bulletin, Program, Reading, Rejection
from ledctl.render import layout as layout_mod
from ledctl.render.bulletin import render_bulletin
from ledctl.render.cache import PageCache
from ledctl.render.canvas import FontLoader
from ledctl.render.monthly import render_monthly, shows_monthly
from ledctl.render.notice import render_notice
from ledctl.sources import SOURCE_TYPES
from ledctl.sources.base import Fetched
from ledctl.store import Store

log = logging.getLogger("ledctl.pipeline")


@dataclass(frozen=True, slots=True)
class Gathered:
    """What one fetch of every source gave: readings (each tagged with its source), the sources that
    failed, and each record a source refused (judged alone)."""

    readings: list[Reading]
    problems: list[str]
    rejected: list[Rejection]


def read_all(dep: Deployment) -> list[Reading]:
    """Every reading of every source a station uses. Raises DataError naming the source."""
    got = gather(dep)
    if got.problems:
        raise DataError("; ".join(got.problems))
    return got.readings


def gather(dep: Deployment, store: Store | None = None, now: datetime | None = None) -> Gathered:
    """Readings of every source, and what went wrong: a failed source never stops a broadcast.

    With a store, fresh readings are kept there, and a source that fails gives its last
    good readings from the store instead (the bulletin then judges how old they are).
    Every reading carries the name of the source it came from: a station's figures come from
    its own source, then its fallbacks in order (the bulletin picks them by that name).
    """
    used = {dep.source_chain(sid)[0] for sid in dep.stations}
    readings: list[Reading] = []
    problems: list[str] = []
    rejected: list[Rejection] = []

    def keep(name: str, fetched: Fetched) -> None:
        fresh = [replace(r, source=name) for r in fetched.readings]
        for r in fetched.rejected:
            log.warning("source %s refused a record: %s", name, r.reason)
        rejected.extend(replace(r, source=name) for r in fetched.rejected)
        if store is not None and now is not None:
            # Only periods that are over are kept: a file with rows dated ahead (the sample data) must
            # not fill the store with figures the future has not measured yet.
            fresh = [r for r in fresh if r.time + PERIOD_LENGTH[r.period] <= now]
            store.save_readings(name, fresh, now)
            store.record_fetch(name, now, True, f"{len(fresh)} readings, {len(fetched.rejected)} refused")
        readings.extend(fresh)

    for name in sorted(used):
        try:
            keep(name, _read(dep, name))
            continue
        except DataError as e:
            log.warning("source %s failed: %s", name, e)
            problems.append(str(e))
            if store is not None and now is not None:
                store.record_fetch(name, now, False, str(e))
        for other in dep.sources[name].fallback:
            try:
                keep(other, _read(dep, other))
                log.warning("source %s: using its fallback %s", name, other)
            except DataError as e:
                problems.append(f"fallback {other}: {e}")
        if store is not None:  # the last good data stand in (the bulletin judges their age)
            readings.extend(replace(r, source=name) for r in store.readings(name))
    return Gathered(readings, problems, rejected)


def _read(dep: Deployment, name: str) -> Fetched:
    source = dep.sources[name]
    return SOURCE_TYPES[source.type].from_options(name, source.options).fetch()


def broadcast_instant(dep: Deployment, day: date) -> datetime:
    """The moment of `day`'s scheduled broadcast in the site's time zone."""
    return datetime.combine(day, dep.schedule.broadcast, dep.tz)


def bulletin_at(dep: Deployment, now: datetime, standard: str | None = None,
                store: Store | None = None) -> Bulletin:
    """The bulletin as of `now`. Rejected readings are logged with their reason."""
    got = gather(dep, store, now)
    return bulletin_from(dep, got.readings, now, standard, got.rejected)


def bulletin_from(dep: Deployment, readings: list[Reading], now: datetime,
                  standard: str | None = None, refused: Sequence[Rejection] = ()) -> Bulletin:
    """The bulletin as of `now` from readings already at hand (the store's, after a restart)."""
    bulletin = build_bulletin(
        readings, dep.stations, now,
        max_age=timedelta(hours=dep.schedule.data_max_age_hours), standard=standard,
        validation=dep.validation,
        chains={sid: dep.source_chain(sid) for sid in dep.stations},
        sample_sources=frozenset(n for n, s in dep.sources.items() if s.sample),
    )
    recent = now - timedelta(days=7)  # older faults were reported when they were news
    for r in bulletin.rejections:
        if r.time is not None and r.time >= recent:
            log.warning("rejected %s %s: %s", r.station, r.time.isoformat(), r.reason)
    if refused:
        bulletin = replace(bulletin, rejections=(*refused, *bulletin.rejections))
    day = now.astimezone(dep.tz).date()
    if day.day <= MONTHLY_DAYS_MAX:
        bulletin = replace(bulletin, **_monthly(dep, readings, day))
    return bulletin


MONTHLY_DAYS_MAX = 10  # a layout shows the month before on at most its first 10 days ([monthly] days)


def _monthly(dep: Deployment, readings: list[Reading], day: date) -> dict[str, object]:
    """The month before `day`, for the district, from the daily readings at hand (HJ 663: a figure
    the days do not support is withheld, and the layout's page says why)."""
    from ledctl import report
    from ledctl.render.monthly import summary_month

    air = report.air_quality(dep, readings, summary_month(day), day - timedelta(days=1), "bulletin")
    samples = {n for n, s in dep.sources.items() if s.sample}
    sample = any(set(dep.source_chain(sid)) & samples for sid in dep.stations)
    return {"monthly": air.areas[0] if air.areas else None, "monthly_sample": sample}


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

    day = bulletin.issued.astimezone(dep.tz).date()

    def make(board: Board, layout: layout_mod.Layout, load_font: FontLoader) -> Program:
        water = tuple(bulletin.water[w] for w in board.water_stations if w in bulletin.water)
        program = render_bulletin(board, bulletin.stations[board.station], load_font, layout, cache, water)
        if bulletin.monthly is not None and shows_monthly(layout, day):
            month = render_monthly(board, layout, bulletin.monthly, load_font, bulletin.monthly_sample)
            program = replace(program, pages=(*program.pages, *month))
        return program

    return _each_board(dep, boards, make, layouts)


def render_notice_fleet(
    dep: Deployment, boards: tuple[Board, ...], *, title: str, body: str, day: date,
    blink: bool = False,
) -> list[BoardResult]:
    """Each board's pages for a notice, or why it cannot show it (too long, a missing glyph …)."""
    def make(board: Board, layout: layout_mod.Layout, load_font: FontLoader) -> Program:
        effects = capabilities(board).effects
        pages = render_notice(board, layout, load_font, title=title, body=body, day=day,
                              blink=blink and (effects is None or "blink" in effects))
        return Program(board=board.id, pages=tuple(pages))

    return _each_board(dep, boards, make)


def card_text(title: str, body: str) -> str:
    """A notice as one line of text for a board that draws it in its own font."""
    return f"{title}：{body}".replace("\n", " ")


def notice_as_shown(
    dep: Deployment, boards: tuple[Board, ...], *, title: str, body: str, day: date, blink: bool = False,
) -> list[BoardResult]:
    """Each board's notice as the board itself will show it — the card's own drawing of the text where
    it draws the notice in its own font (a BX card), else ledctl's pages: what previews and the
    console show, so they never promise a look the board does not have."""
    text = card_text(title, body)
    own = {b.id for b in boards if capabilities(b).own_font and driver_class(b).can_draw(b, text)}
    drawn = {r.board.id: r for r in render_notice_fleet(dep, tuple(b for b in boards if b.id not in own),
                                                          title=title, body=body, day=day, blink=blink)}
    return [BoardResult(b, Program(b.id, driver_class(b).text_pages(b, text))) if b.id in own
            else drawn[b.id] for b in boards]


def _each_board(
    dep: Deployment, boards: tuple[Board, ...],
    make: Callable[[Board, layout_mod.Layout, FontLoader], Program],
    layouts: Mapping[str, layout_mod.Layout] | None = None,
) -> list[BoardResult]:
    if layouts is None:
        layouts = layout_mod.load_dir(dep.layouts_dir)
    load_font = font_loader(dep)
    results = []
    # Boards alike but for their id and name get the same pages: made once per kind of board, not
    # once per board (a city's thousands of boards come in a few kinds). Only a program made
    # without a problem is shared: an error names its own board.
    made: dict[Board, Program] = {}
    for board in boards:
        kind = replace(board, id="", name="")
        if kind in made:
            results.append(BoardResult(board, replace(made[kind], board=board.id)))
            continue
        try:
            # Rendered for what the board can show: a picture that cannot move is never previewed moving.
            effects = capabilities(board).effects
            layout = layout_mod.for_effects(layout_mod.layout_for(board, layouts), effects)
            # As the board will show it: a card that draws its loop in its own font is previewed so.
            program = DRIVERS[board.driver].as_shown(board, make(board, layout, load_font))
            # What the board's controller cannot show (too many pages, an effect it cannot play)
            # is a problem now, named with the board, not a delivery the board refuses later.
            problem = DRIVERS[board.driver].program_problem(board, program)
            results.append(BoardResult(board, None, problem) if problem else BoardResult(board, program))
            if not problem:
                made[kind] = program
        except ConfigError as e:
            results.append(BoardResult(board, None, "; ".join(e.problems)))
        except LedctlError as e:
            results.append(BoardResult(board, None, str(e)))
    return results
