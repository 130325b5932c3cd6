"""The ledctl-mqtt boards against a real mosquitto: delivery, retained programs, wills, restarts, ACLs."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ledctl import config, delivery, pipeline
from ledctl.delivery import deliver_once as deliver
from ledctl.drivers.base import Content, Outcome
from ledctl.drivers.ledctl_mqtt import MqttBoards
from ledctl.drivers.mqtt_link import MqttLink
from ledctl.simulator.broker import Mosquitto, board_acl
from ledctl.simulator.mqtt_board import BoardLogic, MqttBoard

REPO = Path(__file__).resolve().parents[2]
PASSWORDS = {"controller": "c-secret", "outdoor-urban": "u-secret", "outdoor-petrochem": "p-secret"}
SHIPPED_BROKER = 'url = "mqtt://127.0.0.1:1883"\nusername = "ledctl"\npassword_env = "LEDCTL_MQTT_PASSWORD"\n'


def now() -> datetime:
    return datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


@pytest.fixture
def broker(tmp_path: Path):
    b = Mosquitto(tmp_path / "broker", users=PASSWORDS, acl=board_acl("zhenhai"))
    b.start()
    yield b
    b.stop()


@pytest.fixture
def dep(broker: Mosquitto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("LEDCTL_TEST_MQTT_PASSWORD", PASSWORDS["controller"])
    monkeypatch.setattr(delivery, "ACK_TIMEOUT_S", 5.0)
    text = (REPO / "config" / "zhenhai.toml").read_text(encoding="utf-8")
    text = text.replace(SHIPPED_BROKER, f'url = "{broker.url}"\nusername = "controller"\n'
                                        'password_env = "LEDCTL_TEST_MQTT_PASSWORD"\n')
    text = text.replace('"sample-data/', f'"{REPO}/config/sample-data/')
    text = text.replace('source = "centre"', 'source = "sample"')
    text += f'\n[layouts]\ndir = "{REPO}/config/layouts"\n'
    (tmp_path / "site.toml").write_text(text, encoding="utf-8")
    return config.load(tmp_path / "site.toml")


def screen(dep, board_id: str, protocol: str = "5") -> tuple[BoardLogic, MqttBoard]:
    board = dep.board(board_id)
    logic = BoardLogic(dep.site.id, board.id, board.size.width, board.size.height, board.colour.value,
                       clock=now)
    client = MqttBoard(logic, dep.links["broker"].url, username=board_id, password=PASSWORDS[board_id],
                       protocol=protocol)
    client.start()
    assert client.wait_ready(10), client.connect_errors
    return logic, client


def contents(dep, boards):
    bulletin = pipeline.bulletin_at(dep, pipeline.broadcast_instant(dep, date(2026, 11, 25)))
    return {r.board.id: Content(program=r.program) for r in pipeline.render_fleet(dep, boards, bulletin)}


def test_both_outdoor_screens_confirm_mqtt5_and_311(dep) -> None:
    urban, c1 = screen(dep, "outdoor-urban", "5")
    petro, c2 = screen(dep, "outdoor-petrochem", "3.1.1")
    try:
        boards = dep.boards_in("outdoor")
        programs = contents(dep, boards)
        results = deliver(dep, boards, programs)
        assert [r.outcome for r in results] == [Outcome.CONFIRMED, Outcome.CONFIRMED]
        assert urban.program_hash == programs["outdoor-urban"].program.content_hash()
        assert petro.program_hash == programs["outdoor-petrochem"].program.content_hash()
        # What the screen shows is the rendered first page, pixel for pixel.
        assert urban.snapshot().tobytes() == programs["outdoor-urban"].program.pages[0].image.tobytes()
    finally:
        c1.stop()
        c2.stop()


def test_a_board_that_connects_later_gets_the_retained_program(dep) -> None:
    boards = (dep.board("outdoor-urban"),)
    programs = contents(dep, boards)
    (result,) = deliver(dep, boards, programs)  # nobody there yet
    assert not result.ok and "no ack" in result.detail
    urban, client = screen(dep, "outdoor-urban")
    try:
        for _ in range(50):
            if urban.program_hash:
                break
            time.sleep(0.1)
        assert urban.program_hash == programs["outdoor-urban"].program.content_hash()
        # … and now it counts as delivered: the board's retained status says so.
        (again,) = deliver(dep, boards, programs)
        assert again.ok
    finally:
        client.stop()


def test_offline_is_detected_through_the_will(dep) -> None:
    _, client = screen(dep, "outdoor-urban")
    client.stop(clean=False)  # a crash: no goodbye, the broker publishes the will
    boards = (dep.board("outdoor-urban"),)
    (result,) = deliver(dep, boards, contents(dep, boards))
    assert result.outcome is Outcome.OFFLINE


def test_broker_restart_mid_broadcast_recovers(dep, broker: Mosquitto, monkeypatch) -> None:
    boards = (dep.board("outdoor-urban"),)
    programs = contents(dep, boards)
    out: list = []
    worker = threading.Thread(target=lambda: out.extend(deliver(dep, boards, programs)))
    monkeypatch.setattr(delivery, "ACK_TIMEOUT_S", 20.0)
    worker.start()
    # Wait until the program is on the broker (retained), then restart the broker under the broadcast.
    watcher = MqttLink("watch", broker.url, client_id="watch", username="controller",
                       password_env="LEDCTL_TEST_MQTT_PASSWORD")
    seen = MqttBoards(watcher, "zhenhai")
    seen.listen()
    watcher.connect()
    for _ in range(100):
        if seen.states.get("outdoor-urban") and seen.states["outdoor-urban"].program:
            break
        time.sleep(0.1)
    watcher.close()
    broker.restart()
    urban, client = screen(dep, "outdoor-urban")  # the board comes up after the broker
    try:
        worker.join(30)
        assert out and out[0].ok, out
        assert urban.program_hash == programs["outdoor-urban"].program.content_hash()
    finally:
        client.stop()


def test_acl_keeps_a_board_from_reading_another_boards_program(dep, broker: Mosquitto) -> None:
    boards = (dep.board("outdoor-petrochem"),)
    deliver(dep, boards, contents(dep, boards))  # retained on the broker; nobody acks
    import paho.mqtt.client as mqtt

    got = threading.Event()
    spy = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="outdoor-urban")
    spy.username_pw_set("outdoor-urban", PASSWORDS["outdoor-urban"])
    spy.on_message = lambda *_: got.set()
    spy.connect(broker.host, broker.port)
    spy.subscribe("ledctl/v1/zhenhai/outdoor-petrochem/#", qos=1)
    spy.loop_start()
    try:
        assert not got.wait(1.5)  # the retained program would arrive at once if the ACL let it
    finally:
        spy.loop_stop()
        spy.disconnect()


def test_without_mosquitto_the_simulator_uses_the_embedded_broker(tmp_path: Path, monkeypatch) -> None:
    from ledctl.simulator import fleet as fleet_mod
    from ledctl.simulator.fleet import Fleet

    from .conftest import free_ports

    [port] = free_ports(1)
    text = (REPO / "config" / "zhenhai.toml").read_text(encoding="utf-8")
    text = text.replace("mqtt://127.0.0.1:1883", f"mqtt://127.0.0.1:{port}")
    text = text.replace('"sample-data/', f'"{REPO}/config/sample-data/')
    text = text.replace('source = "centre"', 'source = "sample"')
    text += f'\n[layouts]\ndir = "{REPO}/config/layouts"\n'
    (tmp_path / "site.toml").write_text(text, encoding="utf-8")
    dep = config.load(tmp_path / "site.toml")
    monkeypatch.setattr(fleet_mod.Mosquitto, "available", staticmethod(lambda: False))
    monkeypatch.setattr(delivery, "ACK_TIMEOUT_S", 10.0)
    sim = Fleet(dep, clock=now, state=tmp_path)
    sim.build({"outdoor-urban"})
    sim.start()
    try:
        assert sim.mqtt_protocol == "3.1.1"
        assert sim.boards["outdoor-urban"].client.wait_ready(10)
        boards = (dep.board("outdoor-urban"),)
        (result,) = deliver(dep, boards, contents(dep, boards))
        assert result.ok, result.describe()
    finally:
        sim.stop()


def test_awtrix3_board_gets_its_apps_and_is_confirmed_by_its_screen(tmp_path: Path, monkeypatch) -> None:
    from ledctl.simulator.fleet import Fleet

    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    try:
        text = (REPO / "config" / "zhenhai.toml").read_text(encoding="utf-8")
        text = text.replace("mqtt://127.0.0.1:1883", broker.url)
        text = text.replace('"sample-data/', f'"{REPO}/config/sample-data/')
        text += f'\n[layouts]\ndir = "{REPO}/config/layouts"\n'
        text += """
