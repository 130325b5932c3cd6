"""A fake monitoring-centre HTTP server: the sample daily data, served the way a centre would.

    GET /api/daily?days=N    the last N complete days before "today" (default 1, at most 366)

    {"data": {"records": [
        {"stationCode": "zh-urban", "date": "2026-11-24", "pm2_5": 52, "pm10": 78, "so2": 8,
         "no2": 41, "co": 0.7, "o3_8h": 96, "do": null, "codmn": null, "nh3n": null, "tp": null,
         "tn": null},
        {"stationCode": "zhongdahe", "date": "2026-11-24", "pm2_5": null, …, "do": 5.6, …},
        …]}}

Air and water stations share the list, sorted by date then station. Every record carries
every field; a value that was not measured (or does not apply to the station's kind) is
null, so a strict field mapping never meets a missing key. Units are the canonical ones
(µg/m³, CO in mg/m³, water in mg/L).

"Today" comes from an injected clock (a callable returning an aware datetime), taken in the
site's time zone, so the demo can run on a fixed or compressed clock. With a token, a
request needs `Authorization: Bearer <token>` or is answered 401.

Fault switches (attributes; change them while the server runs): `status_code` answers every
request with that status (and `retry_after`, if set, as Retry-After), `delay_s` waits before
answering, `malformed` sends a truncated JSON document.

    python -m ledctl.simulator.data_server --port 17200 --today 2026-11-25
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from ledctl.model import Reading
from ledctl.sources.file import FileSource

REPO = Path(__file__).resolve().parent.parent
SAMPLE_AIR = REPO / "config" / "sample-data" / "air-daily.csv"
SAMPLE_WATER = REPO / "config" / "sample-data" / "water-daily.csv"
MAX_DAYS = 366

# ledctl parameter → the centre's field name, in the order records show them.
AIR_FIELDS = {"pm25": "pm2_5", "pm10": "pm10", "so2": "so2", "no2": "no2", "co": "co", "o3_8h": "o3_8h"}
WATER_FIELDS = {"do": "do", "codmn": "codmn", "nh3n": "nh3n", "tp": "tp", "tn": "tn"}
FIELDS = {**AIR_FIELDS, **WATER_FIELDS}

Clock = Callable[[], datetime]


def fixed_clock(day: date, timezone: str = "Asia/Shanghai") -> Clock:
    """A clock that always says 09:00 on `day`."""
    moment = datetime(day.year, day.month, day.day, 9, 0, tzinfo=ZoneInfo(timezone))
    return lambda: moment


def compressed_clock(start: datetime, days_per_second: float,
                     real: Callable[[], float] | None = None) -> Clock:
    """A clock that starts at `start` and moves `days_per_second` days for each real second."""
    import time

    now = real or time.monotonic
    t0 = now()
    return lambda: start + timedelta(days=(now() - t0) * days_per_second)


@dataclass
class DataServer:
    clock: Clock
    air_csv: Path = SAMPLE_AIR
    water_csv: Path = SAMPLE_WATER
    port: int = 0
    token: str | None = None
    timezone: str = "Asia/Shanghai"
    # fault switches
    status_code: int | None = None
    retry_after: int | None = None
    delay_s: float = 0.0
    malformed: bool = False
    requests: int = 0  # answered so far, for tests
    _by_day: dict[date, list[Reading]] = field(default_factory=dict, repr=False)
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    def start(self) -> str:
        """Load the data, listen on 127.0.0.1 and return the base URL (http://127.0.0.1:PORT)."""
        if self._server is not None:
            raise RuntimeError("the data server is already running")
        self._by_day = {}
        for path in (self.air_csv, self.water_csv):
            for r in FileSource("sample", path, self.timezone).fetch().readings:
                self._by_day.setdefault(r.day, []).append(r)
        for day in self._by_day.values():
            day.sort(key=lambda r: r.station)
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="data-server", daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the data server is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def daily_url(self) -> str:
        return f"{self.url}/api/daily"

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> DataServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- content ------------------------------------------------------------------------------

    def today(self) -> date:
        return self.clock().astimezone(ZoneInfo(self.timezone)).date()

    def document(self, days: int) -> dict[str, Any]:
        """The answer to /api/daily?days=N: the N complete days before today, oldest first."""
        today = self.today()
        records: list[dict[str, Any]] = []
        for back in range(days, 0, -1):
            day = today - timedelta(days=back)
            for r in self._by_day.get(day, []):
                record: dict[str, Any] = {"stationCode": r.station, "date": day.isoformat()}
                for param, name in FIELDS.items():
                    record[name] = _number(r.values.get(param))
                records.append(record)
        return {"data": {"records": records}}


def _number(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    if value == value.to_integral_value() and value.as_tuple().exponent == 0:
        return int(value)
    return float(value)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: DataServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (a timeout test) is not a server error worth a traceback."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests and the demo do not want a line per request."""

    def do_GET(self) -> None:
        owner = self.server.owner
        owner.requests += 1
        if owner.delay_s > 0 and owner._stopping.wait(owner.delay_s):
            return
        if owner.status_code is not None:
            headers = {"Retry-After": str(owner.retry_after)} if owner.retry_after is not None else {}
            self._json(owner.status_code, {"error": HTTPStatus(owner.status_code).phrase}, headers)
            return
        parts = urlsplit(self.path)
        if parts.path.rstrip("/") != "/api/daily":
            self._json(404, {"error": f"no such resource {parts.path}; try /api/daily?days=1"})
            return
        if owner.token is not None and self.headers.get("Authorization", "") != f"Bearer {owner.token}":
            self._json(401, {"error": "a bearer token is required"}, {"WWW-Authenticate": "Bearer"})
            return
        query = parse_qs(parts.query)
        raw_days = query.get("days", ["1"])[-1]
        if not raw_days.isdigit() or not 1 <= int(raw_days) <= MAX_DAYS:
            self._json(400, {"error": f"days must be a whole number 1..{MAX_DAYS}"})
            return
        if owner.malformed:
            self._send(200, b'{"data": {"records": [{"stationCode": "zh-urban", "date": ', {})
            return
        self._json(200, owner.document(int(raw_days)))

    def _json(self, status: int, doc: object, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(doc, ensure_ascii=False).encode("utf-8"), headers or {})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ledctl.simulator.data_server",
                                description="Serve the sample daily data as a monitoring centre would.")
    p.add_argument("--port", type=int, default=17200)
    p.add_argument("--today", type=date.fromisoformat, help="a fixed 'today' (default: the real date)")
    p.add_argument("--days-per-second", type=float, metavar="D",
                   help="with --today: a compressed clock that moves D days per real second")
    p.add_argument("--token", help="require 'Authorization: Bearer TOKEN'")
    args = p.parse_args(argv)
    tz = ZoneInfo("Asia/Shanghai")
    if args.today and args.days_per_second:
        clock = compressed_clock(datetime(args.today.year, args.today.month, args.today.day, 9, tzinfo=tz),
                                 args.days_per_second)
    elif args.today:
        clock = fixed_clock(args.today)
    else:
        clock = lambda: datetime.now(tz)  # noqa: E731
    server = DataServer(clock, port=args.port, token=args.token)
    url = server.start()
    print(f"data server: {url}/api/daily?days=1 (today is {server.today()})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
