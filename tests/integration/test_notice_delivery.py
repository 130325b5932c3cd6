"""An emergency notice end to end: drafted, published by override, on every targeted simulated
board (BX cards draw it in their own font, the outdoor screens get pages), reported per board by
`ledctl notice show`, then cancelled and gone from every board."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledctl import cli
from ledctl.notices.users import User
from ledctl.simulator.bx_card import BxCard
from ledctl.simulator.mqtt_board import BoardLogic

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)  # screens on

pytestmark = pytest.mark.skipif(not __import__("shutil").which("mosquitto"), reason="needs mosquitto")


def notice_show(tmp_path: Path, notice_id: int, clock, capsys) -> dict:
    argv = [
        "--state",
        str(tmp_path),
        "notice",
        "show",
        str(notice_id),
        "--json",
        "-c",
        str(REPO / "config" / "zhenhai.toml"),
    ]
    assert cli.main(argv, clock=clock) == 0
    return json.loads(capsys.readouterr().out)


def test_emergency_notice_reaches_every_targeted_board_and_goes_away(service_world, tmp_path, capsys) -> None:
    service, notices, fleet, clock = service_world
    targets = {b.id for b in service.dep.boards_in("petrochemical-area")} | {
        b.id for b in service.dep.boards_in("community")
    }
    n = notices.draft(
        User("li", "approver"),
        title="紧急通知",
        text="石化区发生化学品泄漏，请关闭门窗，就地避险。",
        level="emergency",
        targets=["group:petrochemical-area", "group:community"],
        end=T0 + timedelta(hours=2),
    )
    shown = notice_show(tmp_path, n.id, clock, capsys)
    assert shown["state"] == "draft" and {b["state"] for b in shown["boards"]} == {"not shown"}

    notices.override(User("li", "approver"), n.id, "泄漏正在扩散")
    clock.advance(seconds=5)
    service.recompose(clock.now())
    service.dispatcher.settle()

    for board_id in targets:
        device = fleet.boards[board_id].device
        if isinstance(device, BxCard):  # the card draws the text itself, over its picture
            assert device.shown == "mixed", board_id
            assert any("石化区发生化学品泄漏" in text for text in device.text_areas.values()), board_id
        else:
            assert isinstance(device, BoardLogic)
            assert device.program_hash == service.dispatcher.boards[board_id].intent.hash
    untouched = [b.id for b in service.dep.boards if b.id not in targets]
    assert untouched == ["outdoor-urban"]
    assert "notice:" not in " ".join(service.dispatcher.boards["outdoor-urban"].intent.items)

    shown = notice_show(tmp_path, n.id, clock, capsys)
    assert shown["state"] == "published" and shown["needs_review"] is True
    assert {b["board"] for b in shown["boards"]} == targets
    assert all(b["state"] == "confirmed" for b in shown["boards"]), shown["boards"]

    notices.cancel(User("wang", "operator"), n.id, "泄漏已控制")
    clock.advance(seconds=5)
    service.recompose(clock.now())
    service.dispatcher.settle()
    for board_id in targets:
        device = fleet.boards[board_id].device
        if isinstance(device, BxCard):
            assert device.shown == "bitmap", board_id  # the text area is gone: the bulletin again
        else:
            assert "notice:" not in " ".join(service.dispatcher.boards[board_id].intent.items)
            assert device.program_hash == service.dispatcher.boards[board_id].intent.hash
    shown = notice_show(tmp_path, n.id, clock, capsys)
    assert shown["state"] == "cancelled" and {b["state"] for b in shown["boards"]} == {"not shown"}
