"""``paginate``: the windows of a list read whole are that list, in order, each saying truly whether more
follow; the bounds of ``ListQuery`` are the API reference's (default 20, at most 100)."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from http_api.pagination import ListQuery, paginate


@given(items=st.lists(st.integers(), max_size=60), limit=st.integers(1, 100))
def test_walking_the_windows_gives_back_the_whole_list(items: list[int], limit: int) -> None:
    walked, offset = [], 0
    while True:
        shown, pagination = paginate(items, ListQuery(limit=limit, offset=offset))
        assert (pagination.total, pagination.limit, pagination.offset) == (len(items), limit, offset)
        assert len(shown) == min(limit, max(0, len(items) - offset))
        walked += shown
        if not pagination.has_next:
            break
        offset += limit
    assert walked == items


@given(items=st.lists(st.integers(), max_size=10), offset=st.integers(0, 50))
def test_a_window_past_the_end_is_empty_and_last(items: list[int], offset: int) -> None:
    shown, pagination = paginate(items, ListQuery(limit=5, offset=len(items) + offset))
    assert shown == [] and not pagination.has_next


@pytest.mark.parametrize("query", [{"limit": 0}, {"limit": 101}, {"offset": -1}])
def test_windows_outside_the_reference_s_bounds_are_refused(query: dict[str, int]) -> None:
    assert msgspec.convert({}, ListQuery) == ListQuery(limit=20, offset=0)
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert(query, ListQuery)
