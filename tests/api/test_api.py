"""The HTTP API through its ASGI app: authentication, CSRF, roles on every call, clear 4xx errors,
login rate limiting, the notice lifecycle, audit and reports, and the pages."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from ledctl import config
from ledctl.api.app import Console, create_app
from ledctl.clock import FixedClock
from ledctl.notices.items import notices_for
from ledctl.notices.users import Users
from ledctl.store import Store

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
PASSWORDS = {
    "root": "root-password",
    "wang": "wang-password",
    "li": "li-password!",
    "chen": "chen-password",
    "guest": "guest-password",
}


@pytest.fixture
def console(tmp_path: Path) -> Console:
    dep = config.load(REPO / "config" / "zhenhai.toml").with_sample_data()
    clock = FixedClock(T0)
    store = Store(tmp_path / "ledctl.sqlite")
    users = Users(store.path)
    root = users.add("root", "admin", PASSWORDS["root"], T0, None)
    users.add("wang", "operator", PASSWORDS["wang"], T0, root)
    users.add("li", "approver", PASSWORDS["li"], T0, root)
    users.add("chen", "approver", PASSWORDS["chen"], T0, root)
    users.add("guest", "viewer", PASSWORDS["guest"], T0, root)
    return Console(dep, store, users, notices_for(dep, store.path, clock), clock)


def client(console: Console, user: str | None = None) -> TestClient:
    c = TestClient(create_app(console))
    if user:
        r = c.post("/api/login", json={"name": user, "password": PASSWORDS[user]})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf"]
    return c


DRAFT = {
    "title": "停水通知",
    "text": "明天上午九点到十二点停水，请提前储水。",
    "targets": ["group:community"],
    "end": (T0 + timedelta(hours=3)).isoformat(),
}


def test_the_lifecycle_through_the_api(console) -> None:
    """The shipped chain: the department's draft, the office's review (with 保密审查, may edit), the
    deputy head's approval; each refusal on the way."""
    wang, li, chen = client(console, "wang"), client(console, "li"), client(console, "chen")
    r = wang.post("/api/notices", json=DRAFT)
    assert r.status_code == 201, r.text
    n = r.json()
    assert n["state"] == "draft" and len(n["boards"]) == 40
    chain = n["chain"]
    assert [s["id"] for s in chain["stages"]] == ["department", "office", "leader"]
    assert chain["stages"][0]["by"] == "wang" and chain["stages"][0]["drafted"]  # the department drafted it
    assert chain["next"]["id"] == "office" and chain["next"]["not_by"] == ["wang"]
    r = wang.post(f"/api/notices/{n['id']}/approve")
    assert r.status_code == 403 and "approver role" in r.json()["error"]
    r = wang.post(f"/api/notices/{n['id']}/publish")
    assert r.status_code == 409 and "needs an approver first" in r.json()["error"]
    r = li.post(f"/api/notices/{n['id']}/approve")
    assert r.status_code == 409 and "保密审查" in r.json()["error"]
    r = wang.post(f"/api/notices/{n['id']}/edit", json={"text": "明天上午九点到十二点停水，请提前储水。"})
    assert r.status_code == 403 and "needs the approver role" in r.json()["error"]  # the office edits
    r = li.post(f"/api/notices/{n['id']}/edit", json={"text": "明天九点至十二点停水，请提前储水。"})
    assert r.status_code == 200 and r.json()["revision"] == 2, r.text
    r = li.post(f"/api/notices/{n['id']}/approve", json={"confidentiality_checked": True})
    assert r.json()["state"] == "draft" and r.json()["chain"]["next"]["id"] == "leader"
    assert r.json()["chain"]["next"]["not_by"] == ["wang", "li"]
    r = li.post(f"/api/notices/{n['id']}/approve")
    assert r.status_code == 403 and "two-person rule" in r.json()["error"]
    r = li.post(f"/api/notices/{n['id']}/edit", json={"title": "停水"})
    assert r.status_code == 409 and "does not edit" in r.json()["error"]  # the leader's stage edits nothing
    done = chen.post(f"/api/notices/{n['id']}/approve").json()
    assert (done["state"], done["approver"], done["chain"]["next"]) == ("approved", "chen", None)
    assert wang.post(f"/api/notices/{n['id']}/publish").json()["state"] == "published"
    r = wang.post(f"/api/notices/{n['id']}/cancel", json={"reason": "检修取消"})
    assert r.json()["state"] == "cancelled"
    audit = li.get("/api/audit").json()
    assert [e["action"] for e in audit][-6:] == ["draft", "edit", "sign-off", "approve", "publish", "cancel"]
    edit = audit[-5]
    assert (edit["actor"], edit["before"]["text"], edit["after"]["text"]) == (
        "li", "明天上午九点到十二点停水，请提前储水。", "明天九点至十二点停水，请提前储水。")
    assert li.get("/api/audit/verify").json()["intact"] is True
    report = li.get("/api/report", params={"month": "2026-11"}).json()
    assert report["notices_published"] == {"normal": {"manual": 1}} and report["notices_cancelled"] == 1


def test_the_author_cannot_approve_their_own(console) -> None:
    li = client(console, "li")
    n = li.post("/api/notices", json=DRAFT).json()
    r = li.post(f"/api/notices/{n['id']}/approve")
    assert r.status_code == 403 and "two-person rule" in r.json()["error"]


