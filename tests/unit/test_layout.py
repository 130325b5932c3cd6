"""Layouts as data: board templates in config/layouts/*.toml, chosen by board size, checked on load.

A new board size is a new TOML file, not a code change; a bad template is a ConfigError that names
the file, the key path, the value and what was expected, never a traceback.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from ledctl import fonts
from ledctl.errors import ConfigError, FitError
from ledctl.model import Board, ColourMode, Program, Size, StationBulletin
from ledctl.render.bulletin import bulletin_fields, render_bulletin
from ledctl.render.cache import PageCache
from ledctl.render.canvas import Run
from ledctl.render.layout import (
    BULLETIN_FIELDS,
    Layout,
    check_dwell,
    layout_for,
    load_dir,
    load_file,
    parse_markup,
    render_pages,
)
from ledctl.standards.aqi import HJ633_2026, assess_daily

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config" / "layouts"
DAY = date(2026, 11, 24)
BLACK, RED, GREEN, YELLOW = (0, 0, 0), (255, 0, 0), (0, 255, 0), (255, 255, 0)


def board(size: str, colour: ColourMode = ColourMode.RED_GREEN, id: str = "b-01", layout: str = "") -> Board:
    return Board(id, f"board {id}", Size.parse(size), colour, "sim", "link-1", "st-1", layout=layout)


def values(**kw: str) -> dict[str, Decimal]:
    base = {"pm25": "20", "pm10": "30", "so2": "5", "no2": "20", "co": "0.5", "o3_8h": "60"}
    base.update(kw)
    return {k: Decimal(v) for k, v in base.items()}


def bulletin(v: Mapping[str, Decimal] | None) -> StationBulletin:
    if v is None:
        return StationBulletin("st-1", "城区", None, None, problem="no data")
    return StationBulletin("st-1", "城区", DAY, assess_daily(v, HJ633_2026), v)


LEVEL2 = values(pm25="52", pm10="78")  # 良, yellow
LEVEL3 = values(pm25="100", pm10="120")  # 轻度污染, orange
LEVEL5 = values(pm25="200", pm10="260")  # 重度污染, purple


def colours_of(program: Program) -> set[tuple[int, int, int]]:
    used: set[tuple[int, int, int]] = set()
    for page in program.pages:
        used |= {c for _, c in page.image.getcolors(maxcolors=1 << 16)}
    return used


@pytest.fixture(scope="module")
def shipped() -> dict[str, Layout]:
    return load_dir(SHIPPED)


# A template for a board size nothing ships for: 48x24, one 12-px line and one 8-px line.
TINY = """\
[layout]
name = "tiny"
description = "48x24 test boards"
min_size = "48x24"

[rules]
min_dwell_per_char = 0.25
scroll_speed = 16

[[bulletin]]
name = "air"
when = "assessed"
dwell = 8
lines = [
  { y = 0,  font = "cjk12", text = "[title]空气[level]{category}" },
  { y = 14, font = "latin5x7", text = "AQI {aqi}" },
]

[[bulletin]]
name = "air"
when = "updating"
dwell = 6
lines = [
  { y = 0,  font = "cjk12", text = "[title]空气" },
  { y = 12, font = "cjk12", text = "[warning]更新中" },
]

[notice]
dwell = 10
lines = [
  { y = 0, font = "cjk12", text = "[warning]{title}" },
]
flow = { y = 12, height = 12, font = "cjk12", colour = "text", overflow = "scroll-left" }
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as e:
        load_file(path)
    assert e.value.problems, "a ConfigError must say what is wrong"
    return e.value.problems


def one_problem(path: Path, key: str) -> str:
    """The one problem about `key` in `path`; it names the file, the key path and what was expected."""
    problems = problems_of(path)
    found = [p for p in problems if p.startswith((f"{path}: {key} ", f"{path}: {key}:"))]
    assert len(found) == 1, problems
    message = found[0]
    assert "expected" in message, message
    return message


# -- 1. the shipped folder ----------------------------------------------------------------------

def test_shipped_layouts_load(shipped: dict[str, Layout]) -> None:
    assert set(shipped) == {"community", "small", "outdoor", "outdoor-large"}
    for name, lay in shipped.items():
        whens = {page.when for page in lay.bulletin}
        assert {"assessed", "updating"} <= whens, (name, whens)
        assert lay.notice is not None, name
        assert lay.notice.flow.height > 0, name
        assert lay.path.parent == SHIPPED


