"""How long `ledctl serve` takes to stop on SIGTERM while its peers are tarpits (a DTU and the
broker accept the connection and say nothing): issue 20.10, goal within 5 s.

    python bench/stop.py
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.resilience.test_stop import Tarpit, tarpitted_site  # noqa: E402 - after the path


def main() -> int:
    tarpit = Tarpit(3)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        site = tarpitted_site(folder, tarpit.ports)
        log = folder / "serve.log"
        proc = subprocess.Popen([sys.executable, "-m", "ledctl", "--state", str(folder / "state"), "serve",
                                 "-c", str(site), "--listen", "off"],
                                stdout=log.open("wb"), stderr=subprocess.STDOUT, cwd=folder)
        while "serving" not in log.read_text(errors="replace") or len(tarpit.held) < 2:
            if proc.poll() is not None:
                print(log.read_text(errors="replace"))
                return 1
            threading.Event().wait(0.1)
        start = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=120)
        took = time.monotonic() - start
    tarpit.close()
    print("## Stopping under silent peers\n")
    print(f"SIGTERM to exit, two buses and the broker tarpitted: {took:.2f} s (goal ≤ 5 s) — "
          f"{'ok' if took <= 5 else 'OVER'}")
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
