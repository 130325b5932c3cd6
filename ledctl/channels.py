"""Pushing publications to the channels ([[channels]] webhooks), from the outbox in the store.

Each delivery is one HTTP POST of JSON:

    {"delivery": 12, "channel": "website", "publication": "notice:7", "revision": "…",
     "kind": "notice", "published_at": "…", "updated_at": "…", "doc": {…}}

with the headers

    X-Ledctl-Delivery:  12                       the outbox row: the same on a retry
    X-Ledctl-Timestamp: 1764050400               Unix seconds when signed
    X-Ledctl-Signature: sha256=<hex>             HMAC-SHA256(secret, timestamp + "." + body)

A receiver checks the signature and the timestamp (reject one older than five minutes: a replay),
and keeps the delivery ids it has processed: a delivery is sent until the receiver answers 2xx, so
after a crash between its answer and our record of it, the same delivery (same id) may come again.
A 4xx other than 408/429 is the receiver refusing: retried too (it may be fixed), and shown as
failing. Retries back off from 30 s to an hour.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from ledctl.clock import Clock
from ledctl.config import Channel
from ledctl.errors import ConfigError
from ledctl.events import event
from ledctl.publications import Delivery, Publication, Publications

log = logging.getLogger("ledctl.channels")

POST_TIMEOUT_S = 10.0
IDLE_WAIT_S = 30.0  # how long the sender sleeps when nothing is queued (it is woken on news)

Post = Callable[[str, bytes, dict[str, str]], int]  # url, body, headers → HTTP status


def secret_of(channel: Channel) -> bytes:
    """The channel's signing secret, from its environment variable or its 0600 file."""
    if channel.secret_env:
        value = os.environ.get(channel.secret_env, "")
        if not value:
            raise ConfigError([f"channels {channel.name}: the environment variable {channel.secret_env} "
                               "is not set; set it to the secret the receiver checks signatures with"])
        return value.encode()
    try:
        value = Path(channel.secret_file).read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigError([f"channels {channel.name}: cannot read secret_file {channel.secret_file}: "
                           f"{e.strerror}"]) from None
    if not value:
        raise ConfigError([f"channels {channel.name}: secret_file {channel.secret_file} is empty"])
    return value.encode()


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def body_of(delivery: Delivery, publication: Publication) -> bytes:
    return json.dumps({
        "delivery": delivery.seq, "channel": delivery.channel, "publication": publication.id,
        "revision": publication.revision, "kind": publication.kind,
        "published_at": publication.published_at.isoformat(),
        "updated_at": publication.updated_at.isoformat(),
        "doc": publication.doc,
    }, ensure_ascii=False, sort_keys=True).encode()


def http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """POST and return the status (an HTTP error status too); OSError when nothing answered."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=POST_TIMEOUT_S) as response:
            response.read(65536)
            return int(response.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


class ChannelSender:
    """Sends what the outbox holds, oldest first, one delivery at a time; `run()` in a thread."""

    def __init__(self, publications: Publications, channels: Sequence[Channel], clock: Clock,
                 post: Post = http_post) -> None:
        self.publications = publications
        self.channels = {c.name: c for c in channels}
        self.clock = clock
        self.post = post
        self._wake = threading.Event()
        self._stop = threading.Event()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Stop after the delivery in flight (its answer is recorded: a clean stop never repeats one)."""
        self._stop.set()
        self._wake.set()

    def send_due(self) -> int:
        """Every delivery due now; returns how many went through."""
        done = 0
        for delivery, publication in self.publications.due(self.clock.now()):
            if self._stop.is_set():
                break
            done += self._send(delivery, publication)
        return done

    def _send(self, delivery: Delivery, publication: Publication) -> int:
        channel = self.channels.get(delivery.channel)
        now = self.clock.now()
        if channel is None:
            self.publications.failed(delivery.seq, now, "no such channel in the config any more")
            return 0
        body = body_of(delivery, publication)
        timestamp = int(now.timestamp())
        try:
            headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "ledctl",
                       "X-Ledctl-Delivery": str(delivery.seq), "X-Ledctl-Timestamp": str(timestamp),
                       "X-Ledctl-Signature": sign(secret_of(channel), timestamp, body)}
            status = self.post(channel.url, body, headers)
        except ConfigError as e:
            self._failed(delivery, now, "; ".join(e.problems))
            return 0
        except (OSError, ValueError, http.client.HTTPException) as e:  # refused, timed out, garbled
            self._failed(delivery, now, f"{channel.url}: {e}")
            return 0
        if 200 <= status < 300:
            self.publications.sent(delivery.seq, self.clock.now(), status)
            event(log, "channel-sent", channel=channel.name, delivery=delivery.seq,
                  publication=publication.id, status=status)
            return 1
        self._failed(delivery, now, f"{channel.url} answered HTTP {status}", status)
        return 0

    def _failed(self, delivery: Delivery, now: datetime, why: str, status: int | None = None) -> None:
        later = self.publications.failed(delivery.seq, now, why, status)
        event(log, "channel-failed", level=logging.WARNING, channel=delivery.channel, delivery=delivery.seq,
              publication=delivery.publication, error=why, retry_at=later.isoformat(timespec="seconds"))

    def run(self) -> None:
        while not self._stop.is_set():
            self.send_due()
            due = self.publications.next_due()
            wait = IDLE_WAIT_S
            if due is not None:
                wait = min(wait, max(0.5, (due - self.clock.now()).total_seconds()))
            self._wake.wait(wait)
            self._wake.clear()
