"""The console's HTTP API attacked with bad input (issue 17, items 11 and 12): values JSON allows but no
field means (NaN, Infinity, lone surrogates, the wrong type), values just past a limit, and fields that
would be silently ignored. Every one is a 4xx naming the field, never a 500 or a dropped connection,
and never taken silently."""

from __future__ import annotations

import functools
import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledctl import config
from ledctl.api.app import Console, create_app
from ledctl.clock import FixedClock
from ledctl.notices.items import notices_for
from ledctl.notices.users import Users
from ledctl.store import Store

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DRAFT = {"title": "停水通知", "text": "明天上午九点到十二点停水，请提前储水。",
         "targets": ["group:community"], "end": (T0 + timedelta(hours=3)).isoformat()}


def make_console(state: Path) -> tuple[Console, str]:
    dep = config.load(REPO / "config" / "zhenhai.toml").with_sample_data()
    store = Store(state / "ledctl.sqlite")
    users = Users(store.path)
    root = users.add("root", "admin", "root-password", T0, None)
    clock = FixedClock(T0)
    console = Console(dep, store, users, notices_for(dep, store.path, clock), clock)
    return console, users.new_token(root, "t", T0)


@pytest.fixture(scope="module")
def api(tmp_path_factory) -> tuple[TestClient, dict[str, str]]:
    console, token = make_console(tmp_path_factory.mktemp("api"))
    client = TestClient(create_app(console), raise_server_exceptions=False)
    draft = client.post("/api/notices", json=DRAFT, headers={"Authorization": f"Bearer {token}"})
    assert draft.status_code == 201, draft.text  # notice 1, for the routes that act on one
    return client, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


# -- 11. nothing makes a 500: the OpenAPI document's every body field, given what JSON allows ---------

NASTY = [
    float("nan"), float("inf"), float("-inf"), "NaN", "Infinity",
    "\ud800", "a\udfffb", "\udbff\udfff\ud800",  # lone surrogates (JSON's \ud800 escapes)
    None, True, False, 0, -1, 2**64, 1e-320, "", "x" * 5000, [], {}, [None], {"a": float("nan")},
    "\x00", "\u202e", "2026-13-45T99:99", "tomorrow",
]
# A valid body per operation: the fuzz changes one field at a time, so each value meets every check.
VALID = {
    "/api/login": {"name": "root", "password": "wrong-password"},
    "/api/notices": DRAFT,
    "/api/notices/preview": DRAFT,
    "/api/notices/{notice_id}/reject": {"reason": "理由"},
    "/api/notices/{notice_id}/approve": {"confidentiality_checked": True},
    "/api/notices/{notice_id}/edit": {"text": "明天上午九点到十二点停水，请提前储水。"},
    "/api/notices/{notice_id}/cancel": {"reason": "理由"},
    "/api/notices/{notice_id}/override": {"reason": "理由"},
    "/api/users": {"name": "zhao", "role": "viewer", "password": "zhao-password"},
    "/api/sim/{board_id}/fault": {"offline": True},
}


@functools.cache
def operations_with_bodies() -> list[tuple[str, list[str]]]:
    """Every POST route with a body, and its fields, from the OpenAPI document (asked once, when the
    first test needs it; nothing is made at import)."""
    with tempfile.TemporaryDirectory(prefix="ledctl-openapi-") as state:
        console, _ = make_console(Path(state))
        doc = create_app(console).openapi()
        console.store.close()
    schemas = doc["components"]["schemas"]
    found = []
    for path, item in doc["paths"].items():
        body = item.get("post", {}).get("requestBody")
        if body is None:
            continue
        schema = body["content"]["application/json"]["schema"]
        # An optional body is anyOf [the model, null].
        schema = next((s for s in schema.get("anyOf", [schema]) if "$ref" in s), schema)
        ref = schema["$ref"].rsplit("/", 1)[1]
        found.append((path, sorted(schemas[ref]["properties"])))
    return found



def test_every_operation_with_a_body_is_fuzzed() -> None:
    # A new route needs its valid body in VALID.
    assert {path for path, _ in operations_with_bodies()} == set(VALID)


