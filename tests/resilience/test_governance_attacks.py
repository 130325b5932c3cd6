"""The review rule attacked by the people it binds (issue 17): an approver who imports a CAP alert by
hand and then approves it alone, and banned words slipped past the check with full-width characters, odd
spaces and invisible characters."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledctl import cli, config
from ledctl.clock import FixedClock
from ledctl.notices.users import User, Users
from ledctl.notices.workflow import NoticeError, Notices, clean_text

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 25, 9, 5, tzinfo=TZ)
ALERT = REPO / "tests" / "fixtures" / "cap" / "zhenhai-alert.xml"  # Severe, Immediate: an emergency
PASSWORDS = {"root": "root-password", "li": "li-password!", "chen": "chen-password"}
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

    assert "an approver other than li must approve it" in imported
    # A second person approves; then it goes out, like any free text.
    assert ledctl(tmp_path, "chen", "notice", "approve", str(n.id), monkeypatch=monkeypatch) == 0
    assert ledctl(tmp_path, "li", "notice", "publish", str(n.id), monkeypatch=monkeypatch) == 0
    assert (notices.get(n.id).state, notices.get(n.id).approver) == ("published", "chen")


def test_a_feed_polled_by_the_service_keeps_the_senders_identity(dep, tmp_path) -> None:
    from ledctl.notices import cap_bridge
    from ledctl.notices.cap import parse_alert

    notices = Notices(dep, tmp_path / "s.sqlite", FixedClock(T0))
    alert = parse_alert(ALERT.read_bytes(), where="feed")
    result = cap_bridge.import_alert(dep, notices, alert, may_trust=True)
    n = notices.get(result.notices[0])
    assert n.author == "cap:alert@yjj.ningbo.example" and n.state == "draft"  # not a trusted sender
    notices.approve(LI, n.id)  # so any approver may approve it: no user wrote it
    # The same alert imported again by hand later is a duplicate, whoever brings it.
    again = cap_bridge.import_alert(dep, notices, alert, importer=LI)
    assert again.action == "duplicate"
    with pytest.raises(ValueError, match="never trusted"):
        cap_bridge.import_alert(dep, notices, alert, importer=LI, may_trust=True)


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
