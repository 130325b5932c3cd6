"""Regressions from review: bounded busy loops, wills that do not confirm, one URL per wire."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from ledctl.drivers.base import Outcome
from ledctl.drivers.ledctl_mqtt import MqttBoards
from ledctl.drivers.link import SerialLink
from ledctl.drivers.onbon import commands
from ledctl.drivers.onbon.driver import BxCard, DeliveryError
from ledctl.model import Board, ColourMode, Size

REPO = Path(__file__).resolve().parents[2]
BOARD = Board("b1", "b1", Size(128, 32), ColourMode.RED_GREEN, "onbon-bx", "l", "s", address=1)


def test_a_card_that_stays_busy_is_given_up_on_in_bounded_time() -> None:
    waits: list[float] = []
    card = BxCard(BOARD, SerialLink("l", "loop://"), sleep=waits.append)
    ack = commands.Reply(0xA0, 0x00, 0, b"")
    busy = commands.Reply(0xA0, 0x01, 3, b"")
    replies = iter([ack] + [busy] * 10_000)
    card._once = lambda frame: next(replies)  # type: ignore[method-assign]
    with pytest.raises(DeliveryError, match="ERR_BUSY") as err:
        card.show_bitmap(Image.new("RGB", (128, 32)))
    assert err.value.outcome is Outcome.NACK
    assert len(waits) <= 4 * (card.retries + 1) + 1 and max(waits) <= 2.0


class _NoLink:
    inbox = None


def test_an_offline_will_never_counts_as_showing_its_program() -> None:
    boards = MqttBoards(_NoLink(), "site")  # type: ignore[arg-type]
    boards._take("ledctl/v1/site/b1/status", json.dumps({"state": "offline", "program": "H"}).encode())
    assert boards.states["b1"].shows == "" and boards.states["b1"].online is False
    boards._take("ledctl/v1/site/b1/status", json.dumps({"state": "online", "program": "H"}).encode())
    assert boards.states["b1"].shows == "H"


def test_two_links_on_one_wire_are_refused(tmp_path: Path) -> None:
    from ledctl import config
    from ledctl.errors import ConfigError

    text = (REPO / "config" / "zhenhai.toml").read_text(encoding="utf-8")
    text = text.replace('url = "socket://127.0.0.1:17102"', 'url = "socket://127.0.0.1:17101"')
    (tmp_path / "c.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"links\.bus-b\.url .* a wire of its own"):
        config.load(tmp_path / "c.toml")


def test_a_text_timeout_beyond_what_a_card_holds_is_a_clear_error() -> None:
    run = subprocess.run([sys.executable, "-m", "ledctl", "broadcast", "--text", "空气质量", "--timeout",
                          "86400", "--dry-run"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "1..65535" in run.stderr and "Traceback" not in run.stderr
