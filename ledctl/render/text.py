"""Line breaking for Chinese board text.

Breaks between characters (Chinese has no spaces), keeps Latin words and
numbers such as "PM2.5" whole where they fit, and follows the punctuation rules
of Chinese typesetting: no line starts with closing punctuation and no line
ends with opening punctuation.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

NO_LINE_START = set("，。、；：？！）」』】》〉”’…,.;:?!)]}%")
NO_LINE_END = set("（「『【《〈“‘([{")

Measure = Callable[[str], int]


def _tokens(text: str) -> list[str]:
    """Break opportunities: each CJK character alone, words of other scripts (\"Hemlingby\",
    \"utfärdades\") and numbers together."""
    tokens: list[str] = []
    word = ""
    for ch in text:
        if (ch.isalnum() and unicodedata.east_asian_width(ch) not in "WF") or ch in "._-+/%":
            word += ch
            continue
        if word:
            tokens.append(word)
            word = ""
        tokens.append(ch)
    if word:
        tokens.append(word)
    return tokens


def wrap(text: str, measure: Measure, width: int) -> list[str]:
    """Split `text` into lines no wider than `width` by `measure`.

    Newlines in the text are kept as breaks. A single word wider than a line is
    split by character. Spaces at the edges of a line are dropped.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap_paragraph(paragraph, measure, width))
    return lines


def _wrap_paragraph(text: str, measure: Measure, width: int) -> list[str]:
    tokens: list[str] = []
    for tok in _tokens(text):
        if len(tok) > 1 and measure(tok) > width:
            tokens.extend(tok)  # a word longer than a line: split by character
        else:
            tokens.append(tok)
    lines: list[str] = []
    start = 0
    while start < len(tokens):
        end = start
        while end < len(tokens) and measure("".join(tokens[start:end + 1]).strip()) <= width:
            end += 1
        if end == start:
            end = start + 1  # one token wider than the line: the fit check will say so
        elif end < len(tokens):
            end = _respect_punctuation(tokens, start, end)
        line = "".join(tokens[start:end]).strip()
        if line:
            lines.append(line)
        start = end
    return lines or [""]


def _respect_punctuation(tokens: list[str], start: int, end: int) -> int:
    """Move the break at `end` back so that no line starts or ends with forbidden punctuation.

    Spaces at a break are dropped, so the rules look past them.
    """
    candidate = end
    while candidate > start + 1:
        before = next((t for t in reversed(tokens[start:candidate]) if not t.isspace()), "")
        after = next((t for t in tokens[candidate:] if not t.isspace()), "")
        if (after and after[0] in NO_LINE_START) or (before and before[-1] in NO_LINE_END):
            candidate -= 1
            continue
        break
    return candidate
