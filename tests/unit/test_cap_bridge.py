"""CAP alerts into notices and notices out as CAP: the Alert → Update → Cancel chain, statuses that
never reach a board, trusted senders, expiry, area mapping, and export."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledctl import config
from ledctl.clock import FixedClock
from ledctl.notices import cap_bridge
from ledctl.notices.cap import parse_alert, parse_feed
from ledctl.notices.users import User
from ledctl.notices.workflow import NoticeError, Notices

REPO = Path(__file__).resolve().parents[2]
CAP = REPO / "tests" / "fixtures" / "cap"
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 25, 9, 5, tzinfo=TZ)
LI = User("li", "approver")
SENDER = "alert@yjj.ningbo.example"


@pytest.fixture
def dep():
    return config.load(REPO / "config" / "zhenhai.toml")


def notices_for(dep, tmp_path: Path, clock: FixedClock | None = None) -> Notices:
    return Notices(dep, tmp_path / "s.sqlite", clock or FixedClock(T0))


def load(name: str):
    return parse_alert((CAP / name).read_bytes(), where=name)


def test_alert_update_cancel_chain(dep, tmp_path) -> None:
    clock = FixedClock(T0)
    notices = notices_for(dep, tmp_path, clock)
    first = cap_bridge.import_alert(dep, notices, load("zhenhai-alert.xml"))
    assert first.action == "drafted" and "an approver must approve" in first.message
    n1 = notices.get(first.notices[0])
    assert (n1.origin, n1.level, n1.targets, n1.author) == (
        "cap",
        "emergency",
        ("group:petrochemical-area",),
        f"cap:{SENDER}",
    )
    assert (
        n1.title == "石化区化学品泄漏"
        and n1.text == "石化区一储罐发生化学品泄漏，现场正在处置。 附近居民请关闭门窗，就地避险。"
    )
    assert (n1.start, n1.end) == (datetime(2026, 11, 25, 9, tzinfo=TZ), datetime(2026, 11, 25, 13, tzinfo=TZ))
    assert n1.cap_identifier == "NBEMA-2026-1125-001"
    notices.approve(LI, n1.id)  # an imported alert still follows the approval rule
    notices.publish(LI, n1.id)

    clock.instant = datetime(2026, 11, 25, 10, 1, tzinfo=TZ)
    update = cap_bridge.import_alert(dep, notices, load("zhenhai-update.xml"))
    assert update.action == "drafted"
    n2 = notices.get(update.notices[0])
    assert (
        notices.get(n1.id).state == "cancelled" and "Update NBEMA-2026-1125-002" in notices.get(n1.id).reason
    )
    assert n2.targets == ("all",)  # the district's geocode maps to every board
    assert "泄漏已得到控制" in n2.text

    again = cap_bridge.import_alert(dep, notices, load("zhenhai-update.xml"))
    assert again.action == "duplicate" and again.notices == (n2.id,)

    cancel = cap_bridge.import_alert(dep, notices, load("zhenhai-cancel.xml"))
    assert cancel.action == "cancelled" and cancel.notices == (n2.id,)
    assert notices.get(n2.id).state == "cancelled"
    assert [n.state for n in notices.list()] == ["cancelled", "cancelled"]


def test_a_test_alert_never_becomes_a_notice(dep, tmp_path) -> None:
    notices = notices_for(dep, tmp_path)
    result = cap_bridge.import_alert(dep, notices, load("zhenhai-test.xml"))
    assert result.action == "ignored" and "never shown on a public board" in result.message
    assert notices.list() == []
    [entry] = notices.audit_log("cap:NBEMA-2026-1125-T01")
    assert entry.action == "cap-ignored" and '"status": "Test"' in entry.after


@pytest.mark.parametrize("status", ["Exercise", "System", "Draft"])
def test_other_statuses_are_ignored_too(dep, tmp_path, status) -> None:
    notices = notices_for(dep, tmp_path)
    alert = replace(load("zhenhai-alert.xml"), status=status)
    assert cap_bridge.import_alert(dep, notices, alert).action == "ignored" and notices.list() == []


def test_a_trusted_sender_publishes_at_once(dep, tmp_path) -> None:
    trusted = replace(dep, cap=replace(dep.cap, trusted_senders=(SENDER,)))
    notices = notices_for(trusted, tmp_path)
    # By hand (`ledctl cap import`), even a trusted sender's alert waits for an approver …
    by_hand = cap_bridge.import_alert(trusted, notices, replace(load("zhenhai-alert.xml"), identifier="X-1"))
    assert by_hand.action == "drafted"
    # … from a configured feed it is published at once.
    result = cap_bridge.import_alert(trusted, notices, load("zhenhai-alert.xml"), may_trust=True)
    n = notices.get(result.notices[0])
    assert result.action == "published" and n.state == "published" and n.approver == f"cap:{SENDER}"


def test_only_the_sender_can_cancel_or_update_its_alert(dep, tmp_path) -> None:
    notices = notices_for(dep, tmp_path)
    first = cap_bridge.import_alert(dep, notices, load("zhenhai-alert.xml"))
    forged = replace(load("zhenhai-cancel.xml"), sender="prankster@example.org")
    assert cap_bridge.import_alert(dep, notices, forged).notices == ()
    assert notices.get(first.notices[0]).state == "draft"


def test_an_update_that_cannot_be_shown_leaves_the_old_notice(dep, tmp_path) -> None:
    notices = notices_for(dep, tmp_path)
    first = cap_bridge.import_alert(dep, notices, load("zhenhai-alert.xml"))
    update = load("zhenhai-update.xml")
    nowhere = replace(update, areas=(replace(update.areas[0], desc="火星", geocodes=()),))
    with pytest.raises(NoticeError, match="no area maps"):
        cap_bridge.import_alert(dep, notices, nowhere)
    assert notices.get(first.notices[0]).state == "draft"  # the warning did not just disappear


def test_each_alert_is_handled_once(dep, tmp_path) -> None:
    notices = notices_for(dep, tmp_path)
    assert cap_bridge.import_alert(dep, notices, load("zhenhai-test.xml")).action == "ignored"
    assert cap_bridge.import_alert(dep, notices, load("zhenhai-test.xml")).action == "duplicate"
    assert len(notices.audit_log("cap:NBEMA-2026-1125-T01")) == 1


def test_expires_is_honoured(dep, tmp_path) -> None:
    notices = notices_for(dep, tmp_path, FixedClock(datetime(2026, 11, 25, 13, 0, tzinfo=TZ)))
    result = cap_bridge.import_alert(dep, notices, load("zhenhai-alert.xml"))
    assert result.action == "expired" and notices.list() == []
    # The spec's thunderstorm warning expired in 2003.
    assert cap_bridge.import_alert(dep, notices, load("example2-thunderstorm.xml")).action == "expired"


def test_an_area_the_config_does_not_map_is_a_clear_error(dep, tmp_path) -> None:
    notices = notices_for(dep, tmp_path)
    alert = replace(load("example2-thunderstorm.xml"), expires=T0 + timedelta(hours=1))
    with pytest.raises(
        NoticeError, match=r"no area maps to a group \(EXTREME NORTH CENTRAL TUOLUMNE.*\[cap.areas\]"
    ):
        cap_bridge.import_alert(dep, notices, alert)
    assert notices.audit_log()[-1].action == "cap-refused"


def test_severity_and_urgency_map_to_the_level() -> None:
    alert = load("zhenhai-alert.xml")
    assert cap_bridge.level_of(alert) == "emergency"
    assert cap_bridge.level_of(replace(alert, severity="Moderate")) == "normal"
    assert cap_bridge.level_of(replace(alert, urgency="Future")) == "normal"
    assert cap_bridge.level_of(replace(alert, severity="Extreme", urgency="Expected")) == "emergency"


def test_a_feed_with_a_linked_alert(dep, tmp_path) -> None:
    feed = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:feed</id><title>t</title><updated>2026-11-25T09:00:00+08:00</updated>
<entry><id>urn:e1</id><title>x</title><updated>2026-11-25T09:00:00+08:00</updated>
<link href="http://127.0.0.1:9/alert.xml" type="application/cap+xml"/></entry></feed>"""
    fetched = []

    def get(url: str) -> bytes:
        fetched.append(url)
        return (CAP / "zhenhai-alert.xml").read_bytes()

    alerts = cap_bridge.read_alerts(feed, "feed", get)
    assert fetched == ["http://127.0.0.1:9/alert.xml"] and [a.identifier for a in alerts] == [
        "NBEMA-2026-1125-001"
    ]


