"""The deployment config: the shipped Zhenhai file loads, and every kind of broken config fails clearly.

Each broken case starts from a small valid config (VALID, below), changes one thing, and checks
that the problem names the file, the key path and the bad value as written in TOML, and says what
is expected.
"""

from __future__ import annotations

import copy
import json
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ledctl import cli, config
from ledctl.errors import ConfigError
from ledctl.model import ColourMode, Size

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config" / "zhenhai.toml"
LOOPBACK = {"127.0.0.1", "::1", "localhost"}

# -- a small valid config ----------------------------------------------------------------------

VALID = """\
[site]
name = "Test town"
timezone = "Asia/Shanghai"

[sources.air]
type = "file"
path = "air.csv"

[sources.water]
type = "file"
path = "water.csv"

[stations.city]
name = "City"
source = "air"

[stations.river]
name = "River"
source = "water"
kind = "water"

[links.broker]
url = "mqtt://127.0.0.1:1883"

[links.bus]
url = "socket://127.0.0.1:17101"
baud = 9600

[links.bus2]
url = "socket://127.0.0.1:17102"

[links.strip]
url = "socket://127.0.0.1:17103"

[groups.outdoor]
name = "Outdoor"

[groups.community]
name = "Community"

[schedule]
fetch = "07:30"
broadcast = "08:00"

[[schedule.brightness]]
at = "06:00"
percent = 60

[[boards]]
id = "big"
name = "Big screen"
size = "256x128"
colour = "full"
driver = "ledctl-mqtt"
link = "broker"
station = "city"
water_stations = ["river"]
groups = ["outdoor"]

[[boards]]
id = "c1"
name = "Community 1"
size = "128x32"
colour = "red-green"
driver = "onbon-bx"
link = "bus"
address = 1
station = "city"
groups = ["community"]

[[boards]]
id = "c2"
name = "Community 2"
size = "64x32"
colour = "mono-red"
driver = "onbon-bx"
link = "bus"
address = 2
station = "city"
groups = ["community"]
"""

