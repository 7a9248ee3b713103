"""MetaClient's custom and lookalike audiences against the Meta simulator over real HTTP.

Rules: the simulator is reached through ``httpx.ASGITransport`` on a ``ManualClock``; expected sizes
and what Meta kept come from ``sim.audiences``, what went over the wire from the request log; values
are raw (the client hashes them) unless a test is about digests.
"""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from adapters.meta.audiences import hashed_rows
from adapters.meta.client import MetaClient
from adapters.meta.simulator import MetaSimulator
from engine.provider import AuthExpiredError, FatalProviderError
from tests.adapters.meta.sim import TOKEN, make

BASE = "https://graph.facebook.com"
# PROVIDERS.md A3's CAPI vector: customer lists share the CAPI normalisation.
JOHN = "62a14e44f765419d10fea99367361a727c12365e2520f32218d505ed9aa0f62f"


def act_of(sim: MetaSimulator) -> str:
    return f"act_{next(iter(sim.world.accounts))}"


def fans(n: int) -> list[list[str]]:
    return [[f" Fan{i}@Example.com "] for i in range(n)]


def uploads(sim: MetaSimulator) -> list[dict[str, str]]:
    return [r.params for r in sim.requests if r.path.endswith("/users")]


async def test_custom_audience_lifecycle_create_fill_read_lookalike_delete() -> None:
    sim, _ = make(usage_header_threshold_pct=0.0)
    act = act_of(sim)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim)) as http:
        meta = MetaClient(http, TOKEN, base_url=BASE)
        created = await meta.create_custom_audience(act, name="Superfans", customer_file_source="USER_PROVIDED_ONLY",
                                                    description="bought merch")
        audience_id = created.data
        added = await meta.add_audience_users(audience_id, ["EMAIL"], fans(3), act_id=act, session_id=7)
        read = await meta.audience(audience_id, act_id=act)
        lookalike_id = (await meta.create_lookalike_audience(act, name="Superfans 1% US", country="us", ratio=0.01,
                                                             origin_audience_id=audience_id)).data
        lookalike = (await meta.audience(lookalike_id, act_id=act)).data
        deleted = [(await meta.delete_audience(a, act_id=act)).data for a in (lookalike_id, audience_id)]
    assert (added.data.audience_id, added.data.session_id, added.data.num_received) == (audience_id, 7, 3)
    assert added.data.num_invalid_entries == 0 and added.data.requests == 1
    assert f"meta:{act}:custom_audience" in {s.domain for s in added.signals}
    got = read.data
    assert (got.name, got.subtype, got.customer_file_source) == ("Superfans", "CUSTOM", "USER_PROVIDED_ONLY")
    assert got.approximate_count_lower_bound is not None and got.approximate_count_upper_bound == 3
    assert got.operation_status is not None and got.operation_status.code == 200
    assert got.delivery_status is not None and got.delivery_status.code == 200
    assert lookalike.subtype == "LOOKALIKE" and lookalike.lookalike_spec is not None
    assert (lookalike.lookalike_spec.ratio, lookalike.lookalike_spec.country) == (0.01, "US")
    assert deleted == [True, True] and sim.audiences.audiences == {}


async def test_uploads_are_hashed_and_sent_as_a_schema_payload() -> None:
    sim, _ = make()
    act = act_of(sim)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim)) as http:
        meta = MetaClient(http, TOKEN, base_url=BASE)
        audience_id = (await meta.create_custom_audience(act, name="A", customer_file_source="USER_PROVIDED_ONLY")).data
        rows = [["John_Smith@gmail.com", "+1 (650) 555-1212", "US"], [JOHN, "", "us"]]
        result = await meta.add_audience_users(audience_id, ["EMAIL", "PHONE", "COUNTRY"], rows, act_id=act)
    [sent] = uploads(sim)
    payload = json.loads(sent["payload"])
    assert payload["schema"] == ["EMAIL", "PHONE", "COUNTRY"]
    us = hashlib.sha256(b"us").hexdigest()
    assert payload["data"][0] == [JOHN, "e323ec626319ca94ee8bff2e4c87cf613be6ea19919ed1364124e16807ab3176", us]
    assert payload["data"][1] == [JOHN, "", us]  # a digest passes through; an unknown value stays ""
    assert result.data.num_invalid_entries == 0