def send(client: TestClient, headers: dict[str, str], path: str, body: object):
    # allow_nan and ensure_ascii: NaN as JSON's NaN, a lone surrogate as its \ud800 escape.
    raw = json.dumps(body, allow_nan=True, ensure_ascii=True)
    return client.post(path.replace("{notice_id}", "1"), content=raw, headers=headers)


def assert_clear_4xx_or_success(r) -> None:
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        error = r.json()["error"]
        assert isinstance(error, str) and error and "Traceback" not in error


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_no_field_value_makes_a_server_error(api, data) -> None:
    client, headers = api
    path, fields = data.draw(st.sampled_from(operations_with_bodies()))
    field = data.draw(st.sampled_from([*fields, "unknown_field"]))
    value = data.draw(st.sampled_from(NASTY))
    body = {**VALID[path], field: value}
    assert_clear_4xx_or_success(send(client, headers, path, body))


@pytest.mark.parametrize("path", sorted(VALID))
@pytest.mark.parametrize("body", [float("nan"), "\ud800", [DRAFT], None, 5])
def test_no_body_makes_a_server_error(api, path, body) -> None:
    client, headers = api
    r = send(client, headers, path, body)
    assert 400 <= r.status_code < 500, r.text
    assert_clear_4xx_or_success(r)


@pytest.mark.parametrize("raw", [b"\xff\xfe{", b'{"name": "root", "password": "x"', b"NaN",
                                 b'{"name": "\\ud800"}'])
def test_broken_json_is_a_clear_4xx(api, raw) -> None:
    client, headers = api
    r = client.post("/api/login", content=raw, headers=headers)
    assert 400 <= r.status_code < 500
    assert_clear_4xx_or_success(r)


@pytest.mark.parametrize(("field", "value", "match"), [
    ("share", float("nan"), "share: Input should be a finite number"),
    ("share", float("inf"), "share: Input should be a finite number"),
    ("end", float("nan"), "end: "),
    ("title", "\ud800", "title: Input should be a valid string"),
    ("text", "停水\udfff通知", "text: Input should be a valid string"),
])
def test_the_attacks_of_the_issue_are_refused_by_name(api, field, value, match) -> None:
    client, headers = api
    r = send(client, headers, "/api/notices", {**DRAFT, field: value})
    assert r.status_code == 422 and match in r.json()["error"]


@pytest.mark.parametrize("name", [float("nan"), float("inf"), "\ud800"])
def test_a_login_name_that_is_not_text(api, name) -> None:
    client, headers = api
    r = send(client, headers, "/api/login", {"name": name, "password": "whatever-password"})
    assert r.status_code == 422 and r.json()["error"].startswith("name: ")


# -- 12. types and lengths as the CLI checks them; nothing taken silently ----------------------------


@pytest.mark.parametrize(("body", "match"), [
    ({**DRAFT, "title": "通" * 201}, "title: String should have at most 40 characters"),
    ({**DRAFT, "title": "通" * 41}, "title: String should have at most 40 characters"),
    ({**DRAFT, "blink": "yes"}, "blink: Input should be a valid boolean"),
    ({**DRAFT, "blink": 1}, "blink: Input should be a valid boolean"),
    ({**DRAFT, "title": None}, "title: a notice of free text needs a title"),
    ({k: v for k, v in DRAFT.items() if k != "title"}, "title: a notice of free text needs a title"),
    ({**DRAFT, "title": ""}, "title: String should have at least 1 character"),
    ({**DRAFT, "share": "0.5"}, "share: "),
    ({**DRAFT, "level": 1}, "level: "),
    ({**DRAFT, "targets": "all"}, "targets: "),
    ({**DRAFT, "colour": "red"}, "colour: Extra inputs are not permitted"),
    ({**DRAFT, "slots": {"level": "红色"}}, "slots: only with a template"),
    ({"template": "heavy-pollution", "slots": {"level": "红色"}, "title": "我的标题", "targets": ["all"],
      "end": DRAFT["end"]}, "title: a template brings its own wording"),
    ({"template": "heavy-pollution", "slots": {"level": "红色"}, "blink": True, "targets": ["all"],
      "end": DRAFT["end"]}, "blink: a template brings its own wording"),
])
def test_bad_types_and_lengths_are_refused_not_taken(api, body, match) -> None:
    client, headers = api
    for path in ("/api/notices", "/api/notices/preview"):
        r = send(client, headers, path, body)
        assert r.status_code == 422 and match in r.json()["error"], (path, r.text)


