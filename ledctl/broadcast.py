"""Delivering programs to boards now: one thread per wire, boards on a wire one at a time.

This is the delivery path the service and the notice workflow use. Each board's
result is what its card confirmed — never assumed.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from PIL import Image

from ledctl.config import Deployment
from ledctl.drivers import awtrix3, ledctl_mqtt
from ledctl.drivers.ledctl_mqtt import MqttBoards
from ledctl.drivers.link import LinkError, SerialLink
from ledctl.drivers.mqtt_link import MqttLink
from ledctl.drivers.onbon import commands
from ledctl.drivers.onbon.driver import BxCard, DeliveryError
from ledctl.drivers.tpm2 import Tpm2Board
from ledctl.errors import LedctlError
from ledctl.model import Board, Program
from ledctl.schedule import Settings

Progress = Callable[[str], None]
log = logging.getLogger("ledctl.broadcast")


@dataclass(frozen=True, slots=True)
class Delivery:
    board: str
    link: str
    ok: bool
    result: str  # "confirmed", or why not: "offline", "NACK …", "link …"
    mode: str  # "bitmap", "text", "-"
    bytes_sent: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Content:
    """What to put on a board: a program's first page, or text for the card's own font."""

    program: Program | None = None
    text: str | None = None
    text_timeout_s: int = 0
    expires: datetime | None = None  # boards that can (ledctl-mqtt) remove it by themselves then
    lifetime_s: int | None = None  # the same as a duration, for boards that count (AWTRIX, BX)
    whole: bool = False  # every page matters (a notice): a board that shows one page must refuse it
    clear_text: bool = False  # BX: remove text areas (an ended notice) before showing the picture


def card_can_draw(board: Board, text: str) -> bool:
    """Whether the fast path applies: a BX card whose own GB2312 font has every character."""
    if board.driver != "onbon-bx":
        return False
    try:
        commands.encode_text(text)
    except commands.TextNotEncodable:
        return False
    return True


class Links:
    """One SerialLink per configured wire, shared by the boards on it."""

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self._links: dict[str, SerialLink] = {}

    def get(self, name: str) -> SerialLink:
        if name not in self._links:
            link = self.dep.links[name]
            self._links[name] = SerialLink(name, link.url, baud=link.baud, parity=link.parity,
                                           timeout_s=link.timeout_s)
        return self._links[name]

    def close(self) -> None:
        # In parallel: closing a socket link lingers a moment, and there may be dozens.
        threads = [threading.Thread(target=link.close) for link in self._links.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self._links.clear()


def deliver(
    dep: Deployment,
    boards: Sequence[Board],
    contents: Mapping[str, Content],
    *,
    links: Links | None = None,
    progress: Progress = lambda line: None,
) -> list[Delivery]:
    """Deliver each board's content; wires run in parallel, each wire one frame at a time."""
    own = links is None
    links = links or Links(dep)
    by_link: dict[str, list[Board]] = {}
    by_broker: dict[str, list[Board]] = {}
    for board in boards:
        if dep.links[board.link].transport == "mqtt":
            by_broker.setdefault(board.link, []).append(board)
        else:
            by_link.setdefault(board.link, []).append(board)
    results: dict[str, Delivery] = {}
    lock = threading.Lock()

    def run_broker(link_name: str, members: list[Board]) -> None:
        try:
            done = _deliver_mqtt(dep, link_name, members, contents, progress, lock)
        except Exception as e:
            log.exception("delivery on %s failed", link_name)
            done = [Delivery(b.id, link_name, False, f"internal error: {e!r}", "-", 0, 0.0) for b in members]
        for delivery in done:
            with lock:
                results[delivery.board] = delivery

    def run_wire(link_name: str, members: list[Board]) -> None:
        link = links.get(link_name)
        try:
            for n, board in enumerate(members, start=1):
                try:
                    delivery = _deliver_one(board, link, contents[board.id])
                except Exception as e:
                    log.exception("delivery to %s failed", board.id)
                    delivery = Delivery(board.id, link_name, False, f"internal error: {e!r}", "-", 0, 0.0)
                with lock:
                    results[board.id] = delivery
                    progress(f"{link_name} [{n}/{len(members)}] {board.id}: {delivery.result} "
                             f"({delivery.mode}, {delivery.bytes_sent} bytes, {delivery.seconds:.1f} s)")
        finally:
            if own:
                link.close()  # here, in parallel: closing a socket link waits a moment

    threads = [threading.Thread(target=run_wire, args=(name, members), name=f"deliver-{name}")
               for name, members in by_link.items()]
    threads += [threading.Thread(target=run_broker, args=(name, members), name=f"deliver-{name}")
                for name, members in by_broker.items()]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [results.get(b.id) or Delivery(b.id, b.link, False, "not delivered (see the log)", "-", 0, 0.0)
            for b in boards]