[[boards]]
id = "lobby"
name = "大厅 AWTRIX"
size = "32x8"
colour = "full"
driver = "awtrix3"
link = "broker"
topic = "awtrix_a1b2c3"
station = "zh-urban"
"""
        (tmp_path / "site.toml").write_text(text, encoding="utf-8")
        dep = config.load(tmp_path / "site.toml")
        layout_dir = tmp_path / "layouts"
        layout_dir.mkdir()
        for f in (REPO / "config" / "layouts").glob("*.toml"):
            (layout_dir / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
        (layout_dir / "tiny.toml").write_text(
            '[layout]\nname = "tiny"\nmin_size = "32x8"\n[rules]\nmin_dwell_per_char = 0.25\n'
            '[[bulletin]]\nname = "aqi"\nwhen = "assessed"\ndwell = 6\n'
            'lines = [ { y = 0, font = "latin5x7", text = "[level]{aqi}" } ]\n'
            '[[bulletin]]\nname = "aqi"\nwhen = "updating"\ndwell = 6\n'
            'lines = [ { y = 0, font = "latin5x7", text = "[warning]--" } ]\n', encoding="utf-8")
        dep = __import__("dataclasses").replace(dep, layouts_dir=layout_dir)
        monkeypatch.setattr(delivery, "ACK_TIMEOUT_S", 10.0)
        sim = Fleet(dep, clock=now, state=tmp_path)
        sim.build({"lobby"})
        sim.start()
        try:
            assert sim.boards["lobby"].client.wait_ready(10)
            boards = (dep.board("lobby"),)
            programs = contents(dep, boards)
            (result,) = deliver(dep, boards, programs)
            assert result.confirmed and "screen read back" in result.detail, result.describe()
            device = sim.boards["lobby"].device
            assert list(device.apps) == ["ledctl00"]  # one custom app per page, in RAM
            assert device.snapshot().tobytes() == programs["lobby"].program.pages[0].image.tobytes()
        finally:
            sim.stop()
    finally:
        broker.stop()


def test_brightness_and_power_settings_are_acked(dep) -> None:
    urban, client = screen(dep, "outdoor-urban")
    link = MqttLink("cmd", dep.links["broker"].url, client_id="controller-cmd", username="controller",
                    password_env="LEDCTL_TEST_MQTT_PASSWORD")
    boards = MqttBoards(link, "zhenhai")
    boards.listen()
    link.connect()
    try:
        boards.settings(dep.board("outdoor-urban"), {"brightness": 40}, "c-1")
        boards.settings(dep.board("outdoor-urban"), {"power": False}, "c-2")
        done = boards.wait_commands({"outdoor-urban": "c-1", "outdoor-petrochem": "c-2"}, 5)
        assert done == {"outdoor-urban": "", "outdoor-petrochem": ""}  # both acked, by id
        assert urban.brightness == 40 and urban.power is False
    finally:
        link.close()
        client.stop()


def test_password_from_a_0600_file_and_a_readable_file_refused(broker: Mosquitto, tmp_path: Path) -> None:
    import os

    secret = tmp_path / "mqtt.pw"
    secret.write_text(PASSWORDS["controller"] + "\n")
    os.chmod(secret, 0o644)
    text = (REPO / "config" / "zhenhai.toml").read_text(encoding="utf-8")
    text = text.replace(SHIPPED_BROKER,
                        f'url = "{broker.url}"\nusername = "controller"\npassword_file = "mqtt.pw"\n')
    (tmp_path / "site.toml").write_text(text, encoding="utf-8")
    with pytest.raises(config.ConfigError) as err:
        config.load(tmp_path / "site.toml")
    assert "mode 0644" in str(err.value) and "chmod 600" in str(err.value)
    assert PASSWORDS["controller"] not in str(err.value)
    os.chmod(secret, 0o600)
    dep = config.load(tmp_path / "site.toml")
    link = dep.links["broker"]
    mqtt_link = MqttLink("broker", link.url, username=link.username, password_file=link.password_file)
    mqtt_link.connect()  # the broker refuses a wrong or missing password
    mqtt_link.close()