async def test_more_than_10000_rows_go_in_one_session_of_several_requests() -> None:
    sim, _ = make()
    act = act_of(sim)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim)) as http:
        meta = MetaClient(http, TOKEN, base_url=BASE)
        audience_id = (await meta.create_custom_audience(act, name="A", customer_file_source="USER_PROVIDED_ONLY")).data
        result = await meta.add_audience_users(audience_id, ["EMAIL"], fans(10_001), act_id=act)
    sessions = [json.loads(params["session"]) for params in uploads(sim)]
    assert [len(json.loads(params["payload"])["data"]) for params in uploads(sim)] == [10_000, 1]
    assert [(s["batch_seq"], s["last_batch_flag"], s["estimated_num_total"]) for s in sessions] == [
        (1, False, 10_001), (2, True, 10_001)]
    assert {s["session_id"] for s in sessions} == {result.data.session_id}
    assert (result.data.num_received, result.data.requests) == (10_001, 2)
    assert len(sim.audiences.audiences[audience_id].members) == 10_001


async def test_remove_users_takes_them_out_again() -> None:
    sim, _ = make()
    act = act_of(sim)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim)) as http:
        meta = MetaClient(http, TOKEN, base_url=BASE)
        audience_id = (await meta.create_custom_audience(act, name="A", customer_file_source="USER_PROVIDED_ONLY")).data
        await meta.add_audience_users(audience_id, ["EMAIL"], fans(5), act_id=act)
        removed = await meta.remove_audience_users(audience_id, ["EMAIL"], fans(2), act_id=act)
    assert removed.data.num_received == 2
    assert [r.method for r in sim.requests if r.path.endswith("/users")] == ["POST", "DELETE"]
    assert len(sim.audiences.audiences[audience_id].members) == 3


def test_rows_that_do_not_fit_the_schema_raise_value_error() -> None:
    with pytest.raises(ValueError, match="schema keys"):
        hashed_rows(["EMAIL", "SHOE_SIZE"], [["a@b.c", "44"]])
    with pytest.raises(ValueError, match="2 values for a schema of 1"):
        hashed_rows(["EMAIL"], [["a@b.c", "x"]])
    with pytest.raises(ValueError, match=r"^em:"):
        hashed_rows(["EMAIL"], [["not an email"]])


async def test_lookalike_argument_checks_happen_before_any_request() -> None:
    sim, _ = make()
    act = act_of(sim)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim)) as http:
        meta = MetaClient(http, TOKEN, base_url=BASE)
        for ratio, country in [(0.25, "US"), (0.015, "US"), (0.0, "US"), (0.05, "USA")]:
            with pytest.raises(ValueError, match=r"ratio|country"):
                await meta.create_lookalike_audience(act, name="L", origin_audience_id="1", country=country,
                                                     ratio=ratio)
        with pytest.raises(ValueError, match="at least one row"):
            await meta.add_audience_users("1", ["EMAIL"], [])
    assert sim.requests == []


async def test_meta_refusals_are_fatal_and_a_bad_token_is_auth_expired() -> None:
    sim, _ = make()
    act = act_of(sim)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(sim)) as http:
        meta = MetaClient(http, TOKEN, base_url=BASE)
        origin = (await meta.create_custom_audience(act, name="A", customer_file_source="USER_PROVIDED_ONLY")).data
        await meta.create_lookalike_audience(act, name="L", origin_audience_id=origin, country="US", ratio=0.02)
        with pytest.raises(FatalProviderError, match="#2654"):
            await meta.create_lookalike_audience(act, name="L2", origin_audience_id=origin, country="US", ratio=0.02)
        with pytest.raises(FatalProviderError, match="origin_audience_id"):
            await meta.create_lookalike_audience(act, name="L3", origin_audience_id="404", country="US", ratio=0.02)
        await meta.delete_audience(origin, act_id=act)
        with pytest.raises(FatalProviderError, match="#100/33"):
            await meta.audience(origin, act_id=act)
        with pytest.raises(AuthExpiredError, match="190"):
            await MetaClient(http, "NOT_A_TOKEN", base_url=BASE).create_custom_audience(
                act, name="B", customer_file_source="USER_PROVIDED_ONLY")
