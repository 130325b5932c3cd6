"""Bad input, generated: every decoder and parser gives a result or its own clear error, never a crash.

(BX frames and replies, TPM2, config, the data file and CAP have their own property tests in
tests/unit; these cover the rest: ledctl-mqtt messages on both sides, AWTRIX payloads, the HTTP
source's JSON, and notice text.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledctl import config
from ledctl.drivers import awtrix3
from ledctl.drivers.ledctl_mqtt import MqttBoards
from ledctl.errors import DataError
from ledctl.notices.items import fit_problems
from ledctl.notices.workflow import Notice, NoticeError, clean_text
from ledctl.simulator.awtrix_device import AwtrixDevice
from ledctl.simulator.mqtt_board import BoardLogic
from ledctl.sources.http import HttpJsonSource

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)
DEP = config.load(REPO / "config" / "zhenhai.toml")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5),
    max_leaves=30,
)


def json_bytes(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


payloads = st.binary(max_size=300) | json_values.map(json_bytes)


class _NoLink:
    inbox = None


@SETTINGS
@given(leaf=st.sampled_from(["program", "status", "ack", "info", "page/0", "x"]), payload=payloads)
def test_the_controller_reads_any_board_message(leaf: str, payload: bytes) -> None:
    boards = MqttBoards(_NoLink(), "zhenhai")  # type: ignore[arg-type]
    boards._take(f"ledctl/v1/zhenhai/outdoor-urban/{leaf}", payload)
    state = boards.states.get("outdoor-urban")
    assert state is None or isinstance(state.shows, str)


@SETTINGS
@given(leaf=st.sampled_from(["program", "page/0", "page/1", "page/x", "cmd", "other"]), payload=payloads)
def test_a_board_answers_any_controller_message(leaf: str, payload: bytes) -> None:
    board = BoardLogic("zhenhai", "outdoor-urban", 256, 128, "full", clock=lambda: T0)
    out = board.on_message(f"ledctl/v1/zhenhai/outdoor-urban/{leaf}", payload)
    assert isinstance(out, list)
    board.snapshot()


@SETTINGS
@given(payload=payloads)
def test_awtrix_stats_and_screens(payload: bytes) -> None:
    for parse in (awtrix3.parse_stats, awtrix3.parse_screen):
        try:
            parse(payload)
        except awtrix3.AwtrixError as e:  # their documented error, naming what is wrong
            assert "AWTRIX" in str(e)


@SETTINGS
@given(
    leaf=st.sampled_from(["custom/ledctl-0", "custom/", "notify", "notify/dismiss", "power", "settings",
                          "apps", "switch", "sendscreen", "reboot", "x"]),
    payload=payloads,
)
def test_an_awtrix_device_takes_any_payload(leaf: str, payload: bytes) -> None:
    device = AwtrixDevice("awtrix_a1", clock=lambda: T0)
    assert isinstance(device.on_message(f"awtrix_a1/{leaf}", payload), list)
    device.snapshot()


@SETTINGS
@given(doc=json_values)
def test_the_http_source_reads_any_json(doc) -> None:
    source = HttpJsonSource.from_options("centre", DEP.sources["centre"].options)
    try:
        readings = source._parse(doc)
    except DataError as e:
        assert "source centre" in str(e)
    else:
        assert all(r.station for r in readings)


nasty = st.sampled_from(
    [
        "\u202e",
        "\u200f",
        "\x00",
        "\x07",
        "\x1b[31m",
        "😀",
        "\ufeff",
        "\U0010ffff",
        "𠀀",
        "\n",
        "\u3000",
        "Ω",
        "é",
    ]
)
texts = st.lists(st.text(max_size=20) | nasty, max_size=12).map("".join) | st.just("停" * 10_000)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=texts)
def test_notice_text_is_refused_clearly_or_shown_correctly(text: str) -> None:
    rules = DEP.notices
    try:
        cleaned = clean_text(text, "the text", rules.max_chars, rules.banned_words)
    except NoticeError as e:
        assert str(e).startswith("the text")
        return
    assert cleaned and len(cleaned) <= rules.max_chars
    notice = Notice(1, "通知", cleaned, "normal", ("all",), T0, T0 + timedelta(hours=1), "draft", "t", T0)
    problems = fit_problems(
        DEP, notice, DEP.boards[:1] + DEP.boards_in("legacy-mono")[:1] + DEP.boards_in("community")[:1]
    )
    assert all(isinstance(p, str) and ":" in p for p in problems)
