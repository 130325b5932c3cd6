"""`ledctl serve` and `ledctl timeline`: the long-running service with its console, and what a board
will show when. Also the console, logging and signal helpers `ledctl demo` shares."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from datetime import date, datetime, time, timedelta
from pathlib import Path

from ledctl import config as config_mod
from ledctl.cli.common import UsageError, claim_boards, config_arg, instant_arg, state_store
from ledctl.clock import Clock
from ledctl.store import Store


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sv = sub.add_parser("serve", help="run the service: scheduled fetch and broadcast, screen and "
                                      "brightness schedules, confirmed delivery, health checks, the console")
    config_arg(sv)
    console_args(sv)
    sv.set_defaults(func=cmd_serve)

    tl = sub.add_parser("timeline", help="what a board will show when (bulletin, notices, screen off)")
    config_arg(tl)
    tl.add_argument("--board", metavar="ID", required=True)
    tl.add_argument("--from", dest="start", metavar="T", type=instant_arg,
                    help="from this time: 2026-11-25T08:00, 2026-11-25 or 08:00 (default: now)")
    tl.add_argument("--to", dest="end", metavar="T", type=instant_arg,
                    help="until this time (default: +24 h)")
    tl.set_defaults(func=cmd_timeline)


def console_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listen", metavar="HOST:PORT", default="127.0.0.1:8080",
                   help="where the console and API listen (default 127.0.0.1:8080; 'off': no console)")
    p.add_argument("--tls-cert", type=Path, metavar="FILE", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", type=Path, metavar="FILE", help="… and this key (PEM, mode 0600)")
    p.add_argument("--insecure-http", action="store_true",
                   help="allow plain HTTP on an address beyond this machine (passwords cross the network "
                        "in clear: only behind a TLS proxy on the same host)")


def start_console(args: argparse.Namespace, dep: config_mod.Deployment, store: Store, notices: object,
                  clock: Clock, service: object, fleet: object = None, *, announce: bool = True) -> object:
    """The console in a thread of this process, or None with --listen off."""
    if args.listen == "off":
        return None
    from ledctl.api import server
    from ledctl.api.app import Console
    from ledctl.notices.users import Users

    if args.tls_key is not None:
        problem = config_mod.secret_file_problem(args.tls_key)
        if problem:
            raise UsageError(f"--tls-key: {problem}")
    host, _ = server.parse_listen(args.listen)
    if args.tls_cert is None and not server.is_loopback(host) and not args.insecure_http:
        raise UsageError(f"--listen {args.listen}: that is beyond this machine, and without TLS the "
                         "passwords and session cookies cross the network in clear; give --tls-cert and "
                         "--tls-key, or --insecure-http if a TLS proxy on this host stands in front")
    console = Console(dep, store, Users(store.path), notices, clock, service=service,  # type: ignore[arg-type]
                      fleet=fleet)
    running = server.start(console, args.listen, tls_cert=args.tls_cert, tls_key=args.tls_key)
    if announce:
        print(f"console: {running.url}/  (users: ledctl users add NAME --role …)", flush=True)
    return running


def log_events() -> None:
    from ledctl.events import FORMAT

    logging.getLogger().handlers.clear()
    logging.basicConfig(level=logging.INFO, format=FORMAT, force=True)
    for noisy in ("apscheduler", "paho", "amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def stop_on_signals() -> threading.Event:
    import signal

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def cmd_serve(args: argparse.Namespace, clock: Clock) -> int:
    from ledctl.notices.items import notices_for
    from ledctl.service import Service

    dep = config_mod.load(args.config)
    for warning in dep.warnings:
        print(f"ledctl: warning: {warning}", file=sys.stderr)
    store = state_store(args)
    with claim_boards(args, clock, "serve"):  # the one process that talks to these boards
        log_events()
        stop = stop_on_signals()
        notices = notices_for(dep, store.path, clock)
        service = Service(dep, store, clock, notices=notices, state=store.path.parent)
        console = start_console(args, dep, store, notices, clock, service)
        try:
            service.serve(stop)
        finally:
            if console is not None:
                console.stop()  # type: ignore[attr-defined]
    return 0


def cmd_timeline(args: argparse.Namespace, clock: Clock) -> int:
    from ledctl import schedule
    from ledctl.notices.items import notices_for
    from ledctl.service import Service

    dep = config_mod.load(args.config)
    board = dep.board(args.board)
    now = clock.now().astimezone(dep.tz)
    start = _resolve(args.start, dep, now) if args.start else now
    end = _resolve(args.end, dep, now) if args.end else start + timedelta(hours=24)
    if end <= start:
        raise UsageError(f"--to {end:%Y-%m-%d %H:%M} is not after --from {start:%Y-%m-%d %H:%M}")
    store = state_store(args)
    service = Service(dep, store, clock, notices=notices_for(dep, store.path, clock))
    if service.restore_items() is None:
        service._make_bulletin(now)  # nothing broadcast yet: what a broadcast now would show
    print(f"{board.id} ({board.name}), {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} {dep.site.timezone}")
    for seg in service.timeline(board, start, end):
        what = ", ".join(f"{p.name} {p.effect} {p.dwell_s:g}s" for p in seg.pages) or "nothing"
        if not seg.settings.power:
            what = f"screen off (holds: {what})"
        bri = f"{seg.settings.brightness}%" if seg.settings.brightness else "—"
        span = f"{seg.start.astimezone(dep.tz):%m-%d %H:%M} – {seg.end.astimezone(dep.tz):%m-%d %H:%M}"
        print(f"{span}  {bri:>4}  {'+'.join(seg.items) or 'idle'}: {what}")
    jobs = service.jobs()
    upcoming = [(t, job.id) for job in jobs if job.kind in (schedule.BROADCAST, schedule.REFRESH)
                for t in [job.trigger.get_next_fire_time(None, start)] if t is not None and t < end]
    for t, job_id in sorted(upcoming):
        print(f"  {t.astimezone(dep.tz):%m-%d %H:%M} {job_id}: the bulletin is made again from the "
              "newest data")
    return 0


def _resolve(text: str, dep: config_mod.Deployment, now: datetime) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        try:
            t = datetime.combine(date.fromisoformat(text), time(0))
        except ValueError:
            t = datetime.combine(now.date(), time.fromisoformat(text))
    return t if t.tzinfo else t.replace(tzinfo=dep.tz)
