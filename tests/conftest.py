from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def zhenhai():
    """The shipped config, every station reading the sample data (no monitoring centre runs in
    the tests; every page built from them says 示例数据)."""
    from ledctl import config

    return config.load(REPO / "config" / "zhenhai.toml").with_sample_data()
