"""MQTT benchmark: the two outdoor screens, and fan-out to 1,000 simulated ledctl-mqtt boards.

Against a real mosquitto on loopback. The two outdoor screens are full board
emulators (one MQTT client each). The 1,000 boards are played by one helper
process that holds a board state machine per board and answers for each on its
own topics, so the figure is the controller's and the broker's, not a thousand
client threads'. Prints seconds until every board confirmed, and the controller
process's peak memory.

    python bench/mqtt_fanout.py [--boards 1000]
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import paho.mqtt.client as mqtt

from ledctl import config, delivery, pipeline
from ledctl.delivery import deliver_once as deliver
from ledctl.drivers.base import Content
from ledctl.simulator.broker import Mosquitto
from ledctl.simulator.mqtt_board import BoardLogic, MqttBoard

REPO = Path(__file__).resolve().parent.parent


def now() -> datetime:
    return datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def many_boards_config(url: str, count: int) -> str:
    text = f"""
[site]
id = "bench-{count}"
name = "fan-out"
[sources.air]
type = "file"
path = "{REPO}/config/sample-data/air-daily.csv"
[stations.zh-urban]
name = "镇海城区"
source = "air"
[links.broker]
url = "{url}"
[layouts]
dir = "{REPO}/config/layouts"
"""
    for n in range(count):
        text += f"""
[[boards]]
id = "b{n:05d}"
name = "board {n}"
size = "64x32"
colour = "red-green"
driver = "ledctl-mqtt"
link = "broker"
station = "zh-urban"
"""
    return text


def crowd(url: str, site: str, ids: list[str], ready: multiprocessing.synchronize.Event) -> None:
    """One process, one MQTT client, a board state machine per board."""
    boards = {b: BoardLogic(site, b, 64, 32, "red-green", clock=now) for b in ids}
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="crowd", protocol=mqtt.MQTTv5)
    outbox: collections.deque = collections.deque()

    def on_message(c, userdata, msg) -> None:
        board = msg.topic.split("/")[3]
        props = getattr(msg, "properties", None)
        outbox.extend(boards[board].on_message(
            msg.topic, bytes(msg.payload), response_topic=getattr(props, "ResponseTopic", None),
            correlation=getattr(props, "CorrelationData", None)))
        if msg.topic.endswith("/cmd"):  # a screen read-back is answered by the board's render loop
            outbox.extend(boards[board].render())

    client.on_message = on_message
    client.connect(url.split("//")[1].split(":")[0], int(url.rsplit(":", 1)[1]))
    client.subscribe(f"ledctl/v1/{site}/+/program", qos=1)
    client.subscribe(f"ledctl/v1/{site}/+/page/#", qos=1)
    client.subscribe(f"ledctl/v1/{site}/+/cmd", qos=1)
    client.loop_start()
    ready.set()
    while True:
        while outbox:
            out = outbox.popleft()
            client.publish(out.topic, out.payload, qos=1, retain=out.retain)
        time.sleep(0.005)


def fan_out(url: str, tmp: Path, count: int) -> bool:
    """Deliver to `count` simulated boards in a fresh controller process; print the figures."""
    import subprocess

    run = subprocess.run([sys.executable, __file__, "--one", str(count), "--url", url, "--tmp", str(tmp)],
                         capture_output=True, text=True, timeout=1800)
    if run.returncode != 0:
        print(f"- fan-out to {count:,} boards failed: {run.stderr[-500:]}")
        return False
    ok, took, sent, before, peak = (float(x) for x in run.stdout.split())
    ok, sent, before, peak = int(ok), int(sent), int(before), int(peak)
    print(f"- fan-out to {count:,} boards: {ok:,}/{count:,} confirmed in {took:.2f} s "
          f"({count / took:,.0f} boards/s; {sent:,} bytes published); controller peak memory "
          f"{peak / 1024:.0f} MiB (before the broadcast {before / 1024:.0f} MiB)")
    return ok == count


def _fan_out(url: str, tmp: str, count: int) -> tuple[int, float, int, int, int]:
    cfg = Path(tmp) / f"many-{count}.toml"
    cfg.write_text(many_boards_config(url, count), encoding="utf-8")
    many = config.load(cfg)
    ready = multiprocessing.Event()
    ids = [b.id for b in many.boards]
    helper = multiprocessing.Process(target=crowd, args=(url, f"{many.site.id}", ids, ready), daemon=True)
    helper.start()
    ready.wait(30)
    delivery.ACK_TIMEOUT_S = 300.0
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.monotonic()
    bulletin = pipeline.bulletin_at(many, pipeline.broadcast_instant(many, date(2026, 11, 25)))
    rendered = pipeline.render_fleet(many, many.boards, bulletin)
    results = deliver(many, many.boards, {r.board.id: Content(program=r.program) for r in rendered})
    took = time.monotonic() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    helper.terminate()
    return sum(r.ok for r in results), took, sum(r.bytes_sent for r in results), before, peak


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--boards", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # one fan-out, in this fresh process
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--tmp", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(*_fan_out(args.url, args.tmp, args.one))
        return 0
    # One helper client stands in for thousands of boards, so its queue at the broker must hold all
    # their messages at once (a real board is its own client with a queue of a few messages).
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "broker",
                                                          extra=("max_queued_messages 0",)) as broker:
        url = broker.url
        # -- the two outdoor screens ------------------------------------------------------------
        text = (REPO / "config" / "zhenhai.toml").read_text(encoding="utf-8")
        text = text.replace("mqtt://127.0.0.1:1883", url).replace(
            '"sample-data/', f'"{REPO}/config/sample-data/').replace('source = "centre"', 'source = "sample"')
        text += f'\n[layouts]\ndir = "{REPO}/config/layouts"\n'
        (Path(tmp) / "site.toml").write_text(text, encoding="utf-8")
        dep = config.load(Path(tmp) / "site.toml")
        screens = []
        for board in dep.boards_in("outdoor"):
            logic = BoardLogic(dep.site.id, board.id, board.size.width, board.size.height,
                               board.colour.value, clock=now)
            client = MqttBoard(logic, url)
            client.start()
            client.wait_ready(10)
            screens.append(client)
        outdoor = dep.boards_in("outdoor")
        bulletin = pipeline.bulletin_at(dep, pipeline.broadcast_instant(dep, date(2026, 11, 25)))
        start = time.monotonic()
        rendered = pipeline.render_fleet(dep, outdoor, bulletin)
        results = deliver(dep, outdoor, {r.board.id: Content(program=r.program) for r in rendered})
        took = time.monotonic() - start
        for client in screens:
            client.stop()
        ok2 = sum(r.ok for r in results)
        print("## mqtt (real mosquitto on loopback)")
        print(f"- the two outdoor screens: {ok2}/2 confirmed {took:.2f} s after the broadcast began "
              f"(render + publish + ack; goal < 1 s)")

        # -- fan-out ----------------------------------------------------------------------------
        ok_all = True
        for count in args.boards:
            ok_all &= fan_out(url, Path(tmp), count)
    return 0 if ok2 == 2 and ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
