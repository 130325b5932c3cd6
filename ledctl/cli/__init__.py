"""The `ledctl` command line. User errors print a clear message and exit 2, never a traceback.

One module per command group, each adding its own subcommands with `add_parsers(sub)` and naming the
function that runs each with `set_defaults(func=...)`:

* `config_check` — `config check`
* `standards`    — `aqi`, `water`
* `data`         — `data fetch|show`
* `preview`      — `preview`
* `sim`          — `sim` (the simulated boards, or the monitoring centre)
* `demo`         — `demo`
* `serve`        — `serve`, `timeline`
* `governance`   — `users`, `notice`, `cap`, `audit`, `report`
* `doctor`       — `doctor` (what is wrong with the store: damaged notice rows, the audit log)
* `boards`       — `boards`, `broadcast`
* `common`       — what they share: error handling, common arguments, config, store and boards

Heavy modules (rendering, the service, the simulator, the console) are imported inside the commands
that need them, so `ledctl --version` and `ledctl aqi` start fast.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Sequence

from ledctl import __version__
from ledctl.cli import boards, config_check, data, demo, doctor, governance, preview, serve, sim, standards
from ledctl.cli.common import run
from ledctl.clock import Clock, SystemClock


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ledctl",
        description="Controller for public LED boards: environmental bulletins and urgent notices.",
    )
    p.add_argument("--version", action="version", version=f"ledctl {__version__}")
    p.add_argument("--state", metavar="DIR",
                   help="state directory for everything ledctl writes (default $LEDCTL_STATE or ./var)")
    p.add_argument("--as", dest="as_user", metavar="NAME",
                   help="act as this user (password from $LEDCTL_PASSWORD or a prompt); or set $LEDCTL_TOKEN")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    # The order here is the order of `ledctl --help`.
    for group in (config_check, standards, data, preview, sim, demo, serve, governance, doctor, boards):
        group.add_parsers(sub)
    return p


def main(argv: Sequence[str] | None = None, clock: Clock | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    clock = clock or SystemClock()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    if os.environ.get("LEDCTL_TRACE"):
        logging.getLogger("ledctl.link.trace").setLevel(logging.DEBUG)  # every byte, in hex
    command = getattr(args, "func", None)
    if command is None:  # no command, or a group without its action (`ledctl config`, `ledctl data`)
        parser.print_help()
        return 2 if args.command is None else 0
    return run(command, args, clock)
