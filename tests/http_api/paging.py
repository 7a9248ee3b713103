"""Walking a list route page by page, for the tests of each list: every route answers the API reference's
pagination (``limit`` default 20, max 100; ``offset``; ``{<items>, pagination: {total, limit, offset,
hasNext}}``), and its pages, read two at a time, are the whole list in order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from quart.typing import TestClientProtocol as Client


async def _get(client: Client, url: str, headers: Mapping[str, str], status: int = 200) -> Any:
    response = await client.get(url, headers=dict(headers))
    body = await response.get_json()
    assert response.status_code == status, (url, body)
    return body


async def assert_paged(client: Client, path: str, headers: Mapping[str, str], key: str, *, total: int,
                       ident: str = "id") -> list[Any]:
    """Check ``path``'s pagination against a list of ``total`` items (``ident`` tells them apart) and return
    the whole list."""
    join = "&" if "?" in path else "?"
    default = await _get(client, path, headers)
    assert default["pagination"] == {"total": total, "limit": 20, "offset": 0, "hasNext": total > 20}
    whole = (await _get(client, f"{path}{join}limit=100", headers))[key]
    assert len(whole) == total
    walked: list[Any] = []
    for offset in range(0, total + 1, 2):
        page = await _get(client, f"{path}{join}limit=2&offset={offset}", headers)
        assert page["pagination"] == {"total": total, "limit": 2, "offset": offset, "hasNext": offset + 2 < total}
        walked += page[key]
    assert [item[ident] for item in walked] == [item[ident] for item in whole]
    refused = await _get(client, f"{path}{join}limit=101&offset=-1", headers, 400)
    assert sorted(detail["field"] for detail in refused["error"]["details"]) == ["limit", "offset"]
    return whole
