"""Real CAP messages written by others (tests/fixtures/cap/world, sources in its SOURCES.md): every
Actual alert among them reaches the boards once the duty officer has mapped its areas, or — with
the shipped config, which maps none of them — is refused with a reason that says what to do.

Issue 14, "Done when": at least 20 real CAP messages, each Actual alert either reaching a board or
refused with a reason a duty officer can act on. The messages are kept byte for byte as their
senders wrote them: BOMs, CRLF, ISO-8859-1, `cap:` prefixes, signatures, a non-standard <alerts>
wrapper (SMHI), several <info> blocks, Traditional Chinese (Taiwan CWA/WRA/SWCB/NCC).
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from ledctl import config
from ledctl.clock import FixedClock
from ledctl.notices import cap_bridge
from ledctl.notices.cap import CapAlert, CapError
from ledctl.notices.items import NoticeItems, notices_for
from ledctl.notices.workflow import NoticeError

REPO = Path(__file__).resolve().parents[2]
WORLD = REPO / "tests" / "fixtures" / "cap" / "world"
FILES = sorted(WORLD.glob("*.xml"))
CAP_12 = [p for p in FILES if not p.name.startswith(("43-", "44-", "45-", "46-", "47-"))]


def alerts_in(path: Path) -> list[CapAlert]:
    problems: list[str] = []
    alerts = cap_bridge.read_alerts(path.read_bytes(), path.name, problems=problems)
    assert problems == [], problems
    return alerts


@pytest.fixture(scope="module")
def shipped():
    return config.load(REPO / "config" / "zhenhai.toml")


def test_the_collection_is_real_and_large_enough() -> None:
    sources = (WORLD / "SOURCES.md").read_text(encoding="utf-8")
    assert len(CAP_12) >= 20
    for path in FILES:
        assert f"| {path.name} |" in sources, f"{path.name} has no source line"
    actual = [a for p in CAP_12 for a in alerts_in(p) if a.status == "Actual"]
    assert len(actual) >= 30  # 42-smhi alone holds 17


@pytest.mark.parametrize("path", CAP_12, ids=lambda p: p.name[:2])
def test_every_actual_alert_reaches_every_board_it_names_once_its_areas_are_mapped(shipped, path,
                                                                                     tmp_path) -> None:
    for n, alert in enumerate(alerts_in(path)):
        # What a duty officer does for a sender the bureau takes alerts from: map its areas to the
        # boards, and trust the feed. The clock is a minute after the alert was sent.
        areas = {area.desc: "all" for block in alert.blocks() for area in block.areas}
        dep = replace(shipped, cap=replace(shipped.cap, areas=areas, trusted_senders=(alert.sender,)))
        now = alert.sent + timedelta(minutes=1)
        notices = notices_for(dep, tmp_path / f"{n}.sqlite", FixedClock(now))
        result = cap_bridge.import_alert(dep, notices, alert, may_trust=True)
        if alert.status != "Actual":
            assert result.action == "ignored", (path.name, result)
            continue
        if alert.msg_type == "Cancel" or cap_bridge.ends_the_warning(alert, now):
            assert result.action == "cancelled", (path.name, result)  # nothing of theirs to end here
            continue
        assert result.action == "published", (path.name, result)
        published = notices.published(now)
        assert {n.id for n in published} == set(result.notices)
        items = NoticeItems(dep, notices)(now)
        for notice in published:
            reached = {b for i in items if i.id == f"notice:{notice.id}" and i.pages for b in i.boards}
            assert reached == {b.id for b in dep.boards}, (path.name, notice.title)
            assert notice.title and "###" not in notice.title + notice.text


@pytest.mark.parametrize("path", CAP_12, ids=lambda p: p.name[:2])
def test_with_the_shipped_config_a_foreign_alert_is_refused_saying_what_to_do(shipped, path,
                                                                             tmp_path) -> None:
    for n, alert in enumerate(alerts_in(path)):
        now = alert.sent + timedelta(minutes=1)
        notices = notices_for(shipped, tmp_path / f"{n}.sqlite", FixedClock(now))
        if alert.status != "Actual" or alert.msg_type == "Cancel" or cap_bridge.ends_the_warning(alert, now):
            cap_bridge.import_alert(shipped, notices, alert)  # ignored or nothing to end: never an error
            continue
        with pytest.raises(NoticeError) as refused:
            cap_bridge.import_alert(shipped, notices, alert)
        why = str(refused.value)
        assert alert.identifier in why and "[cap.areas]" in why and "import the alert again" in why
        # The refusal is recorded, and does not count as handled: fixed config, imported again.
        assert [e.action for e in notices.audit_log(f"cap:{alert.identifier}")] == ["cap-refused"]


@pytest.mark.parametrize("path", [p for p in FILES if p not in CAP_12], ids=lambda p: p.name[:2])
def test_older_cap_versions_are_refused_naming_the_version_and_the_fix(path) -> None:
    with pytest.raises(CapError, match=r"this is a CAP 1\.[01] message .* ask the sender for CAP 1\.2"):
        alerts_in(path)


def test_the_smhi_alerts_wrapper_is_read_alert_by_alert() -> None:
    # SMHI serves a non-standard <alerts> element holding 17 CAP 1.2 <alert>s (file 42).
    alerts = alerts_in(WORLD / "42-smhi-sweden-alerts-wrapper-17-alerts.xml")
    assert len(alerts) == 17 and len({a.identifier for a in alerts}) == 17


def test_a_standing_alert_is_shown_for_the_longest_window_a_notice_may_have(shipped, tmp_path) -> None:
    # Several SMHI alerts expire a year after they are sent; a notice runs at most 31 days.
    alert = next(a for a in alerts_in(WORLD / "42-smhi-sweden-alerts-wrapper-17-alerts.xml")
                 if a.blocks()[0].expires and a.blocks()[0].expires - a.sent > timedelta(days=300))
    dep = replace(shipped, cap=replace(shipped.cap, areas={a.desc: "all" for a in alert.blocks()[0].areas}))
    notices = notices_for(dep, tmp_path / "s.sqlite", FixedClock(alert.sent))
    result = cap_bridge.import_alert(dep, notices, alert)
    notice = notices.get(result.notices[0])
    assert notice.end - notice.start == timedelta(days=31)


def test_traditional_chinese_goes_to_the_bx_cards_as_pictures(shipped, tmp_path) -> None:
    # The cards' own font is GB2312: 臺 and 氣象署 (traditional) are not in it. Before, file 25 was
    # refused on all 40 community boards ("the card's own font cannot draw this text").
    [alert] = alerts_in(WORLD / "25-cwa-heavy-rain-alert-2024-zh-tw.xml")
    dep = replace(shipped, cap=replace(shipped.cap, areas={a.desc: "all" for a in alert.blocks()[0].areas},
                                       trusted_senders=(alert.sender,)))
    now = alert.sent + timedelta(minutes=1)
    notices = notices_for(dep, tmp_path / "s.sqlite", FixedClock(now))
    [notice_id] = cap_bridge.import_alert(dep, notices, alert, may_trust=True).notices
    notice = notices.get(notice_id)
    items = NoticeItems(dep, notices)
    active = items(now)
    zbs = dep.board("zbs-01")
    assert items.text_for(zbs, [f"notice:{notice_id}"]) is None  # not the card's text …
    mine = [i for i in active if i.id == f"notice:{notice.id}" and zbs.id in i.boards]
    assert mine and len(mine[0].pages) >= 2  # … but every page of it, which the host plays


WARNINGS = tomllib.loads((REPO / "tests" / "fixtures" / "warnings" / "chinese-warnings.toml")
                         .read_text(encoding="utf-8"))["warning"]


@pytest.mark.parametrize("warning", WARNINGS, ids=lambda w: w["id"])
def test_real_chinese_warnings_reach_all_42_boards(shipped, warning, tmp_path) -> None:
    # Issue 14.11: `北京市气象台升级发布暴雨橙色预警信号` is wider than the outdoor title line and
    # `20毫米/小时` was refused for "ink outside its line": every real warning was refused everywhere.
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from ledctl.notices.users import User

    now = datetime(2026, 11, 25, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    notices = notices_for(shipped, tmp_path / "s.sqlite", FixedClock(now))
    notice = notices.draft(User("wang", "operator"), title=warning["title"], text=warning["text"],
                           level="emergency", targets=["all"], end=now + timedelta(hours=6))
    assert notice.id  # the fit check passed on all 42 boards
