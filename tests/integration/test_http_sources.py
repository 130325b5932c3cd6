"""The HTTP source types (generic JSON, OpenAQ, WAQI) and the fake centre, over loopback HTTP only.

Each adapter is read from a real HTTP server on 127.0.0.1 serving the fixtures in
tests/fixtures/sources/, and made to fail every way a feed fails: rate limits, 5xx, timeouts,
bad JSON, missing fields, volume units and refused credentials. Backoff waits go to a fake
`sleep`, so nothing here waits for a retry; only the timeout tests wait (a fraction of a second).
"""

from __future__ import annotations

import json
import logging
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from ledctl import config
from ledctl.errors import ConfigError, DataError
from ledctl.model import Reading
from ledctl.simulator.data_server import DataServer, fixed_clock
from ledctl.sources import SOURCE_TYPES
from ledctl.sources.file import FileSource
from ledctl.sources.http import HttpJsonSource, HttpSettings
from ledctl.sources.openaq import OpenAQSource
from ledctl.sources.waqi import WaqiSource

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "sources"
SHANGHAI = ZoneInfo("Asia/Shanghai")
SECRET = "s3cr3t-T0ken-do-not-print"
FAST = HttpSettings(timeout_s=2.0, retries=3, backoff_s=0.5)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# -- a scripted loopback server ------------------------------------------------------------------

@dataclass
class Reply:
    status: int = 200
    doc: Any = None  # serialised as JSON …
    raw: bytes | None = None  # … unless raw bytes are given
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0

    def body(self) -> bytes:
        return self.raw if self.raw is not None else json.dumps(self.doc, ensure_ascii=False).encode()


@dataclass(frozen=True)
class Seen:
    path: str
    headers: dict[str, str]


class Loopback:
    """Answers each path with its replies in turn; the last one repeats. Unknown paths: 404."""

    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.seen: list[Seen] = []
        self.stopping = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.seen.append(Seen(self.path, {k.lower(): v for k, v in self.headers.items()}))
                replies = owner.routes.get(self.path.split("?", 1)[0])
                if not replies:
                    reply = Reply(404, {"error": "not found"})
                else:
                    reply = replies.pop(0) if len(replies) > 1 else replies[0]
                if reply.delay_s and owner.stopping.wait(reply.delay_s):
                    return
                body = reply.body()
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass  # a client that timed out and left

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def route(self, path: str, *replies: Reply) -> None:
        self.routes[path] = list(replies)

    def paths(self) -> list[str]:
        return [s.path.split("?", 1)[0] for s in self.seen]

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server() -> Iterator[Loopback]:
    s = Loopback()
    yield s
    s.stop()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback only: a proxy from the environment must not see these requests."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)


class Sleeps(list[float]):
    """A fake `sleep` that records each wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def registry() -> None:
    """The source types are chosen by name in the config: every adapter is registered."""
    assert SOURCE_TYPES["http"] is HttpJsonSource
    assert SOURCE_TYPES["openaq"] is OpenAQSource
    assert SOURCE_TYPES["waqi"] is WaqiSource


def deployment(tmp_path: Path, source_block: str, station: str = "zh-urban") -> config.Deployment:
    text = f"""\
[site]
name = "Test town"
timezone = "Asia/Shanghai"

{source_block}

[stations.{station}]
name = "City"
source = "x"

[links.broker]
url = "mqtt://127.0.0.1:1883"