def test_shipped_min_sizes(shipped: dict[str, Layout]) -> None:
    assert {n: str(lay.min_size) for n, lay in shipped.items()} == {
        "community": "128x32", "small": "64x32", "outdoor": "192x96", "outdoor-large": "256x128",
    }


@pytest.mark.parametrize("name", ["community", "small", "outdoor", "outdoor-large"])
@pytest.mark.parametrize("situation", ["level2", "level5", "updating"])
def test_shipped_layout_renders_at_its_min_size(
    shipped: dict[str, Layout], name: str, situation: str,
) -> None:
    lay = shipped[name]
    b = board(str(lay.min_size), ColourMode.FULL)
    assert layout_for(b, shipped) is lay
    sb = bulletin({"level2": LEVEL2, "level5": LEVEL5, "updating": None}[situation])
    program = render_bulletin(b, sb, fonts.load, lay)
    assert program.pages
    for page in program.pages:
        assert page.image.size == (lay.min_size.width, lay.min_size.height)
        assert page.texts
    said = "".join(t for page in program.pages for _, t in page.texts)
    assert ("更新中" in said) == (situation == "updating"), said


# -- 2. choosing a layout -----------------------------------------------------------------------

@pytest.mark.parametrize(("size", "expected"), [
    ("256x128", "outdoor-large"),
    ("320x160", "outdoor-large"),
    ("192x96", "outdoor"),
    ("200x100", "outdoor"),
    ("255x128", "outdoor"),
    ("128x32", "community"),
    ("160x32", "community"),
    ("128x64", "community"),
    ("64x32", "small"),
    ("96x32", "small"),
    ("127x32", "small"),
])
def test_layout_by_size(shipped: dict[str, Layout], size: str, expected: str) -> None:
    assert layout_for(board(size), shipped).name == expected


def test_board_names_its_layout(shipped: dict[str, Layout]) -> None:
    assert layout_for(board("256x128", layout="small"), shipped).name == "small"
    assert layout_for(board("192x96", layout="community"), shipped).name == "community"


def test_unknown_layout_name(shipped: dict[str, Layout]) -> None:
    with pytest.raises(ConfigError) as e:
        layout_for(board("128x32", id="zbs-07", layout="comunity"), shipped)
    message = str(e.value)
    assert "zbs-07" in message and '"comunity"' in message
    for known in shipped:
        assert known in message


def test_no_layout_for_a_tiny_board(shipped: dict[str, Layout]) -> None:
    with pytest.raises(ConfigError) as e:
        layout_for(board("32x16", id="tiny-1"), shipped)
    message = str(e.value)
    assert "tiny-1" in message and "32x16" in message
    assert "no layout is made for" in message
    assert "README" in message


def test_readme_has_the_section_the_error_points_to() -> None:
    # layout_for's error sends the user to README 'Adding a board size': it must exist.
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "Adding a board size" in readme


# -- 3. a new board size is a new file ------------------------------------------------------------

@pytest.fixture
def with_tiny(tmp_path: Path) -> dict[str, Layout]:
    folder = tmp_path / "layouts"
    shutil.copytree(SHIPPED, folder)
    write(folder, "tiny.toml", TINY)
    return load_dir(folder)


def test_new_size_is_a_new_file(with_tiny: dict[str, Layout]) -> None:
    assert set(with_tiny) == {"community", "small", "outdoor", "outdoor-large", "tiny"}
    b = board("48x24", ColourMode.RED_GREEN, id="t-1")
    lay = layout_for(b, with_tiny)
    assert lay.name == "tiny"
    sb = bulletin(LEVEL2)
    assert sb.assessment is not None
    program = render_bulletin(b, sb, fonts.load, lay)
    assert program.board == "t-1"
    assert [p.name for p in program.pages] == ["air"]
    page = program.pages[0]
    assert page.image.size == (48, 24)
    a = sb.assessment
    assert page.texts == (("cjk12", f"空气{a.category}"), ("latin5x7", f"AQI {a.aqi}"))
    assert YELLOW in colours_of(program)  # the level colour of 良 on a red/green board
    # the 8-px line sits at row 14: ink there, nothing below row 22
    rows = {y for y in range(24) for x in range(48) if page.image.getpixel((x, y)) != BLACK}
    assert 14 in rows or 15 in rows
    assert max(rows) < 22

    updating = render_bulletin(b, bulletin(None), fonts.load, lay)
    assert [p.texts for p in updating.pages] == [(("cjk12", "空气"), ("cjk12", "更新中"))]
    assert updating.pages[0].image.size == (48, 24)


