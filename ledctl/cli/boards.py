"""`ledctl boards` and `ledctl broadcast`: deliver the day's bulletin (or an urgent text) now, keep every
result as the proof of display, and show each board's intended and confirmed program."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ledctl import config as config_mod
from ledctl.cli.common import (
    UsageError,
    chosen_boards,
    config_arg,
    date_arg,
    notice_text,
    seconds_arg,
    state_store,
)
from ledctl.clock import Clock
from ledctl.model import Board, Page, Program
from ledctl.state import BoardsLock, Owner

if TYPE_CHECKING:
    from ledctl.dispatch import Dispatcher, Intent


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
    bc.add_argument("--wait", type=float, metavar="S", default=120.0,
                    help="when a service drives the boards: how long to wait for them to confirm "
                         "(default 120)")
    bc.set_defaults(func=cmd_broadcast)


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
            # sent to a board that cannot acknowledge (e.g. a TPM2 receiver without a ping): never confirmed
            "sent": row.sent if row else None, "last_sent": row.sent_at if row else None,
            "shows": row.intended_summary if row else "", "settings": row.settings_confirmed if row else None,
            "failures": row.failures if row else 0, "last_error": row.last_error if row else "",
            "pages": list(row.pages) if row else [0, 0],  # of the confirmed program: reached the board, in it
        })
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(f"{'board':<18} {'online':<7} {'state':<10} {'pages':<6} {'program':<13} {'last confirmed':<20} "
          "shows / last error")
    for o in out:
        known = o["last_confirmed"] or o["failures"]
        online = ("yes" if o["online"] else "no") if known else "?"
        if o["confirmed"] and o["confirmed"] == o["intended"]:
            state = "confirmed"
        elif o["sent"] and o["sent"] == o["intended"]:
            state = "sent"  # all its protocol allows: the board cannot acknowledge
        elif o["intended"]:
            state = "pending"
        else:
            state = "confirmed" if o["confirmed"] else "—"
        program = str(o["confirmed"] or o["intended"] or "—")[:12]
        note = str(o["last_error"]) if o["failures"] else str(o["shows"] or "")
        when = "—"
        if o["last_confirmed"]:
            when = f"{datetime.fromisoformat(str(o['last_confirmed'])).astimezone(dep.tz):%Y-%m-%d %H:%M:%S}"
        shown, total = o["pages"]
        pages = f"{shown}/{total}" if total else "—"
        print(f"{o['board']:<18} {online:<7} {state:<10} {pages:<6} {program:<13} {when:<20} "
              f"{note[:70]}")
    confirmed = sum(1 for o in out if o["confirmed"] and o["confirmed"] == o["intended"])
    sent = sum(1 for o in out if o["sent"] and o["sent"] == o["intended"] and o["confirmed"] != o["intended"])
    print(f"\n{confirmed}/{len(out)} boards confirmed on what they should show"
          + (f"; {sent} sent, unconfirmed (they cannot acknowledge)" if sent else ""))
    return 0


def cmd_broadcast(args: argparse.Namespace, clock: Clock) -> int:
    """Deliver now. One process drives a state directory's boards: when a service runs, it is asked
    (through the state directory) and this command reports what the boards confirmed; otherwise this
    command drives a dispatcher of its own for the one job, holding the boards while it does."""
    from ledctl.state import claim_boards, current_owner, state_dir

    dep = config_mod.load(args.config)
    boards = chosen_boards(dep, args)
    state = state_dir(args.state)
    owner = current_owner(state) if not args.dry_run else None
    if owner is not None:
        return _ask_the_service(args, clock, dep, boards, state, owner)
    intents, failed_render = _intents(args, clock, dep, boards)
    for board_id, error in failed_render.items():
        print(f"ledctl: {board_id}: not sent: {error}", file=sys.stderr)
    ready = tuple(b for b in boards if b.id in intents)
    wires = {b.link for b in ready}
    if args.dry_run:
        print(f"dry run: {len(ready)} board(s) on {len(wires)} wire(s); nothing sent")
        return 2 if failed_render else 0
    claimed = claim_boards(state, "broadcast", clock.now().isoformat())
    if not isinstance(claimed, BoardsLock):  # a service started meanwhile
        return _ask_the_service(args, clock, dep, boards, state, claimed)
    with claimed:
        return _deliver_now(args, clock, dep, ready, intents, len(boards))


def _intents(args: argparse.Namespace, clock: Clock, dep: config_mod.Deployment,
             boards: Sequence[Board]) -> tuple[dict[str, Intent], dict[str, str]]:
    """What each board should show for this command, or why a board cannot be given it."""
    from ledctl import pipeline
    from ledctl.dispatch import Intent
    from ledctl.drivers import capabilities, driver_class

    intents: dict[str, Intent] = {}
    failed: dict[str, str] = {}
    day = args.date or clock.now().astimezone(dep.tz).date()
    if args.text is not None:
        # Per board: the board's own font where it can draw the text (tens of bytes), else a
        # rendered page (a bitmap), fit-checked like every page. Either way the board removes it
        # by itself after --timeout.
        text = notice_text(args.text, "--text")
        until = clock.now() + timedelta(seconds=args.timeout)
        own = {b.id for b in boards if capabilities(b).own_font and driver_class(b).can_draw(b, text)}
        for r in pipeline.render_notice_fleet(dep, tuple(boards), title="通知", body=text,
                                              day=day):
            if r.program is None and r.board.id not in own:
                failed[r.board.id] = r.error
                continue
            if r.board.id in own:  # what the card will draw: its own font, as the previews show it
                pages = driver_class(r.board).text_pages(r.board, text)
            else:
                pages = r.program.pages if r.program is not None else ()
            program = Program(r.board.id, pages or _blank(r.board).pages, valid_to=until)
            intents[r.board.id] = Intent.of(program, f"ledctl broadcast --text ({len(text)} characters)",
                                            ("broadcast --text",), text if r.board.id in own else None,
                                            ends=True)
    else:
        bulletin = pipeline.bulletin_at(dep, pipeline.broadcast_instant(dep, day), store=state_store(args))
        for r in pipeline.render_fleet(dep, tuple(boards), bulletin):
            if r.program is None:
                failed[r.board.id] = r.error
            else:
                intents[r.board.id] = Intent.of(r.program, f"ledctl broadcast {day}",
                                                (f"bulletin@{day.isoformat()}",))
    return intents, failed


def _blank(board: Board) -> Program:
    from PIL import Image

    return Program(board.id, (Page("text", Image.new("RGB", (board.size.width, board.size.height))),))


def _deliver_now(args: argparse.Namespace, clock: Clock, dep: config_mod.Deployment, ready: Sequence[Board],
                 intents: Mapping[str, Intent], total: int) -> int:
    """No service runs: a dispatcher of this command's own, for this one job."""
    import time

    from ledctl.dispatch import Dispatcher

    print(f"delivering to {len(ready)} board(s) on {len({b.link for b in ready})} wire(s) …", flush=True)
    start = time.monotonic()
    with Dispatcher(dep, state_store(args), clock, progress=lambda line: print("  " + line, flush=True)) as d:
        d.set_intended({b.id: intents[b.id] for b in ready})
        d.settle(max_passes=1)
        played = _play_one_loop(d, clock, ready, intents)
        views = d.view()
    took = time.monotonic() - start
    print(f"\n{'board':<18} {'result':<40} {'mode':<7} {'bytes':>7} {'seconds':>8}")
    for b in ready:
        r = views[b.id].last_result
        if r is None:
            continue
        print(f"{b.id:<18} {r.describe()[:40]:<40} {r.mode:<7} {r.bytes_sent:>7} {r.seconds:>8.1f}")
    confirmed = sum(1 for b in ready if views[b.id].confirmed == intents[b.id].hash)
    sent = sum(1 for b in ready if views[b.id].confirmed != intents[b.id].hash
               and views[b.id].sent == intents[b.id].hash)
    print(f"\n{confirmed}/{total} confirmed in {took:.1f} s"
          + (f"; {sent} sent, unconfirmed (they cannot acknowledge)" if sent else ""))
    if played:
        print(f"({len(played)} board(s) hold one page at a time and now keep their last page: a running "
              "service, ledctl serve, plays their loop)")
    # A board that cannot acknowledge was given all its protocol allows: not a failure, never "confirmed".
    return 0 if confirmed + sent == total else 1


