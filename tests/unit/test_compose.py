"""Arbitration by the priority lattice, with absolute windows, as a pure function."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from PIL import Image

from ledctl.compose import Item, Priority, compose, timeline
from ledctl.model import Page

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=TZ)


def page(name: str, dwell: float = 8.0) -> Page:
    return Page(name, Image.new("RGB", (8, 8)), dwell_s=dwell)


BULLETIN = Item("bulletin", Priority.BULLETIN, (page("air"), page("source")), T0, T0 + timedelta(days=1))
IDLE = Item("idle", Priority.IDLE, (page("clock", 10),))


def names(program) -> list[str]:
    return [p.name for p in program.pages]


def test_bulletin_over_idle_and_idle_when_nothing_else() -> None:
    assert names(compose("b1", T0, [IDLE, BULLETIN])) == ["air", "source"]
    assert names(compose("b1", T0 - timedelta(hours=1), [IDLE, BULLETIN])) == ["clock"]


def test_normal_notice_shares_the_loop_by_its_ratio() -> None:
    notice = Item("n1", Priority.NORMAL, (page("notice", 4),), T0, T0 + timedelta(hours=2), share=0.5)
    program = compose("b1", T0 + timedelta(minutes=5), [IDLE, BULLETIN, notice])
    assert names(program) == ["notice"] * 4 + ["air", "source"]  # 16 s of notice to 16 s of bulletin
    notice_time = sum(p.dwell_s for p in program.pages if p.name == "notice")
    assert notice_time / sum(p.dwell_s for p in program.pages) >= 0.5


def test_emergency_takeover_shows_alone_and_ends_exactly_at_its_end() -> None:
    end = T0 + timedelta(minutes=30)
    alert = Item("e1", Priority.EMERGENCY, (page("alert", 5),), T0 + timedelta(minutes=10), end,
                 takeover=True)
    during = compose("b1", T0 + timedelta(minutes=15), [IDLE, BULLETIN, alert])
    assert names(during) == ["alert"] and during.valid_to == end
    after = compose("b1", end, [IDLE, BULLETIN, alert])  # the window is [start, end)
    assert names(after) == ["air", "source"]


def test_targets_decide_who_sees_a_notice() -> None:
    notice = Item("n1", Priority.NORMAL, (page("notice"),), T0, None, boards=frozenset({"b2"}))
    assert "notice" not in names(compose("b1", T0, [BULLETIN, notice]))
    assert "notice" in names(compose("b2", T0, [BULLETIN, notice]))


def test_validity_window_ends_at_the_next_change() -> None:
    later = Item("n1", Priority.NORMAL, (page("notice"),), T0 + timedelta(hours=3), T0 + timedelta(hours=4))
    program = compose("b1", T0 + timedelta(hours=1), [BULLETIN, later])
    assert program.valid_from == T0 and program.valid_to == T0 + timedelta(hours=3)


def test_timeline_walks_every_change() -> None:
    notice = Item("n1", Priority.NORMAL, (page("notice"),), T0 + timedelta(hours=1), T0 + timedelta(hours=2))
    alert = Item("e1", Priority.EMERGENCY, (page("alert"),), T0 + timedelta(hours=1, minutes=30),
                 T0 + timedelta(hours=1, minutes=45), takeover=True)
    steps = timeline("b1", [IDLE, BULLETIN, notice, alert], T0 - timedelta(hours=1), T0 + timedelta(hours=3))
    summary = [(p.valid_from.strftime("%H:%M"), sorted(set(names(p)))) for p in steps]
    assert summary == [
        ("07:00", ["clock"]),
        ("08:00", ["air", "source"]),
        ("09:00", ["air", "notice", "source"]),
        ("09:30", ["alert"]),
        ("09:45", ["air", "notice", "source"]),
        ("10:00", ["air", "source"]),
    ]
