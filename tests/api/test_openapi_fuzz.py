"""Property-based test of the OpenAPI document (schemathesis): no input makes the API fail with 5xx.

Every operation is called with generated input, as an admin with an API token (so every
route is reachable), and each response is checked against the document too.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from ledctl import config
from ledctl.api.app import Console, create_app
from ledctl.clock import FixedClock
from ledctl.notices.items import notices_for
from ledctl.notices.users import Users
from ledctl.store import Store

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))

_dep = config.load(REPO / "config" / "zhenhai.toml")
# The document only, from an app that serves nothing: no store, no user, nothing written at import.
_DOC = create_app(Console(_dep, None, None, None, FixedClock(T0))).openapi()  # type: ignore[arg-type]


class Served:
    """The app the cases are called on: made by the fixture below, after import."""

    app: FastAPI | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "the served fixture makes the app"
        await self.app(scope, receive, send)


SERVED = Served()
schema = schemathesis.openapi.from_dict(_DOC)
schema.app = SERVED  # called in process (ASGI)


@pytest.fixture(scope="module", autouse=True)
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The API of the shipped config over a fresh store, called by every case; an admin's token (so
    every route is reachable)."""
    store = Store(tmp_path_factory.mktemp("schemathesis") / "ledctl.sqlite")
    users = Users(store.path)
    token = users.new_token(users.add("root", "admin", "root-password", T0, None), "fuzz", T0)
    clock = FixedClock(T0)
    SERVED.app = create_app(Console(_dep, store, users, notices_for(_dep, store.path, clock), clock))
    yield token
    SERVED.app = None
    store.close()


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case, served: str) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {served}"}, checks=[not_a_server_error])