[[boards]]
id = "big"
name = "Big screen"
size = "256x128"
colour = "full"
driver = "ledctl-mqtt"
link = "broker"
station = "{station}"
"""
    return config.parse(tomllib.loads(text), tmp_path / "ledctl.toml")


def config_problems(tmp_path: Path, source_block: str) -> str:
    with pytest.raises(ConfigError) as info:
        deployment(tmp_path, source_block)
    return "\n".join(info.value.problems)


def centre(url: str, sleeps: Sleeps, **options: object) -> HttpJsonSource:
    base: dict[str, object] = {
        "url": url, "records": "data.records", "station": "stationCode", "time": "date", "period": "24h",
        "fields": {"pm25": "pm2_5", "pm10": "pm10", "so2": "so2", "no2": "no2",
                   "co": {"path": "co", "unit": "mg/m3"}, "o3_8h": "o3_8h"},
        "timeout": 2, "retries": 3, "backoff": 0.5,
    }
    base.update(options)
    return HttpJsonSource.from_options("centre", base, sleep=sleeps)


def openaq(url: str, sleeps: Sleeps, **options: object) -> OpenAQSource:
    base: dict[str, object] = {"base_url": url, "locations": {"zh-urban": 12345},
                               "timeout": 2, "retries": 3, "backoff": 0.5}
    base.update(options)
    return OpenAQSource.from_options("openaq", base, sleep=sleeps)


def waqi(url: str, sleeps: Sleeps, **options: object) -> WaqiSource:
    base: dict[str, object] = {"base_url": url, "stations": {"zh-urban": "@1234"},
                               "timeout": 2, "retries": 3, "backoff": 0.5}
    base.update(options)
    return WaqiSource.from_options("waqi", base, sleep=sleeps)


def data_error(source: HttpJsonSource | OpenAQSource | WaqiSource) -> str:
    with pytest.raises(DataError) as info:
        source.fetch()
    message = str(info.value)
    assert SECRET not in message
    return message


def refused(source: HttpJsonSource | OpenAQSource | WaqiSource) -> tuple[list[Reading], list[str]]:
    """Each record is judged alone: what was read, and the reasons of what was refused."""
    fetched = source.fetch()
    reasons = [r.reason for r in fetched.rejected]
    assert all(SECRET not in r for r in reasons)
    return fetched.readings, reasons


# == generic HTTP JSON ============================================================================

DAILY = "/api/daily"


def test_http_reads_a_centre_document(server: Loopback, sleeps: Sleeps) -> None:
    server.route(DAILY, Reply(doc=fixture("centre-daily.json")))
    readings = centre(server.url + DAILY, sleeps).fetch().readings
    assert [r.station for r in readings] == ["zh-urban", "zh-jiaochuan", "zh-zhaobaoshan"]
    urban = readings[0]
    assert urban.period == "24h"
    assert urban.time == datetime(2026, 11, 24, tzinfo=SHANGHAI)
    assert urban.time.isoformat() == "2026-11-24T00:00:00+08:00"
    assert urban.values == {"pm25": Decimal(52), "pm10": Decimal(78), "so2": Decimal(8),
                            "no2": Decimal(41), "co": Decimal("0.7"), "o3_8h": Decimal(96)}
    # null and "" are values that were not measured: absent, not zero
    assert "pm25" not in readings[2].values and "co" not in readings[2].values
    assert readings[2].values["pm10"] == Decimal(70)
    assert sleeps == []
    assert server.seen[0].headers["accept"] == "application/json"


def test_http_converts_units_and_reads_periods_from_records(server: Loopback, sleeps: Sleeps) -> None:
    doc = [{"site": {"id": "zh-urban"}, "t": "2026-11-24T15:00:00+08:00", "avg": "1h",
            "co": {"v": 700, "u": "µg/m³"}, "pm": 0.052},
           {"site": {"id": "zh-urban"}, "t": "2026-11-24T16:00:00", "avg": "8h",
            "co": {"v": 0.8, "u": "mg/m3"}, "pm": 0.06}]
    server.route(DAILY, Reply(doc=doc))
    src = centre(server.url + DAILY, sleeps, records="", station="site.id", time="t", period="@avg",
                 fields={"co": {"path": "co.v", "unit": "@co.u"}, "pm25": {"path": "pm", "unit": "mg/m³"}})
    first, second = src.fetch().readings
    assert (first.period, first.time.isoformat()) == ("1h", "2026-11-24T15:00:00+08:00")
    assert first.values == {"co": Decimal("0.7"), "pm25": Decimal("52.000")}
    # a date-time without an offset is in the source's time zone
    assert (second.period, second.time) == ("8h", datetime(2026, 11, 24, 16, tzinfo=SHANGHAI))
    assert second.values["co"] == Decimal("0.8")


def test_http_from_config(tmp_path: Path, registry: None, server: Loopback, sleeps: Sleeps,
                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Needs the registry: config.parse looks the type up in SOURCE_TYPES."""
    monkeypatch.setenv("LEDCTL_CENTRE_TOKEN", SECRET)
    server.route(DAILY, Reply(doc=fixture("centre-daily.json")))
    dep = deployment(tmp_path, f"""\
[sources.x]
type = "http"
url = "{server.url}{DAILY}"
records = "data.records"
station = "stationCode"
time = "date"
period = "24h"
timeout = 1.5
retries = 2
backoff = 0.25
auth_header = "Authorization"
auth_env = "LEDCTL_CENTRE_TOKEN"
auth_scheme = "Bearer"
fields = {{ pm25 = "pm2_5", pm10 = "pm10", co = {{ path = "co", unit = "mg/m3" }} }}
""")
    source = dep.sources["x"]
    assert source.type == "http"
    assert SECRET not in repr(source.options)  # the config holds the variable's name only
    built = SOURCE_TYPES["http"].from_options("x", source.options)
    assert isinstance(built, HttpJsonSource)
    assert built.settings == HttpSettings(timeout_s=1.5, retries=2, backoff_s=0.25)
    built.sleep = sleeps
    readings = built.fetch().readings
    assert readings[0].values == {"pm25": Decimal(52), "pm10": Decimal(78), "co": Decimal("0.7")}
    assert server.seen[0].headers["authorization"] == f"Bearer {SECRET}"


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ('url = "ftp://centre/daily"', 'sources.x.url = "ftp://centre/daily": expected an http:// or https://'),
        ('url = "file:///etc/passwd"', 'sources.x.url = "file:///etc/passwd": expected an http://'),
        ('url = "http://[::1/daily"', 'sources.x.url = "http://[::1/daily": expected an http://'),
        ('url = "http://centre:port/daily"', 'sources.x.url = "http://centre:port/daily": expected'),
        ('auth_header = "Authorization"',
         "sources.x.auth_env: missing; auth_header and auth_env go together"),
        ('auth_env = "MY TOKEN"', 'sources.x.auth_env = "MY TOKEN": expected the NAME of an environment'),
        ('period = "2h"', 'sources.x.period = "2h": expected one of "24h", "1h", "8h"'),
        ("timeout = 0", "sources.x.timeout = 0: expected seconds per request"),
        ("retries = 99", "sources.x.retries = 99: expected extra attempts, 0..10"),
        ('timezone = "Mars/Base"', 'sources.x.timezone = "Mars/Base": expected an IANA time zone'),
        ('fields = { "pm2.5" = "pm2_5" }', "sources.x.fields.pm2.5: not a known parameter"),
        ('fields = { pm10 = { path = "pm10", unit = "ppb" } }',
         'sources.x.fields.pm10.unit = "ppb": expected a unit convertible to µg/m³'),
        ('fields = { no2 = { path = "no2", scale = 2 } }', "sources.x.fields.no2.scale: unknown key"),
        ("fields = {}", "sources.x.fields = {…}: expected at least one parameter"),
        ('token = "abc"', "sources.x.token: unknown key"),
    ],
)
def test_http_config_problems_name_the_key(tmp_path: Path, registry: None, block: str, expected: str) -> None:
    """Needs the registry: config.parse looks the type up in SOURCE_TYPES."""
    base = {"url": 'url = "http://127.0.0.1:17200/api/daily"', "fields": 'fields = { pm25 = "pm2_5" }'}
    key = block.split(" ", 1)[0]
    lines = [v for k, v in base.items() if k != key]
    head = ["[sources.x]", 'type = "http"', 'station = "stationCode"', 'time = "date"']
    text = "\n".join([*head, *lines, block])
    problems = config_problems(tmp_path, text)
    assert str(tmp_path / "ledctl.toml") in problems
    assert expected in problems


def test_http_429_honours_retry_after_then_succeeds(server: Loopback, sleeps: Sleeps) -> None:
    server.route(DAILY, Reply(429, {"error": "slow down"}, headers={"Retry-After": "7"}),
                 Reply(doc=fixture("centre-daily.json")))
    assert len(centre(server.url + DAILY, sleeps).fetch().readings) == 3
    assert sleeps == [7.0]
    assert server.paths() == [DAILY, DAILY]


