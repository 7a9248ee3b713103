"""Custom and lookalike audiences (PROVIDERS.md A3): create, read, list, delete, and add/remove users.

It owns the audiences and their member counts. Members are counted, not stored one by one beyond their
hashes; an upload applies at once (Meta may take up to 24 h). Calls here are charged to the
custom_audience BUC type by ``routes``.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from .clock import Clock
from .graph import GraphError, Request, Response, invalid_param, json_response, page, select

__all__ = ["Audience", "Audiences"]

Json = dict[str, object]
_SOURCES = frozenset({"USER_PROVIDED_ONLY", "PARTNER_PROVIDED_ONLY", "BOTH_USER_AND_PARTNER_PROVIDED"})
_MAX_ROWS = 10_000
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def _valid_row(row: object, width: int) -> bool:
    """One value per schema key, each a SHA-256 digest or "" (a multi-key row may lack some keys), not all ""."""
    if not isinstance(row, list) or len(row) != width or not all(isinstance(v, str) for v in row):
        return False
    return any(row) and all(v == "" or _SHA256.match(v) for v in row)


@dataclass(slots=True)
class Audience:
    id: str
    account_id: str
    name: str
    subtype: str
    description: str
    created: float
    updated: float
    customer_file_source: str | None = None
    lookalike_spec: Json | None = None
    origin_audience_id: str | None = None
    members: set[str] = field(default_factory=set)

    def json(self, fields: list[str]) -> Json:
        size = len(self.members)
        obj: Json = {
            "id": self.id,
            "account_id": self.account_id,
            "name": self.name,
            "subtype": self.subtype,
            "description": self.description,
            "time_created": int(self.created),
            "time_updated": int(self.updated),
            "retention_days": 0,
            "approximate_count_lower_bound": size * 9 // 10,
            "approximate_count_upper_bound": size * 11 // 10,
            "operation_status": {"code": 200, "description": "Normal"},
            "delivery_status": {"code": 200, "description": "This audience is ready for use."},
        }
        if self.customer_file_source:
            obj["customer_file_source"] = self.customer_file_source
        if self.lookalike_spec is not None:
            obj["lookalike_spec"] = self.lookalike_spec
        return select(obj, fields)


class Audiences:
    """Every account's audiences, keyed by id."""

    def __init__(self, clock: Clock, rng: random.Random) -> None:
        self._clock, self._rng = clock, rng
        self.audiences: dict[str, Audience] = {}

    def _new_id(self) -> str:
        return "238" + "".join(str(self._rng.randrange(10)) for _ in range(14))

    def list(self, account_id: str, request: Request) -> Response:
        fields = request.fields(("id",))
        mine = [a.json(fields) for a in self.audiences.values() if a.account_id == account_id]
        return json_response(page(mine, request))

    def read(self, audience: Audience, request: Request) -> Response:
        return json_response(audience.json(request.fields(("id",))))

    def delete(self, audience: Audience, request: Request) -> Response:
        del self.audiences[audience.id]
        return json_response({"success": True})

    def create(self, account_id: str, request: Request) -> Response:
        """``{"id"}`` for a new CUSTOM or LOOKALIKE audience; 100 for bad parameters, 2654 for a duplicate."""
        params, now = request.params, self._clock.now()
        if not params.get("name"):
            raise invalid_param("The parameter name is required")
        subtype = params.get("subtype", "CUSTOM")
        audience = Audience(
            self._new_id(), account_id, params["name"], subtype, params.get("description", ""), now, now
        )
        if subtype == "CUSTOM":
            source = params.get("customer_file_source")
            if source is not None and source not in _SOURCES:
                raise invalid_param("Param customer_file_source must be one of {" + ", ".join(sorted(_SOURCES)) + "}")
            audience.customer_file_source = source
        elif subtype == "LOOKALIKE":
            self._lookalike(audience, request)
        else:
            raise invalid_param("Param subtype must be one of {CUSTOM, LOOKALIKE}")
        self.audiences[audience.id] = audience
        return json_response({"id": audience.id})

    def _lookalike(self, audience: Audience, request: Request) -> None:
        origin = self.audiences.get(request.params.get("origin_audience_id", ""))
        if origin is None or origin.account_id != audience.account_id:
            raise invalid_param("Param origin_audience_id must be a custom audience of this ad account")
        spec = request.json_param("lookalike_spec") if "lookalike_spec" in request.params else None
        ratio = spec.get("ratio") if isinstance(spec, dict) else None
        country = spec.get("country") if isinstance(spec, dict) else None
        has_country = isinstance(country, str) and len(country) == 2  # where to look: Meta requires it
        if (not isinstance(spec, dict) or not has_country
                or not isinstance(ratio, int | float) or not 0.01 <= ratio <= 0.20):
            raise invalid_param("Param lookalike_spec must have a ratio between 0.01 and 0.20 and a country")
        if round(ratio * 100, 6) != round(ratio * 100):
            raise invalid_param("Param lookalike_spec.ratio must be a multiple of 0.01")
        key = (origin.id, country, ratio)
        for other in self.audiences.values():
            spec_of = other.lookalike_spec or {}
            if (other.origin_audience_id, spec_of.get("country"), spec_of.get("ratio")) == key:
                raise GraphError(
                    f"(#2654) Can't create a duplicate lookalike audience: {other.name} already has this source, "
                    "country and size",
                    code=2654,
                )
        audience.origin_audience_id, audience.lookalike_spec = origin.id, {str(k): v for k, v in spec.items()}

    def users(self, audience: Audience, request: Request) -> Response:
        """Add (POST) or remove (DELETE) hashed members; 100 for a bad payload or more than 10,000 rows."""
        payload = request.json_param("payload") if "payload" in request.params else None
        rows = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(rows, list):
            raise invalid_param('Param payload must be {"schema": ..., "data": [[...], ...]}')
        if len(rows) > _MAX_ROWS:
            raise invalid_param(f"Too many rows in payload: at most {_MAX_ROWS} per request")
        schema = payload.get("schema") if isinstance(payload, dict) else None
        width = len(schema) if isinstance(schema, list) else 1  # "EMAIL_SHA256" is the one-key form
        valid = [r for r in rows if _valid_row(r, width)]
        keys = {"|".join(r) for r in valid}
        if request.method == "DELETE":
            audience.members -= keys
        else:
            audience.members |= keys
        audience.updated = self._clock.now()
        session = request.json_param("session") if "session" in request.params else {}
        session_id = session.get("session_id") if isinstance(session, dict) else None
        invalid = [r for r in rows if r not in valid]
        return json_response(
            {
                "audience_id": audience.id,
                "session_id": str(session_id or self._rng.randrange(10**15)),
                "num_received": len(rows),
                "num_invalid_entries": len(invalid),
                "invalid_entry_samples": {str(i): str(r) for i, r in enumerate(invalid[:5])},
            }
        )
