"""Security with real parts: MQTT over TLS with a CA made here, the broker's per-board ACL with a
password from a 0600 file, HTTPS for the console, and secrets refused from readable files."""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledctl import config
from ledctl.api import server
from ledctl.api.app import Console
from ledctl.clock import FixedClock
from ledctl.drivers.mqtt_link import MqttError, MqttLink
from ledctl.notices.items import notices_for
from ledctl.notices.users import Users
from ledctl.simulator.broker import Mosquitto, board_acl
from ledctl.store import Store

REPO = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
pytestmark = pytest.mark.skipif(
    not (shutil.which("openssl") and shutil.which("mosquitto")), reason="needs openssl and mosquitto"
)


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(folder: Path, name: str) -> Path:
    """A CA and a server certificate for 127.0.0.1 and localhost, signed by it."""
    folder.mkdir(parents=True, exist_ok=True)
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        f"/CN={name} test CA",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        cwd=folder,
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        cwd=folder,
    )
    (folder / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n", encoding="utf-8"
    )
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
        "-out",
        "server.pem",
        cwd=folder,
    )
    (folder / "server.key").chmod(0o600)
    return folder


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    root = tmp_path_factory.mktemp("pki")
    return make_ca(root / "good", "ledctl"), make_ca(root / "other", "mallory")


def test_mqtt_over_tls_with_password_file_and_acl(pki, tmp_path) -> None:
    good, other = pki
    secret = tmp_path / "controller.pw"
    secret.write_text("s3cret-controller\n", encoding="utf-8")
    secret.chmod(0o600)
    acl = board_acl("zhenhai")
    with Mosquitto(
        tmp_path / "broker",
        users={"controller": "s3cret-controller", "outdoor-urban": "board-pw"},
        acl=acl,
        tls=(good / "server.pem", good / "server.key"),
    ) as broker:
        assert broker.url.startswith("mqtts://127.0.0.1:")
        topic = "ledctl/v1/zhenhai/outdoor-urban/status"
        link = MqttLink(
            "broker",
            broker.url,
            username="controller",
            password_file=str(secret),
            tls_ca=str(good / "ca.pem"),
            subscriptions=(topic,),
        )
        link.connect()
        try:
            board = MqttLink(
                "board",
                broker.url,
                client_id="outdoor-urban",
                username="outdoor-urban",
                password_env="LEDCTL_TEST_BOARD_PW",
                tls_ca=str(good / "ca.pem"),
            )
            os.environ["LEDCTL_TEST_BOARD_PW"] = "board-pw"
            board.connect()
            board.publish(topic, b'{"state": "online"}')
            board.publish("ledctl/v1/zhenhai/outdoor-petrochem/status", b'{"state": "forged"}')  # not its own
            board.flush()
            msg = link.inbox.get(timeout=10)
            assert msg.topic == topic and json.loads(msg.payload) == {"state": "online"}
            time.sleep(0.5)
            assert link.inbox.empty()  # the ACL dropped the write to another board's topic
            board.close()
        finally:
            link.close()
            os.environ.pop("LEDCTL_TEST_BOARD_PW", None)

        wrong_ca = MqttLink(
            "broker",
            broker.url,
            username="controller",
            password_file=str(secret),
            tls_ca=str(other / "ca.pem"),
            connect_timeout_s=5,
        )
        untrusted = r"certificate at mqtts://127\.0\.0\.1:\d+ is not trusted .*tls_ca"
        with pytest.raises(MqttError, match=untrusted):
            wrong_ca.connect()
        plain = MqttLink("broker", broker.url.replace("mqtts", "mqtt"), connect_timeout_s=3)
        with pytest.raises(MqttError):
            plain.connect()


def test_the_console_over_https(pki, tmp_path) -> None:
    good, other = pki
    dep = config.load(REPO / "config" / "zhenhai.toml")
    store = Store(tmp_path / "ledctl.sqlite")
    users = Users(store.path)
    users.add("root", "admin", "root-password", T0, None)
    clock = FixedClock(T0)
    console = Console(dep, store, users, notices_for(dep, store.path, clock), clock)
    running = server.start(console, "127.0.0.1:0", tls_cert=good / "server.pem", tls_key=good / "server.key")
    try:
        assert running.url.startswith("https://127.0.0.1:")
        trusted = ssl.create_default_context(cafile=str(good / "ca.pem"))
        request = urllib.request.Request(
            f"{running.url}/api/login",
            method="POST",
            data=json.dumps({"name": "root", "password": "root-password"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, context=trusted, timeout=10) as response:
            assert response.status == 200
            cookie = response.headers["set-cookie"].lower()
            assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
            # Issue 20.9: once on HTTPS, the browser never tries plain HTTP here again.
            assert response.headers["strict-transport-security"] == "max-age=31536000"
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            urllib.request.urlopen(
                f"{running.url}/login",
                context=ssl.create_default_context(cafile=str(other / "ca.pem")),
                timeout=10,
            )
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(running.url.replace("https", "http") + "/login", timeout=5)
    finally:
        running.stop()


def test_secrets_in_readable_files_are_refused(pki, tmp_path) -> None:
    good, _ = pki
    key = tmp_path / "open.key"
    key.write_bytes((good / "server.key").read_bytes())
    key.chmod(0o644)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "ledctl",
            "--state",
            str(tmp_path / "st"),
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            str(good / "server.pem"),
            "--tls-key",
            str(key),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )
    assert run.returncode == 2 and "--tls-key" in run.stderr and "600" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_plain_http_beyond_this_machine_is_refused(tmp_path) -> None:
    # Issue 20.9: `--listen` on an address beyond loopback without TLS started silently.
    run = subprocess.run([sys.executable, "-m", "ledctl", "--state", str(tmp_path / "st"), "serve",
                          "--listen", "0.0.0.0:0"], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert run.returncode == 2 and "--tls-cert" in run.stderr and "--insecure-http" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.8.9.1", True), ("::1", True),
                                                 ("localhost", True), ("0.0.0.0", False), ("::", False),
                                                 ("console.sthj.zhenhai.example", False)])
def test_what_counts_as_this_machine(host: str, loopback: bool) -> None:
    assert server.is_loopback(host) is loopback