def test_http_retry_after_is_capped(server: Loopback, sleeps: Sleeps) -> None:
    server.route(DAILY, Reply(503, {}, headers={"Retry-After": "86400"}),
                 Reply(429, {}, headers={"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"}),
                 Reply(doc=fixture("centre-daily.json")))
    centre(server.url + DAILY, sleeps).fetch()
    assert sleeps == [60.0, 1.0]  # capped; an HTTP-date falls back to the backoff (0.5 × 2)


def test_http_429_fails_after_the_retry_budget(server: Loopback, sleeps: Sleeps) -> None:
    server.route(DAILY, Reply(429, {}, headers={"Retry-After": "2"}))
    message = data_error(centre(server.url + DAILY, sleeps, retries=2))
    assert message == (f"source centre: {server.url}{DAILY} answered 429 Too Many Requests after 3 attempts")
    assert sleeps == [2.0, 2.0]
    assert len(server.seen) == 3


def test_http_5xx_backs_off_exponentially(server: Loopback, sleeps: Sleeps) -> None:
    server.route(DAILY, Reply(503, {"error": "maintenance"}))
    message = data_error(centre(server.url + DAILY, sleeps))
    assert message == (f"source centre: {server.url}{DAILY} answered 503 Service Unavailable "
                       "after 4 attempts")
    assert sleeps == [0.5, 1.0, 2.0]


def test_http_5xx_then_success(server: Loopback, sleeps: Sleeps) -> None:
    server.route(DAILY, Reply(500, {}), Reply(502, {}), Reply(doc=fixture("centre-daily.json")))
    assert len(centre(server.url + DAILY, sleeps).fetch().readings) == 3
    assert sleeps == [0.5, 1.0]


def test_http_4xx_is_not_retried(server: Loopback, sleeps: Sleeps) -> None:
    message = data_error(centre(server.url + "/api/nothing", sleeps))
    assert message == f"source centre: {server.url}/api/nothing answered 404 Not Found"
    assert sleeps == [] and len(server.seen) == 1


def test_http_timeout(server: Loopback, sleeps: Sleeps) -> None:
    server.route(DAILY, Reply(doc=fixture("centre-daily.json"), delay_s=3.0))
    message = data_error(centre(server.url + DAILY, sleeps, timeout=0.3, retries=1))
    # Each attempt gave up at its own timeout (the server would have answered after 3 s).
    assert message == f"source centre: {server.url}{DAILY} timed out after 0.3 s (2 attempts)"
    assert sleeps == [0.5]


def test_http_connection_refused_is_retried_then_reported(sleeps: Sleeps) -> None:
    closed = Loopback()
    url = closed.url + DAILY
    closed.stop()
    message = data_error(centre(url, sleeps, retries=1))
    assert message.startswith(f"source centre: {url} cannot be reached: ")
    assert message.endswith("(2 attempts)")
    assert sleeps == [0.5]


def test_http_malformed_json(server: Loopback, sleeps: Sleeps) -> None:
    server.route(DAILY, Reply(raw=b'{"data": {"records": [{"stationCode": '))
    message = data_error(centre(server.url + DAILY, sleeps))
    assert message.startswith(f"source centre: {server.url}{DAILY} is not valid JSON: Expecting value")
    assert sleeps == []  # a broken document is not retried


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["data"]["records"][1].pop("pm2_5"),
         "source centre: record 1 (station zh-jiaochuan): missing field 'pm2_5' (path pm2_5)"),
        (lambda d: d["data"]["records"][0].pop("date"),
         "source centre: record 0 (station zh-urban): missing field 'date' (path date)"),
        (lambda d: d["data"]["records"][2].pop("stationCode"),
         "source centre: record 2: missing field 'stationCode' (path stationCode)"),
        (lambda d: d["data"]["records"][1].update(pm10="n/a"),
         "source centre: record 1 (station zh-jiaochuan): field 'pm10' for pm10: 'n/a' is not a number"),
        (lambda d: d["data"]["records"][0].update(so2=-3),
         "source centre: record 0 (station zh-urban): field 'so2' for so2: '-3' is not a concentration"),
        (lambda d: d["data"]["records"][0].update(no2=True),
         "source centre: record 0 (station zh-urban): field 'no2' for no2: true is not a number"),
        (lambda d: d["data"]["records"][0].update(date="24/11/2026"),
         "source centre: record 0 (station zh-urban): time (path date) '24/11/2026' is not YYYY-MM-DD"),
        (lambda d: d["data"]["records"].append("zh-urban"),
         "record 3: expected an object, found a JSON string"),
    ],
)
def test_http_a_bad_record_is_refused_alone(server: Loopback, sleeps: Sleeps, change: Any,
                                            expected: str) -> None:
    """One bad record never fails the whole source: the others are read, the bad one is named."""
    doc = fixture("centre-daily.json")
    good = len(doc["data"]["records"])
    change(doc)
    server.route(DAILY, Reply(doc=doc))
    readings, reasons = refused(centre(server.url + DAILY, sleeps))
    assert len(readings) == good - (0 if "record 3" in expected else 1)
    assert len(reasons) == 1
    assert expected in reasons[0]


@pytest.mark.parametrize(("change", "expected"), [
    (lambda d: d["data"].update(records={"zh-urban": {}}),
     "expected a list of records at 'data.records', found a JSON object"),
    (lambda d: d.pop("data"), "expected a list of records at 'data.records', found nothing"),
])
def test_http_a_document_without_records_fails_the_source(server: Loopback, sleeps: Sleeps, change: Any,
                                                           expected: str) -> None:
    doc = fixture("centre-daily.json")
    change(doc)
    server.route(DAILY, Reply(doc=doc))
    assert expected in data_error(centre(server.url + DAILY, sleeps))


