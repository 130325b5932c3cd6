"""Whatever a config file holds, `config.parse` answers with a Deployment or a ConfigError — never a crash."""

from __future__ import annotations

import tomllib
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledctl import config
from ledctl.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
SHIPPED = tomllib.loads((REPO / "config" / "zhenhai.toml").read_text(encoding="utf-8"))

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(max_size=12), st.dates(), st.times())
values = st.recursive(scalars.filter(lambda v: v is not None),
                      lambda inner: st.one_of(st.lists(inner, max_size=4),
                                              st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)
KEYS = ["site", "sources", "stations", "links", "boards", "groups", "schedule", "fonts", "layouts",
        "validation", "name", "url", "size", "colour", "driver", "address", "type", "path", "fields"]


def parse(data: dict) -> None:
    try:
        config.parse(data, Path("fuzz.toml"))
    except ConfigError as e:
        assert e.problems and all(p.startswith("fuzz.toml") for p in e.problems)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=6))
def test_random_documents_never_crash(data: dict) -> None:
    parse(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(section=st.sampled_from(["site", "schedule", "validation"]), key=st.text(max_size=10),
       value=values)
def test_one_changed_key_in_the_real_config_never_crashes(section: str, key: str, value: object) -> None:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in SHIPPED.items()}
    data.setdefault(section, {})
    data[section] = {**data[section], key: value}
    parse(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(index=st.integers(0, 41), key=st.sampled_from(["id", "size", "colour", "driver", "link", "address",
                                                      "groups", "station", "layout", "topic", "area"]),
       value=values)
def test_one_changed_board_key_never_crashes(index: int, key: str, value: object) -> None:
    boards = [dict(b) for b in SHIPPED["boards"]]
    boards[index][key] = value
    parse({**SHIPPED, "boards": boards})
