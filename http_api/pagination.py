"""The one list shape of the API, as the API reference's "Pagination" section defines it: a list route takes
``limit`` (default 20, at most 100) and ``offset``, and answers its items under the resource's plural name
(``campaigns``, ``sessions``, ``imports``) next to ``pagination: {total, limit, offset, hasNext}``.

Lists the store pages in SQL come as a ``Page`` (``Pagination.of``); short lists read whole (an
organization's members, a user's sessions, a provider's full listing) are windowed here (``paginate``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, TypeVar

import msgspec
from msgspec import Meta

from engine.store.catalog_common import Page

__all__ = ["MAX_OFFSET", "ListQuery", "Pagination", "paginate"]

T = TypeVar("T")

MAX_OFFSET = 2**31 - 1  # keeps OFFSET far from bigint overflow; no list is ever that long


class ListQuery(msgspec.Struct, kw_only=True):
    """A window on a list: ``limit`` (default 20, max 100) items from ``offset``."""

    limit: Annotated[int, Meta(ge=1, le=100)] = 20
    offset: Annotated[int, Meta(ge=0, le=MAX_OFFSET)] = 0


class Pagination(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """Where a page sits: ``total`` counts every matching item; ``hasNext`` says whether more follow."""

    total: int
    limit: int
    offset: int
    has_next: bool

    @classmethod
    def of(cls, page: Page[T]) -> Pagination:
        return cls(total=page.total, limit=page.limit, offset=page.offset, has_next=page.has_next)


def paginate(items: Sequence[T], window: ListQuery) -> tuple[list[T], Pagination]:
    """The items of ``window`` and its pagination block, for a list read whole."""
    shown = list(items[window.offset:window.offset + window.limit])
    return shown, Pagination(total=len(items), limit=window.limit, offset=window.offset,
                             has_next=window.offset + len(shown) < len(items))