def test_http_gases_in_ppb_are_converted_at_the_reference_state(server: Loopback, sleeps: Sleeps) -> None:
    """GB 3095 (amendment 2018): gases at 298.15 K, 101.325 kPa, 24.465 L/mol."""
    doc = fixture("centre-daily.json")
    for record in doc["data"]["records"]:
        record["no2Unit"] = "µg/m³"
    doc["data"]["records"][2]["no2Unit"] = "ppb"
    doc["data"]["records"][2]["no2"] = 20
    server.route(DAILY, Reply(doc=doc))
    src = centre(server.url + DAILY, sleeps, fields={"no2": {"path": "no2", "unit": "@no2Unit"}})
    readings, reasons = refused(src)
    assert reasons == []
    assert round(readings[2].values["no2"], 2) == Decimal("37.61")  # 20 × 46.0055 / 24.465


def test_http_date_only_fits_a_daily_period(server: Loopback, sleeps: Sleeps) -> None:
    server.route(DAILY, Reply(doc=fixture("centre-daily.json")))
    readings, reasons = refused(centre(server.url + DAILY, sleeps, period="1h"))
    assert readings == []
    assert "a date without a time of day ('2026-11-24') fits only period 24h, not 1h" in reasons[0]


def test_http_sends_the_auth_header_from_the_environment(server: Loopback, sleeps: Sleeps,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDCTL_CENTRE_TOKEN", SECRET)
    server.route(DAILY, Reply(doc=fixture("centre-daily.json")))
    centre(server.url + DAILY, sleeps, auth_header="X-Centre-Key", auth_env="LEDCTL_CENTRE_TOKEN").fetch()
    assert server.seen[0].headers["x-centre-key"] == SECRET


def test_http_missing_auth_env_is_a_clear_error(server: Loopback, sleeps: Sleeps,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDCTL_CENTRE_TOKEN", raising=False)
    message = data_error(centre(server.url + DAILY, sleeps, auth_header="Authorization",
                                auth_env="LEDCTL_CENTRE_TOKEN"))
    assert message.startswith("source centre: auth_env LEDCTL_CENTRE_TOKEN is not set")
    assert server.seen == []  # nothing was sent without the credential


def test_http_refused_credential_is_named_not_printed(server: Loopback, sleeps: Sleeps,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDCTL_CENTRE_TOKEN", SECRET)
    server.route(DAILY, Reply(401, {"error": f"bad token {SECRET}"}))
    message = data_error(centre(server.url + DAILY, sleeps, auth_header="Authorization",
                                auth_env="LEDCTL_CENTRE_TOKEN", auth_scheme="Bearer"))
    assert message == (f"source centre: the credential in $LEDCTL_CENTRE_TOKEN was refused "
                       f"({server.url}{DAILY} answered 401 Unauthorized)")
    assert sleeps == []


def test_http_never_forwards_a_credential_to_another_server(server: Loopback, sleeps: Sleeps,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDCTL_CENTRE_TOKEN", SECRET)
    other = Loopback()
    try:
        other.route(DAILY, Reply(doc=fixture("centre-daily.json")))
        server.route(DAILY, Reply(302, {}, headers={"Location": f"{other.url}{DAILY}?key={SECRET}"}))
        message = data_error(centre(server.url + DAILY, sleeps, auth_header="Authorization",
                                    auth_env="LEDCTL_CENTRE_TOKEN"))
        assert other.seen == []
        assert f"answered 302 Found: a redirect to {other.url}{DAILY}?…, not followed" in message
    finally:
        other.stop()
    # the same server: followed, with the header
    server.route("/old", Reply(301, {}, headers={"Location": DAILY}))
    server.route(DAILY, Reply(doc=fixture("centre-daily.json")))
    src = centre(server.url + "/old", sleeps, auth_header="Authorization", auth_env="LEDCTL_CENTRE_TOKEN")
    assert len(src.fetch().readings) == 3
    assert server.seen[-1].headers["authorization"] == SECRET


# == OpenAQ =======================================================================================

LOCATION = "/v3/locations/12345"
LATEST = "/v3/locations/12345/latest"


@pytest.fixture
def openaq_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAQ_API_KEY", SECRET)


def serve_openaq(server: Loopback, location: Any = None, latest: Any = None) -> None:
    server.route(LOCATION, Reply(doc=location if location is not None else fixture("openaq-location.json")))
    server.route(LATEST, Reply(doc=latest if latest is not None else fixture("openaq-latest.json")))


def test_openaq_joins_sensors_and_latest(server: Loopback, sleeps: Sleeps, openaq_key: None) -> None:
    serve_openaq(server)
    readings = openaq(server.url, sleeps).fetch().readings
    assert [(r.station, r.period, r.time) for r in readings] == [
        ("zh-urban", "1h", datetime(2026, 11, 24, 6, tzinfo=UTC)),  # so2, stamped 07:00Z: hour 06–07
        ("zh-urban", "1h", datetime(2026, 11, 24, 7, tzinfo=UTC)),  # the rest, stamped 08:00Z
    ]
    earlier, later = readings
    assert earlier.values == {"so2": Decimal(9)}
    assert later.values == {"pm25": Decimal(38), "pm10": Decimal(61), "no2": Decimal(44),
                            "co": Decimal("0.7"),  # 700 µg/m³ → mg/m³
                            "o3_1h": Decimal(112)}  # o3 latest is hourly, never o3_8h
    assert later.time.astimezone(SHANGHAI).hour == 15  # the hour 15:00–16:00 local
    assert server.paths() == [LOCATION, LATEST]
    assert all(s.headers["x-api-key"] == SECRET for s in server.seen)


def test_openaq_from_config(tmp_path: Path, registry: None, server: Loopback, sleeps: Sleeps,
                            openaq_key: None) -> None:
    """Needs the registry: config.parse looks the type up in SOURCE_TYPES."""
    serve_openaq(server)
    dep = deployment(tmp_path, f"""\
[sources.x]
type = "openaq"
base_url = "{server.url}"
locations = {{ zh-urban = 12345 }}
timeout = 2
retries = 1
""")
    options = dep.sources["x"].options
    assert options["api_key_env"] == "OPENAQ_API_KEY" and options["locations"] == {"zh-urban": 12345}
    src = OpenAQSource.from_options("x", options, sleep=sleeps)
    assert src.settings.retries == 1
    assert len(src.fetch().readings) == 2


def test_openaq_config_problems(tmp_path: Path, registry: None) -> None:
    problems = config_problems(tmp_path, """\
[sources.x]
type = "openaq"
api_key_env = "the key"
locations = { zh-urban = "12345", zh-sea = -1 }
""")
    assert 'sources.x.api_key_env = "the key": expected the NAME of an environment variable' in problems
    assert 'sources.x.locations.zh-urban = "12345": expected an OpenAQ location id' in problems
    assert "sources.x.locations.zh-sea = -1: expected an OpenAQ location id" in problems
    missing = config_problems(tmp_path, '[sources.x]\ntype = "openaq"\n')
    assert "sources.x.locations: missing; expected a table of station id = OpenAQ location id" in missing


def test_openaq_gases_in_ppm_are_converted(server: Loopback, sleeps: Sleeps, openaq_key: None) -> None:
    """OpenAQ stations outside China report gases in ppm: converted at GB 3095's reference state."""
    location = fixture("openaq-location.json")
    no2 = location["results"][0]["sensors"][2]
    no2["parameter"]["units"] = "ppm"
    latest = fixture("openaq-latest.json")
    for item in latest["results"]:
        if item["sensorsId"] == no2["id"]:
            item["value"] = 0.02
    serve_openaq(server, location=location, latest=latest)
    readings, reasons = refused(openaq(server.url, sleeps))
    assert reasons == []
    values = [r.values["no2"] for r in readings if "no2" in r.values]
    assert values and round(values[0], 2) == Decimal("37.61")  # 0.02 ppm = 20 ppb


def test_openaq_no_data_sentinel_drops_that_value_only(server: Loopback, sleeps: Sleeps,
                                                       openaq_key: None) -> None:
    """OpenAQ writes -9999 for "no data": that value is refused, the station's others are read."""
    latest = fixture("openaq-latest.json")
    latest["results"][0]["value"] = -9999
    serve_openaq(server, latest=latest)
    readings, reasons = refused(openaq(server.url, sleeps))
    assert readings and all(r.values.get("pm25") != Decimal(-9999) for r in readings)
    assert len(reasons) == 1 and "no-data sentinel" in reasons[0]


def test_openaq_refused_key(server: Loopback, sleeps: Sleeps, openaq_key: None) -> None:
    server.route(LOCATION, Reply(401, {"detail": "Invalid credentials"}))
    message = data_error(openaq(server.url, sleeps))
    assert message == (f"source openaq: OpenAQ refused the API key in $OPENAQ_API_KEY (check or renew it) "
                       f"({server.url}{LOCATION} answered 401 Unauthorized)")
    server.route(LOCATION, Reply(403, {}))
    assert "OpenAQ refused the API key" in data_error(openaq(server.url, sleeps))
    assert sleeps == []


def test_openaq_missing_key(server: Loopback, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAQ_API_KEY", raising=False)
    message = data_error(openaq(server.url, sleeps))
    assert message.startswith("source openaq: api_key_env OPENAQ_API_KEY is not set")
    assert server.seen == []


def test_openaq_429_then_success_and_budget(server: Loopback, sleeps: Sleeps, openaq_key: None) -> None:
    serve_openaq(server)
    server.route(LATEST, Reply(429, {"message": "Too many requests"}, headers={"Retry-After": "3"}),
                 Reply(doc=fixture("openaq-latest.json")))
    assert len(openaq(server.url, sleeps).fetch().readings) == 2
    assert sleeps == [3.0]
    assert server.paths() == [LOCATION, LATEST, LATEST]

    server.route(LATEST, Reply(429, {}, headers={"Retry-After": "1"}))
    message = data_error(openaq(server.url, sleeps, retries=1))
    assert message == f"source openaq: {server.url}{LATEST} answered 429 Too Many Requests after 2 attempts"


def test_openaq_5xx(server: Loopback, sleeps: Sleeps, openaq_key: None) -> None:
    server.route(LOCATION, Reply(502, {}))
    message = data_error(openaq(server.url, sleeps, retries=2))
    assert message == f"source openaq: {server.url}{LOCATION} answered 502 Bad Gateway after 3 attempts"
    assert sleeps == [0.5, 1.0]


def test_openaq_timeout(server: Loopback, sleeps: Sleeps, openaq_key: None) -> None:
    serve_openaq(server)
    server.route(LATEST, Reply(doc={}, delay_s=3.0))
    message = data_error(openaq(server.url, sleeps, timeout=0.3, retries=0))
    assert message == f"source openaq: {server.url}{LATEST} timed out after 0.3 s"


def test_openaq_malformed_json(server: Loopback, sleeps: Sleeps, openaq_key: None) -> None:
    serve_openaq(server)
    server.route(LATEST, Reply(raw=b"<html>Bad gateway</html>"))
    assert f"{server.url}{LATEST} is not valid JSON" in data_error(openaq(server.url, sleeps))


@pytest.mark.parametrize(
    ("which", "change", "expected"),
    [
        ("latest", lambda d: d["results"][0].pop("datetime"),
         "latest results[0]: missing field 'datetime.utc'"),
        ("latest", lambda d: d["results"][1].pop("sensorsId"),
         "latest results[1]: missing field 'sensorsId'"),
        ("latest", lambda d: d["results"][1].pop("value"), "latest results[1]: missing field 'value'"),
        ("latest", lambda d: d["results"][0].update(value=-4.0), "no-data sentinel or a faulty sensor"),
        ("latest", lambda d: d.pop("results"), "latest: expected an object with a 'results' list"),
        ("location", lambda d: d.update(results=[]), "OpenAQ does not know this location"),
        ("location", lambda d: d["results"][0].pop("sensors"), "results[0].sensors is missing"),
        ("location", lambda d: d["results"][0]["sensors"][0]["parameter"].pop("units"),
         "sensors[0]: parameter pm25 has no units"),
    ],
)
def test_openaq_a_bad_answer_is_refused_for_its_station_only(server: Loopback, sleeps: Sleeps,
                                                             openaq_key: None, which: str, change: Any,
                                                             expected: str) -> None:
    docs = {"location": fixture("openaq-location.json"), "latest": fixture("openaq-latest.json")}
    change(docs[which])
    serve_openaq(server, docs["location"], docs["latest"])
    _, reasons = refused(openaq(server.url, sleeps))
    assert len(reasons) == 1
    assert reasons[0].startswith("source openaq: OpenAQ location 12345 (station zh-urban)")
    assert expected in reasons[0]


def test_openaq_429_waits_for_the_rate_limit_reset(server: Loopback, sleeps: Sleeps,
                                                   openaq_key: None) -> None:
    """OpenAQ sends no Retry-After with a 429, only x-ratelimit-reset (seconds left in the window)."""
    serve_openaq(server)
    server.route(LATEST, Reply(429, {"message": "Too many requests"}, headers={"x-ratelimit-reset": "17"}),
                 Reply(doc=fixture("openaq-latest.json")))
    assert len(openaq(server.url, sleeps).fetch().readings) == 2
    assert sleeps == [17.0]  # not the 0.5 s backoff, which would spend the next window's budget
    server.route(LATEST, Reply(429, {}, headers={"x-ratelimit-reset": "1800"}))
    message = data_error(openaq(server.url, sleeps))
    assert "rate limit resets in 1800 s" in message
    assert sleeps == [17.0]  # an hour-long window is not waited for within one fetch


def test_openaq_null_values_are_not_measured(server: Loopback, sleeps: Sleeps, openaq_key: None) -> None:
    latest = fixture("openaq-latest.json")
    latest["results"][0]["value"] = None  # pm25
    serve_openaq(server, latest=latest)
    assert "pm25" not in openaq(server.url, sleeps).fetch().readings[1].values


# == WAQI =========================================================================================

FEED = "/feed/@1234/"


@pytest.fixture
def waqi_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAQI_TOKEN", SECRET)


def test_waqi_gives_the_index_only(server: Loopback, sleeps: Sleeps, waqi_token: None) -> None:
    server.route(FEED, Reply(doc=fixture("waqi-feed.json")))
    (reading,) = waqi(server.url, sleeps).fetch().readings
    assert reading.station == "zh-urban" and reading.period == "1h"
    # WAQI's 16:00 is the hour 15:00–16:00: a Reading starts its period
    assert reading.time == datetime(2026, 11, 24, 15, tzinfo=timezone(timedelta(hours=8)))
    # only data.aqi; iaqi.* are sub-indices and never become pm25, pm10, …
    assert reading.values == {"us_aqi": Decimal(74)}
    assert server.seen[0].path == f"{FEED}?token={SECRET}"


def test_waqi_from_config(tmp_path: Path, registry: None, server: Loopback, sleeps: Sleeps,
                          waqi_token: None) -> None:
    """Needs the registry: config.parse looks the type up in SOURCE_TYPES."""
    server.route(FEED, Reply(doc=fixture("waqi-feed.json")))
    dep = deployment(tmp_path, f"""\
[sources.x]
type = "waqi"
base_url = "{server.url}"
stations = {{ zh-urban = "@1234" }}
timeout = 2
""")
    options = dep.sources["x"].options
    assert options["token_env"] == "WAQI_TOKEN" and options["stations"] == {"zh-urban": "@1234"}
    (reading,) = WaqiSource.from_options("x", options, sleep=sleeps).fetch().readings
    assert reading.values == {"us_aqi": Decimal(74)}


def test_waqi_config_problems(tmp_path: Path, registry: None) -> None:
    problems = config_problems(tmp_path, """\
[sources.x]
type = "waqi"
base_url = "api.waqi.info"
stations = { zh-urban = "../admin", zh-sea = 1234 }
token = "abc"
""")
    assert 'sources.x.base_url = "api.waqi.info": expected an http:// or https:// URL' in problems
    assert 'sources.x.stations.zh-urban = "../admin": expected a WAQI feed' in problems
    assert "sources.x.stations.zh-sea = 1234: expected a WAQI feed" in problems
    assert "sources.x.token: unknown key" in problems


def test_waqi_status_error_carries_its_message(server: Loopback, sleeps: Sleeps, waqi_token: None) -> None:
    server.route(FEED, Reply(doc={"status": "error", "data": f"Invalid key {SECRET}"}))
    message = data_error(waqi(server.url, sleeps))
    assert message == ("source waqi: WAQI feed @1234 (station zh-urban): WAQI answered status 'error': "
                       "Invalid key *** (check the token in $WAQI_TOKEN)")


def test_waqi_an_unknown_station_is_refused_alone(server: Loopback, sleeps: Sleeps, waqi_token: None) -> None:
    server.route(FEED, Reply(doc={"status": "error", "data": "Unknown station"}))
    server.route("/feed/@5678/", Reply(doc=fixture("waqi-feed.json")))
    readings, reasons = refused(waqi(server.url, sleeps, stations={"zh-urban": "@1234", "zh-sea": "@5678"}))
    assert [r.station for r in readings] == ["zh-sea"]
    assert len(reasons) == 1 and reasons[0].endswith("status 'error': Unknown station")


def test_waqi_no_aqi_means_no_values(server: Loopback, sleeps: Sleeps, waqi_token: None) -> None:
    doc = fixture("waqi-feed.json")
    doc["data"]["aqi"] = "-"
    server.route(FEED, Reply(doc=doc))
    (reading,) = waqi(server.url, sleeps).fetch().readings
    assert reading.values == {}
    doc["data"].pop("aqi")
    server.route(FEED, Reply(doc=doc))
    assert waqi(server.url, sleeps).fetch().readings[0].values == {}


def test_waqi_time_falls_back_to_s_and_tz(server: Loopback, sleeps: Sleeps, waqi_token: None) -> None:
    doc = fixture("waqi-feed.json")
    doc["data"]["time"].pop("iso")
    server.route(FEED, Reply(doc=doc))
    assert waqi(server.url, sleeps).fetch().readings[0].time.isoformat() == "2026-11-24T15:00:00+08:00"
    doc["data"].pop("time")
    server.route(FEED, Reply(doc=doc))
    assert "missing field 'time' (data.time.iso)" in refused(waqi(server.url, sleeps))[1][0]


def test_waqi_missing_token(server: Loopback, sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WAQI_TOKEN", raising=False)
    assert data_error(waqi(server.url, sleeps)).startswith("source waqi: token_env WAQI_TOKEN is not set")
    assert server.seen == []


def test_waqi_failures_never_show_the_token(server: Loopback, sleeps: Sleeps, waqi_token: None,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """The token is in the query string: every failure, and every log line, shows the URL without it."""
    shown = f"{server.url}{FEED}?…"
    server.route(FEED, Reply(429, {}, headers={"Retry-After": "5"}))
    with caplog.at_level(logging.DEBUG):
        assert data_error(waqi(server.url, sleeps, retries=1)) == (
            f"source waqi: {shown} answered 429 Too Many Requests after 2 attempts")
    assert sleeps == [5.0]
    assert f"{shown} answered 429 Too Many Requests; attempt 1 of 2, retrying in 5 s" in caplog.text
    assert SECRET not in caplog.text
    server.route(FEED, Reply(500, {}))
    assert data_error(waqi(server.url, sleeps, retries=0)) == (
        f"source waqi: {shown} answered 500 Internal Server Error")
    server.route(FEED, Reply(raw=b"{'status': 'ok'}"))
    assert data_error(waqi(server.url, sleeps)).startswith(f"source waqi: {shown} is not valid JSON")
    server.route(FEED, Reply(403, {}))
    assert data_error(waqi(server.url, sleeps)).startswith(
        "source waqi: WAQI refused the token in $WAQI_TOKEN")
    server.route(FEED, Reply(doc={"status": "ok"}, delay_s=3.0))
    assert data_error(waqi(server.url, sleeps, timeout=0.3, retries=0)) == (
        f"source waqi: {shown} timed out after 0.3 s")


def test_waqi_bad_aqi(server: Loopback, sleeps: Sleeps, waqi_token: None) -> None:
    doc = fixture("waqi-feed.json")
    doc["data"]["aqi"] = "high"
    server.route(FEED, Reply(doc=doc))
    assert "aqi: 'high' is not a number" in refused(waqi(server.url, sleeps))[1][0]


# == the fake monitoring centre ===================================================================

@pytest.fixture
def centre_server() -> Iterator[DataServer]:
    with DataServer(fixed_clock(date(2026, 11, 25))) as s:
        yield s


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, headers=headers or {})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        with e:
            return e.code, json.loads(e.read())


def test_data_server_serves_the_last_complete_days(centre_server: DataServer) -> None:
    status, doc = get(centre_server.daily_url + "?days=2")
    assert status == 200
    records = doc["data"]["records"]
    assert {r["date"] for r in records} == {"2026-11-23", "2026-11-24"}  # today (11-25) is not complete
    assert len(records) == 12  # 3 air + 3 water stations a day
    assert [r["date"] for r in records] == sorted(r["date"] for r in records)
    urban = next(r for r in records if r["stationCode"] == "zh-urban" and r["date"] == "2026-11-24")
    assert urban == {"stationCode": "zh-urban", "date": "2026-11-24", "pm2_5": 52, "pm10": 78, "so2": 8,
                     "no2": 41, "co": 0.7, "o3_8h": 96, "do": None, "codmn": None, "nh3n": None,
                     "tp": None, "tn": None}
    river = next(r for r in records if r["stationCode"] == "xiepu-dahe" and r["date"] == "2026-11-24")
    water = (river["do"], river["codmn"], river["nh3n"], river["tp"], river["tn"])
    assert water == (4.1, 7.5, 1.32, 0.26, 2.9)
    assert river["pm2_5"] is None
    _, one = get(centre_server.daily_url)  # default: one day
    assert {r["date"] for r in one["data"]["records"]} == {"2026-11-24"}


def test_data_server_missing_values_are_null() -> None:
    with DataServer(fixed_clock(date(2026, 11, 21))) as s:
        _, doc = get(s.daily_url + "?days=1")
    (zbs,) = [r for r in doc["data"]["records"] if r["stationCode"] == "zh-zhaobaoshan"]
    assert zbs["date"] == "2026-11-20" and zbs["pm2_5"] is None and zbs["co"] is None
    assert zbs["pm10"] is not None


def test_data_server_today_is_the_site_date() -> None:
    late_utc = datetime(2026, 11, 24, 17, 30, tzinfo=UTC)  # already 11-25 01:30 in Shanghai
    with DataServer(lambda: late_utc) as s:
        _, doc = get(s.daily_url + "?days=1")
    assert {r["date"] for r in doc["data"]["records"]} == {"2026-11-24"}


def test_data_server_rejects_bad_days(centre_server: DataServer) -> None:
    assert get(centre_server.daily_url + "?days=0")[0] == 400
    assert get(centre_server.daily_url + "?days=abc")[0] == 400
    assert get(centre_server.url + "/api/hourly")[0] == 404


def test_data_server_read_by_the_http_source(centre_server: DataServer, sleeps: Sleeps) -> None:
    """The config snippet of the report, read end to end: same values as the CSV files."""
    src = HttpJsonSource.from_options("centre", {
        "url": centre_server.daily_url + "?days=3", "records": "data.records", "station": "stationCode",
        "time": "date", "period": "24h",
        "fields": {"pm25": "pm2_5", "pm10": "pm10", "so2": "so2", "no2": "no2", "co": "co",
                   "o3_8h": "o3_8h", "do": "do", "codmn": "codmn", "nh3n": "nh3n", "tp": "tp", "tn": "tn"},
    }, sleep=sleeps)
    got = {(r.station, r.time, r.period): dict(r.values) for r in src.fetch().readings}
    days = {date(2026, 11, 22), date(2026, 11, 23), date(2026, 11, 24)}
    want = {(r.station, r.time, r.period): dict(r.values)
            for path in (centre_server.air_csv, centre_server.water_csv)
            for r in FileSource("csv", path, "Asia/Shanghai").fetch().readings if r.day in days}
    assert len(got) == 18
    assert got == want


def test_data_server_bearer_token(sleeps: Sleeps, monkeypatch: pytest.MonkeyPatch) -> None:
    with DataServer(fixed_clock(date(2026, 11, 25)), token=SECRET) as s:
        status, doc = get(s.daily_url)
        assert status == 401 and SECRET not in json.dumps(doc)
        assert get(s.daily_url, {"Authorization": "Bearer wrong"})[0] == 401
        assert get(s.daily_url, {"Authorization": f"Bearer {SECRET}"})[0] == 200
        monkeypatch.setenv("LEDCTL_CENTRE_TOKEN", SECRET)
        src = centre(s.daily_url, sleeps, auth_header="Authorization", auth_env="LEDCTL_CENTRE_TOKEN",
                     auth_scheme="Bearer")
        assert len(src.fetch().readings) == 6
        monkeypatch.setenv("LEDCTL_CENTRE_TOKEN", "stale-token")
        assert "the credential in $LEDCTL_CENTRE_TOKEN was refused" in data_error(src)


def test_data_server_fault_switches(centre_server: DataServer, sleeps: Sleeps) -> None:
    src = centre(centre_server.daily_url, sleeps, retries=1, timeout=0.3)
    centre_server.status_code, centre_server.retry_after = 503, 4
    assert data_error(src).endswith("answered 503 Service Unavailable after 2 attempts")
    assert sleeps == [4.0]
    centre_server.status_code, centre_server.retry_after = None, None
    centre_server.malformed = True
    assert "is not valid JSON" in data_error(src)
    centre_server.malformed = False
    centre_server.delay_s = 2.0
    assert data_error(src).endswith("timed out after 0.3 s (2 attempts)")
    centre_server.delay_s = 0.0
    assert len(src.fetch().readings) == 6  # all switches off: normal service again


# == the shapes Chinese open-data feeds use ======================================================
# Modelled on real feeds: pm25.in's `/api/querys/all_cities.json` (pinyin keys, "position_name" in
# Chinese, `time_point` written with a "Z" although it is Beijing time, "—" for no value); the
# provincial open-data platforms (one `pubtime` in epoch milliseconds for the whole document, keys
# "pm2.5", "_" for no value) and CNEMC-style dumps ("YYYY/MM/DD hh:mm:ss").

PM25IN = [
    {"aqi": 84, "area": "宁波", "position_name": "镇海区环保局", "station_code": "1571A",
     "pm2_5": 52, "pm10": 78, "so2": 8, "no2": 41, "co": 0.7, "o3_8h": 96,
     "time_point": "2026-11-24T15:00:00Z"},
    {"aqi": 61, "area": "宁波", "position_name": "市监测站", "station_code": "1572A",
     "pm2_5": 40, "pm10": "—", "so2": 6, "no2": 30, "co": 0.6, "o3_8h": 80,
     "time_point": "2026-11-24T15:00:00Z"},
    {"aqi": 70, "area": "宁波", "position_name": None, "station_code": None,  # the city row
     "pm2_5": 45, "pm10": 70, "so2": 7, "no2": 35, "co": 0.6, "o3_8h": 88,
     "time_point": "2026-11-24T15:00:00Z"},
]


def test_http_reads_pm25in_local_time_labelled_utc(server: Loopback, sleeps: Sleeps) -> None:
    server.route(DAILY, Reply(doc=PM25IN))
    src = centre(server.url + DAILY, sleeps, records="", station="position_name", time="time_point",
                 period="1h", ignore_offset=True,
                 stations={"镇海区环保局": "zh-urban", "市监测站": "nb-city"},
                 fields={"pm25": "pm2_5", "pm10": "pm10", "co": {"path": "co", "unit": "mg/m3"}})
    readings, reasons = refused(src)
    # The city row names no station: refused alone, with its reason; the stations are read.
    assert [r.station for r in readings] == ["zh-urban", "nb-city"]
    assert len(reasons) == 1 and "station (path position_name) null is not a station id" in reasons[0]
    # "15:00Z" is Beijing time on pm25.in: with ignore_offset it stays 15:00 +08:00.
    assert readings[0].time == datetime(2026, 11, 24, 15, tzinfo=SHANGHAI)
    assert "pm10" not in readings[1].values  # "—" means not measured


def test_http_reads_a_document_time_in_epoch_ms_and_dotted_keys(server: Loopback, sleeps: Sleeps) -> None:
    stamp = int(datetime(2026, 11, 24, 15, tzinfo=SHANGHAI).timestamp() * 1000)
    doc = {"code": 0, "pubtime": stamp, "result": {"rows": [
        {"站点名称": "招宝山", "pm2.5": "31", "pm10": "_", "co": "0.5"},
        {"站点名称": "蛟川", "pm2.5": "", "pm10": "60", "co": "0.8"},
        {"站点名称": "北仑", "pm2.5": "20", "pm10": "30", "co": "0.4"},  # not one of ours: skipped
    ]}}
    server.route(DAILY, Reply(doc=doc))
    src = centre(server.url + DAILY, sleeps, records="result.rows", station="站点名称", time="$.pubtime",
                 period="1h", stations={"招宝山": "zh-zhaobaoshan", "蛟川": "zh-jiaochuan"},
                 fields={"pm25": "pm2.5", "pm10": "pm10", "co": {"path": "co", "unit": "mg/m3"}})
    readings, reasons = refused(src)
    assert reasons == []
    assert [r.station for r in readings] == ["zh-zhaobaoshan", "zh-jiaochuan"]
    assert readings[0].values == {"pm25": Decimal("31"), "co": Decimal("0.5")}
    assert readings[1].values == {"pm10": Decimal("60"), "co": Decimal("0.8")}
    assert readings[0].time == datetime(2026, 11, 24, 15, tzinfo=SHANGHAI)


@pytest.mark.parametrize(("raw", "expected"), [
    ("2026/11/24 15:00:00", datetime(2026, 11, 24, 15, tzinfo=SHANGHAI)),
    ("2026/11/24", datetime(2026, 11, 24, tzinfo=SHANGHAI)),
    ("2026-11-24 15:00:00", datetime(2026, 11, 24, 15, tzinfo=SHANGHAI)),
    ("1764000000", datetime.fromtimestamp(1764000000, UTC)),  # epoch seconds as text
    (1764000000000, datetime.fromtimestamp(1764000000, UTC)),  # epoch milliseconds
])
def test_http_time_forms(raw: object, expected: datetime) -> None:
    from ledctl.sources.http import parse_time

    moment, _ = parse_time(raw, SHANGHAI, "t")
    assert moment == expected
