"""`ledctl boards` and `ledctl broadcast`: deliver the day's bulletin (or an urgent text) now, keep every
result as the proof of display, and show each board's intended and confirmed program."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ledctl import config as config_mod
from ledctl.cli.common import chosen_boards, config_arg, date_arg, notice_text, seconds_arg, state_store
from ledctl.clock import Clock

if TYPE_CHECKING:
    from ledctl.broadcast import Content, Delivery


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    bo = sub.add_parser("boards", help="every board: online, intended and confirmed program, failures")
    config_arg(bo)
    bo.add_argument("--json", action="store_true",
                    help="a list of objects: board, online, intended, confirmed, last_confirmed, …")
    bo.set_defaults(func=cmd_boards)

    bc = sub.add_parser("broadcast", help="render today's bulletin and deliver it to the boards")
    config_arg(bc)
    which = bc.add_mutually_exclusive_group()
    which.add_argument("--board", metavar="ID")
    which.add_argument("--group", metavar="G")
    bc.add_argument("--date", type=date_arg, help="the day of the broadcast (default: today)")
    bc.add_argument("--dry-run", action="store_true", help="render and count bytes; send nothing")
    bc.add_argument("--text", metavar="TEXT",
                    help="send this text for the card's own font instead (fast path for urgent notices)")
    bc.add_argument("--timeout", type=seconds_arg, metavar="S", default=3600,
                    help="with --text: the board removes the text after S seconds, 1..65535 "
                         "(default 3600)")
    bc.set_defaults(func=cmd_broadcast)


def _record(args: argparse.Namespace, clock: Clock, contents: Mapping[str, Content],
            results: Sequence[Delivery]) -> None:
    """Keep every delivery and its result in the store: the proof of display."""
    import hashlib

    from ledctl.store import DeliveryRecord

    store = state_store(args)
    at = clock.now()
    for d in results:
        content = contents[d.board]
        if content.program is not None:
            program = content.program.content_hash()
            summary = f"ledctl broadcast ({len(content.program.pages)} pages)"
        else:
            program = "text:" + hashlib.sha256((content.text or "").encode()).hexdigest()
            summary = f"ledctl broadcast --text ({len(content.text or '')} characters)"
        record = DeliveryRecord(d.board, program, d.mode, d.ok, d.result, d.bytes_sent, d.seconds, at)
        if d.ok:
            store.confirm(d.board, program, summary, at, record)
        else:
            store.failed(d.board, d.result, at, record, offline=d.result.startswith("offline"))


def cmd_boards(args: argparse.Namespace, clock: Clock) -> int:
    dep = config_mod.load(args.config)
    rows = state_store(args).boards()
    out = []
    for b in dep.boards:
        row = rows.get(b.id)
        out.append({
            "board": b.id, "name": b.name, "driver": b.driver, "link": b.link,
            "online": bool(row and row.online), "intended": row.intended if row else None,
            "confirmed": row.confirmed if row else None,
            "last_confirmed": row.confirmed_at if row else None,
            "shows": row.intended_summary if row else "", "settings": row.settings_confirmed if row else None,
            "failures": row.failures if row else 0, "last_error": row.last_error if row else "",
        })
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(f"{'board':<18} {'online':<7} {'state':<10} {'program':<13} {'last confirmed':<20} "
          "shows / last error")
    for o in out:
        known = o["last_confirmed"] or o["failures"]
        online = ("yes" if o["online"] else "no") if known else "?"
        if o["confirmed"] and o["confirmed"] == o["intended"]:
            state = "confirmed"
        elif o["intended"]:
            state = "pending"
        else:
            state = "confirmed" if o["confirmed"] else "—"
        program = str(o["confirmed"] or o["intended"] or "—")[:12]
        note = str(o["last_error"]) if o["failures"] else str(o["shows"] or "")
        when = "—"
        if o["last_confirmed"]:
            when = f"{datetime.fromisoformat(str(o['last_confirmed'])).astimezone(dep.tz):%Y-%m-%d %H:%M:%S}"
        print(f"{o['board']:<18} {online:<7} {state:<10} {program:<13} {when:<20} "
              f"{note[:70]}")
    confirmed = sum(1 for o in out if o["confirmed"] and o["confirmed"] == o["intended"])
    print(f"\n{confirmed}/{len(out)} boards confirmed on what they should show")
    return 0


def cmd_broadcast(args: argparse.Namespace, clock: Clock) -> int:
    import time

    from ledctl import pipeline
    from ledctl.broadcast import Content, card_can_draw, deliver

    dep = config_mod.load(args.config)
    boards = chosen_boards(dep, args)
    contents: dict[str, Content] = {}
    failed_render: dict[str, str] = {}
    day = args.date or clock.now().astimezone(dep.tz).date()
    if args.text is not None:
        # Per board: the card's own font where it can draw the text (tens of bytes), else a
        # rendered page (a bitmap), fit-checked like every page.
        text = notice_text(args.text, "--text")
        drawn = tuple(b for b in boards if not card_can_draw(b, text))
        for b in boards:
            if b not in drawn:
                contents[b.id] = Content(text=text, text_timeout_s=args.timeout)
        expires = clock.now() + timedelta(seconds=args.timeout)
        for r in pipeline.render_notice_fleet(dep, drawn, title="通知", body=text, day=day):
            if r.program is None:
                failed_render[r.board.id] = r.error
            else:
                contents[r.board.id] = Content(program=r.program, expires=expires, lifetime_s=args.timeout,
                                               whole=True)
    else:
        bulletin = pipeline.bulletin_at(dep, pipeline.broadcast_instant(dep, day), store=state_store(args))
        for r in pipeline.render_fleet(dep, boards, bulletin):
            if r.program is None:
                failed_render[r.board.id] = r.error
            else:
                contents[r.board.id] = Content(program=r.program)
    for board_id, error in failed_render.items():
        print(f"ledctl: {board_id}: not sent: {error}", file=sys.stderr)
    ready = tuple(b for b in boards if b.id in contents)
    wires = {b.link for b in ready}
    if args.dry_run:
        print(f"dry run: {len(ready)} board(s) on {len(wires)} wire(s); nothing sent")
        return 2 if failed_render else 0
    print(f"delivering to {len(ready)} board(s) on {len(wires)} wire(s) …", flush=True)
    start = time.monotonic()
    results = deliver(dep, ready, contents, progress=lambda line: print("  " + line, flush=True))
    took = time.monotonic() - start
    _record(args, clock, contents, results)
    print(f"\n{'board':<18} {'result':<40} {'mode':<7} {'bytes':>7} {'seconds':>8}")
    for d in results:
        print(f"{d.board:<18} {d.result[:40]:<40} {d.mode:<7} {d.bytes_sent:>7} {d.seconds:>8.1f}")
    confirmed = sum(1 for d in results if d.ok)
    print(f"\n{confirmed}/{len(boards)} confirmed in {took:.1f} s")
    return 0 if confirmed == len(boards) else 1
