"""Running the console: uvicorn in a thread of the service, on loopback unless told otherwise."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from ledctl.api.app import Console, create_app
from ledctl.errors import LedctlError

log = logging.getLogger("ledctl.api")


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise LedctlError(f"--listen {text!r}: HOST:PORT, like 127.0.0.1:8080 or [::1]:8080")
    return host, int(port)


def is_loopback(host: str) -> bool:
    """Whether `host` is this machine only (127.0.0.0/8, ::1, localhost)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


@dataclass
class ConsoleServer:
    server: uvicorn.Server
    thread: threading.Thread
    url: str

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start(
    console: Console,
    listen: str,
    *,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    wait_s: float = 10.0,
) -> ConsoleServer:
    host, port = parse_listen(listen)
    if (tls_cert is None) != (tls_key is None):
        raise LedctlError("give both --tls-cert and --tls-key for HTTPS (or neither)")
    console.secure_cookies = tls_cert is not None
    config = uvicorn.Config(
        create_app(console),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        # uvicorn believes X-Forwarded-For from loopback by default: a client on this machine (or
        # behind any local proxy) would choose its own address. ledctl reads it itself, from the
        # proxies [console] trusted_proxies names (ledctl.api.security.real_peer).
        proxy_headers=False,
        ssl_certfile=str(tls_cert) if tls_cert else None,
        ssl_keyfile=str(tls_key) if tls_key else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="console", daemon=True)
    thread.start()
    deadline = time.monotonic() + wait_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise LedctlError(f"the console cannot listen on {listen} (in use? see the log above)")
        time.sleep(0.05)
    if port == 0:  # an ephemeral port: ask the socket which
        port = server.servers[0].sockets[0].getsockname()[1]
    scheme = "https" if tls_cert else "http"
    shown = f"[{host}]" if ":" in host else host
    return ConsoleServer(server, thread, f"{scheme}://{shown}:{port}")
