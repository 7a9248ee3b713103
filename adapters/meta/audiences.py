"""Custom and lookalike audiences (PROVIDERS.md A3): create, fill with hashed customers, read, delete.

It owns the audience parameters, the customer-list payload (``schema`` + hashed ``data`` rows, at most
10,000 rows a request, tied together by a ``session``) and the lookalike spec. Hashing reuses the
Conversions API normalisers (``adapters.meta.conversions``). Meta applies uploads within up to 24 h,
so a read right after an upload may show the old size; we do not wait for it. ``MetaClient`` mixes
``AudienceMethods`` in.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from adapters.meta import schemas
from adapters.meta.conversions import hash_field
from adapters.meta.schemas import CustomAudience, UsersReceived
from adapters.meta.transport import GraphTransport, merge_signals
from engine.provider import Result, UsageSignal

__all__ = [
    "AUDIENCE_FIELDS",
    "MAX_ROWS_PER_REQUEST",
    "SCHEMA_FIELDS",
    "AudienceMethods",
    "CustomerFileSource",
    "UsersUploaded",
    "hashed_rows",
]

MAX_ROWS_PER_REQUEST: Final = 10_000
CustomerFileSource = Literal["USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"]
AUDIENCE_FIELDS = (
    "id", "account_id", "name", "subtype", "description", "customer_file_source",
    "approximate_count_lower_bound", "approximate_count_upper_bound", "operation_status", "delivery_status",
    "time_created", "time_updated", "retention_days", "lookalike_spec",
)
# Customer-list keys we can hash, and the CAPI field whose normalisation each one shares.
SCHEMA_FIELDS: Final[Mapping[str, str]] = {
    "EMAIL": "em", "PHONE": "ph", "FN": "fn", "LN": "ln", "CT": "ct", "ST": "st", "ZIP": "zp",
    "COUNTRY": "country", "GEN": "ge", "EXTERN_ID": "external_id",
}
_RATIO_STEPS = range(1, 21)  # lookalike ratio 0.01 … 0.20, in steps of 0.01 (A3)


@dataclass(frozen=True, slots=True)
class UsersUploaded:
    """What Meta said about all the requests of one upload: rows received and rows it could not read."""

    audience_id: str
    session_id: int
    num_received: int
    num_invalid_entries: int
    requests: int


def hashed_rows(schema: Sequence[str], rows: Iterable[Sequence[str]]) -> list[list[str]]:
    """Each row's values normalised and hashed for its ``schema`` key; digests pass through; "" stays "".

    Raises ValueError for an unknown key, a row whose length is not the schema's, or a value the key's
    normaliser refuses (an email without "@").
    """
    unknown = [key for key in schema if key not in SCHEMA_FIELDS]
    if not schema or unknown:
        raise ValueError(f"schema keys must be some of {sorted(SCHEMA_FIELDS)}, got {list(schema)}")
    fields = [SCHEMA_FIELDS[key] for key in schema]
    hashed: list[list[str]] = []
    for index, row in enumerate(rows):
        if len(row) != len(fields):
            raise ValueError(f"rows[{index}] has {len(row)} values for a schema of {len(fields)}")
        # "" means "unknown" in a multi-key row; Meta reads it so, so we leave it rather than hash it.
        pairs = zip(fields, row, strict=True)
        hashed.append([hash_field(field, value) if value.strip() else "" for field, value in pairs])
    return hashed


def _ratio_in_steps(ratio: float) -> bool:
    return any(abs(ratio - step / 100) < 1e-9 for step in _RATIO_STEPS)


class AudienceMethods:
    """The audience calls of ``MetaClient``. ``act_id`` is ``act_<digits>``.

    Pass ``act_id`` to calls on an audience id too, so that a custom_audience throttle (80003) names
    the right ad account (the path alone does not say).
    """

    _graph: GraphTransport

    async def create_custom_audience(self, act_id: str, *, name: str, customer_file_source: CustomerFileSource,
                                     description: str | None = None) -> Result[str]:
        """Create an empty customer-list audience (``subtype=CUSTOM``); returns its id."""
        data = {"name": name, "subtype": "CUSTOM", "customer_file_source": customer_file_source}
        if description is not None:
            data["description"] = description
        result = await self._graph.post(f"{act_id}/customaudiences", schemas.CREATED, data, account_id=act_id)
        return Result(result.data.id, result.signals)

    async def create_lookalike_audience(self, act_id: str, *, name: str, origin_audience_id: str, country: str,
                                        ratio: float) -> Result[str]:
        """Create a lookalike of ``origin_audience_id``: the ``ratio`` (0.01-0.20) of ``country`` most like it.

        Raises ValueError for a ratio off Meta's 0.01 grid or a country that is not a two-letter code.
        Meta refuses a second lookalike of the same source, country and ratio with (#2654), which
        surfaces as ``FatalProviderError``.
        """
        if not _ratio_in_steps(ratio):
            raise ValueError(f"ratio {ratio} must be 0.01 to 0.20 in steps of 0.01")
        if len(country) != 2 or not country.isascii() or not country.isalpha():
            raise ValueError(f"country {country!r} must be a two-letter ISO 3166-1 code")
        spec = {"ratio": round(ratio, 2), "country": country.upper()}
        data = {"name": name, "subtype": "LOOKALIKE", "origin_audience_id": origin_audience_id,
                "lookalike_spec": json.dumps(spec)}
        result = await self._graph.post(f"{act_id}/customaudiences", schemas.CREATED, data, account_id=act_id)
        return Result(result.data.id, result.signals)

    async def audience(self, audience_id: str, *, act_id: str | None = None) -> Result[CustomAudience]:
        """One audience with its size range, ``operation_status`` and ``delivery_status``."""
        params = {"fields": ",".join(AUDIENCE_FIELDS)}
        return await self._graph.get(audience_id, schemas.AUDIENCE, params, account_id=act_id)

    async def delete_audience(self, audience_id: str, *, act_id: str | None = None) -> Result[bool]:
        """Delete an audience; returns Meta's ``success``."""
        url = self._graph.url(audience_id)
        result = await self._graph.call("DELETE", url, schemas.SUCCESS, account_id=act_id)
        return Result(result.data.success, result.signals)

    async def add_audience_users(self, audience_id: str, schema: Sequence[str], rows: Iterable[Sequence[str]], *,
                                 act_id: str | None = None, session_id: int | None = None) -> Result[UsersUploaded]:
        """Add customers to a CUSTOM audience: ``rows`` of raw values (or digests) in ``schema`` order.

        ``schema`` keys are those of ``SCHEMA_FIELDS`` (["EMAIL"], ["EMAIL", "PHONE", "COUNTRY"], …);
        phone numbers must carry their country code. We hash every value and send at most 10,000 rows
        a request, all under one ``session`` (``session_id`` defaults to a random 63-bit number).
        Raises ValueError as ``hashed_rows`` does, before any request.

        Error handling: as ``GraphTransport.call``. When a later request fails, earlier rows are in.
        """
        return await self._upload("POST", audience_id, schema, rows, act_id=act_id, session_id=session_id)

    async def remove_audience_users(self, audience_id: str, schema: Sequence[str], rows: Iterable[Sequence[str]],
                                    *, act_id: str | None = None,
                                    session_id: int | None = None) -> Result[UsersUploaded]:
        """Remove customers from a CUSTOM audience; the same payload and batching as ``add_audience_users``."""
        return await self._upload("DELETE", audience_id, schema, rows, act_id=act_id, session_id=session_id)

    async def _upload(self, method: str, audience_id: str, schema: Sequence[str], rows: Iterable[Sequence[str]], *,
                      act_id: str | None, session_id: int | None) -> Result[UsersUploaded]:
        hashed = hashed_rows(schema, rows)
        if not hashed:
            raise ValueError("an audience upload needs at least one row")
        session = secrets.randbits(63) if session_id is None else session_id
        batches = [hashed[i : i + MAX_ROWS_PER_REQUEST] for i in range(0, len(hashed), MAX_ROWS_PER_REQUEST)]
        answers: list[UsersReceived] = []
        signals: tuple[UsageSignal, ...] = ()
        for seq, batch in enumerate(batches, start=1):
            data = {
                "payload": json.dumps({"schema": list(schema), "data": batch}),
                "session": json.dumps({"session_id": session, "estimated_num_total": len(hashed),
                                       "batch_seq": seq, "last_batch_flag": seq == len(batches)}),
            }
            result = await self._graph.call(method, self._graph.url(f"{audience_id}/users"), schemas.USERS_RECEIVED,
                                            data=data, account_id=act_id)
            answers.append(result.data)
            signals = merge_signals(signals, result.signals)
        uploaded = UsersUploaded(audience_id, session, sum(a.num_received for a in answers),
                                 sum(a.num_invalid_entries for a in answers), len(answers))
        return Result(uploaded, signals)