def _deliver_one(board: Board, link: SerialLink, content: Content) -> Delivery:
    start = time.monotonic()
    if board.driver == "tpm2":
        return _deliver_tpm2(board, link, content, start)
    if board.driver != "onbon-bx":
        return Delivery(board.id, board.link, False, f"driver {board.driver} cannot deliver yet", "-", 0, 0.0)
    card = BxCard(board, link)
    mode = "text" if content.text is not None else "bitmap"
    try:
        if content.text is not None:
            # The card's 16-dot font: beyond what fits in rows of 16 px, the text scrolls instead.
            fits = (board.size.width // 16) * (board.size.height // 16)
            card.show_text(content.text, timeout_s=content.text_timeout_s, scroll=len(content.text) > fits)
            result = "confirmed"
        else:
            assert content.program is not None and content.program.pages
            pages = len(content.program.pages)
            if pages > 1 and content.whole:
                return Delivery(board.id, board.link, False,
                                f"refused: this needs {pages} pages and the card shows one picture; "
                                "shorten it, or use text the card's font can draw", "-", 0, 0.0)
            if content.clear_text:
                card.clear_text()
            card.show_bitmap(content.program.pages[0].image, timeout_s=content.lifetime_s)
            # The card holds one picture; the service plays the rest of the loop.
            result = "confirmed" if pages == 1 else f"confirmed (page 1 of {pages})"
        ok = True
    except DeliveryError as e:
        result, ok = {"offline": "offline (no reply)", "nack": "NACK", "link": "link error",
                      "content": "refused"}[e.kind], False
        result = f"{result}: {e}"
    except (LinkError, LedctlError) as e:
        result, ok = f"link error: {e}", False
    return Delivery(board.id, board.link, ok, result, mode, card.stats.bytes_out,
                    time.monotonic() - start)


def _deliver_tpm2(board: Board, link: SerialLink, content: Content, start: float) -> Delivery:
    receiver = Tpm2Board(board.size.width, board.size.height, link)
    if content.program is None:
        return Delivery(board.id, board.link, False, "tpm2 boards have no font: send a rendered page",
                        "-", 0, 0.0)
    if len(content.program.pages) > 1 and content.whole:
        return Delivery(board.id, board.link, False, "refused: this needs several pages; the host plays "
                        "TPM2 loops only in the service", "-", 0, 0.0)
    try:
        ok = receiver.show(content.program.pages[0].image)
    except LinkError as e:
        return Delivery(board.id, board.link, False, f"link error: {e}", "frame", receiver.bytes_out,
                        time.monotonic() - start)
    result = "confirmed (ping after frame)" if ok else "offline (no ping reply)"
    return Delivery(board.id, board.link, ok, result, "frame", receiver.bytes_out, time.monotonic() - start)


MQTT_ACK_TIMEOUT_S = 15.0


def _deliver_mqtt(dep: Deployment, link_name: str, boards: Sequence[Board], contents: Mapping[str, Content],
                  progress: Progress, lock: threading.Lock) -> list[Delivery]:
    """Publish every board's program on one broker, then wait for each board's ack."""
    link = dep.links[link_name]
    start = time.monotonic()
    mqtt = MqttLink(link_name, link.url, client_id=f"ledctl-{os.getpid()}-{link_name}",
                    username=link.username, password_env=link.password_env, tls_ca=link.tls_ca,
                    password_file=link.password_file, subscriptions=MqttBoards.topics(dep.site.id))
    out: list[Delivery] = []
    awtrix = [b for b in boards if b.driver == "awtrix3"]
    boards = [b for b in boards if b.driver != "awtrix3"]
    if awtrix:
        out += _deliver_awtrix(dep, link_name, awtrix, contents, progress, lock)
    if not boards:
        return out
    try:
        mqtt.connect()
    except LedctlError as e:
        return [*out, *(Delivery(b.id, link_name, False, f"link error: {e}", "-", 0,
                                 time.monotonic() - start) for b in boards)]
    try:
        fleet = MqttBoards(mqtt, dep.site.id)
        fleet.drain(block_s=0.3)  # the retained manifests and statuses: what each board has now
        wanted: dict[str, str] = {}
        sent: dict[str, int] = {}
        for board in boards:
            content = contents[board.id]
            if board.driver != "ledctl-mqtt" or content.program is None:
                why = (f"driver {board.driver} cannot deliver yet" if board.driver != "ledctl-mqtt"
                       else "ledctl-mqtt boards take rendered pages, not card text")
                out.append(Delivery(board.id, link_name, False, why, "-", 0, 0.0))
                continue
            encoded = ledctl_mqtt.encode(board, content.program, expires=content.expires)
            try:
                sent[board.id] = fleet.publish(board, encoded)
            except LedctlError as e:
                out.append(Delivery(board.id, link_name, False, f"link error: {e}", "program", 0,
                                    time.monotonic() - start))
                continue
            wanted[board.id] = encoded.hash
        try:
            mqtt.flush()
        except LedctlError as e:
            return [*out, *(Delivery(b, link_name, False, f"link error: {e}", "program", sent.get(b, 0),
                                     time.monotonic() - start) for b in wanted)]

        report = _reporter(out, link_name, "program", "confirmed", sent, start, progress, lock)
        fleet.wait(wanted, MQTT_ACK_TIMEOUT_S, report)
    finally:
        mqtt.close()
    return out


def _deliver_awtrix(dep: Deployment, link_name: str, boards: Sequence[Board], contents: Mapping[str, Content],
                    progress: Progress, lock: threading.Lock) -> list[Delivery]:
    """AWTRIX 3: the pages as saved, retained custom apps; confirmed by reading the screen back."""
    link = dep.links[link_name]
    start = time.monotonic()
    prefixes = {b.id: b.topic or b.id for b in boards}
    mqtt = MqttLink(link_name, link.url, client_id=f"ledctl-{os.getpid()}-{link_name}-awtrix",
                    username=link.username, password_env=link.password_env, tls_ca=link.tls_ca,
                    password_file=link.password_file,
                    subscriptions=awtrix3.AwtrixBoards.topics(list(prefixes.values())))
    out: list[Delivery] = []
    try:
        mqtt.connect()
    except LedctlError as e:
        return [Delivery(b.id, link_name, False, f"link error: {e}", "-", 0, time.monotonic() - start)
                for b in boards]
    try:
        devices = awtrix3.AwtrixBoards(mqtt)
        return _awtrix_rounds(devices, mqtt, boards, contents, prefixes, link_name, start, progress, lock)
    except LedctlError as e:
        done = {d.board for d in out}
        took = time.monotonic() - start
        return [*out, *(Delivery(b.id, link_name, False, f"link error: {e}", "apps", 0, took)
                        for b in boards if b.id not in done)]
    finally:
        mqtt.close()


def _awtrix_rounds(devices: awtrix3.AwtrixBoards, mqtt: MqttLink, boards: Sequence[Board],
                   contents: Mapping[str, Content], prefixes: Mapping[str, str], link_name: str,
                   start: float, progress: Progress, lock: threading.Lock) -> list[Delivery]:
    out: list[Delivery] = []
    wanted: dict[str, tuple[str, Program]] = {}
    sent: dict[str, int] = {}
    for board in boards:
        program = contents[board.id].program
        if program is None:
            out.append(Delivery(board.id, link_name, False, "awtrix3 boards take rendered pages",
                                "-", 0, 0.0))
            continue
        lifetime = contents[board.id].lifetime_s  # the device removes the apps by itself then
        sent[board.id] = devices.publish(prefixes[board.id], program, lifetime_s=lifetime)
        wanted[board.id] = (prefixes[board.id], program)
    mqtt.flush()

    report = _reporter(out, link_name, "apps", "confirmed (screen read back)", sent, start, progress, lock)
    devices.confirm(wanted, MQTT_ACK_TIMEOUT_S, report)
    return out


def _reporter(out: list[Delivery], link_name: str, mode: str, confirmed: str, sent: Mapping[str, int],
              start: float, progress: Progress, lock: threading.Lock) -> Callable[[str, bool, str], None]:
    """What a broker's boards report as they confirm (or not): a Delivery each, and a progress line."""
    def report(board_id: str, ok: bool, why: str) -> None:
        took = time.monotonic() - start
        result = confirmed if ok else why
        out.append(Delivery(board_id, link_name, ok, result, mode, sent.get(board_id, 0), took))
        with lock:
            progress(f"{link_name} {board_id}: {result} ({mode}, {sent.get(board_id, 0)} bytes, "
                     f"{took:.1f} s)")

    return report


# -- screen on/off and brightness --------------------------------------------------------------------

def apply_settings(dep: Deployment, boards: Sequence[Board], settings: Mapping[str, Settings],
                   *, links: Links | None = None) -> list[Delivery]:
    """Put each board's screen on or off and set its brightness; confirmed by the board where it can."""
    own = links is None
    links = links or Links(dep)
    out: list[Delivery] = []
    try:
        mqtt_boards: dict[str, list[Board]] = {}
        for board in boards:
            if dep.links[board.link].transport == "mqtt":
                mqtt_boards.setdefault(board.link, []).append(board)
            else:
                out.append(_settings_serial(board, links.get(board.link), settings[board.id]))
        for link_name, members in mqtt_boards.items():
            out += _settings_mqtt(dep, link_name, members, settings)
    finally:
        if own:
            links.close()
    return out


def _settings_serial(board: Board, link: SerialLink, want: Settings) -> Delivery:
    start = time.monotonic()
    if board.driver == "tpm2":  # no commands in TPM2: brightness is the receiver's own setting
        if want.power:
            return Delivery(board.id, board.link, True, "nothing to do (TPM2 has no commands)", "settings",
                            0, 0.0)
        receiver = Tpm2Board(board.size.width, board.size.height, link)
        try:
            ok = receiver.show(Image.new("RGB", (board.size.width, board.size.height)))
        except LinkError as e:
            return Delivery(board.id, board.link, False, f"link error: {e}", "settings", 0, 0.0)
        return Delivery(board.id, board.link, ok, "dark frame" if ok else "offline (no ping reply)",
                        "settings", receiver.bytes_out, time.monotonic() - start)
    card = BxCard(board, link)
    try:
        card.power(want.power)
        if want.brightness is not None:
            card.set_brightness(want.brightness)
        ok, result = True, "confirmed"
    except DeliveryError as e:
        ok, result = False, ("offline (no reply)" if e.kind == "offline" else str(e))
    except (LinkError, LedctlError) as e:
        ok, result = False, f"link error: {e}"
    took = time.monotonic() - start
    return Delivery(board.id, board.link, ok, result, "settings", card.stats.bytes_out, took)


def _settings_mqtt(dep: Deployment, link_name: str, boards: Sequence[Board],
                   settings: Mapping[str, Settings]) -> list[Delivery]:
    link = dep.links[link_name]
    start = time.monotonic()
    mqtt = MqttLink(link_name, link.url, client_id=f"ledctl-{os.getpid()}-{link_name}-settings",
                    username=link.username, password_env=link.password_env, tls_ca=link.tls_ca,
                    password_file=link.password_file, subscriptions=MqttBoards.topics(dep.site.id))
    try:
        mqtt.connect()
    except LedctlError as e:
        return [Delivery(b.id, link_name, False, f"link error: {e}", "settings", 0, 0.0) for b in boards]
    out: list[Delivery] = []
    try:
        fleet = MqttBoards(mqtt, dep.site.id)
        fleet.drain(block_s=0.2)
        ids: dict[str, str] = {}
        for board in boards:
            want = settings[board.id]
            if board.driver == "awtrix3":
                prefix = board.topic or board.id
                mqtt.publish(f"{prefix}/power", json.dumps({"power": want.power}).encode())
                if want.brightness is not None:
                    bri = max(1, round(want.brightness * 255 / 100))
                    mqtt.publish(f"{prefix}/settings", json.dumps({"BRI": bri, "ABRI": False}).encode())
                out.append(Delivery(board.id, link_name, True, "sent (AWTRIX does not ack settings)",
                                    "settings", 0, time.monotonic() - start))
                continue
            command: dict[str, object] = {"power": want.power}
            if want.brightness is not None:
                command["brightness"] = want.brightness
            ids[board.id] = f"s-{os.getpid()}-{time.monotonic_ns()}-{board.id}"
            fleet.command(board, command, ids[board.id])
        for board_id, why in fleet.wait_commands(ids, MQTT_ACK_TIMEOUT_S).items():
            out.append(Delivery(board_id, link_name, not why, why or "confirmed", "settings", 0,
                                time.monotonic() - start))
    except LedctlError as e:
        done = {d.board for d in out}
        out += [Delivery(b.id, link_name, False, f"link error: {e}", "settings", 0, 0.0)
                for b in boards if b.id not in done]
    finally:
        mqtt.close()
    return out
