"""Custom and lookalike audiences on the Meta simulator, through HTTP.

Rules: payloads are SHA-256 hex as a real client sends them; counts are read back over Graph.
"""

from __future__ import annotations

import hashlib
import json

import httpx

from adapters.meta.simulator import ManualClock, MetaSimulator, SimulatorConfig
from adapters.meta.simulator.clock import parse_start
from tests.adapters.meta.sim import client


def make(**overrides: object) -> tuple[MetaSimulator, str]:
    config = SimulatorConfig(**overrides)  # type: ignore[arg-type]
    sim = MetaSimulator(config, ManualClock(parse_start(config.start)))
    return sim, f"act_{next(iter(sim.world.accounts))}"


def hashed(n: int) -> list[list[str]]:
    return [[hashlib.sha256(f"fan{i}@example.com".encode()).hexdigest()] for i in range(n)]


async def create_custom(http: httpx.AsyncClient, act: str) -> str:
    response = await http.post(
        f"/v25.0/{act}/customaudiences",
        data={"name": "Superfans", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"},
    )
    assert response.status_code == 200, response.text
    audience_id: str = response.json()["id"]
    return audience_id


async def test_upload_users_counts_valid_and_invalid_rows() -> None:
    sim, act = make(usage_header_threshold_pct=0.0)
    async with client(sim) as http:
        audience = await create_custom(http, act)
        payload = {"schema": "EMAIL_SHA256", "data": [*hashed(3), ["not-a-hash"]]}
        session = {"session_id": 9, "batch_seq": 1, "last_batch_flag": True, "estimated_num_total": 4}
        added = await http.post(
            f"/v25.0/{audience}/users", data={"payload": json.dumps(payload), "session": json.dumps(session)}
        )
        read = await http.get(
            f"/v25.0/{audience}", params={"fields": "name,subtype,approximate_count_upper_bound,operation_status"}
        )
        usage = (
            json.loads(added.headers["x-business-use-case-usage"])
            if "x-business-use-case-usage" in added.headers
            else {}
        )
    body = added.json()
    assert (body["audience_id"], body["session_id"], body["num_received"], body["num_invalid_entries"]) == (
        audience,
        "9",
        4,
        1,
    )
    assert read.json()["subtype"] == "CUSTOM" and read.json()["approximate_count_upper_bound"] == 3
    assert read.json()["operation_status"]["code"] == 200
    entry = usage[act.removeprefix("act_")][0]
    assert entry["type"] == "custom_audience" and "ads_api_access_tier" not in entry


async def test_more_than_10000_rows_is_refused() -> None:
    sim, act = make()
    async with client(sim) as http:
        audience = await create_custom(http, act)
        payload = {"schema": "EMAIL_SHA256", "data": hashed(1) * 10_001}
        response = await http.post(f"/v25.0/{audience}/users", data={"payload": json.dumps(payload)})
    assert response.status_code == 400 and response.json()["error"]["code"] == 100


async def test_lookalike_ratio_bounds_and_duplicates() -> None:
    sim, act = make()
    async with client(sim) as http:
        origin = await create_custom(http, act)

        async def lookalike(ratio: float) -> httpx.Response:
            spec = json.dumps({"ratio": ratio, "country": "US"})
            return await http.post(
                f"/v25.0/{act}/customaudiences",
                data={"name": "LAL", "subtype": "LOOKALIKE", "origin_audience_id": origin, "lookalike_spec": spec},
            )

        first, duplicate, too_wide = await lookalike(0.01), await lookalike(0.01), await lookalike(0.25)
        listed = (await http.get(f"/v25.0/{act}/customaudiences", params={"fields": "subtype,lookalike_spec"})).json()
    assert first.status_code == 200
    assert duplicate.status_code == 400 and duplicate.json()["error"]["code"] == 2654
    assert too_wide.status_code == 400 and too_wide.json()["error"]["code"] == 100
    assert sorted(a["subtype"] for a in listed["data"]) == ["CUSTOM", "LOOKALIKE"]
