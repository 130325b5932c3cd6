"""A hostile peer for the console: threads posting wrong passwords until told to stop.

    python -m ledctl.simulator.login_flood URL THREADS

Each thread posts `/api/login` with a new wrong password, again and again. It prints "turned away"
when the console first answers 503 (its password-check pool is full), and on SIGTERM one JSON line:
how many answers of each status it got ("dropped" for a connection that failed). Used by the
login-flood test and benchmark, in a process of its own so its threads cost the service nothing
but what a real attacker's would.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import urllib.error
import urllib.request


def attack(url: str, who: int, stop: threading.Event, answers: dict[str, int], lock: threading.Lock) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        body = json.dumps({"name": f"user{who}", "password": f"guess-{n}"}).encode()
        request = urllib.request.Request(url + "/api/login", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=600) as r:
                status = str(r.status)
        except urllib.error.HTTPError as e:
            status = str(e.code)
        except OSError:
            status = "dropped"
        with lock:
            answers[status] = answers.get(status, 0) + 1
            if status == "503" and answers["503"] == 1:
                print("turned away", flush=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not argv[1].isdigit():
        print("usage: python -m ledctl.simulator.login_flood URL THREADS", file=sys.stderr)
        return 2
    url, threads = argv[0], int(argv[1])
    stop, answers, lock = threading.Event(), {}, threading.Lock()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    for who in range(threads):
        threading.Thread(target=attack, args=(url, who, stop, answers, lock), daemon=True).start()
    stop.wait()
    with lock:
        print(json.dumps(answers), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
