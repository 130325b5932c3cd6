"""Onbon BX-5K/6K serial protocol, host side (import name: ledctl.drivers.onbon).

`frame` wraps data fields in the link-layer frame (start run, header, CRC-16/ARC,
escaping) and decodes a byte stream back into frames; `commands` builds and parses
data fields; `bitmap` packs a page image for the special dynamic area. All pure:
no I/O here. Reference: /work/shared/facts/onbon-bx.md.
"""
