"""Property-based test of the OpenAPI document (schemathesis): no input makes the API fail with 5xx.

Every operation is called with generated input, as an admin with an API token (so every
route is reachable), and each response is checked against the document too.
"""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import schemathesis
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

_state = Path(tempfile.mkdtemp(prefix="ledctl-schemathesis-"))
_dep = config.load(REPO / "config" / "zhenhai.toml")
_store = Store(_state / "ledctl.sqlite")
_users = Users(_store.path)
_admin = _users.add("root", "admin", "root-password", T0, None)
TOKEN = _users.new_token(_admin, "fuzz", T0)
APP = create_app(
    Console(_dep, _store, _users, notices_for(_dep, _store.path, FixedClock(T0)), FixedClock(T0))
)

schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case) -> None:
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=[not_a_server_error])
