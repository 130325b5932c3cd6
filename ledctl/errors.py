"""Errors a user can cause. Each carries a message that names what is wrong and how to fix it.

The CLI prints these without a traceback and exits with code 2; anything else is a bug.
"""

from __future__ import annotations


class LedctlError(Exception):
    """A problem the user can fix: bad config, bad data, bad input, missing font."""

    exit_code = 2


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
