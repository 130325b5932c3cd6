"""Publish once, reach every channel (issue 19.1): publications by stable id and revision, the
channels' outbox, and the signed pushes to a real HTTP receiver on loopback."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledctl.channels import ChannelSender, sign
from ledctl.clock import FixedClock
from ledctl.config import Channel
from ledctl.publications import Publications

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
SECRET = "s3cret-for-the-test"


class Receiver:
    """A webhook receiver on loopback: checks each signature, keeps what it got, answers as told."""

    def __init__(self) -> None:
        self.got: list[dict] = []
        self.bad_signatures = 0
        self.answer = 200
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                stamp = self.headers["X-Ledctl-Timestamp"]
                want = "sha256=" + hmac.new(SECRET.encode(), stamp.encode() + b"." + body,
                                            hashlib.sha256).hexdigest()
                if not hmac.compare_digest(want, self.headers["X-Ledctl-Signature"]):
                    receiver.bad_signatures += 1
                    self.send_response(401)
                else:
                    if receiver.answer == 200:
                        delivery = int(self.headers["X-Ledctl-Delivery"])
                        receiver.got.append({"id": delivery, **json.loads(body)})
                    self.send_response(receiver.answer)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEDCTL_TEST_HOOK_SECRET", SECRET)


def channel(url: str, receives: tuple[str, ...] = ("bulletin", "notice")) -> Channel:
    return Channel("website", url, receives, secret_env="LEDCTL_TEST_HOOK_SECRET")


def test_a_revision_is_kept_once_and_queued_once_per_channel(tmp_path: Path) -> None:
    pubs = Publications(tmp_path / "s.sqlite")
    web = channel("http://127.0.0.1:9/hook")
    bulletins_only = Channel("weibo", "http://127.0.0.1:9/w", ("bulletin",), secret_env="X")
    doc = {"kind": "notice", "title": "停水通知", "state": "published"}
    assert pubs.record("notice:1", "notice", doc, T0, [web, bulletins_only]) is True
    later = T0 + timedelta(minutes=1)
    assert pubs.record("notice:1", "notice", dict(doc), later, [web, bulletins_only]) is False
    assert [(d.channel, d.publication) for d in pubs.deliveries()] == [("website", "notice:1")]
    # The cancellation is a new revision of the same publication, not a new item.
    pubs.record("notice:1", "notice", {**doc, "state": "cancelled"}, T0 + timedelta(minutes=2), [web])
    [pub] = pubs.latest()
    assert pub.id == "notice:1" and pub.doc["state"] == "cancelled" and pub.published_at == T0
    old, new = pubs.deliveries()
    assert old.sent_at is not None and old.status == 0 and "superseded" in old.last_error  # never sent
    assert new.sent_at is None and new.revision == pub.revision


def test_each_delivery_is_signed_and_sent_once(tmp_path: Path, receiver: Receiver, secret: None) -> None:
    clock = FixedClock(T0)
    pubs = Publications(tmp_path / "s.sqlite")
    web = channel(receiver.url)
    pubs.record("bulletin:2026-11-25", "bulletin", {"kind": "bulletin", "date": "2026-11-25"}, T0, [web])
    pubs.record("notice:7", "notice", {"kind": "notice", "title": "重污染天气预警"}, T0, [web])
    sender = ChannelSender(pubs, [web], clock)
    assert sender.send_due() == 2
    assert sender.send_due() == 0  # sent: never again
    assert receiver.bad_signatures == 0
    got = [(g["publication"], g["id"]) for g in receiver.got]
    assert got == [("bulletin:2026-11-25", 1), ("notice:7", 2)]
    assert receiver.got[1]["doc"]["title"] == "重污染天气预警"
    assert [d.status for d in pubs.deliveries()] == [200, 200]


def test_a_failing_receiver_is_retried_with_backoff_and_shown(tmp_path: Path, receiver: Receiver,
                                                              secret: None) -> None:
    clock = FixedClock(T0)
    pubs = Publications(tmp_path / "s.sqlite")
    web = channel(receiver.url)
    pubs.record("notice:7", "notice", {"kind": "notice"}, T0, [web])
    receiver.answer = 503
    sender = ChannelSender(pubs, [web], clock)
    assert sender.send_due() == 0
    [state] = pubs.channel_states([web])
    assert state.failing == 1 and "HTTP 503" in state.last_error
    receiver.answer = 200
    clock.advance(seconds=29)
    assert sender.send_due() == 0  # not before its time
    clock.advance(seconds=1)
    assert sender.send_due() == 1 and len(receiver.got) == 1
    [state] = pubs.channel_states([web])
    assert (state.sent, state.pending, state.failing) == (1, 0, 0)


def test_a_receiver_nobody_answers_for_is_a_failure_not_a_crash(tmp_path: Path, secret: None) -> None:
    pubs = Publications(tmp_path / "s.sqlite")
    web = channel("http://127.0.0.1:9/hook")  # the discard port: nothing listens
    pubs.record("notice:7", "notice", {"kind": "notice"}, T0, [web])
    assert ChannelSender(pubs, [web], FixedClock(T0)).send_due() == 0
    [delivery] = pubs.deliveries()
    assert delivery.sent_at is None and delivery.attempts == 1 and "127.0.0.1:9" in delivery.last_error


def test_a_missing_secret_says_which_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDCTL_TEST_HOOK_SECRET", raising=False)
    pubs = Publications(tmp_path / "s.sqlite")
    web = channel("http://127.0.0.1:9/hook")
    pubs.record("notice:7", "notice", {"kind": "notice"}, T0, [web])
    ChannelSender(pubs, [web], FixedClock(T0)).send_due()
    [delivery] = pubs.deliveries()
    assert "LEDCTL_TEST_HOOK_SECRET is not set" in delivery.last_error


def test_the_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    # What a receiver computes, written out: HMAC-SHA256(secret, "<timestamp>.<body>").
    expected = hmac.new(b"k", b"1764028800.{}", hashlib.sha256).hexdigest()
    assert sign(b"k", 1764028800, b"{}") == f"sha256={expected}"