Mutation = Callable[[dict[str, Any]], None]
_DELETE = object()


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def _is_table_array(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def dump_toml(data: dict[str, Any], prefix: str = "") -> str:
    """A tiny TOML writer: enough for configs made of tables, arrays of tables and plain values."""
    lines: list[str] = []
    if prefix:
        lines.append(f"[{prefix}]")
    plain = {k: v for k, v in data.items() if not isinstance(v, dict) and not _is_table_array(v)}
    lines += [f"{k} = {_toml_value(v)}" for k, v in plain.items()]
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            lines.append("\n" + dump_toml(value, path))
        elif _is_table_array(value):
            for item in value:
                assert not any(isinstance(v, dict) or _is_table_array(v) for v in item.values())
                lines.append(f"\n[[{path}]]")
                lines += [f"{k} = {_toml_value(v)}" for k, v in item.items()]
    return "\n".join(lines) + "\n"


def setting(*path: str | int, to: object = _DELETE) -> Mutation:
    """A mutation that sets (or, without `to`, deletes) the value at `path`."""

    def mutate(data: dict[str, Any]) -> None:
        node: Any = data
        for step in path[:-1]:
            node = node[step]
        if to is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = copy.deepcopy(to)

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(data: dict[str, Any]) -> None:
        for m in mutations:
            m(data)

    return mutate


def add_board(**fields: object) -> Mutation:
    """Append a board: an onbon-bx community board unless `fields` say otherwise."""
    board: dict[str, object] = {
        "id": "extra", "name": "Extra", "size": "64x32", "colour": "mono-red", "driver": "onbon-bx",
        "link": "bus", "address": 9, "station": "city", "groups": ["community"],
    }
    board.update(fields)

    def mutate(data: dict[str, Any]) -> None:
        data["boards"].append({k: v for k, v in board.items() if v is not None})

    return mutate


def tpm2_board(board_id: str, link: str = "strip") -> Mutation:
    return add_board(id=board_id, size="64x32", colour="full", driver="tpm2", link=link, address=None)


def write_config(tmp_path: Path, mutation: Mutation | None = None) -> Path:
    data = tomllib.loads(VALID)
    if mutation:
        mutation(data)
    path = tmp_path / "ledctl.toml"
    path.write_text(dump_toml(data), encoding="utf-8")
    return path


def problems_of(path: Path | None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config.load(path)
    assert caught.value.problems, "a ConfigError must list at least one problem"
    return caught.value.problems


# -- the shipped config ------------------------------------------------------------------------


def test_shipped_config_has_42_boards_in_its_groups(zhenhai: config.Deployment) -> None:
    assert len(zhenhai.boards) == 42
    assert len(zhenhai.boards_in("outdoor")) == 2
    assert len(zhenhai.boards_in("community")) == 40
    assert len(zhenhai.boards_in("all")) == 42
    outdoor = {b.id: b for b in zhenhai.boards_in("outdoor")}
    assert {(b.driver, b.colour, str(b.size)) for b in outdoor.values()} == {
        ("ledctl-mqtt", ColourMode.FULL, "256x128"), ("ledctl-mqtt", ColourMode.FULL, "192x96"),
    }
    assert {b.driver for b in zhenhai.boards_in("community")} == {"onbon-bx"}
    assert len({b.id for b in zhenhai.boards}) == 42


def test_shipped_config_links_exist_and_shared_links_have_distinct_addresses(
    zhenhai: config.Deployment,
) -> None:
    for board in zhenhai.boards:
        assert board.link in zhenhai.links, board.id
    on_link: dict[str, list[int | None]] = {}
    for board in zhenhai.boards:
        on_link.setdefault(board.link, []).append(board.address)
    assert len(on_link["bus-a"]) > 1 and len(on_link["bus-b"]) > 1  # the shared RS-485 buses
    for link, addresses in on_link.items():
        if zhenhai.links[link].transport == "serial":
            assert None not in addresses, link
            dupes = [a for a, n in Counter(addresses).items() if n > 1]
            assert not dupes, f"link {link}: address(es) {dupes} used twice"


@pytest.mark.parametrize("path", sorted((REPO / "config").glob("*.toml")), ids=lambda p: p.name)
def test_no_shipped_config_points_at_a_real_network_address(path: Path) -> None:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    links = data.get("links", {})
    assert links, f"{path.name} defines no [links]"
    for name, link in links.items():
        host = urlsplit(link["url"]).hostname
        assert host in LOOPBACK, f"{path.name}: links.{name}.url = {link['url']!r} is not loopback"


# -- the small valid config and its broken variants ---------------------------------------------


def test_small_valid_config_loads(tmp_path: Path) -> None:
    dep = config.load(write_config(tmp_path))
    assert [b.id for b in dep.boards] == ["big", "c1", "c2"]
    assert dep.board("c1").size == Size(128, 32) and dep.board("c1").address == 1
    assert [b.id for b in dep.boards_in("community")] == ["c1", "c2"]
    assert dep.site.timezone == "Asia/Shanghai"


def test_tiny_toml_writer_round_trips() -> None:
    data = tomllib.loads(VALID)
    assert tomllib.loads(dump_toml(data)) == data


# (case id, mutation, what the one problem must contain besides the file path)
BROKEN: list[tuple[str, Mutation, list[str]]] = [
    ("size-with-multiplication-sign", setting("boards", 1, "size", to="128×32"),
     ['boards[1].size = "128×32"', "expected WIDTHxHEIGHT like 128x32"]),
    ("size-wrong-type", setting("boards", 1, "size", to=128),
     ["boards[1].size = 128", "expected WIDTHxHEIGHT like 128x32"]),
    ("size-missing", setting("boards", 1, "size"),
     ["boards[1].size", "missing", "expected WIDTHxHEIGHT like 128x32"]),
    ("unknown-key-top-level", setting("timezone", to="Asia/Shanghai"),
     ["timezone", "unknown key", "expected"]),
    ("unknown-key-in-board", setting("boards", 1, "color", to="red-green"),
     ["boards[1].color", "unknown key", "expected"]),
    ("unknown-key-in-link", setting("links", "bus", "baudrate", to=9600),
     ["links.bus.baudrate", "unknown key", "expected"]),
    ("duplicate-board-id", setting("boards", 2, "id", to="c1"),
     ['boards[2].id = "c1"', "expected a unique id", "boards[1]"]),
    ("same-address-twice-on-one-link", setting("boards", 2, "address", to=1),
     ["boards[2].address = 1", "expected an address not used on link bus", "boards[1]"]),
    ("unknown-group", setting("boards", 1, "groups", to=["communty"]),
     ['boards[1].groups = "communty"', "expected one of the [groups]", "community"]),
    ("unknown-group-in-brightness-step", setting("schedule", "brightness", 0, "groups", to=["outdor"]),
     ['schedule.brightness[0].groups = "outdor"', "expected one of the [groups]"]),
    ("unknown-station", setting("boards", 1, "station", to="citty"),
     ['boards[1].station = "citty"', "expected one of the [stations]", "city"]),
    ("unknown-link", setting("boards", 1, "link", to="bus-c"),
     ['boards[1].link = "bus-c"', "expected one of the [links]", "bus"]),
    ("unknown-source-in-station", setting("stations", "city", "source", to="aer"),
     ['stations.city.source = "aer"', "expected one of the [sources]", "air"]),
    ("unknown-source-type", setting("sources", "air", "type", to="ftp"),
     ['sources.air.type = "ftp"', "expected one of file, http, openaq, waqi"]),
    ("unknown-driver", setting("boards", 1, "driver", to="onbon"),
     ['boards[1].driver = "onbon"', "expected one of", "onbon-bx"]),
    ("board-station-is-a-water-station", setting("boards", 1, "station", to="river"),
     ['boards[1].station = "river"', "expected an air-quality station"]),
    ("water-stations-names-an-air-station", setting("boards", 0, "water_stations", to=["city"]),
     ['boards[0].water_stations = "city"', 'expected a station with kind = "water"']),
    ("awtrix3-not-32x8", setting("boards", 0, "driver", to="awtrix3"),
     ['boards[0].size = "256x128"', "expected a size awtrix3 can drive", "32x8"]),
    ("onbon-width-not-multiple-of-8", setting("boards", 1, "size", to="100x32"),
     ['boards[1].size = "100x32"', "expected a size onbon-bx can drive", "multiple of 8"]),
    ("onbon-page-larger-than-its-buffer", setting("boards", 1, "size", to="1024x256"),
     ['boards[1].size = "1024x256"', "expected a size onbon-bx can drive", "16384"]),
    ("onbon-full-colour", setting("boards", 1, "colour", to="full"),
     ['boards[1].colour = "full"', "expected a colour mode onbon-bx supports"]),
    ("onbon-on-mqtt-link", setting("boards", 1, "link", to="broker"),
     ['boards[1].link = "broker"', "expected a serial link for driver onbon-bx"]),
    ("onbon-without-address", setting("boards", 1, "address"),
     ["boards[1].address", "missing", "expected", "0..65534"]),
    ("address-65535-is-broadcast", setting("boards", 1, "address", to=65535),
     ["boards[1].address = 65535", "expected an address 0..65534"]),
    ("address-negative", setting("boards", 1, "address", to=-1),
     ["boards[1].address = -1", "expected an address 0..65534"]),
    ("address-on-unaddressed-driver", setting("boards", 0, "address", to=3),
     ["boards[0].address = 3", "expected no address"]),
    ("tpm2-boards-sharing-a-serial-link", both(tpm2_board("t1"), tpm2_board("t2")),
     ['boards[4].link = "strip"', "expected a link of its own"]),
    ("schedule-time-without-leading-zero", setting("schedule", "fetch", to="7:30"),
     ['schedule.fetch = "7:30"', 'expected a time of day "HH:MM"']),
    ("brightness-percent-0", setting("schedule", "brightness", 0, "percent", to=0),
     ["schedule.brightness[0].percent = 0", "expected a brightness in percent, 1..100"]),
    ("timezone-unknown", setting("site", "timezone", to="Mars/Olympus"),
     ['site.timezone = "Mars/Olympus"', "expected an IANA time zone"]),
    ("timezone-is-a-region-not-a-zone", setting("site", "timezone", to="Asia"),
     ['site.timezone = "Asia"', "expected an IANA time zone"]),
    ("link-url-http", setting("links", "bus", "url", to="http://127.0.0.1:17101"),
     ['links.bus.url = "http://127.0.0.1:17101"', "expected a serial port"]),
    ("link-timeout-wrong-type", setting("links", "bus", "timeout", to=True),
     ["links.bus.timeout = true", "expected seconds"]),
]


@pytest.mark.parametrize(("mutation", "needles"), [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_config_fails_clearly(tmp_path: Path, mutation: Mutation, needles: list[str]) -> None:
    path = write_config(tmp_path, mutation)
    problems = problems_of(path)
    assert len(problems) == 1, problems  # one mistake, one problem: no follow-on noise
    (problem,) = problems
    assert problem.startswith(f"{path}: "), problem
    missing = [n for n in needles if n not in problem]
    assert not missing, f"{missing} not in {problem!r}"


def test_issue_example_message_exactly(tmp_path: Path) -> None:
    path = write_config(tmp_path, setting("boards", 1, "size", to="128×32"))
    assert problems_of(path) == [f'{path}: boards[1].size = "128×32": expected WIDTHxHEIGHT like 128x32']


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[site]\nname = "x"\ntimezone "Asia/Shanghai"\n', encoding="utf-8")
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}: not valid TOML"), problem
    assert "line 3" in problem, problem


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.toml"
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}: no such file"), problem
    assert "-c FILE" in problem and "LEDCTL_CONFIG" in problem


def test_all_problems_are_reported_at_once(tmp_path: Path) -> None:
    path = write_config(tmp_path, both(setting("boards", 1, "size", to="128×32"),
                                       setting("boards", 2, "link", to="bus-c")))
    problems = problems_of(path)
    assert len(problems) == 2, problems
    assert any('boards[1].size = "128×32"' in p for p in problems), problems
    assert any('boards[2].link = "bus-c"' in p for p in problems), problems
    assert all(p.startswith(f"{path}: ") for p in problems)


def test_same_address_on_two_different_links_is_fine(tmp_path: Path) -> None:
    dep = config.load(write_config(tmp_path, add_board(id="c3", link="bus2", address=1)))
    assert {(b.link, b.address) for b in dep.boards if b.address is not None} == {
        ("bus", 1), ("bus", 2), ("bus2", 1),
    }


@pytest.mark.parametrize(
    ("first", "second"),
    [("tpm2", "onbon-bx"), ("onbon-bx", "tpm2")],
    ids=["tpm2-first", "onbon-bx-first"],
)
def test_unaddressed_board_cannot_share_a_serial_link_in_either_order(
    tmp_path: Path, first: str, second: str,
) -> None:
    """tpm2 has no addressing, so nothing else may be on its wire, whichever board is listed first."""
    boards = {
        "tpm2": tpm2_board("t1", link="bus2"),
        "onbon-bx": add_board(id="c3", link="bus2", address=1),
    }
    path = write_config(tmp_path, both(boards[first], boards[second]))
    problems = problems_of(path)
    assert len(problems) == 1, problems
    assert "expected a link of its own" in problems[0] and '"bus2"' in problems[0], problems


# -- where the config comes from --------------------------------------------------------------


def test_ledctl_config_env_var_is_the_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path)
    monkeypatch.setenv("LEDCTL_CONFIG", str(path))
    monkeypatch.chdir(REPO)  # config/zhenhai.toml is right here, but the env var wins
    assert config.default_config_path() == path
    dep = config.load()
    assert dep.path == path and len(dep.boards) == 3


def test_without_env_var_the_default_is_config_zhenhai_toml_in_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDCTL_CONFIG", raising=False)
    monkeypatch.chdir(REPO)
    assert config.default_config_path() == Path("config/zhenhai.toml")
    dep = config.load()
    assert dep.path == Path("config/zhenhai.toml") and len(dep.boards) == 42


def test_default_is_relative_to_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LEDCTL_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)  # no config/ here
    (problem,) = problems_of(None)
    assert problem.startswith(f"{Path('config/zhenhai.toml')}: no such file"), problem


