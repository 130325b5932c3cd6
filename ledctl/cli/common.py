"""What the commands share: the error handling of every command, the common arguments and
argument types, and the config, store and boards a command works on."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import date, datetime, time

from ledctl import config as config_mod
from ledctl.clock import Clock
from ledctl.errors import ConfigError, FaultError, LedctlError, UsageError
from ledctl.model import Board
from ledctl.state import BoardsLock
from ledctl.store import Store

Command = Callable[[argparse.Namespace, Clock], int]


def run(command: Command, args: argparse.Namespace, clock: Clock) -> int:
    """Run one command: a user's mistake prints a clear message and gives its exit code, never a traceback;
    so does a fault outside ledctl (a wire, a broker, the store's disk), with exit code 1."""
    os.umask(0o077)  # everything ledctl writes (the store, the broker's files, pictures) is private
    try:
        return command(args, clock)
    except ConfigError as e:
        print("ledctl: the configuration has problems:", file=sys.stderr)
        for problem in e.problems:
            print(f"  {problem}", file=sys.stderr)
        return e.exit_code
    except LedctlError as e:
        print(f"ledctl: {e}", file=sys.stderr)
        return e.exit_code
    except FaultError as e:
        print(f"ledctl: {e} (try again; if it persists, look at the wire, the broker or the disk)",
              file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("ledctl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as other CLI tools do.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stdout must stay valid until exit
        return 0


# -- arguments ----------------------------------------------------------------------------------

def config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", metavar="FILE",
                   help="config file (default $LEDCTL_CONFIG, then config/zhenhai.toml)")


def sample_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample-data", action="store_true",
                        help="read the sample data (the source with sample = true) for every station; "
                             "every page says 示例数据")


def seconds_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None
    if not 1 <= value <= 65535:  # what a BX card's timeout field holds
        raise argparse.ArgumentTypeError(f"{value}: give 1..65535 seconds")
    return value


def instant_arg(text: str) -> str:
    """Checked now, resolved against the site's time zone later."""
    for parse in (datetime.fromisoformat, date.fromisoformat, time.fromisoformat):
        try:
            parse(text)
            return text
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"{text!r} is not a time like 2026-11-25T08:00, 2026-11-25 or 08:00")


def date_arg(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-25") from None


def notice_text(text: str, flag: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise UsageError(f"{flag}: the text is empty")
    bad = [c for c in cleaned if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0]
    if bad:
        raise UsageError(f"{flag}: control character U+{ord(bad[0]):04X} in the text; remove it")
    return cleaned


# -- what a command works on ------------------------------------------------------------------------

def deployment(args: argparse.Namespace) -> config_mod.Deployment:
    """The config named on the command line, with every station on the sample data if asked."""
    dep = config_mod.load(args.config)
    return dep.with_sample_data() if getattr(args, "sample_data", False) else dep


def state_store(args: argparse.Namespace) -> Store:
    """The store under the state directory: fresh readings are kept there, and it stands in
    with the last good data when every source fails. The directory is private (0700) and
    refused when others can read it: the store holds password hashes, tokens and the audit log."""
    from ledctl.state import secure_state, state_dir

    return Store(secure_state(state_dir(args.state)) / "ledctl.sqlite")


def claim_boards(args: argparse.Namespace, clock: Clock, command: str) -> BoardsLock:
    """Take the boards of the state directory for this process (serve, demo), or say who has them."""
    from ledctl.state import claim_boards as claim
    from ledctl.state import secure_state, state_dir

    state = secure_state(state_dir(args.state))
    got = claim(state, command, clock.now().isoformat())
    if isinstance(got, BoardsLock):
        return got
    raise UsageError(f"{got.describe()} already drives the boards of {state}; stop it first, or give this "
                     "one another --state")


def chosen_boards(dep: config_mod.Deployment, args: argparse.Namespace) -> tuple[Board, ...]:
    """`--board ID`, `--group G`, or every board."""
    if args.board:
        return (dep.board(args.board),)
    if args.group:
        return dep.boards_in(args.group)
    return dep.boards
