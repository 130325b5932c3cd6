"""Chinese line breaking: by character, Latin words whole, punctuation rules of Chinese typesetting."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledctl import fonts
from ledctl.render.text import NO_LINE_END, NO_LINE_START, wrap

# The characters the issue names must be covered by the rule sets.
ISSUE_NO_START = "，。、；：？！）」』"
ISSUE_NO_END = "（「『"


def simple(text: str) -> int:
    """A fixed-pitch measure: 16 px per non-ASCII character, 8 px per ASCII character."""
    return sum(8 if ch.isascii() else 16 for ch in text)


@pytest.fixture(scope="module")
def cjk16() -> fonts.BoardFont:
    return fonts.load("cjk16")


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


LATIN_WORD = re.compile(r"[A-Za-z0-9._\-+/%]+")


def single_unit(line: str) -> bool:
    """A line that cannot be broken any further: one character, or one Latin word kept whole."""
    return len(line) <= 1 or LATIN_WORD.fullmatch(line) is not None


# ---------------------------------------------------------------------------
# The rule sets


def test_rule_sets_cover_the_punctuation_the_issue_names():
    assert set(ISSUE_NO_START) <= NO_LINE_START
    assert set(ISSUE_NO_END) <= NO_LINE_END
    assert not NO_LINE_START & NO_LINE_END


# ---------------------------------------------------------------------------
# Examples with the fixed-pitch measure (64 px = 4 Chinese characters)


def test_plain_chinese_splits_at_the_width():
    assert wrap("一二三四五六七八九", simple, 64) == ["一二三四", "五六七八", "九"]


def test_text_exactly_the_width_is_one_line():
    assert wrap("一二三四", simple, 64) == ["一二三四"]
    assert wrap("一二三四", simple, 63) == ["一二三", "四"]
    assert wrap("一二三四五六七八", simple, 64) == ["一二三四", "五六七八"]


def test_closing_punctuation_pulls_the_previous_character_down():
    # "，" would start line 2: the break moves back one character, "四" comes down with it.
    assert wrap("一二三四，五六", simple, 64) == ["一二三", "四，五六"]


@pytest.mark.parametrize("punct", sorted(NO_LINE_START))
def test_no_forbidden_punctuation_at_a_line_start(punct):
    lines = wrap("一二三四" + punct + "五六", simple, 64)
    assert [line[0] for line in lines[1:]] == ["四"]
    assert "".join(lines) == "一二三四" + punct + "五六"
    assert all(simple(line) <= 64 for line in lines)


def test_two_closing_marks_in_a_row_pull_the_character_before_them_down():
    assert wrap("一二三四）。五", simple, 64) == ["一二三", "四）。五"]


def test_opening_bracket_at_a_line_end_moves_down():
    assert wrap("一二三（四）五", simple, 64) == ["一二三", "（四）五"]


@pytest.mark.parametrize("punct", sorted(NO_LINE_END))
def test_no_forbidden_punctuation_at_a_line_end(punct):
    lines = wrap("一二三" + punct + "四五", simple, 64)
    assert lines[0] == "一二三"
    assert lines[1].startswith(punct)


def test_opening_bracket_then_closing_mark_moves_both_rules_at_once():
    # Breaking before "，" is forbidden, and so is breaking after "「".
    assert wrap("一二「三，四", simple, 64) == ["一二", "「三，四"]


def test_opening_bracket_before_a_space_at_the_line_end_moves_down():
    # The space is dropped at the line end, which would leave "（" last on the line.
    assert wrap("中（ 文", simple, 40) == ["中", "（ 文"]


def test_closing_mark_after_two_spaces_is_not_left_at_a_line_start():
    # The spaces are dropped at the line start, which would leave "，" first on the line.
    lines = wrap("中文  ，", simple, 48)
    assert not lines[1].startswith("，"), lines
    assert all(simple(line) <= 48 for line in lines)


def test_closing_mark_after_one_space_is_not_left_at_a_line_start():
    lines = wrap("中文 ，", simple, 40)
    assert lines == ["中", "文 ，"]


def test_pm25_is_kept_whole_when_it_fits():
    assert wrap("今日PM2.5良", simple, 64) == ["今日", "PM2.5良"]
    assert wrap("PM2.5", simple, 40) == ["PM2.5"]


def test_numbers_and_percent_are_kept_whole():
    assert wrap("湿度是85.5%左右", simple, 64) == ["湿度是", "85.5%左", "右"]


def test_latin_word_alone_on_a_line_keeps_its_closing_mark_on_the_next_line():
    # The word fills the line and cannot be pulled down with the comma: the word stays whole.
    assert wrap("PM2.5，良", simple, 40) == ["PM2.5", "，良"]


def test_long_latin_token_is_split_by_character():
    token = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"
    assert len(token) == 40
    lines = wrap(token, simple, 64)
    assert lines == [token[i : i + 8] for i in range(0, 40, 8)]


def test_long_latin_token_after_chinese_fills_the_line():
    token = "x" * 40
    lines = wrap("中" + token, simple, 64)
    assert "".join(lines) == "中" + token
    assert lines[0] == "中xxxxxx"
    assert all(simple(line) <= 64 for line in lines)


def test_latin_words_break_at_spaces_and_the_spaces_at_the_edges_go():
    assert wrap("abc def ghi", simple, 64) == ["abc def", "ghi"]
    assert wrap("  一二三 四五  ", simple, 48) == ["一二三", "四五"]


def test_newlines_are_hard_breaks():
    assert wrap("一二\n三四", simple, 64) == ["一二", "三四"]
    assert wrap("一\n\n二", simple, 64) == ["一", "", "二"]
    assert wrap("一二三四五六\n七", simple, 64) == ["一二三四", "五六", "七"]


def test_empty_text():
    assert wrap("", simple, 64) == [""]
    assert wrap("   ", simple, 64) == [""]


def test_a_character_wider_than_the_line_gets_a_line_of_its_own():
    assert wrap("一二", simple, 10) == ["一", "二"]


# ---------------------------------------------------------------------------
# Examples with the board font (cjk16, 128 px = 8 Chinese characters)


def test_font_plain_chinese_splits_at_the_width(cjk16):
    assert wrap("一二三四五六七八九十", cjk16.width, 128) == ["一二三四五六七八", "九十"]


def test_font_text_exactly_the_width(cjk16):
    assert cjk16.width("一二三四五六七八") == 128
    assert wrap("一二三四五六七八", cjk16.width, 128) == ["一二三四五六七八"]


def test_font_closing_punctuation_is_not_at_a_line_start(cjk16):
    assert wrap("一二三四五六七八。九", cjk16.width, 128) == ["一二三四五六七", "八。九"]
    assert wrap("一二三四五六七八！", cjk16.width, 128) == ["一二三四五六七", "八！"]


def test_font_opening_bracket_is_not_at_a_line_end(cjk16):
    assert wrap("一二三四五六七（八）", cjk16.width, 128) == ["一二三四五六七", "（八）"]
    assert wrap("一二三四五六七「八」", cjk16.width, 128) == ["一二三四五六七", "「八」"]


def test_font_pm25_is_kept_whole(cjk16):
    lines = wrap("今日空气质量PM2.5良", cjk16.width, 128)
    assert lines == ["今日空气质量", "PM2.5良"]


def test_font_long_latin_token_is_split(cjk16):
    token = "A" * 40
    lines = wrap(token, cjk16.width, 128)
    assert "".join(lines) == token
    assert [len(line) for line in lines] == [12, 12, 12, 4]
    assert all(cjk16.width(line) <= 128 for line in lines)


def test_font_newlines_and_empty_text(cjk16):
    assert wrap("一二\n三四", cjk16.width, 128) == ["一二", "三四"]
    assert wrap("", cjk16.width, 128) == [""]


# ---------------------------------------------------------------------------
# Properties

CJK = "一二三四五六七八九十今日空气质量良好中度污染请注意防护"
ALPHABET = CJK + "".join(sorted(NO_LINE_START)) + "".join(sorted(NO_LINE_END)) + "PM25abcXY09.  "

# Spaces next to punctuation are where the rules are easiest to get wrong: draw them often.
CHUNKS = [*ALPHABET, " ，", "  ，", "  。", "（ ", "「 ", " （", "PM2.5", "AQI"]
texts = st.lists(st.sampled_from(CHUNKS), max_size=40).map("".join)
widths = st.integers(min_value=32, max_value=256)


def check_lines(text: str, lines: list[str], measure, width: int) -> None:
    """Every rule a single paragraph's lines must follow."""
    assert lines, "wrap returns at least one line"
    assert squeeze("".join(lines)) == squeeze(text)
    for line in lines:
        assert line == line.strip(), f"space at a line edge: {line!r}"
        assert measure(line) <= width or len(line) == 1, f"{line!r} is wider than {width}"
    if text.strip():
        assert all(lines), f"an empty line in {lines!r}"
    for prev, line in itertools.pairwise(lines):
        if line[0] in NO_LINE_START:
            assert single_unit(prev), f"{line!r} starts with {line[0]!r} after {prev!r}: {lines!r}"
        if prev[-1] in NO_LINE_END:
            assert single_unit(prev), f"{prev!r} ends with {prev[-1]!r}: {lines!r}"


@settings(max_examples=200, deadline=None)
@given(text=texts, width=widths)
def test_property_lines_fit_and_follow_the_punctuation_rules(text, width):
    check_lines(text, wrap(text, simple, width), simple, width)


@settings(max_examples=100, deadline=None)
@given(text=texts, width=widths)
def test_property_with_the_board_font(text, width):
    font = fonts.load("cjk16")
    check_lines(text, wrap(text, font.width, width), font.width, width)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(ALPHABET + "\n"), max_size=60), width=widths)
def test_property_newlines_split_into_independent_paragraphs(text, width):
    lines = wrap(text, simple, width)
    assert lines == [line for p in text.split("\n") for line in wrap(p, simple, width)]
    assert squeeze("".join(lines)) == squeeze(text)
    assert len(lines) >= text.count("\n") + 1
