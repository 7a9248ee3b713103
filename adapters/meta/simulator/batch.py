"""The Graph batch endpoint (PROVIDERS.md A2): ``POST /`` with ``batch=[...]``, at most 50 items.

It owns the batch envelope only. Each item goes through the simulator's whole pipeline (auth, quotas,
faults), so every item counts against the limits and carries its own usage headers, as on Meta.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec

from .graph import GraphError, Request, Response, invalid_param, json_response

__all__ = ["MAX_BATCH", "run_batch"]

MAX_BATCH = 50


class _Item(msgspec.Struct):
    relative_url: str
    method: str = "GET"
    body: str = ""
    name: str | None = None


_items_decoder = msgspec.json.Decoder(list[_Item])


def run_batch(request: Request, handle: Callable[[Request], Response]) -> Response:
    """Answer a batch: a JSON list of ``{"code", "headers": [{"name","value"}], "body": "<json text>"}``.

    Error handling: a missing or invalid ``batch`` gives 100; more than 50 items a GraphBatchException.
    """
    try:
        items = _items_decoder.decode(request.params.get("batch", ""))
    except msgspec.DecodeError:
        raise invalid_param("The parameter batch must be a JSON array of requests") from None
    if len(items) > MAX_BATCH:
        message = f"Too many requests in batch message. Maximum batch size is {MAX_BATCH}"
        raise GraphError(message, code=100, type="GraphBatchException")
    answers: list[object] = []
    for item in items:
        answer = handle(request.item(item.method, item.relative_url, item.body))
        headers = [("Content-Type", answer.content_type), *answer.headers]
        answers.append(
            {
                "code": answer.status,
                "headers": [{"name": name, "value": value} for name, value in headers],
                "body": answer.body.decode("utf-8", "replace"),
            }
        )
    return json_response(answers)