def test_no_login_no_access(console) -> None:
    c = client(console)
    for path in ("/api/boards", "/api/notices", "/api/data", "/api/audit", "/api/me", "/api/users"):
        r = c.get(path)
        assert r.status_code == 401 and "log in" in r.json()["error"], path
    assert c.post("/api/notices", json=DRAFT).status_code == 401
    r = c.get("/notices", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/notices"
    assert c.get("/login").status_code == 200


def test_roles_are_checked_on_every_call(console) -> None:
    guest = client(console, "guest")
    assert guest.get("/api/boards").status_code == 200
    r = guest.post("/api/notices", json=DRAFT)
    assert r.status_code == 403 and "guest (viewer) may not do this" in r.json()["error"]
    assert guest.get("/api/users").status_code == 403
    root = client(console, "root")
    assert [u["name"] for u in root.get("/api/users").json()] == ["chen", "guest", "li", "root", "wang"]
    r = root.post("/api/users", json={"name": "zhao", "role": "operator", "password": "zhao-password"})
    assert r.status_code == 201
    assert root.get("/api/audit", params={"subject": "user:zhao"}).json()[0]["action"] == "user-add"
    assert (
        client(console, "wang")
        .post("/api/users", json={"name": "x", "role": "admin", "password": "x-password-x"})
        .status_code
        == 403
    )


def test_cookie_sessions_need_the_csrf_token(console) -> None:
    wang = client(console, "wang")
    del wang.headers["X-CSRF-Token"]
    r = wang.post("/api/notices", json=DRAFT)
    assert r.status_code == 403 and "X-CSRF-Token" in r.json()["error"]
    wang.headers["X-CSRF-Token"] = "forged"
    assert wang.post("/api/notices", json=DRAFT).status_code == 403
    assert wang.get("/api/notices").status_code == 200  # reading needs no token


def test_the_session_cookie_is_locked_down(console) -> None:
    r = client(console).post("/api/login", json={"name": "wang", "password": PASSWORDS["wang"]})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    console.secure_cookies = True
    r = client(console).post("/api/login", json={"name": "wang", "password": PASSWORDS["wang"]})
    assert "secure" in r.headers["set-cookie"].lower()


def test_api_tokens_work_without_csrf(console) -> None:
    token = console.users.new_token(console.users.get("wang"), "test", T0)
    c = TestClient(create_app(console))
    r = c.post("/api/notices", json=DRAFT, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201
    r = c.get("/api/me", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401


def test_login_is_rate_limited(console) -> None:
    c = client(console)
    for _ in range(5):
        assert c.post("/api/login", json={"name": "wang", "password": "wrong"}).status_code == 401
    r = c.post("/api/login", json={"name": "wang", "password": PASSWORDS["wang"]})
    assert r.status_code == 429 and "too many failed logins" in r.json()["error"]
    console.clock.advance(minutes=6)
    assert c.post("/api/login", json={"name": "wang", "password": PASSWORDS["wang"]}).status_code == 200


@pytest.mark.parametrize(
    ("body", "status", "match"),
    [
        ({**DRAFT, "targets": []}, 422, "targets"),
        ({**DRAFT, "end": "tomorrow"}, 422, "end"),
        ({**DRAFT, "level": "urgent"}, 422, "level"),
        ({**DRAFT, "text": "内部资料"}, 409, "banned word"),
        ({**DRAFT, "targets": ["group:nowhere"]}, 409, "target 'group:nowhere'"),
        ({**DRAFT, "text": None}, 422, "text: give text, or a template"),
        ({**DRAFT, "end": (T0 - timedelta(hours=1)).isoformat()}, 409, "before it starts"),
    ],
)
def test_bad_input_is_a_clear_4xx(console, body, status, match) -> None:
    r = client(console, "wang").post("/api/notices", json=body)
    assert r.status_code == status and match in r.text


def test_preview_shows_pictures_and_fit_errors(console) -> None:
    wang = client(console, "wang")
    r = wang.post("/api/notices/preview", json={**DRAFT, "targets": ["all"]})
    assert r.status_code == 200
    p = r.json()
    assert p["errors"] == [] and {x["size"] for x in p["previews"]} >= {"256x128", "128x32"}
    assert all(src.startswith("data:image/png;base64,") for x in p["previews"] for src in x["pages"])
    r = wang.post(
        "/api/notices/preview", json={**DRAFT, "text": "停水😀通知", "targets": ["board:outdoor-urban"]}
    )
    assert any("outdoor-urban" in e for e in r.json()["errors"])


def test_pages_render_in_chinese_and_english(console) -> None:
    wang = client(console, "wang")
    wang.post("/api/notices", json=DRAFT)
    for path in ("/", "/data", "/notices", "/notices/1", "/audit", "/reports", "/boards/zbs-01"):
        r = wang.get(path)
        assert r.status_code == 200 and "<html" in r.text, path
    assert "屏幕总览" in wang.get("/").text
    assert "Fleet" in wang.get("/?lang=en").text and "Fleet" in wang.get("/").text  # the choice sticks
    assert wang.get("/sim").status_code == 404  # no simulator outside the demo


def test_a_month_out_of_range_is_a_clear_400(console) -> None:
    r = client(console, "guest").get("/api/report", params={"month": "9999-12"})
    assert r.status_code == 400 and "a month like 2026-11" in r.json()["error"]


def test_openapi_document(console) -> None:
    doc = client(console).get("/openapi.json").json()
    assert "/api/notices" in doc["paths"] and "/api/login" in doc["paths"]


def test_security_headers(console) -> None:
    r = client(console).get("/login")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff"


def test_every_console_page_says_when_the_figures_are_sample_data(console, tmp_path) -> None:
    # Issue 14.1: sample data belong to the demo and tests, and say so on the board and in the console.
    wang = client(console, "wang")
    for path in ("/", "/data", "/notices", "/reports"):
        assert "示例数据：" in wang.get(path).text, path
    real = replace(console, dep=config.load(REPO / "config" / "zhenhai.toml"))
    assert "示例数据：" not in client(real, "wang").get("/").text
