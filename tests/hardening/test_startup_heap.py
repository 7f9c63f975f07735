"""What startup builds is kept out of the collector's full passes; what startup threw away is freed, not frozen."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from bot.app import freeze_startup_heap


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # the rest of the test run collects as usual


def test_live_startup_objects_leave_the_collectors_generations(unfrozen: None) -> None:
    kept = _Node()
    freeze_startup_heap()
    assert gc.get_freeze_count() > 0
    assert not any(candidate is kept for candidate in gc.get_objects())


def test_startup_garbage_is_collected_before_the_freeze(unfrozen: None) -> None:
    # A reference cycle: only the collector frees it, so a freeze without a collection first would keep it forever.
    first, second = _Node(), _Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second
    freeze_startup_heap()
    assert gone() is None
