"""The Graph API error envelope, decoded leniently, and the one Meta-specific error class we raise.

It owns the shape of ``{"error": {...}}`` bodies (PROVIDERS.md A2); deciding what an error *means* is
``adapters.meta.classify``'s job.
"""

from __future__ import annotations

import msgspec

from engine.provider import RequestTooLargeError

__all__ = ["GraphError", "ReduceDataError", "decode_graph_error"]


class GraphError(msgspec.Struct, kw_only=True):
    """The ``error`` object of a Graph error body; every field is optional.

    ``is_transient`` is deliberately not a field: Meta sets it inconsistently on the same throttle
    (true in 2017, false in 2026 for 17/2446079), so we classify by ``(code, error_subcode)`` only and
    an odd ``is_transient`` value cannot make the body undecodable.
    """

    message: str | None = None
    type: str | None = None
    code: int | None = None
    error_subcode: int | None = None
    error_user_title: str | None = None  # what Ads Manager would show a person, e.g. "Budget Is Too Low"
    error_user_msg: str | None = None
    fbtrace_id: str | None = None


class _Envelope(msgspec.Struct):
    error: GraphError | None = None


# strict=False: Meta sends most numbers as strings elsewhere, so accept "190" as well as 190.
_envelope_decoder = msgspec.json.Decoder(_Envelope, strict=False)


def decode_graph_error(content: bytes) -> GraphError | None:
    """Return the body's ``error`` object, or None when the body is not a Graph error envelope.

    Never raises: HTML from a proxy, an empty body or the plain text of a gateway error give None.
    """
    try:
        return _envelope_decoder.decode(content).error
    except msgspec.DecodeError:  # ValidationError is a subclass: right JSON, wrong shape
        return None


class ReduceDataError(RequestTooLargeError):
    """Meta's ``RequestTooLargeError``: the query asked for too much data at once; retry it smaller.

    Meta answers HTTP 500 "Please reduce the amount of data you're asking for, then retry your
    request" (code 1), 100/1487534 (too much data per call), or a synchronous insights timeout
    (100/1504018, 2/1504038). Retrying unchanged fails again: the caller halves ``limit``, splits the
    time range, or switches to an async report run, then retries.
    """

    reduce_data = True
