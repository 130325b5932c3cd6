"""One bad notice row in the store (issue 17, item 13): invalid JSON, an end of "tomorrow", a document
edited by hand. The service keeps composing and delivers the other notices; `ledctl notice list` lists
the rest and says rows were left out; `ledctl doctor` names each row and what is wrong with it (exit 1),
and `ledctl audit verify` sees the hand-edited one too."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from ledctl import cli
from ledctl.notices.users import User
from ledctl.simulator.bx_card import BxCard
from tests.chain import approve_fully

REPO = Path(__file__).resolve().parents[2]
CONFIG = str(REPO / "config" / "zhenhai.toml")
LI = User("li", "approver")

pytestmark = pytest.mark.skipif(not shutil.which("mosquitto"), reason="needs mosquitto (make test has it)")


def damage(path: Path) -> None:
    """Three published notices damaged by hand: the columns say "published for ever", so the service's
    every-second query picks them up."""
    with sqlite3.connect(path) as raw:
        far = 2**62
        raw.execute("INSERT INTO notices (id, doc, state, end_us) VALUES (90, '{\"id\": 90, \"title\": ', "
                    "'published', ?)", (far,))
        doc = json.loads(raw.execute("SELECT doc FROM notices ORDER BY id LIMIT 1").fetchone()[0])
        raw.execute("INSERT INTO notices (id, doc, state, end_us) VALUES (91, ?, 'published', ?)",
                    (json.dumps({**doc, "id": 91, "end": "tomorrow"}, ensure_ascii=False), far))
        raw.execute("INSERT INTO notices (id, doc, state, end_us) VALUES (92, '[\"published\"]', "
                    "'published', ?)", (far,))


def test_the_service_and_the_cli_carry_on_past_damaged_rows(world, tmp_path, capsys) -> None:
    service, notices, fleet, clock = world
    first = notices.draft(LI, title="通知", text="今日下午城河社区停电检修。", level="normal",
                          targets=["group:community"], end=clock.now() + timedelta(hours=2))
    notices.db.close()
    damage(notices.path)

    # The service: composing (every second in `ledctl serve`) and delivering go on.
    emergency = notices.draft(LI, title="紧急通知", text="石化区发生化学品泄漏，请关闭门窗，就地避险。",
                              level="emergency", targets=["group:community"],
                              end=clock.now() + timedelta(hours=2))
    notices.override(LI, emergency.id, "泄漏正在扩散")
    clock.advance(seconds=5)
    service.recompose(clock.now())
    service.dispatcher.settle()
    cards = [fleet.boards[b.id].device for b in service.dep.boards_in("community")]
    assert all(isinstance(c, BxCard) and any("化学品泄漏" in t for t in c.text_areas.values()) for c in cards)

    # notice list: the readable ones, and a word that some were left out.
    state = str(notices.path.parent)
    assert cli.main(["--state", state, "notice", "list", "--json", "-c", CONFIG], clock=clock) == 0
    out = capsys.readouterr()
    assert [n["id"] for n in json.loads(out.out)] == [first.id, emergency.id]
    assert "3 notice row(s) cannot be read and are left out (rows 90, 91, 92; ledctl doctor says why)" \
        in out.err

    # doctor: each row and its problem.
    assert cli.main(["--state", state, "doctor", "-c", CONFIG], clock=clock) == 1
    out = capsys.readouterr().out
    assert "notices: 3 row(s) cannot be read" in out
    assert "notice row 90: its document is not JSON" in out
    assert 'notice row 91: end = "tomorrow": not an ISO 8601 time' in out
    assert "notice row 92: its document is not a JSON object" in out
    assert "notice(s) 90, 91, 92: no row in the audit log" in out  # and the audit log never saw them
    assert cli.main(["--state", state, "doctor", "--json", "-c", CONFIG], clock=clock) == 1
    report = json.loads(capsys.readouterr().out)
    assert [d["row"] for d in report["damaged_notices"]] == [90, 91, 92] and not report["audit"]["intact"]


def test_a_published_notice_edited_in_the_store_is_named(world, capsys) -> None:
    _, notices, _, clock = world
    n = notices.draft(LI, title="通知", text="今日下午城河社区停电检修。", level="normal",
                      targets=["group:community"], end=clock.now() + timedelta(hours=2))
    approve_fully(notices, n.id)
    notices.publish(LI, n.id)
    notices.db.close()
    with sqlite3.connect(notices.path) as raw:  # the text changed behind the review rule's back
        doc = json.loads(raw.execute("SELECT doc FROM notices WHERE id = ?", (n.id,)).fetchone()[0])
        raw.execute("UPDATE notices SET doc = ? WHERE id = ?",
                    (json.dumps({**doc, "text": "明天全区停课。"}, ensure_ascii=False, sort_keys=True), n.id))
    state = str(notices.path.parent)
    assert cli.main(["--state", state, "audit", "verify", "-c", CONFIG], clock=clock) == 1
    assert f"notice(s) {n.id}: the store holds another document than the audit log's last row" in \
        capsys.readouterr().out
    assert cli.main(["--state", state, "doctor", "-c", CONFIG], clock=clock) == 1


def test_doctor_on_a_sound_store(world, capsys) -> None:
    _, notices, _, clock = world
    notices.draft(LI, title="通知", text="今日下午城河社区停电检修。", level="normal",
                  targets=["group:community"], end=clock.now() + timedelta(hours=2))
    assert cli.main(["--state", str(notices.path.parent), "doctor", "-c", CONFIG], clock=clock) == 0
    out = capsys.readouterr()
    assert "notices: every row reads" in out.out and ": intact" in out.out
    assert "the log is not keyed" in out.err  # said, but not a failure: an unkeyed log is a choice
