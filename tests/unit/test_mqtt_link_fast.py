"""The pieces of MqttLink that make a fan-out to thousands of boards cheap: topic filters matched
without paho's per-call matcher, and a socket read in chunks that paho still reads packet by packet."""

from __future__ import annotations

import socket

import paho.mqtt.client as mqtt
import pytest

from ledctl.drivers.mqtt_link import _BufferedSocket, topic_matches


@pytest.mark.parametrize("topic_filter, topic", [
    ("ledctl/v1/+/+/ack", "ledctl/v1/s/b1/ack"),
    ("ledctl/v1/s/+/page/#", "ledctl/v1/s/b1/page/0/3"),
    ("ledctl/v1/s/+/page/#", "ledctl/v1/s/b1/page"),
    ("#", "a/b"),
    ("a/+", "a/"),
    ("a/b", "a/b/c"),
    ("a/b/c", "a/b"),
    ("+/+/ack", "x/y/status"),
    ("ledctl/v1/s/+/status", "ledctl/v1/t/b1/status"),
])
def test_topic_filters_match_as_paho_says(topic_filter: str, topic: str) -> None:
    assert topic_matches(tuple(topic_filter.split("/")), topic.split("/")) == mqtt.topic_matches_sub(
        topic_filter, topic)


def test_the_buffered_socket_hands_out_what_was_sent_in_any_cut() -> None:
    a, b = socket.socketpair()
    try:
        b.setblocking(False)
        reader = _BufferedSocket(b)
        with pytest.raises(BlockingIOError):  # nothing yet: as a plain non-blocking socket
            reader.recv(1)
        payload = bytes(range(256)) * 10
        a.sendall(payload)
        got = reader.recv(1) + reader.recv(2)
        assert reader.pending() == len(payload) - 3  # paho reads on without waiting in select
        while reader.pending():
            got += reader.recv(100)
        assert got == payload and reader.fileno() == b.fileno()
        a.close()
        assert reader.recv(5) == b""  # the peer closed: end of stream, as before
    finally:
        b.close()
