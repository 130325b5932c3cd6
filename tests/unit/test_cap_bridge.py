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
from tests.chain import approve_fully

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
    assert first.action == "drafted"
    assert "goes through the review chain (next: 1/3 业务科室确认" in first.message
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
    approve_fully(notices, n1.id)  # an imported alert still follows the approval rule
    notices.publish(LI, n1.id)

    clock.instant = datetime(2026, 11, 25, 10, 1, tzinfo=TZ)
    update = cap_bridge.import_alert(dep, notices, load("zhenhai-update.xml"))
    assert update.action == "drafted"
    n2 = notices.get(update.notices[0])
    # A hand-imported Update waits for an approver; until its replacement is published the old
    # warning stays on the boards (no gap in which the public sees nothing).
    assert notices.get(n1.id).state == "published"
    assert "stays up until then" in update.message
    assert n2.targets == ("all",)  # the district's geocode maps to every board
    assert "泄漏已得到控制" in n2.text
    assert n2.replaces == (n1.id,)
    approve_fully(notices, n2.id)
    notices.publish(LI, n2.id)
    assert notices.get(n1.id).state == "cancelled"
    assert notices.get(n1.id).reason == f"replaced by notice {n2.id}"

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
    approve_fully(notices, n.id)
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


# -- alerts that must get through ------------------------------------------------------------------


def _published_first_alert(dep, notices):
    first = cap_bridge.import_alert(dep, notices, load("zhenhai-alert.xml"))
    n1 = first.notices[0]
    approve_fully(notices, n1)
    notices.publish(LI, n1)
    return n1


def test_a_trusted_update_publishes_its_replacement_before_the_old_one_ends(dep, tmp_path) -> None:
    trusted = replace(dep, cap=replace(dep.cap, trusted_senders=(SENDER,)))
    clock = FixedClock(T0)
    notices = notices_for(trusted, tmp_path, clock)
    n1 = _published_first_alert(trusted, notices)
    clock.instant = datetime(2026, 11, 25, 10, 1, tzinfo=TZ)
    result = cap_bridge.import_alert(trusted, notices, load("zhenhai-update.xml"), may_trust=True)
    assert result.action == "published"
    n2 = notices.get(result.notices[0])
    assert n2.state == "published" and notices.get(n1).state == "cancelled"
    # The withdrawal is written in the same transaction as the publication, after it.
    log = [(e.action, e.subject) for e in notices.audit_log()
           if e.subject in (f"notice:{n1}", f"notice:{n2.id}")]
    assert log[-2:] == [("publish-trusted", f"notice:{n2.id}"), ("cancel", f"notice:{n1}")]


@pytest.mark.parametrize("how", ["allclear", "expires-at-sent"])
def test_an_update_that_is_a_cancellation_ends_the_warning(dep, tmp_path, how) -> None:
    # WCATWC's "Tsunami Cancellation" is msgType Update with expires equal to sent; others say
    # responseType AllClear. Either way the referenced warning must leave the boards now.
    clock = FixedClock(T0)
    notices = notices_for(dep, tmp_path, clock)
    n1 = _published_first_alert(dep, notices)
    clock.instant = datetime(2026, 11, 25, 10, 1, tzinfo=TZ)
    update = load("zhenhai-update.xml")
    if how == "allclear":
        update = replace(update, response_types=("AllClear",))
    else:
        update = replace(update, expires=update.sent)
    result = cap_bridge.import_alert(dep, notices, update)
    assert result.action == "cancelled" and result.notices == (n1,)
    assert notices.get(n1).state == "cancelled"
    assert [n.id for n in notices.list() if n.state != "cancelled"] == []


def test_a_refused_alert_can_be_imported_again_once_the_config_is_fixed(dep, tmp_path) -> None:
    notices = notices_for(dep, tmp_path)
    alert = replace(load("example2-thunderstorm.xml"), expires=T0 + timedelta(hours=1))
    with pytest.raises(NoticeError, match="no area maps"):
        cap_bridge.import_alert(dep, notices, alert)
    fixed = replace(dep, cap=replace(dep.cap, areas={**dep.cap.areas, alert.areas[0].desc: "all"}))
    again = cap_bridge.import_alert(fixed, Notices(fixed, tmp_path / "s.sqlite", FixedClock(T0)), alert)
    assert again.action == "drafted"  # not "duplicate": a refusal is not a handling