def test_new_size_does_not_change_other_boards(with_tiny: dict[str, Layout]) -> None:
    assert layout_for(board("64x32"), with_tiny).name == "small"
    assert layout_for(board("128x32"), with_tiny).name == "community"
    with pytest.raises(ConfigError):
        layout_for(board("47x24"), with_tiny)


# -- 4. markup ----------------------------------------------------------------------------------

def test_parse_markup_runs() -> None:
    runs = parse_markup("[level x3]{aqi}[text] {primary}", {"aqi": "85", "primary": "PM2.5"},
                        {"level": "#FFFF00"})
    assert runs == (Run("85", "#FFFF00", None, 3), Run(" PM2.5", "text", None, 1))


def test_parse_markup_literal_with_font() -> None:
    assert parse_markup("[title cjk12]空气质量", {}, {}) == (Run("空气质量", "title", "cjk12", 1),)


def test_parse_markup_tag_resets_and_plain_text_is_text() -> None:
    runs = parse_markup("AQI [level x2]{aqi}[] ok", {"aqi": "40"}, {"level": "#00E400"})
    assert runs == (Run("AQI ", "text", None, 1), Run("40", "#00E400", None, 2), Run(" ok", "text", None, 1))


def test_parse_markup_hex_colour() -> None:
    assert parse_markup("[#12AB34]x", {}, {}) == (Run("x", "#12AB34", None, 1),)


def test_bulletin_fields_are_the_template_fields() -> None:
    from ledctl.render.bulletin import water_fields

    for sb in (bulletin(LEVEL2), bulletin(None)):
        fields, _, _ = bulletin_fields(sb)
        water, _, _ = water_fields(())
        assert set(fields) | set(water) == BULLETIN_FIELDS


BASE = """\
[layout]
name = "t"
min_size = "48x24"

[[bulletin]]
name = "air"
dwell = 8
lines = [
  { y = 0, font = "cjk12", text = "[title]空气" },
  { y = 12, font = "latin5x7", text = "AQI {aqi}" },
]

[notice]
lines = [ { y = 0, font = "cjk12", text = "[warning]{title}" } ]
flow = { y = 12, height = 12, font = "cjk12" }
"""


def bad(tmp_path: Path, old: str, new: str, base: str = BASE) -> Path:
    assert old in base
    return write(tmp_path, "bad.toml", base.replace(old, new, 1))


def test_base_template_is_valid(tmp_path: Path) -> None:
    lay = load_file(write(tmp_path, "ok.toml", BASE))
    assert lay.name == "t" and lay.min_size == Size(48, 24)


def test_unknown_field(tmp_path: Path) -> None:
    path = bad(tmp_path, "AQI {aqi}", "AQI {aqii}")
    message = one_problem(path, "bulletin[0].lines[1].text")
    assert "{aqii}" in message
    for field in ("aqi", "category", "primary", "pm25", "station"):
        assert field in message


def test_bulletin_field_in_a_notice(tmp_path: Path) -> None:
    path = bad(tmp_path, "[warning]{title}", "[warning]{aqi}")
    message = one_problem(path, "notice.lines[0].text")
    assert "{aqi}" in message and "title" in message and "body" in message


def test_unbalanced_brace(tmp_path: Path) -> None:
    path = bad(tmp_path, "AQI {aqi}", "AQI {aqi")
    assert "balanced" in one_problem(path, "bulletin[0].lines[1].text")


def test_unknown_tag_word(tmp_path: Path) -> None:
    path = bad(tmp_path, "[title]空气", "[titel]空气")
    message = one_problem(path, "bulletin[0].lines[0].text")
    assert "titel" in message and "[title cjk12]" in message


def test_unknown_font_in_a_tag(tmp_path: Path) -> None:
    path = bad(tmp_path, "[title]空气", "[title cjk99]空气")
    assert "cjk99" in one_problem(path, "bulletin[0].lines[0].text")


def test_unknown_font(tmp_path: Path) -> None:
    path = bad(tmp_path, 'font = "latin5x7"', 'font = "latin5x8"')
    message = one_problem(path, "bulletin[0].lines[1].font")
    assert '"latin5x8"' in message and "catalogue.toml" in message
    assert "latin5x7" in message and "cjk16" in message


