"""The store's service tables: proof of display without duplicates, health, job runs; config keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledctl import config
from ledctl.dispatch import backoff
from ledctl.errors import ConfigError
from ledctl.store import DeliveryRecord, Store

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


def test_confirming_again_extends_the_display_and_a_new_program_starts_one(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.set_intended("zbs-01", "aaa", "bulletin", T0)
    store.confirm(
        "zbs-01",
        "aaa",
        "bulletin",
        T0,
        DeliveryRecord("zbs-01", "aaa", "bitmap", True, "confirmed", 10, 0.1, T0),
    )
    store.confirm("zbs-01", "aaa", "bulletin", T0 + timedelta(hours=1))  # a re-assert
    store.confirm("zbs-01", "bbb", "notice", T0 + timedelta(hours=2))
    rows = store.displays("zbs-01")
    assert [(d.program, d.first_at, d.last_at) for d in rows] == [
        ("aaa", T0.isoformat(), (T0 + timedelta(hours=1)).isoformat()),
        ("bbb", (T0 + timedelta(hours=2)).isoformat(), (T0 + timedelta(hours=2)).isoformat()),
    ]
    board = store.boards()["zbs-01"]
    assert board.confirmed == "bbb" and board.intended == "aaa" and board.online is True


def test_failures_count_and_offline_is_remembered(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    assert store.failed("zbs-02", "offline (no reply)", T0, offline=True) == 1
    assert store.failed("zbs-02", "NACK", T0) == 2
    row = store.boards()["zbs-02"]
    assert row.online is False and row.failures == 2 and row.last_error == "NACK"
    store.confirm("zbs-02", "ccc", "x", T0)
    assert store.boards()["zbs-02"].failures == 0


def test_job_runs_and_facts_survive_a_new_store_object(tmp_path: Path) -> None:
    Store(tmp_path / "s.sqlite").job_ran("broadcast", T0, T0 + timedelta(seconds=3))
    Store(tmp_path / "s.sqlite").put("bulletin_at", T0.isoformat())
    again = Store(tmp_path / "s.sqlite")
    assert again.job_runs() == {"broadcast": T0} and again.get("bulletin_at") == T0.isoformat()
    assert again.get("missing") is None


def test_backoff_doubles_and_stops_at_five_minutes() -> None:
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4, 10)] == [5, 10, 20, 40, 300]


def test_schedule_keys_are_checked(tmp_path: Path, repo: Path) -> None:
    text = (repo / "config" / "zhenhai.toml").read_text(encoding="utf-8")
    text = text.replace('refresh = ["12:00", "17:00"]', 'refresh = ["12:00", "25:00"]')
    text = text.replace("health_every_minutes = 5 ", "health_every_minutes = 0 ")
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        config.load(path)
    problems = "\n".join(e.value.problems)
    assert 'schedule.refresh[1] = "25:00": expected a time of day' in problems
    assert "schedule.health_every_minutes = 0: expected minutes, 1..1440" in problems
    good = config.load(repo / "config" / "zhenhai.toml").schedule
    assert [t.strftime("%H:%M") for t in good.refresh] == [
        "12:00",
        "17:00",
    ] and good.misfire_grace_minutes == 120
