"""Where readings come from. Each source type is chosen by name in the config."""

from __future__ import annotations

from ledctl.sources.base import SourceType
from ledctl.sources.file import FileSource

SOURCE_TYPES: dict[str, type[SourceType]] = {
    "file": FileSource,
}

__all__ = ["SOURCE_TYPES", "SourceType"]