@pytest.mark.parametrize(("old", "new", "key", "value", "options"), [
    ("dwell = 8", 'dwell = 8\nwhen = "sometimes"', "bulletin[0].when", "sometimes", "assessed"),
    ("dwell = 8", 'dwell = 8\neffect = "fade"', "bulletin[0].effect", "fade", "scroll-left"),
    ('font = "cjk12", text = "[title]', 'font = "cjk12", align = "middle", text = "[title]',
     "bulletin[0].lines[0].align", "middle", "left, center, right"),
    ('font = "cjk12", text = "[title]', 'font = "cjk12", valign = "centre", text = "[title]',
     "bulletin[0].lines[0].valign", "centre", "top, middle, bottom"),
    ('font = "latin5x7", text', 'font = "latin5x7", when = "sunny", text', "bulletin[0].lines[1].when",
     "sunny", "has_primary"),
    ('font = "cjk12" }', 'font = "cjk12", overflow = "wrap" }', "notice.flow.overflow", "wrap", "scroll-up"),
    ('font = "cjk12" }', 'font = "cjk12", colour = "blue" }', "notice.flow.colour", "blue", "#RRGGBB"),
])
def test_bad_choice(tmp_path: Path, old: str, new: str, key: str, value: str, options: str) -> None:
    message = one_problem(bad(tmp_path, old, new), key)
    assert f'"{value}"' in message and options in message


def test_unknown_key_in_a_page(tmp_path: Path) -> None:
    path = bad(tmp_path, "dwell = 8", 'dwell = 8\ncolour = "red"')
    message = one_problem(path, "bulletin[0].colour")
    assert "unknown key" in message and "dwell" in message and "lines" in message


def test_unknown_key_in_a_line(tmp_path: Path) -> None:
    path = bad(tmp_path, 'text = "AQI {aqi}"', 'text = "AQI {aqi}", size = 2')
    message = one_problem(path, "bulletin[0].lines[1].size")
    assert "unknown key" in message and "valign" in message


def test_unknown_key_at_the_top(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.toml", 'colours = "red"\n' + BASE)
    problems = problems_of(path)
    assert len(problems) == 1, problems
    message = problems[0]
    assert "colours" in message and "unknown key" in message and "expected" in message
    assert "layout, rules, bulletin, notice" in message
    # the key path is `colours`, as it is written in the file (not `.colours`)
    assert message.startswith(f"{path}: colours: "), message


def test_unknown_key_in_layout_table(tmp_path: Path) -> None:
    path = bad(tmp_path, 'name = "t"', 'name = "t"\nsize = "48x24"')
    message = one_problem(path, "layout.size")
    assert "unknown key" in message and "min_size" in message


@pytest.mark.parametrize(("line", "key", "hint"), [
    ('name = "t"\n', "layout.name", "a name"),
    ('min_size = "48x24"\n', "layout.min_size", "128x32"),
])
def test_missing_layout_key(tmp_path: Path, line: str, key: str, hint: str) -> None:
    message = one_problem(bad(tmp_path, line, ""), key)
    assert "missing" in message and hint in message


def test_missing_layout_table(tmp_path: Path) -> None:
    path = bad(tmp_path, '[layout]\nname = "t"\nmin_size = "48x24"\n', "")
    problems = problems_of(path)
    assert any(p.startswith(f"{path}: layout.name") for p in problems), problems
    assert any(p.startswith(f"{path}: layout.min_size") for p in problems), problems


@pytest.mark.parametrize("size", ["128×32", "128 x 32", "0x32", "128", "wide"])
def test_bad_min_size(tmp_path: Path, size: str) -> None:
    message = one_problem(bad(tmp_path, '"48x24"', f'"{size}"'), "layout.min_size")
    assert f'"{size}"' in message and "WIDTHxHEIGHT like 128x32" in message


def test_empty_min_size(tmp_path: Path) -> None:
    # "" is not a size: a layout must not silently become 1x1 and fit every board.
    message = one_problem(bad(tmp_path, '"48x24"', '""'), "layout.min_size")
    assert "WIDTHxHEIGHT" in message


def test_empty_layout_name(tmp_path: Path) -> None:
    # a board selects a layout by name: "" would be a layout no board can name.
    one_problem(bad(tmp_path, 'name = "t"', 'name = ""'), "layout.name")


def test_negative_dwell(tmp_path: Path) -> None:
    message = one_problem(bad(tmp_path, "dwell = 8", "dwell = -3"), "bulletin[0].dwell")
    assert "-3" in message


def test_flow_without_height(tmp_path: Path) -> None:
    path = bad(tmp_path, "height = 12, ", "")
    message = one_problem(path, "notice.flow.height")
    assert "missing" in message


def test_flow_with_zero_height(tmp_path: Path) -> None:
    one_problem(bad(tmp_path, "height = 12", "height = 0"), "notice.flow.height")


@pytest.mark.parametrize(("old", "new", "key"), [
    ("dwell = 8", 'dwell = "long"', "bulletin[0].dwell"),
    ("dwell = 8", "dwell = true", "bulletin[0].dwell"),
    ("{ y = 12, font", '{ y = "bottom", font', "bulletin[0].lines[1].y"),
    ('text = "AQI {aqi}"', "text = 5", "bulletin[0].lines[1].text"),
    ('text = "AQI {aqi}"', "text = []", "bulletin[0].lines[1].text"),
    ('{ y = 12, font = "latin5x7", text = "AQI {aqi}" }', '"AQI"', "bulletin[0].lines[1]"),
    ('flow = { y = 12, height = 12, font = "cjk12" }', 'flow = "below"', "notice.flow"),
])
def test_wrong_types_are_config_errors(tmp_path: Path, old: str, new: str, key: str) -> None:
    one_problem(bad(tmp_path, old, new), key)


def test_every_problem_is_listed(tmp_path: Path) -> None:
    text = BASE.replace("[title]", "[titel]").replace("{aqi}", "{aqii}").replace('"48x24"', '"48*24"')
    problems = problems_of(write(tmp_path, "bad.toml", text))
    assert len(problems) == 3, problems


def test_invalid_toml(tmp_path: Path) -> None:
    path = bad(tmp_path, 'name = "t"', "name = ")
    problems = problems_of(path)
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}: not valid TOML")
    assert "line 2" in problems[0]


