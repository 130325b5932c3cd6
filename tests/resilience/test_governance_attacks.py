"""The review rule attacked by the people it binds (issue 17): an approver who imports a CAP alert by
hand and then approves it alone, an operator who writes their own wording into a template's slot and
publishes it alone, and banned words slipped past the check with full-width characters, odd
spaces and invisible characters."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledctl import cli, config
from ledctl.clock import FixedClock
from ledctl.config import SlotType, Template
from ledctl.notices.users import User, Users
from ledctl.notices.workflow import NoticeError, Notices, clean_text
from tests.chain import approve_fully

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 25, 9, 5, tzinfo=TZ)
ALERT = REPO / "tests" / "fixtures" / "cap" / "zhenhai-alert.xml"  # Severe, Immediate: an emergency
PASSWORDS = {"root": "root-password", "li": "li-password!", "chen": "chen-password", "zhou": "zhou-password"}
WANG = User("wang", "operator")
LI = User("li", "approver")


@pytest.fixture
def dep() -> config.Deployment:
    return config.load(REPO / "config" / "zhenhai.toml")


# -- 1. a CAP alert imported by hand ----------------------------------------------------------------


def ledctl(state: Path, user: str, *argv: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("LEDCTL_PASSWORD", PASSWORDS[user])
    return cli.main(["--state", str(state), "--as", user, *argv, "-c", str(REPO / "config" / "zhenhai.toml")],
                    clock=FixedClock(T0))


def test_an_approver_who_imports_an_alert_by_hand_cannot_approve_it_alone(tmp_path, monkeypatch, capsys):
    users = Users(tmp_path / "ledctl.sqlite")
    root = users.add("root", "admin", PASSWORDS["root"], T0, None)
    users.add("li", "approver", PASSWORDS["li"], T0, root)
    users.add("chen", "approver", PASSWORDS["chen"], T0, root)
    users.add("zhou", "approver", PASSWORDS["zhou"], T0, root)

    assert ledctl(tmp_path, "li", "cap", "import", str(ALERT), monkeypatch=monkeypatch) == 0
    imported = capsys.readouterr().out
    notices = Notices(config.load(REPO / "config" / "zhenhai.toml"), tmp_path / "ledctl.sqlite",
                      FixedClock(T0))
    [n] = notices.list()
    assert (n.origin, n.level, n.author) == ("cap", "emergency", "li")
    assert n.cap_sender == "alert@yjj.ningbo.example"
    # The audit log names the person who brought the alert in, not the sender it claims to be from.
    assert {e.actor for e in notices.audit_log() if e.action in ("draft", "cap-import")} == {"li"}

    # The attack: the importer approves (then would publish) their own import.
    assert ledctl(tmp_path, "li", "notice", "approve", str(n.id), monkeypatch=monkeypatch) == 3
    assert "two-person rule" in capsys.readouterr().err
    assert notices.get(n.id).state == "draft"
    assert ledctl(tmp_path, "li", "notice", "publish", str(n.id), monkeypatch=monkeypatch) != 0
    assert notices.get(n.id).state == "draft"

    assert "2/3 办公室审核 (office): an approver other than li" in imported
    # The chain's other people sign it off; then it goes out, like any free text.
    assert ledctl(tmp_path, "chen", "notice", "approve", str(n.id), "--confidentiality-checked",
                  monkeypatch=monkeypatch) == 0
    assert ledctl(tmp_path, "zhou", "notice", "approve", str(n.id), monkeypatch=monkeypatch) == 0
    assert ledctl(tmp_path, "li", "notice", "publish", str(n.id), monkeypatch=monkeypatch) == 0
    assert (notices.get(n.id).state, notices.get(n.id).approver) == ("published", "zhou")


def test_a_feed_polled_by_the_service_keeps_the_senders_identity(dep, tmp_path) -> None:
    from ledctl.notices import cap_bridge
    from ledctl.notices.cap import parse_alert

    notices = Notices(dep, tmp_path / "s.sqlite", FixedClock(T0))
    alert = parse_alert(ALERT.read_bytes(), where="feed")
    result = cap_bridge.import_alert(dep, notices, alert, may_trust=True)
    n = notices.get(result.notices[0])
    assert n.author == "cap:alert@yjj.ningbo.example" and n.state == "draft"  # not a trusted sender
    approve_fully(notices, n.id)  # so any approver may approve it: no user wrote it
    # The same alert imported again by hand later is a duplicate, whoever brings it.
    again = cap_bridge.import_alert(dep, notices, alert, importer=LI)
    assert again.action == "duplicate"
    with pytest.raises(ValueError, match="never trusted"):
        cap_bridge.import_alert(dep, notices, alert, importer=LI, may_trust=True)


# -- 2. template slots ------------------------------------------------------------------------------

OWN_WORDING = "城河社区。另行通知：明天全区停课停工，所有居民立即前往火车站集合，不得延误，违者追究责任"


@pytest.mark.parametrize("area", [
    OWN_WORDING[:60],
    "城河社区\n明天全区停课",
    "城河社区，全区停课",
])
def test_an_operator_cannot_write_their_own_wording_into_a_pre_approved_template(dep, tmp_path, area):
    notices = Notices(dep, tmp_path / "s.sqlite", FixedClock(T0))
    with pytest.raises(NoticeError, match="slot area"):
        notices.draft_from_template(WANG, "shelter-in-place", {"area": area}, targets=["all"],
                                    end=T0 + timedelta(hours=2))
    assert notices.list() == []


def test_typed_slots_take_their_kind_only(dep, tmp_path) -> None:
    notices = Notices(dep, tmp_path / "s.sqlite", FixedClock(T0))
    end = T0 + timedelta(hours=2)
    for time, shown in [("9:00至12:00", "9:00至12:00"), ("11月26日9：00-12:00", "11月26日9:00至12:00")]:
        n = notices.draft_from_template(WANG, "water-outage", {"area": "城河社区", "time": time},
                                        targets=["group:community"], end=end)
        assert f"城河社区将于{shown}停水" in n.text and n.slots["time"] == shown and n.preapproved
    for time in ("明天上午", "9:00至全区停水", "25:00", "13月1日9:00"):
        with pytest.raises(NoticeError, match="slot time"):
            notices.draft_from_template(WANG, "water-outage", {"area": "城河社区", "time": time},
                                        targets=["group:community"], end=end)
    one_person = notices.draft_from_template(WANG, "shelter-in-place", {"area": "石化区"}, targets=["all"],
                                             end=end)
    assert notices.publish(WANG, one_person.id).state == "published"  # every slot typed: one person


def with_templates(dep: config.Deployment, *templates: Template) -> config.Deployment:
    return replace(dep, notices=replace(dep.notices, templates={t.id: t for t in templates}))


def test_a_template_with_a_free_text_slot_needs_a_second_person(dep, tmp_path) -> None:
    free = Template("evacuate", "疏散通知", "emergency", "紧急通知", "{area}请立即疏散。", {"area": ()},
                    {"area": SlotType("text", max_chars=60)})
    notices = Notices(with_templates(dep, free), tmp_path / "s.sqlite", FixedClock(T0))
    n = notices.draft_from_template(WANG, "evacuate", {"area": "城河社区全体居民"}, targets=["all"],
                                    end=T0 + timedelta(hours=2))
    assert not n.preapproved
    with pytest.raises(NoticeError, match="another approver approves it first"):
        notices.publish(WANG, n.id)
    assert notices.get(n.id).state == "draft"
    approve_fully(notices, n.id)
    assert notices.publish(WANG, n.id).state == "published"


def test_numbers_and_short_names(dep, tmp_path) -> None:
    typed = Template("closure", "封路", "normal", "封路通知", "{road}封闭{hours}小时。",
                     {"road": (), "hours": ()},
                     {"road": SlotType("name", max_chars=8), "hours": SlotType("number", low=1, high=72)})
    notices = Notices(with_templates(dep, typed), tmp_path / "s.sqlite", FixedClock(T0))
    end = T0 + timedelta(hours=2)
    n = notices.draft_from_template(WANG, "closure", {"road": "车站路", "hours": "３"}, targets=["all"],
                                    end=end)
    assert n.text == "车站路封闭3小时。" and n.preapproved
    for slots, match in [({"road": "车站路，全区停水", "hours": "3"}, "slot road"),
                         ({"road": "很长很长很长的一条路名", "hours": "3"}, "slot road"),
                         ({"road": "车站路", "hours": "100"}, "slot hours = 100: a number from 1 to 72"),
                         ({"road": "车站路", "hours": "三"}, "slot hours")]:
        with pytest.raises(NoticeError, match=match):
            notices.draft_from_template(WANG, "closure", slots, targets=["all"], end=end)


def test_config_check_reads_slot_types(tmp_path) -> None:
    text = (REPO / "config" / "zhenhai.toml").read_text(encoding="utf-8")
    text = text.replace('slots = { level = ["黄色", "橙色", "红色"] }',
                        'slots = { level = { kind = "colour" }, n = { kind = "number", min = 5, max = 1 } }')
    (tmp_path / "c.toml").write_text(text.replace('"sample-data/', f'"{REPO}/config/sample-data/'),
                                     encoding="utf-8")
    with pytest.raises(config.ConfigError) as e:
        config.load(tmp_path / "c.toml")
    problems = "\n".join(e.value.problems)
    assert 'slots.level.kind = "colour": expected "name", "text" or "number"' in problems
    assert "slots.n.max = 1: expected a number greater than min" in problems


# -- 3. banned words in disguise --------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "本通知为内　部资料",          # an ideographic space
    "本通知为内 部 资 料",         # plain spaces
    "本通知为内\u3164部资料",      # a Hangul filler: blank on a board
    "本通知为内\u034f部资料",      # a combining grapheme joiner
    "本通知为内部资料",            # the word itself, for comparison
    "ｍｉｍｉ文件请勿外传",        # full-width Latin
    "Ｍ Ｉ Ｍ Ｉ文件请勿外传",
])
def test_banned_words_are_found_in_disguise(text) -> None:
    with pytest.raises(NoticeError, match="banned word"):
        clean_text(text, "the text", 200, ("内部资料", "mimi"))


def test_zero_width_characters_never_reach_a_board() -> None:
    for zw in ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"):
        with pytest.raises(NoticeError):
            clean_text(f"内{zw}部资料", "the text", 200, ("内部资料",))


def test_the_disguise_check_does_not_refuse_honest_text() -> None:
    assert clean_text("内部道路　资料齐全", "the text", 200, ("内部资料",)) == "内部道路　资料齐全"


def test_a_template_slot_cannot_smuggle_a_banned_word(dep, tmp_path) -> None:
    free = Template("evacuate", "疏散通知", "emergency", "紧急通知", "{area}请立即疏散。", {"area": ()},
                    {"area": SlotType("text", max_chars=60)})
    notices = Notices(with_templates(dep, free), tmp_path / "s.sqlite", FixedClock(T0))
    with pytest.raises(NoticeError, match="banned word"):
        notices.draft_from_template(WANG, "evacuate", {"area": "机　密"}, targets=["all"],
                                    end=T0 + timedelta(hours=2))