def test_one_bad_feed_entry_does_not_hide_the_next(dep, tmp_path) -> None:
    good = (CAP / "zhenhai-alert.xml").read_text(encoding="utf-8").split("?>", 1)[1]
    feed = f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><id>f</id><title>t</title><updated>2026-11-25T09:00:00Z</updated>
<entry><id>bad</id><title>no alert</title><updated>2026-11-25T09:00:00Z</updated></entry>
<entry><id>good</id><title>leak</title><updated>2026-11-25T09:00:00Z</updated>
<content type="text/xml">{good}</content></entry>
</feed>""".encode()
    problems: list[str] = []
    alerts = cap_bridge.read_alerts(feed, "feed", problems=problems)
    assert [a.identifier for a in alerts] == ["NBEMA-2026-1125-001"]
    assert len(problems) == 1 and "entry 'bad'" in problems[0]


def test_each_info_block_for_its_own_area_becomes_its_own_notice(dep, tmp_path) -> None:
    # An alert with a Moderate block for 招宝山街道 and an Extreme block for 石化区 published only the
    # first: the petrochemical-area leak warning was dropped. Each block is its own notice.
    xml = (CAP / "zhenhai-alert.xml").read_text(encoding="utf-8")
    head, info = xml.split("<info>", 1)
    info, tail = info.split("</info>", 1)
    moderate = (info.replace("<severity>Severe</severity>", "<severity>Moderate</severity>")
                .replace("<areaDesc>石化区</areaDesc>", "<areaDesc>招宝山街道</areaDesc>")
                .replace("<headline>石化区化学品泄漏</headline>", "<headline>招宝山街道空气异味</headline>"))
    extreme = info.replace("<severity>Severe</severity>", "<severity>Extreme</severity>")
    alert = parse_alert(f"{head}<info>{moderate}</info><info>{extreme}</info>{tail}".encode())
    notices = notices_for(dep, tmp_path)
    result = cap_bridge.import_alert(dep, notices, alert)
    made = [notices.get(i) for i in result.notices]
    assert sorted((n.title, n.targets, n.level) for n in made) == sorted([
        ("招宝山街道空气异味", ("group:community",), "normal"),
        ("石化区化学品泄漏", ("group:petrochemical-area",), "emergency"),
    ])


@pytest.mark.parametrize(("headline", "event", "title"), [
    # A headline longer than a title is cut at a word, never "…Mid Nort"; the event stands in first.
    ("Tsunami Warning for the coasts of Mid North Coast and Hunter of New South Wales", "",
     "Tsunami Warning for the coasts of Mid…"),
    ("Tsunami Warning for the coasts of Mid North Coast and Hunter of New South Wales", "Tsunami Warning",
     "Tsunami Warning"),
    ("### 暴雨橙色预警 ###", "暴雨", "暴雨橙色预警"),  # markup never reaches a board
    ("北京市气象台2026年11月25日9时升级发布暴雨橙色预警信号，预计未来6小时本市大部分地区", "",
     "北京市气象台2026年11月25日9时升级发布暴雨橙色预警信号…"),
])
def test_titles_are_cut_cleanly_and_without_markup(headline, event, title) -> None:
    alert = replace(load("zhenhai-alert.xml"), headline=headline, event=event or "x" * 50)
    assert cap_bridge._title(alert) == title
    assert len(cap_bridge._title(alert)) <= cap_bridge.TITLE_CHARS


def test_markup_is_dropped_from_the_text(dep) -> None:
    alert = replace(load("zhenhai-alert.xml"), description="### Heading\n**Move** to <b>high</b> ground",
                    instruction="")
    assert cap_bridge._text(dep, alert) == "Heading Move to high ground"