def test_a_template_draft_with_its_slots_only_is_taken(api) -> None:
    client, headers = api
    body = {"template": "heavy-pollution", "slots": {"level": "红色"}, "title": None, "text": None,
            "level": None, "targets": ["all"], "end": DRAFT["end"]}  # what the console sends
    r = send(client, headers, "/api/notices", body)
    assert r.status_code == 201 and r.json()["title"] == "重污染天气红色预警"


# -- 8. no open redirect after logging in -----------------------------------------------------------

OFF_SITE = ["/.//evil.example/x", "http://testserver//evil.example/x", "//evil.example/x",
            "/\\evil.example/x", "/%2e%2e//evil.example/x", "/%2F%2Fevil.example/x", "/\t/evil.example/x",
            "https://evil.example/", "/notices/../..//evil.example/x", "javascript:alert(1)"]


@pytest.mark.parametrize("target", OFF_SITE)
def test_the_login_page_is_never_served_with_an_off_site_next(api, target) -> None:
    client, _ = api
    r = client.get("/login", params={"next": target}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_one_next_only_the_server_and_the_browser_read_the_same(api) -> None:
    client, _ = api
    # A browser's URLSearchParams takes the first, Starlette the last: two are never served.
    r = client.get("/login?next=//evil.example/x&next=/notices", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


@pytest.mark.parametrize("target", ["/", "/notices", "/notices/3", "/boards/zbs-01",
                                    "/reports?month=2026-11"])
def test_the_consoles_own_paths_are_kept(api, target) -> None:
    client, _ = api
    assert client.get("/login", params={"next": target}).status_code == 200


def test_a_page_asked_for_before_logging_in_comes_back_only_if_it_is_the_consoles(api) -> None:
    client = TestClient(api[0].app)
    r = client.get("/notices/1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/notices/1"
    r = client.get("//evil.example/x", follow_redirects=False)
    assert r.headers.get("location") in (None, "/login")


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (make test installs it)")
@pytest.mark.parametrize("target", ["/.//evil.example/x", "http://127.0.0.1:{port}//evil.example/x"])
def test_a_browser_that_logs_in_stays_on_the_console(tmp_path, target) -> None:
    from urllib.parse import quote, urlsplit

    from playwright.sync_api import sync_playwright

    from ledctl.api import server

    console, _ = make_console(tmp_path)
    running = server.start(console, "127.0.0.1:0")
    port = urlsplit(running.url).port
    elsewhere: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
            page = browser.new_page()

            def only_the_console(route) -> None:  # anything else would be the redirect we fear
                if urlsplit(route.request.url).netloc == f"127.0.0.1:{port}":
                    route.continue_()
                else:
                    elsewhere.append(route.request.url)
                    route.abort()

            page.route("**/*", only_the_console)
            page.goto(f"{running.url}/login?next={quote(target.format(port=port), safe='')}")
            page.fill("input[name=name]", "root")
            page.fill("input[name=password]", "root-password")
            page.click("button[type=submit]")
            page.wait_for_url(f"{running.url}/")  # the console's front page, and nowhere else
            browser.close()
    finally:
        running.stop()
    assert elsewhere == []


# -- 9. login limits per account and per real peer; forwarding headers only from the proxies named ---


def post_json(url: str, body: object, headers: dict[str, str] | None = None) -> int:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.fixture
def served(tmp_path):
    """The console served by uvicorn as `ledctl serve` serves it (the attack needs the real server: its
    handling of X-Forwarded-For is what was believed), with users root and li."""
    from dataclasses import replace

    from ledctl.api import server
    from ledctl.config import ConsoleRules

    def serve(trusted: tuple[str, ...] = ()):
        import ipaddress

        console, _ = make_console(tmp_path)
        console.users.add("li", "approver", "li-password!", T0, console.users.get("root"))
        rules = ConsoleRules(tuple(ipaddress.ip_network(t) for t in trusted))
        console.dep = replace(console.dep, console=rules)
        running = server.start(console, "127.0.0.1:0")
        started.append(running)
        return running.url

    started: list = []
    yield serve
    for running in started:
        running.stop()


def test_a_client_cannot_choose_its_address_with_x_forwarded_for(served) -> None:
    url = served()
    answers = [post_json(f"{url}/api/login", {"name": "li", "password": f"guess-{i}"},
                         {"X-Forwarded-For": f"127.1.0.{i}"}) for i in range(30)]
    assert answers[:5] == [401] * 5 and set(answers[5:]) == {429}  # five tries, then locked out


def test_password_spraying_from_one_address_is_stopped(served) -> None:
    url = served()
    # One common password tried once against each of many names (most of them not even users).
    answers = [post_json(f"{url}/api/login", {"name": f"user{i}", "password": "Password123"})
               for i in range(30)]
    assert answers[:20] == [401] * 20 and set(answers[20:]) == {429}
    assert post_json(f"{url}/api/login", {"name": "li", "password": "li-password!"}) == 429  # this address


def test_one_account_guessed_from_many_addresses_is_stopped(served) -> None:
    url = served(trusted=("127.0.0.1",))  # a reverse proxy on this machine, whose header is believed
    answers = [post_json(f"{url}/api/login", {"name": "li", "password": f"guess-{i}"},
                         {"X-Forwarded-For": f"127.2.0.{i // 4}"}) for i in range(30)]
    assert answers[:20] == [401] * 20 and set(answers[20:]) == {429}
    # Another account is not affected, from any of those addresses.
    assert post_json(f"{url}/api/login", {"name": "root", "password": "root-password"},
                     {"X-Forwarded-For": "127.2.0.1"}) == 200


def test_behind_a_trusted_proxy_each_client_is_limited_on_its_own(served) -> None:
    url = served(trusted=("127.0.0.1",))
    mallory = {"X-Forwarded-For": "127.3.0.66"}
    assert [post_json(f"{url}/api/login", {"name": "li", "password": "wrong"}, mallory)
            for _ in range(6)] == [401] * 5 + [429]
    # A client's own claim left of the proxy's entry is not believed: the proxy appends the real one.
    spoofed = {"X-Forwarded-For": "127.4.0.1, 127.3.0.66"}
    assert post_json(f"{url}/api/login", {"name": "li", "password": "wrong"}, spoofed) == 429
    li = {"X-Forwarded-For": "127.5.0.10"}
    assert post_json(f"{url}/api/login", {"name": "li", "password": "li-password!"}, li) == 200


def test_the_real_peer_is_read_from_the_right() -> None:
    import ipaddress

    from ledctl.api.security import real_peer

    # Loopback addresses only (127.0.0.0/8 is a whole network of them): the proxies are 127.0.0.0/24.
    proxies = (ipaddress.ip_network("127.0.0.0/24"),)
    assert real_peer("127.9.0.7", "127.8.0.4", proxies) == "127.9.0.7"  # not a proxy: ignored
    assert real_peer("127.0.0.5", "127.8.0.4, 127.7.0.9", proxies) == "127.7.0.9"
    assert real_peer("127.0.0.5", "127.7.0.9, 127.0.0.7", proxies) == "127.7.0.9"  # two proxies
    assert real_peer("127.0.0.5", "not an address", proxies) == "127.0.0.5"
    assert real_peer("127.0.0.5", None, proxies) == "127.0.0.5"
    assert real_peer("::1", "127.8.0.4, 127.7.0.9", (ipaddress.ip_network("::1/128"),)) == "127.7.0.9"