def test_invalid_toml_in_a_folder_is_a_config_error(tmp_path: Path) -> None:
    folder = tmp_path / "layouts"
    shutil.copytree(SHIPPED, folder)
    broken = write(folder, "broken.toml", "[layout\n")
    with pytest.raises(ConfigError) as e:
        load_dir(folder)
    assert any(p.startswith(f"{broken}: not valid TOML") for p in e.value.problems), e.value.problems


def test_duplicate_layout_names(tmp_path: Path) -> None:
    folder = tmp_path / "layouts"
    shutil.copytree(SHIPPED, folder)
    copy = write(folder, "zz-small-copy.toml", (SHIPPED / "small.toml").read_text(encoding="utf-8"))
    with pytest.raises(ConfigError) as e:
        load_dir(folder)
    assert len(e.value.problems) == 1, e.value.problems
    message = e.value.problems[0]
    assert message.startswith(f'{copy}: layout.name = "small"'), message
    assert "expected a unique name" in message
    assert str(folder / "small.toml") in message


def test_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "layouts"
    folder.mkdir()
    write(folder, "README.txt", "not a layout")
    with pytest.raises(ConfigError) as e:
        load_dir(folder)
    message = str(e.value)
    assert message.startswith(str(folder)) and "*.toml" in message
    # the fix: say where layouts come from / how to point at them
    assert "[layouts] dir" in message or "config/layouts" in message, message


def test_missing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "nowhere"
    with pytest.raises(ConfigError) as e:
        load_dir(folder)
    message = str(e.value)
    assert message.startswith(str(folder)) and "not found" in message and "[layouts] dir" in message


# -- 5. dwell: long enough to read --------------------------------------------------------------

def dwell_layout(tmp_path: Path, dwell: str) -> Layout:
    return load_file(bad(tmp_path, "dwell = 8", f"dwell = {dwell}", TINY))


def test_page_too_short_to_read(tmp_path: Path) -> None:
    lay = dwell_layout(tmp_path, "1")
    b = board("48x24", id="short-1")
    sb = bulletin(LEVEL2)
    assert sb.assessment is not None
    chars = len(f"空气{sb.assessment.category}") + len(f"AQI{sb.assessment.aqi}")
    needed = chars * 0.25
    assert needed > 1
    with pytest.raises(FitError) as e:
        render_bulletin(b, sb, fonts.load, lay)
    assert e.value.board == "short-1" and e.value.page == "air"
    message = str(e.value)
    assert "short-1" in message and "air" in message
    assert f"at least {needed:g} s" in message and "is shown 1 s" in message
    assert "bad.toml" in message  # where the rule is


