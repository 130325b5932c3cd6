"""The broker attacked from the network: an anonymous client, a board's credentials used to take the
controller's client id, a forged ack for a board that is offline. Against the fleet's real mosquitto,
made from the shipped config (users and the per-board ACL), and the real service."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from ledctl import config

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not shutil.which("mosquitto"), reason="needs mosquitto (make test has it)")


def client(url: str, client_id: str, user: str | None = None, password: str | None = None) -> tuple[
        mqtt.Client, threading.Event, list]:
    host, port = url.removeprefix("mqtt://").split(":")
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id)
    if user is not None:
        c.username_pw_set(user, password)
    connected, refused = threading.Event(), []

    def on_connect(cl: mqtt.Client, userdata: object, flags: object, reason: object, props: object) -> None:
        if getattr(reason, "is_failure", False):
            refused.append(str(reason))
        connected.set()

    c.on_connect = on_connect
    c.connect(host, int(port))
    c.loop_start()
    return c, connected, refused


def test_the_shipped_broker_refuses_anonymous_clients(world) -> None:
    service, _, _, _ = world
    url = service.dep.links["broker"].url
    anon, connected, refused = client(url, "anyone")
    try:
        assert connected.wait(10)
        assert refused and "Not authorized" in refused[0]  # no reading programs, no forging them
    finally:
        anon.loop_stop()
        anon.disconnect()


def test_a_board_cannot_take_the_controllers_client_id(world, caplog) -> None:
    service, _, fleet, _ = world
    link = service.dep.links["broker"]
    service.dispatcher.settle()  # the controller's client is made with its first delivery on the broker
    controller = service.dispatcher.pool._mqtt["broker"]  # the controller's one client on this broker
    user, password = fleet._credentials["outdoor-urban"]
    # A client that asks for an id already connected takes that session over, and the broker drops
    # the first one. With use_username_as_clientid the broker ignores the asked-for id: the board is
    # itself, and the controller keeps its session (its subscriptions, its acks).
    with caplog.at_level("WARNING", logger="ledctl.mqtt"):
        intruder, connected, refused = client(link.url, controller.client_id, user, password)
        try:
            assert connected.wait(10) and not refused
            time.sleep(2)  # time enough for a take-over to show
            assert "disconnected" not in caplog.text
            assert controller.connected
        finally:
            intruder.loop_stop()
            intruder.disconnect()


def test_a_forged_ack_does_not_confirm_a_board_that_is_offline(world) -> None:
    service, _, fleet, _ = world
    board = "outdoor-petrochem"
    fleet.set_fault(board, offline=True)  # its connection drops; the broker publishes its will
    dispatcher = service.dispatcher
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        dispatcher.check_health()
        dispatcher.settle()
        if dispatcher.boards[board].online is False:
            break
        time.sleep(0.2)
    assert dispatcher.boards[board].online is False
    # A new program is intended; someone with another board's credentials forges its ack and status.
    from PIL import Image

    from ledctl.dispatch import Intent
    from ledctl.model import Page, Program

    program = Program(board, (Page("p", Image.new("RGB", (192, 96), (1, 2, 3))),))
    intent = Intent.of(program, "forged test")
    user, password = fleet._credentials["outdoor-urban"]
    forger, connected, refused = client(service.dep.links["broker"].url, "x", user, password)
    assert connected.wait(10) and not refused
    base = f"ledctl/v1/{service.dep.site.id}/{board}"
    status = json.dumps({"state": "online", "program": intent.hash}).encode()
    forger.publish(f"{base}/status", status, qos=1, retain=True).wait_for_publish(5)
    forger.publish(f"{base}/ack", json.dumps({"hash": intent.hash, "ok": True}).encode(), qos=1)
    forger.loop_stop()
    forger.disconnect()
    dispatcher.set_intended({board: intent})
    dispatcher.pool.ack_timeout_s = 2.0
    dispatcher.settle(max_passes=1)
    assert dispatcher.boards[board].confirmed != intent.hash  # the ACL dropped both: not confirmed
    assert all(d.program != intent.hash for d in service.store.displays(board))


def test_config_check_warns_about_a_broker_anyone_can_use(tmp_path: Path) -> None:
    text = (REPO / "config" / "zhenhai.toml").read_text(encoding="utf-8")
    shipped = 'url = "mqtt://127.0.0.1:1883"\nusername = "ledctl"\npassword_env = "LEDCTL_MQTT_PASSWORD"'
    text = text.replace(shipped, 'url = "mqtt://broker.zhenhai.example:1883"')
    (tmp_path / "c.toml").write_text(text.replace('"sample-data/', f'"{REPO}/config/sample-data/'),
                                     encoding="utf-8")
    warnings = config.load(tmp_path / "c.toml").warnings
    assert any("no username" in w for w in warnings)
    assert any("without TLS" in w for w in warnings)
    assert config.load(REPO / "config" / "zhenhai.toml").warnings == ()