def test_export_is_cap_1_2_that_reads_back(dep, tmp_path) -> None:
    clock = FixedClock(T0)
    notices = notices_for(dep, tmp_path, clock)
    n = notices.draft(
        User("wang", "operator"),
        title="停水通知",
        text="明天上午停水 <09:00–12:00> & 请储水。",
        level="normal",
        targets=["group:community"],
        end=T0 + timedelta(hours=3),
    )
    with pytest.raises(Exception, match="never published"):
        cap_bridge.export(dep, n)
    notices.approve(LI, n.id)
    n = notices.publish(User("wang", "operator"), n.id)
    xml = cap_bridge.export(dep, n)
    assert xml.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    alert = parse_alert(xml)
    assert (alert.identifier, alert.sender, alert.status, alert.msg_type) == (
        f"zhenhai-notice-{n.id}",
        "ledctl@sthj.zhenhai.example",
        "Actual",
        "Alert",
    )
    assert alert.sent_text == "2026-11-25T09:05:00+08:00" and alert.expires == n.end
    assert alert.description == n.text and alert.headline == "停水通知"
    assert [a.desc for a in alert.areas] == ["小区公告屏"] and alert.severity == "Moderate"
    clock.advance(minutes=10)
    cancelled = notices.cancel(User("wang", "operator"), n.id, "恢复供水")
    cancel = parse_alert(cap_bridge.export(dep, cancelled))
    assert cancel.msg_type == "Cancel" and cancel.references == (alert.key,)
    assert parse_feed(xml)[0][0].identifier == alert.identifier


def test_the_service_polls_its_cap_feeds(dep, tmp_path) -> None:
    import http.server
    import threading

    from ledctl.service import Service
    from ledctl.store import Store

    body = (CAP / "zhenhai-alert.xml").read_bytes()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/cap.xml" else 404)
            self.end_headers()
            self.wfile.write(body if self.path == "/cap.xml" else b"")

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = server.server_address[1]
        feeds = (f"http://127.0.0.1:{port}/cap.xml", f"http://127.0.0.1:{port}/missing.xml")
        polled = replace(dep, cap=replace(dep.cap, feeds=feeds))
        notices = notices_for(polled, tmp_path)
        service = Service(polled, Store(tmp_path / "s.sqlite"), notices.clock, notices=notices)
        assert "cap-poll" in [j.id for j in service.jobs()]
        service.poll_cap()
        service.poll_cap()  # the second poll finds the same alert: imported once
        [n] = notices.list()
        assert n.cap_identifier == "NBEMA-2026-1125-001" and n.state == "draft"
    finally:
        server.shutdown()
