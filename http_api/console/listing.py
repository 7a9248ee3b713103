"""What the console's list pages share: the query string read as the matching ``GET /v1/...`` reads it (the
same Struct, so the same parameters and limits), and the previous and next page links of a store page.
"""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import urlencode

from quart import request

from engine.store.catalog_common import Page
from http_api.errors import ApiError
from http_api.validation import validate

__all__ = ["list_query", "page_links"]

Q = TypeVar("Q")
T = TypeVar("T")


def list_query(query_type: type[Q]) -> tuple[Q, dict[str, str], dict[str, str]]:
    """The page's query string as ``query_type`` (the API's query Struct), what was asked (for the links), and
    the refused parameters (field → the API's message; the query is then ``query_type``'s defaults)."""
    given = {key: value for key, value in request.args.items() if value != ""}  # a form's "any" is empty
    try:
        return validate(given, query_type, strict=False, where="query"), given, {}
    except ApiError as error:
        return query_type(), given, {detail.field: detail.message for detail in error.details}


def page_links(path: str, given: dict[str, str], page: Page[T]) -> dict[str, str | None]:
    """``previous`` and ``next``: the links to the pages around ``page`` (None at either end)."""
    def link(offset: int) -> str:
        return f"{path}?" + urlencode({**given, "offset": max(offset, 0)})
    return {"previous": link(page.offset - page.limit) if page.offset > 0 else None,
            "next": link(page.offset + page.limit) if page.has_next else None}