def test_cli_config_check_uses_env_var_and_c_overrides_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    broken = write_config(tmp_path, setting("boards", 1, "size", to="128×32"))
    monkeypatch.setenv("LEDCTL_CONFIG", str(broken))
    monkeypatch.chdir(REPO)
    assert cli.main(["config", "check"]) == 2
    err = capsys.readouterr().err
    assert f'{broken}: boards[1].size = "128×32": expected WIDTHxHEIGHT like 128x32' in err
    assert cli.main(["config", "check", "-c", str(SHIPPED)]) == 0
    assert "42 boards" in capsys.readouterr().out


def test_two_links_on_one_wire_are_refused(tmp_path: Path) -> None:
    from ledctl import config
    from ledctl.errors import ConfigError

    text = (REPO / "config" / "zhenhai.toml").read_text(encoding="utf-8")
    text = text.replace('url = "socket://127.0.0.1:17102"', 'url = "socket://127.0.0.1:17101"')
    (tmp_path / "c.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"links\.bus-b\.url .* a wire of its own"):
        config.load(tmp_path / "c.toml")


def test_a_wire_too_busy_for_its_loops_is_a_warning() -> None:
    # Issue 16: the host plays each BX card's loop page by page; a wire whose boards' pages need
    # nearly all its time would put pages up late. bus-a holds 4 boards (64 % of a loop): fine; 8 not.
    from dataclasses import replace as replaced

    from ledctl.cli.config_check import _wire_budget
    from ledctl.render import layout as layout_mod

    dep = config.load(REPO / "config" / "zhenhai.toml")
    layouts = layout_mod.load_dir(dep.layouts_dir)
    chosen = {b.id: layout_mod.layout_for(b, layouts) for b in dep.boards}
    assert _wire_budget(dep, chosen) == []
    busier = replaced(dep, boards=tuple(replaced(b, link="bus-a") if b.id in ("zbs-05", "zbs-06", "zbs-07",
                                                                              "zbs-08") else b
                                        for b in dep.boards))
    [warning] = _wire_budget(busier, chosen)
    assert "links.bus-a: its 8 board(s)" in warning and "pages will go up late" in warning


def test_an_mqtt_link_may_speak_3_1_1_only(tmp_path: Path) -> None:
    dep = config.load(write_config(tmp_path, setting("links", "broker", "mqtt_version", to="3.1.1")))
    assert dep.links["broker"].mqtt_version == "3.1.1" and dep.links["bus"].mqtt_version == "5"
    problems = problems_of(write_config(tmp_path, setting("links", "broker", "mqtt_version", to="4")))
    assert any("mqtt_version" in p and '"3.1.1"' in p for p in problems), problems
