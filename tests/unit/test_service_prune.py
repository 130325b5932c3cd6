"""The store does not grow without end: a daily job prunes it as `[store]` says (Store.prune has
its own tests in test_store_db.py; here, that the running service does it)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from ledctl import config
from ledctl.clock import FixedClock
from ledctl.service import PRUNE, Service
from ledctl.store import Store

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 25, 3, 17, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_the_service_prunes_the_store_every_night_as_the_config_says(tmp_path: Path) -> None:
    dep = config.load(REPO / "config" / "zhenhai.toml")
    dep = replace(dep, store=replace(dep.store, keep_health_days=7))
    store = Store(tmp_path / "s.sqlite")
    store.seen("zbs-01", True, NOW - timedelta(days=8))  # older than kept
    store.seen("zbs-01", True, NOW - timedelta(days=6))
    service = Service(dep, store, FixedClock(NOW))
    [job] = [j for j in service.jobs() if j.id == PRUNE]
    assert job.trigger.get_next_fire_time(None, NOW - timedelta(minutes=1)) == NOW  # 03:17 local
    service.run_job(job, NOW)
    with store.db.read() as db:
        assert db.execute("SELECT count(*) FROM health_checks").fetchone()[0] == 1
    assert PRUNE in store.job_runs()