def test_page_just_long_enough(tmp_path: Path) -> None:
    sb = bulletin(LEVEL2)
    assert sb.assessment is not None
    chars = len(f"空气{sb.assessment.category}") + len(f"AQI{sb.assessment.aqi}")
    lay = dwell_layout(tmp_path, f"{chars * 0.25}")
    program = render_bulletin(board("48x24"), sb, fonts.load, lay)
    assert program.pages[0].dwell_s == chars * 0.25
    check_dwell(board("48x24"), program.pages[0], lay)


def test_render_pages_checks_dwell_of_shipped_pages(shipped: dict[str, Layout]) -> None:
    # every shipped page leaves enough time to read it, on its smallest board
    for lay in shipped.values():
        b = board(str(lay.min_size), ColourMode.FULL)
        for sb in (bulletin(LEVEL2), bulletin(values(pm25="75", pm10="150", no2="80")), bulletin(None)):
            fields, colours, facts = bulletin_fields(sb)
            for page in render_pages(b, lay, lay.bulletin, fields, colours, facts, fonts.load):
                chars = sum(len(t.replace(" ", "")) for _, t in page.texts)
                assert page.dwell_s >= chars * lay.min_dwell_per_char, (lay.name, page.name)


# -- 6. colours by meaning -----------------------------------------------------------------------

def test_red_green_level2_is_yellow(shipped: dict[str, Layout]) -> None:
    used = colours_of(render_bulletin(board("128x32"), bulletin(LEVEL2), fonts.load, shipped["community"]))
    assert YELLOW in used
    assert used <= {BLACK, RED, GREEN, YELLOW}


def test_red_green_level5_is_red_and_green_only(shipped: dict[str, Layout]) -> None:
    used = colours_of(render_bulletin(board("128x32"), bulletin(LEVEL5), fonts.load, shipped["community"]))
    assert used <= {BLACK, RED, GREEN}, used
    assert RED in used and GREEN in used


@pytest.mark.parametrize("situation", ["level2", "level5", "updating"])
def test_mono_red_board(shipped: dict[str, Layout], situation: str) -> None:
    sb = bulletin({"level2": LEVEL2, "level5": LEVEL5, "updating": None}[situation])
    b = board("128x32", ColourMode.MONO_RED)
    used = colours_of(render_bulletin(b, sb, fonts.load, shipped["community"]))
    assert used == {BLACK, RED}


def test_full_colour_shows_the_level_colour(shipped: dict[str, Layout]) -> None:
    b = board("192x96", ColourMode.FULL)
    orange = colours_of(render_bulletin(b, bulletin(LEVEL3), fonts.load, shipped["outdoor"]))
    assert (255, 126, 0) in orange  # HJ 633 orange, #FF7E00
    yellow = colours_of(render_bulletin(b, bulletin(LEVEL2), fonts.load, shipped["outdoor"]))
    assert YELLOW in yellow and (255, 126, 0) not in yellow


def test_updating_uses_the_warning_colour(shipped: dict[str, Layout]) -> None:
    b = board("192x96", ColourMode.FULL)
    program = render_bulletin(b, bulletin(None), fonts.load, shipped["outdoor"])
    assert RED in colours_of(program)  # warning on a full-colour board


# -- 7. the page cache ---------------------------------------------------------------------------

def test_forty_boards_render_once(shipped: dict[str, Layout]) -> None:
    cache = PageCache()
    sb = bulletin(LEVEL2)
    boards = [board("128x32", id=f"zbs-{i:02d}") for i in range(40)]
    programs = [render_bulletin(b, sb, fonts.load, layout_for(b, shipped), cache) for b in boards]
    assert (cache.misses, cache.hits) == (1, 39)
    assert [p.board for p in programs] == [b.id for b in boards]
    first = programs[0]
    for program in programs[1:]:
        assert dataclasses.replace(program, board=first.board) == first
        assert dataclasses.replace(program, board=first.board).content_hash() == first.content_hash()
        assert program.content_hash() != first.content_hash()  # the board id is part of a program
        for page, page0 in zip(program.pages, first.pages, strict=True):
            assert page.image.tobytes() == page0.image.tobytes()
    # what the cache gives is what rendering gives
    fresh = render_bulletin(boards[-1], sb, fonts.load, shipped["community"])
    assert fresh.content_hash() == programs[-1].content_hash()