def _play_one_loop(d: Dispatcher, clock: Clock, ready: Sequence[Board],
                   intents: Mapping[str, Intent]) -> list[str]:
    """Boards that hold one page get every page once, each for its dwell, so each is confirmed;
    returns those boards. A page that fails ends that board's loop (its result says why)."""
    import time

    played: set[str] = set()
    while True:
        views = d.view()
        playing = [b for b in ready if views[b.id].page is not None and views[b.id].failures == 0
                   and intents[b.id].hash not in (views[b.id].confirmed, views[b.id].sent)]
        played |= {b.id for b in playing}
        if not playing:
            return sorted(played)
        due = [t for link in {b.link for b in playing} if (t := d.next_page_at(link)) is not None]
        if not due:
            return sorted(played)
        wait = (min(due) - clock.now()).total_seconds()
        if wait > 0:
            print(f"  next page in {wait:.0f} s (each page stays up for its dwell) …", flush=True)
            time.sleep(wait)
        for link in {b.link for b in playing}:
            # A board whose loop went round once keeps its last page (it does not start again).
            d.reconcile_link(link, only={b.id for b in playing})


def _ask_the_service(args: argparse.Namespace, clock: Clock, dep: config_mod.Deployment,
                     boards: Sequence[Board], state: Path, owner: Owner) -> int:
    """A service drives these boards: never open its wires; ask it, and report what it confirmed."""
    import time

    from ledctl.state import submit, wait_answer

    if args.text is not None:
        raise UsageError(f"{owner.describe()} drives the boards of {state}: publish a notice instead "
                         "(ledctl notice draft … or the console), so the review rule applies; --text is "
                         "for boards no service drives")
    today = clock.now().astimezone(dep.tz).date()
    if args.date is not None and args.date != today:
        raise UsageError(f"{owner.describe()} shows today's bulletin on the boards of {state}; to see "
                         f"{args.date} use ledctl preview --date {args.date}")
    request = submit(state, "broadcast", {"boards": [b.id for b in boards]})
    print(f"{owner.describe()} drives these boards: asked it to broadcast now (request {request}) …",
          flush=True)
    answer = wait_answer(state, request, max(ANSWER_WAIT_S, args.wait))
    if answer is None:
        print(f"ledctl: no answer from the service within {ANSWER_WAIT_S:g} s; see its log", file=sys.stderr)
        return 1
    if not answer.get("ok"):
        print(f"ledctl: the service could not broadcast: {answer.get('error')}", file=sys.stderr)
        return 1
    store = state_store(args)
    deadline = time.monotonic() + args.wait
    while True:
        rows = store.boards()
        done = [b for b in boards if (row := rows.get(b.id)) is not None and row.intended
                and row.intended in (row.confirmed, row.sent)]
        if len(done) == len(boards) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    print(f"\n{'board':<18} {'state':<10} {'shows / last error'}")
    for b in boards:
        row = rows.get(b.id)
        ok = row is not None and row.intended and row.confirmed == row.intended
        sent = not ok and row is not None and row.intended and row.sent == row.intended
        note = (row.intended_summary if ok or sent else row.last_error or "being sent") if row else "—"
        print(f"{b.id:<18} {'confirmed' if ok else 'sent' if sent else 'pending':<10} {note[:70]}")
    print(f"\n{len(done)}/{len(boards)} confirmed or sent (by the service)")
    return 0 if len(done) == len(boards) else 1


ANSWER_WAIT_S = 30.0  # the service answers within a second or a fetch
