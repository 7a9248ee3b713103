"""The heap of a long-lived process: what is alive is frozen, garbage is collected first, young
collections are spaced out."""

from __future__ import annotations

import gc
import weakref

import pytest

from engine.heap import YOUNG_COLLECTION_EVERY, settle_heap


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.mark.usefixtures("collector_restored")
def test_the_live_objects_are_frozen_and_garbage_cycles_are_freed_first() -> None:
    kept, dropped = _Node(), _Node()
    gone = weakref.ref(dropped)
    del dropped
    before = gc.get_freeze_count()

    settle_heap()

    assert gone() is None  # collected, not frozen with the living
    assert gc.get_freeze_count() > before
    assert not any(obj is kept for obj in gc.get_objects())  # out of the collector's walks
    assert kept.me is kept
    assert gc.get_threshold()[0] == YOUNG_COLLECTION_EVERY
