"""The resilience tests run in the same world as the integration tests: the simulated fleet, a real
mosquitto, the service with notices, and a clock the test moves."""

from __future__ import annotations

import pytest

from ..integration.conftest import service_world, site  # noqa: F401 - fixtures for the tests here


@pytest.fixture
def world(service_world):  # noqa: F811 - the fixture above, by the name these tests use
    return service_world
