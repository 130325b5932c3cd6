"""Structured logs: one line per event, `event key=value …`, board ids included, no tracebacks.

A value with spaces or quotes is written as a JSON string, so each line splits cleanly
with shlex or a log shipper's key=value parser.
"""

from __future__ import annotations

import json
import logging

FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _value(v: object) -> str:
    text = str(v)
    if text == "" or any(c in text for c in ' "=\n\t'):
        return json.dumps(text, ensure_ascii=False)
    return text


def event(log: logging.Logger, name: str, *, level: int = logging.INFO, **fields: object) -> None:
    if log.isEnabledFor(level):
        log.log(
            level, "%s %s", name, " ".join(f"{k}={_value(v)}" for k, v in fields.items() if v is not None)
        )
