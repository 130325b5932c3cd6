"""Content-addressed page cache: identical content on identical geometry renders once.

Forty community boards showing the same station's bulletin on the same size
and colour mode share one rendering; the key is everything that decides the
pixels, so a hit can never show stale content.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence

from ledctl.model import Page


class PageCache:
    def __init__(self, max_entries: int = 1024) -> None:
        self.max_entries = max_entries
        self._pages: OrderedDict[Hashable, tuple[Page, ...]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def pages(self, key: Hashable, make: Callable[[], Sequence[Page]]) -> tuple[Page, ...]:
        found = self._pages.get(key)
        if found is not None:
            self.hits += 1
            self._pages.move_to_end(key)
            return found
        self.misses += 1
        made = tuple(make())
        self._pages[key] = made
        if len(self._pages) > self.max_entries:
            self._pages.popitem(last=False)
        return made
