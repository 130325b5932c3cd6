from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# The shipped config logs in to its broker as "ledctl" with the password from this variable; the
# simulated broker is made with it. Set here once, so every test (and the CLI runs they start) has it.
os.environ.setdefault("LEDCTL_MQTT_PASSWORD", "test-only-controller-password")

# The audit log is unkeyed unless a test gives it a key: one in the developer's environment would
# make the tests' stores keyed by it.
os.environ.pop("LEDCTL_AUDIT_KEY", None)

# A CLI run a test forgets to give --state would otherwise write into the checkout's ./var.
if "LEDCTL_STATE" not in os.environ:
    import tempfile

    os.environ["LEDCTL_STATE"] = tempfile.mkdtemp(prefix="ledctl-test-state-")


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def zhenhai():
    """The shipped config, every station reading the sample data (no monitoring centre runs in
    the tests; every page built from them says 示例数据)."""
    from ledctl import config

    return config.load(REPO / "config" / "zhenhai.toml").with_sample_data()
