"""The font catalogue: every font loads 1-bit, knows its glyphs, and a missing font names its package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ledctl import fonts
from ledctl.errors import FontError


@pytest.mark.parametrize("name", sorted(fonts.catalogue()))
def test_every_catalogue_font_loads_and_renders_crisp(name: str) -> None:
    font = fonts.load(name)
    image = font.render("AQI 75")
    assert image.mode == "1"
    assert image.getbbox() is not None
    assert font.missing("AQI 75") == []


def test_cjk_fonts_have_the_bulletin_words() -> None:
    words = "空气质量优良轻度中重严污染数据更新中首要物浓单位微克每立方米年月日"
    for name in ("cjk16", "cjk12", "unifont16"):
        assert fonts.load(name).missing(words) == [], name


def test_missing_glyphs_are_listed_once_in_order() -> None:
    assert fonts.load("latin5x7").missing("A空B气空") == ["空", "气"]


def test_latin5x7_matches_its_source_bitmap() -> None:
    # The "A" of fonts/src/latin5x7.txt, drawn by FreeType, pixel for pixel.
    source = (Path(fonts.HERE) / "src" / "latin5x7.txt").read_text(encoding="utf-8").splitlines()
    start = source.index("char U+0041 A") + 1
    rows = source[start:start + 8]
    image = fonts.load("latin5x7").render("A")
    drawn = ["".join("#" if image.getpixel((x, y)) else "." for x in range(5)) for y in range(8)]
    assert drawn == rows


def test_committed_bdf_is_built_from_its_source() -> None:
    result = subprocess.run([sys.executable, str(Path(fonts.HERE) / "build_bdf.py"), "--check"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_missing_font_names_the_debian_package(tmp_path: Path) -> None:
    spec = fonts.FontSpec("ghost", "no-such-font.pcf", 16, 16, package="xfonts-wqy")
    with pytest.raises(FontError, match="apt-get install xfonts-wqy"):
        fonts.find_file(spec, [tmp_path])


def test_configured_folder_is_searched_first(tmp_path: Path) -> None:
    (tmp_path / "latin5x7.bdf").write_bytes((Path(fonts.HERE) / "latin5x7.bdf").read_bytes())
    spec = fonts.catalogue()["latin5x7"]
    assert fonts.find_file(spec, [tmp_path]) == tmp_path / "latin5x7.bdf"


def test_unknown_font_name() -> None:
    with pytest.raises(FontError, match="not in the catalogue"):
        fonts.load("comic-sans")
