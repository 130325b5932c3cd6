"""Where readings come from. Each source type is chosen by name in the config."""

from __future__ import annotations

from ledctl.sources.base import SourceType
from ledctl.sources.file import FileSource
from ledctl.sources.http import HttpJsonSource
from ledctl.sources.openaq import OpenAQSource
from ledctl.sources.waqi import WaqiSource

SOURCE_TYPES: dict[str, type[SourceType]] = {
    "file": FileSource,
    "http": HttpJsonSource,
    "openaq": OpenAQSource,
    "waqi": WaqiSource,
}

__all__ = ["SOURCE_TYPES", "SourceType"]
