"""`ledctl doctor`: what is wrong with a state directory's store, all at once — notice rows that
cannot be read (which row, what is wrong; everything else skips them and carries on) and the audit
log's check (chain, key, anchors), with the store's version. Exit 1 when anything needs a person."""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys

from ledctl import config as config_mod
from ledctl.cli.common import config_arg
from ledctl.clock import Clock


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    dr = sub.add_parser("doctor", help="check the store: notice rows that cannot be read, the audit log "
                                       "(chain, key, anchors), the store's version")
    config_arg(dr)
    dr.add_argument("--json", action="store_true")
    dr.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace, clock: Clock) -> int:
    from ledctl.db import LATEST
    from ledctl.notices.workflow import Notices
    from ledctl.state import state_dir

    path = state_dir(args.state) / "ledctl.sqlite"
    logging.getLogger("ledctl.notices").setLevel(logging.ERROR)  # the doctor names each damaged row itself
    dep = config_mod.load(args.config)
    if not path.exists():
        print(f"no store at {path}: nothing to check (ledctl makes it when it first runs)")
        return 0
    version = _version(path)
    notices = Notices(dep, path, clock)  # opening it migrates an older store, as any command would
    damaged = notices.damaged()
    check = notices.check_audit()
    if args.json:
        print(json.dumps({
            "store": str(path), "version": version, "latest": LATEST,
            "damaged_notices": [{"row": d.row, "problem": d.problem} for d in damaged],
            "audit": {"intact": check.intact, "problems": check.problems, "warnings": check.warnings,
                      "rows": check.rows, "head": check.head, "keyed_from": check.keyed_from,
                      "anchors": str(notices.seal.anchors)},
        }, ensure_ascii=False, indent=2))
        return 1 if damaged or check.problems else 0
    older = f" (migrated now from {version})" if version is not None and version < LATEST else ""
    print(f"store {path}: version {LATEST}{older}")
    if damaged:
        print(f"notices: {len(damaged)} row(s) cannot be read; everything else skips them. Each one's "
              "history is in the audit log (ledctl audit show --subject notice:N):")
        for d in damaged:
            print(f"  {d}")
    else:
        print("notices: every row reads")
    keyed = (f"keyed from row {check.keyed_from}" if check.keyed_from else "not keyed")
    state = "intact" if check.intact else f"{len(check.problems)} problem(s)"
    print(f"audit log: {check.rows} rows, {keyed}, anchored in {notices.seal.anchors}: {state}")
    for problem in check.problems:
        print(f"  {problem}")
    for warning in check.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return 1 if damaged or check.problems else 0


def _version(path: object) -> int | None:
    """The store's version as found, before anything opens (and migrates) it."""
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
            return int(con.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error:
        return None  # the store itself says what is wrong when it is opened
