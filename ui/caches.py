"""A small cache shared by every session's thread, for what live panels redraw from the same inputs."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class RecentResults:
    """The last few results, keyed by what they were computed from, shared by every session's thread.

    For what a fragment redraws several times a second from the same inputs (as ``ui.train_live`` does for
    the live atom grid): each input is computed once (a result of None is not kept)."""

    def __init__(self, kept: int = 32):
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._kept = kept
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        value = self._items.get(key)  # read once, no check-then-index: another thread may trim meanwhile
        if value is None:
            value = compute()
            with self._lock:  # two threads trimming at once could pop from an emptied dict
                self._items[key] = value
                while len(self._items) > self._kept:
                    self._items.popitem(last=False)
        return value
