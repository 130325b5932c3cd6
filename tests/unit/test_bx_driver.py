"""The host side of an Onbon BX card: exchanges, retries and when to give up."""

from __future__ import annotations

import pytest
from PIL import Image

from ledctl.drivers.base import Outcome
from ledctl.drivers.link import SerialLink
from ledctl.drivers.onbon import commands
from ledctl.drivers.onbon.driver import BxCard, DeliveryError
from ledctl.model import Board, ColourMode, Size

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