def test_cache_misses_on_other_geometry_or_content(shipped: dict[str, Layout]) -> None:
    cache = PageCache()
    sb = bulletin(LEVEL2)

    def render(b: Board, s: StationBulletin = sb) -> Program:
        return render_bulletin(b, s, fonts.load, layout_for(b, shipped), cache)

    rg = render(board("128x32", ColourMode.RED_GREEN, id="a"))
    mono = render(board("128x32", ColourMode.MONO_RED, id="b"))
    assert (cache.misses, cache.hits) == (2, 0)
    assert YELLOW in colours_of(rg) and YELLOW not in colours_of(mono)
    wide = render(board("160x32", ColourMode.RED_GREEN, id="c"))
    assert (cache.misses, cache.hits) == (3, 0)
    assert wide.pages[0].image.size == (160, 32)
    render(board("128x32", ColourMode.RED_GREEN, id="d"), bulletin(LEVEL5))
    assert (cache.misses, cache.hits) == (4, 0)
    small = render(board("128x32", ColourMode.RED_GREEN, id="e", layout="small"))
    assert (cache.misses, cache.hits) == (5, 0)
    assert [p.texts for p in small.pages] != [p.texts for p in rg.pages]
    render(board("128x32", ColourMode.MONO_RED, id="f"))
    assert (cache.misses, cache.hits) == (5, 1)


# -- figures as the standard writes them; sample data never look measured --------------------------


def test_concentrations_are_written_to_the_standards_precision() -> None:
    # A feed handed CO as 0.30000000000000004: the board writes 0.3, never the raw float
    # (HJ 633—2026 §4.2.2: CO to 0.1 mg/m³, the rest to whole µg/m³, GB/T 8170 half to even).
    v = values(co="0.30000000000000004", pm25="52.5", pm10="77.5", o3_8h="96.4")
    fields, _, _ = bulletin_fields(bulletin(v))
    assert (fields["co"], fields["pm25"], fields["pm10"], fields["o3"]) == ("0.3", "52", "78", "96")


@pytest.mark.parametrize("size", ["256x128", "192x96", "128x32", "64x32"])
def test_every_shipped_layout_marks_sample_data_on_every_page(size: str) -> None:
    shipped = load_dir(SHIPPED)
    b = board(size, ColourMode.FULL if size in ("256x128", "192x96") else ColourMode.RED_GREEN)
    sb = dataclasses.replace(bulletin(LEVEL5), sample=True)
    program = render_bulletin(b, sb, fonts.load, layout_for(b, shipped))
    for page in program.pages:
        assert "示例" in "".join(text for _, text in page.texts), page.name
    real = render_bulletin(b, bulletin(LEVEL5), fonts.load, layout_for(b, shipped))
    assert all("示例" not in "".join(t for _, t in p.texts) for p in real.pages)


def test_a_layout_that_cannot_mark_sample_data_is_refused(tmp_path: Path) -> None:
    text = (SHIPPED / "community.toml").read_text(encoding="utf-8")
    text = text.replace('when = "sample"', 'when = "has_water3"')  # the sample lines never drawn
    (tmp_path / "community.toml").write_text(text, encoding="utf-8")
    lay = load_file(tmp_path / "community.toml")
    sb = dataclasses.replace(bulletin(LEVEL2), sample=True)
    with pytest.raises(FitError, match="sample data without saying so"):
        render_bulletin(board("128x32"), sb, fonts.load, lay)


@pytest.mark.parametrize("size", ["256x128", "192x96", "128x32"])
def test_a_missing_indicator_is_named_on_the_board(size: str) -> None:
    # HJ 633—2026 §5.3.1: an AQI above 100 from the other indicators is published naming the missing one.
    shipped = load_dir(SHIPPED)
    b = board(size, ColourMode.FULL if size != "128x32" else ColourMode.RED_GREEN)
    v = {k: x for k, x in values(pm25="250").items() if k != "o3_8h"}
    sb = StationBulletin("st-1", "城区", DAY, assess_daily(v, HJ633_2026), v, missing=("O3-8h",))
    pages = render_bulletin(b, sb, fonts.load, layout_for(b, shipped)).pages
    said = "".join(t for p in pages for _, t in p.texts)
    assert "O3缺测" in said
