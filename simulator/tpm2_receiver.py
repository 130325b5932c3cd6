"""A TPM2 matrix receiver, written from the TPM2 facts (not from ledctl's driver).

Like WLED's serial input it answers a ping (`C9 AA … 36`) with `AC`; unlike WLED it
checks the end byte by default, and it shows a frame only when its size matches the
panel exactly, so a damaged frame never reaches the LEDs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PIL import Image


@dataclass
class Tpm2Stats:
    frames_shown: int = 0
    frames_rejected: int = 0
    pings: int = 0


@dataclass
class Tpm2Receiver:
    width: int
    height: int
    order: str = "row-major"  # or "serpentine"
    strict_end: bool = True
    offline: bool = False
    stats: Tpm2Stats = field(default_factory=Tpm2Stats)
    _buffer: bytearray = field(default_factory=bytearray, repr=False)
    _pixels: bytes | None = field(default=None, repr=False)

    def receive(self, chunk: bytes) -> bytes:
        if self.offline:
            return b""
        self._buffer += chunk
        reply = bytearray()
        while True:
            start = self._buffer.find(b"\xc9")
            if start < 0:
                self._buffer.clear()
                break
            del self._buffer[:start]
            if len(self._buffer) < 4:
                break
            kind = self._buffer[1]
            size = self._buffer[2] << 8 | self._buffer[3]
            if kind not in (0xDA, 0xAA):
                del self._buffer[:1]
                continue
            if len(self._buffer) < 5 + size:
                break
            end_ok = self._buffer[4 + size] == 0x36
            payload = bytes(self._buffer[4:4 + size])
            if self.strict_end and not end_ok:
                self.stats.frames_rejected += 1
                del self._buffer[:1]
                continue
            del self._buffer[:5 + size]
            if kind == 0xAA:
                self.stats.pings += 1
                reply.append(0xAC)
            elif size == self.width * self.height * 3:
                self._pixels = payload
                self.stats.frames_shown += 1
            else:
                self.stats.frames_rejected += 1
        return bytes(reply)

    def snapshot(self) -> Image.Image:
        if self._pixels is None:
            return Image.new("RGB", (self.width, self.height))
        raw = self._pixels
        if self.order == "serpentine":
            stride = self.width * 3
            rows = []
            for y in range(self.height):
                row = raw[y * stride:(y + 1) * stride]
                if y % 2:
                    row = b"".join(row[x * 3:x * 3 + 3] for x in range(self.width - 1, -1, -1))
                rows.append(row)
            raw = b"".join(rows)
        return Image.frombytes("RGB", (self.width, self.height), raw)
