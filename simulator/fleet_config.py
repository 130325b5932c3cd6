"""Configs for fleets of many simulated boards, as the scale benchmarks and tests write them.

Every board is a 64x32 red/green `ledctl-mqtt` board on one broker link, showing the sample data
of one station (from a checkout's config/ folder); `extra` adds tables (a `[cap]` section …) after
the fixed ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path


def mqtt_fleet_config(site: str, broker_url: str, board_ids: Iterable[str], *, repo: Path,
                      mqtt_version: str = "5", extra: str = "") -> str:
    """The TOML text of a site whose boards `board_ids` all listen on `broker_url`; `repo` is the
    checkout whose config/ holds the sample data and the layouts."""
    text = f"""
[site]
id = "{site}"
name = "fleet {site}"
[sources.air]
type = "file"
path = "{repo}/config/sample-data/air-daily.csv"
[stations.zh-urban]
name = "镇海城区"
source = "air"
[links.broker]
url = "{broker_url}"
mqtt_version = "{mqtt_version}"
[layouts]
dir = "{repo}/config/layouts"
{extra}"""
    board = """
[[boards]]
id = "{id}"
name = "board {id}"
size = "64x32"
colour = "red-green"
driver = "ledctl-mqtt"
link = "broker"
station = "zh-urban"
"""
    return text + "".join(board.format(id=b) for b in board_ids)
