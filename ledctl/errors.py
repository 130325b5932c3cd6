"""Errors by kind. Each carries a message that names what is wrong and what to do.

* LedctlError: a problem the user can fix (config, data, input, a missing font). The CLI prints
  it without a traceback and exits with code 2.
* FaultError: something outside ledctl failed and may work again (a wire, a DTU, a broker, the
  store's disk). Drivers turn it into a result for the board; the service retries; the CLI
  prints it and exits with code 1.
* Protocol decoding errors (ledctl.drivers.base.ProtocolError) are their own type too: bytes a
  board or a peer sent that do not decode.

Anything else is a bug.
"""

from __future__ import annotations


class LedctlError(Exception):
    """A problem the user can fix: bad config, bad data, bad input, missing font."""

    exit_code = 2


class UsageError(LedctlError):
    """A command line that cannot work as given (a bad flag value, a missing argument)."""


class FaultError(Exception):
    """A transient fault outside ledctl: a link, a broker or the store. Retried where it makes sense."""

    exit_code = 1


class ConfigError(LedctlError):
    """The configuration file is invalid. Holds every problem found, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


class DataError(LedctlError):
    """A data file or reading is unusable."""


class FontError(LedctlError):
    """A font is missing or lacks a glyph."""


class FitError(LedctlError):
    """Content does not fit a board: clipped text or a glyph the board's font lacks."""

    def __init__(self, board: str, page: str, text: str, reason: str) -> None:
        self.board, self.page, self.text, self.reason = board, page, text, reason
        super().__init__(f"board {board}, page {page}: {text!r} {reason}")
