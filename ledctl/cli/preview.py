"""`ledctl preview`: render what each board shows, as pictures and index.html, without delivering."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ledctl.cli.common import (
    chosen_boards,
    config_arg,
    date_arg,
    deployment,
    notice_text,
    sample_arg,
    state_store,
)
from ledctl.clock import Clock


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    pv = sub.add_parser("preview", help="render what each board shows, as pictures and index.html")
    config_arg(pv)
    pv.add_argument("--date", type=date_arg, help="the day of the broadcast (default: today)")
    sample_arg(pv)
    which = pv.add_mutually_exclusive_group()
    which.add_argument("--board", metavar="ID")
    which.add_argument("--group", metavar="G")
    pv.add_argument("--out", metavar="DIR", type=Path, default=Path("out/preview"))
    pv.add_argument("--notice", metavar="TEXT",
                    help="preview this notice text instead of the bulletin (fit-checked on every board)")
    pv.add_argument("--notice-title", metavar="TITLE", default="紧急通知",
                    help="the notice's title (default 紧急通知)")
    pv.add_argument("--blink", action="store_true", help="the notice blinks")
    pv.set_defaults(func=cmd_preview)


def cmd_preview(args: argparse.Namespace, clock: Clock) -> int:
    from ledctl import pipeline, preview

    dep = deployment(args)
    boards = chosen_boards(dep, args)
    day = args.date or clock.now().astimezone(dep.tz).date()
    now = pipeline.broadcast_instant(dep, day)
    bulletin = pipeline.bulletin_at(dep, now, store=state_store(args))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.notice is not None:
        text = notice_text(args.notice, "--notice")
        title = notice_text(args.notice_title, "--notice-title")
        print(f"preview of notice {title!r} ({len(text)} characters), {len(boards)} board(s) → {out}/")
        results = pipeline.notice_as_shown(dep, boards, title=title, body=text, day=day,
                                               blink=args.blink)
    else:
        print(f"preview of the {now:%Y-%m-%d %H:%M} broadcast, {len(boards)} board(s) → {out}/")
        results = pipeline.render_fleet(dep, boards, bulletin)
    files: dict[str, list[tuple[str, str]]] = {}
    gifs: dict[str, Path] = {}
    failed = 0
    for n, r in enumerate(results, start=1):
        files[r.board.id] = preview.write_board(out, r, gifs)
        sb = bulletin.stations[r.board.station]
        if r.error:
            failed += 1
            state = f"ERROR {r.error}"
        elif args.notice is not None and r.program:
            state = "notice: " + ", ".join(f"{p.name} {p.effect} {p.dwell_s:.3g}s" for p in r.program.pages)
        elif sb.assessment:
            a = sb.assessment
            state = f"AQI {a.display} {a.category} {' '.join(a.primary)} ({sb.station_name} {sb.day})"
        else:
            state = f"数据更新中 ({sb.station_name}: {sb.problem})"
        pages = len(r.program.pages) if r.program else 0
        print(f"[{n:>2}/{len(results)}] {r.board.id:<18} {r.board.size!s:>7} {r.board.colour:<9} "
              f"{pages} page(s)  {state}")
    index = preview.write_index(out, dep.site.name, bulletin, results, files)
    print(f"\nopen {index.resolve()} to see every board; per-board pictures are in {out}/<board>/")
    if failed:
        print(f"ledctl: {failed} board(s) could not be rendered (see ERROR lines above)", file=sys.stderr)
        return 2
    return 0
