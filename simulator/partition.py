"""One partition's controller as a process of its own, driven line by line over stdin/stdout.

The scale-out test and benchmark run two of these (two sites, two state folders, two brokers)
and kill one with SIGKILL, as an operator's machine would lose it:

    python -m ledctl.simulator.partition CONFIG STATE_DIR

It is the service of `ledctl serve` (the dispatcher's workers, the store, the notices) on the
system clock, without the scheduler: what the scheduler would do on its own time is asked for
instead, so a test does not wait for the next CAP poll. Commands, one a line, each answered by
one JSON line:

    view       every board: {"intended", "confirmed", "items", "failures", "online"}
    poll-cap   read the [cap] feeds now and import what they carry (as the CAP poll job does)
    quit       stop the workers, close the links, exit

The first line it writes is {"ready": true, "site": …} once the service has started.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

from ledctl import config
from ledctl.clock import SystemClock
from ledctl.notices.items import notices_for
from ledctl.service import Service
from ledctl.store import Store


def _say(doc: object) -> None:
    sys.stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m ledctl.simulator.partition CONFIG STATE_DIR", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    dep = config.load(Path(argv[0]))
    state = Path(argv[1])
    state.mkdir(parents=True, exist_ok=True)
    clock = SystemClock()
    store = Store(state / "ledctl.sqlite")
    service = Service(dep, store, clock, notices=notices_for(dep, store.path, clock), state=state)
    service.start(workers=True)
    _say({"ready": True, "site": dep.site.id, "boards": [b.id for b in dep.boards]})
    try:
        for line in sys.stdin:
            command = line.strip()
            if command == "view":
                _say({b: {"intended": v.intended, "confirmed": v.confirmed, "items": list(v.items),
                          "failures": v.failures, "online": v.online}
                      for b, v in service.dispatcher.view().items()})
            elif command == "poll-cap":
                service.poll_cap()
                _say({"ok": True})
            elif command == "quit":
                break
            else:
                _say({"ok": False, "error": f"unknown command {command!r} (view, poll-cap, quit)"})
    finally:
        service.close()
    _say({"ok": True, "stopped": True})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
