"""`/v1/streaming/events` and `/v1/streaming/realtime/{trackId}`: counts of new and repeated events, one bad
event costing only itself, every rule on an event, the batch limits, roles, and the realtime buckets.

Rules: what was stored is read back through the realtime route, as a client would; the API's clock is
moved to 08:47:30 UTC (``NOW``) so the current bucket is a partial one; every test has a ``fail_after``.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import trio
from trio.testing import MockClock

from http_api.context import ApiContext
from songtrack.api import build_api
from tests.http_api.conftest import EPOCH, Client, MakeMember, Member
from tests.http_api.post import post_track

# EPOCH is 08:00:00 UTC on a day; the fixture clock is moved on to NOW in every test.
NOW = datetime.fromtimestamp(EPOCH, UTC) + timedelta(minutes=47, seconds=30)
EVENTS = "/v1/streaming/events"


@pytest.fixture
def clock(mock_clock: MockClock) -> MockClock:
    """The API's clock at NOW. A test takes this (a Clock) as an argument so that trio runs it on it."""
    mock_clock.jump((NOW - datetime.fromtimestamp(EPOCH, UTC)).total_seconds())
    return mock_clock


def _ts(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _event(event_id: str, track: str, *, ago: timedelta = timedelta(minutes=1), country: str = "US",
           **changes: object) -> dict[str, object]:
    event: dict[str, object] = {"id": event_id, "trackId": track, "platform": "spotify", "country": country,
                                "timestamp": _ts(NOW - ago)}
    return {**event, **changes}


async def _streams(client: Client, member: Member, track: str) -> int:
    """Every stream of ``track`` in the last hour, as the realtime route reports them."""
    response = await client.get(f"/v1/streaming/realtime/{track}?interval=1h&buckets=2", headers=member.headers)
    assert response.status_code == 200
    return sum(point["streams"] for point in (await response.get_json())["data"])


async def test_new_and_repeated_ids_are_counted_and_resending_stores_nothing(
        client: Client, make_member: MakeMember, clock: MockClock) -> None:
    with trio.fail_after(10):
        owner = await make_member()
        track = await post_track(client, owner.headers, title="Summer", artist="Ana")
        batch = [_event("a", track), _event("b", track), _event("a", track, country="SE")]
        first = await client.post(EVENTS, headers=owner.headers, json={"events": batch})
        assert first.status_code == 200 and await first.get_json() == {"accepted": 2, "duplicates": 1}
        again = await client.post(EVENTS, headers=owner.headers, json={"events": batch})
        assert await again.get_json() == {"accepted": 0, "duplicates": 3}
        more = await client.post(EVENTS, headers=owner.headers, json={"events": [_event("c", track), batch[1]]})
        assert await more.get_json() == {"accepted": 1, "duplicates": 1}
        assert await _streams(client, owner, track) == 3


async def test_a_bad_event_is_rejected_by_index_and_the_good_ones_are_stored(
        client: Client, make_member: MakeMember, clock: MockClock) -> None:
    with trio.fail_after(10):
        owner = await make_member()
        track = await post_track(client, owner.headers, title="Summer", artist="Ana")
        batch = [_event(f"e{i}", track) for i in range(10)]
        batch[3] = _event("e3", track, country="USA")
        batch[7] = _event("e7", str(uuid.uuid4()))
        response = await client.post(EVENTS, headers=owner.headers, json={"events": batch})
        body = await response.get_json()
        assert response.status_code == 400
        assert body["error"]["code"] == "VALIDATION_ERROR"
        assert body["error"]["message"] == "2 of 10 events were rejected; the other 8 were stored"
        assert [d["field"] for d in body["error"]["details"]] == ["events[3].country", "events[7].trackId"]
        assert body["error"]["details"][1]["message"] == "no such track in this organization"
        assert (body["accepted"], body["duplicates"]) == (8, 0)
        assert await _streams(client, owner, track) == 8
        batch[3], batch[7] = _event("e3", track), _event("e7", track)  # corrected, and sent again whole
        fixed = await client.post(EVENTS, headers=owner.headers, json={"events": batch})
        assert await fixed.get_json() == {"accepted": 2, "duplicates": 8}
        assert await _streams(client, owner, track) == 10


@pytest.mark.parametrize(("changes", "field", "says"), [
    ({"id": ""}, "id", "length"),
    ({"id": "x" * 129}, "id", "length"),
    ({"id": "tab\there"}, "id", "without control characters"),
    ({"id": "line\n"}, "id", "without control characters"),
    ({"trackId": "not-a-uuid"}, "trackId", "uuid"),
    ({"trackId": "00000000-0000-4000-8000-000000000000"}, "trackId", "no such track"),
    ({"platform": "Spotify"}, "platform", "lowercase name"),
    ({"platform": "spotify\n"}, "platform", "lowercase name"),
    ({"platform": "s" * 33}, "platform", "lowercase name"),
    ({"country": "U1"}, "country", "two letters"),
    ({"country": "usa"}, "country", "two letters"),
    ({"timestamp": "2027-01-15T08:40:00"}, "timestamp", "timezone"),
    ({"timestamp": "yesterday"}, "timestamp", "rfc3339"),
    ({"timestamp": _ts(NOW - timedelta(days=7, seconds=1))}, "timestamp", "stream-report import"),
    ({"timestamp": _ts(NOW + timedelta(minutes=5, seconds=1))}, "timestamp", "5 minutes in the future"),
    ({"listener": "ana"}, "listener", "unknown field"),
    ({"platform": None}, "platform", "expected str"),
])
async def test_each_rule_rejects_only_the_event_that_breaks_it(
        client: Client, make_member: MakeMember, clock: MockClock, changes: dict[str, object], field: str,
        says: str) -> None:
    with trio.fail_after(10):
        owner = await make_member()
        track = await post_track(client, owner.headers, title="Summer", artist="Ana")
        batch = [_event("good", track), _event("bad", track, **changes)]
        response = await client.post(EVENTS, headers=owner.headers, json={"events": batch})
        body = await response.get_json()
        assert response.status_code == 400
        [detail] = body["error"]["details"]
        assert detail["field"] == f"events[1].{field}"
        assert says in detail["message"].lower()
        assert (body["accepted"], body["duplicates"]) == (1, 0)


async def test_a_missing_field_is_named(client: Client, make_member: MakeMember, clock: MockClock) -> None:
    with trio.fail_after(10):
        owner = await make_member()
        event = _event("e", await post_track(client, owner.headers, title="Summer", artist="Ana"))
        del event["country"]
        body = await (await client.post(EVENTS, headers=owner.headers, json={"events": [event]})).get_json()
        assert body["error"]["details"] == [{"field": "events[0].country", "message": "is required"}]
        assert body["error"]["message"] == "1 of 1 events was rejected; none was stored"


async def test_limits_are_inclusive_and_countries_are_stored_uppercase(
        client: Client, make_member: MakeMember, clock: MockClock) -> None:
    with trio.fail_after(10):
        owner = await make_member()
        track = await post_track(client, owner.headers, title="Summer", artist="Ana")
        batch = [_event("old", track, ago=timedelta(days=7)), _event("ahead", track, ago=-timedelta(minutes=5)),
                 _event("local", track, country="se", timestamp="2027-01-15T09:46:00+01:00")]
        response = await client.post(EVENTS, headers=owner.headers, json={"events": batch})
        assert await response.get_json() == {"accepted": 3, "duplicates": 0}
        query = f"/v1/streaming/realtime/{track}?interval=5m&buckets=1"
        current = await (await client.get(query, headers=owner.headers)).get_json()
        assert current["data"] == [{"timestamp": "2027-01-15T08:45:00Z", "streams": 1, "countries": {"SE": 1}}]


@pytest.mark.parametrize("body", [
    '{"events": [GOOD', "[GOOD]", "GOOD", '{"events": []}', '{"events": GOOD}', '{"events": [GOOD, 1]}',
    '{"events": [GOOD, "text"]}', '{"events": [GOOD], "extra": 1}', '{"events": [GOOD, [GOOD]]}',
])
async def test_a_malformed_batch_is_refused_whole(client: Client, make_member: MakeMember, clock: MockClock,
                                                 body: str) -> None:
    with trio.fail_after(10):
        owner = await make_member()
        track = await post_track(client, owner.headers, title="Summer", artist="Ana")
        good = json.dumps(_event("good", track))
        headers = {**owner.headers, "Content-Type": "application/json"}
        response = await client.post(EVENTS, headers=headers, data=body.replace("GOOD", good).encode())
        assert response.status_code == 400
        assert (await response.get_json())["error"]["code"] == "VALIDATION_ERROR"
        assert await _streams(client, owner, track) == 0


async def test_more_than_1000_events_stores_nothing(client: Client, make_member: MakeMember,
                                                   clock: MockClock) -> None:
    with trio.fail_after(20):
        owner = await make_member()
        track = await post_track(client, owner.headers, title="Summer", artist="Ana")
        batch = [_event(f"e{i}", track) for i in range(1001)]
        response = await client.post(EVENTS, headers=owner.headers, json={"events": batch})
        body = await response.get_json()
        assert response.status_code == 400 and body["error"]["details"][0]["field"] == "events"
        assert await _streams(client, owner, track) == 0
        full = await client.post(EVENTS, headers=owner.headers, json={"events": batch[:1000]})
        assert await full.get_json() == {"accepted": 1000, "duplicates": 0}


async def test_a_viewer_reads_but_cannot_send(client: Client, make_member: MakeMember, clock: MockClock) -> None:
    with trio.fail_after(10):
        owner = await make_member()
        viewer = await make_member(org_id=owner.org_id, role="viewer")
        track = await post_track(client, owner.headers, title="Summer", artist="Ana")
        response = await client.post(EVENTS, headers=viewer.headers, json={"events": [_event("e", track)]})
        assert response.status_code == 403
        assert await _streams(client, viewer, track) == 0
        assert (await client.post(EVENTS, json={"events": [_event("e", track)]})).status_code == 401


# Seven streams over the last hour and a bit, and what each interval makes of them at 08:47:30.
SPREAD = [(timedelta(seconds=30), "US"), (timedelta(minutes=1), "US"), (timedelta(minutes=3), "SE"),
          (timedelta(minutes=12), "US"), (timedelta(minutes=30), "GB"), (timedelta(minutes=46), "US"),
          (timedelta(minutes=50), "SE")]


def _points(*points: tuple[str, int, dict[str, int]]) -> list[dict[str, object]]:
    return [{"timestamp": f"2027-01-15T{at}:00Z", "streams": n, "countries": c} for at, n, c in points]


@pytest.mark.parametrize(("query", "interval", "data"), [
    ("", "5m", _points(
        ("07:50", 0, {}), ("07:55", 1, {"SE": 1}), ("08:00", 1, {"US": 1}), ("08:05", 0, {}), ("08:10", 0, {}),
        ("08:15", 1, {"GB": 1}), ("08:20", 0, {}), ("08:25", 0, {}), ("08:30", 0, {}), ("08:35", 1, {"US": 1}),
        ("08:40", 1, {"SE": 1}), ("08:45", 2, {"US": 2}))),
    ("?interval=15m&buckets=4", "15m", _points(
        ("08:00", 1, {"US": 1}), ("08:15", 1, {"GB": 1}), ("08:30", 2, {"SE": 1, "US": 1}),
        ("08:45", 2, {"US": 2}))),
    ("?interval=1h&buckets=3", "1h", _points(
        ("06:00", 0, {}), ("07:00", 1, {"SE": 1}), ("08:00", 6, {"US": 4, "GB": 1, "SE": 1}))),
])
async def test_realtime_buckets_with_countries_for_each_interval(
        client: Client, make_member: MakeMember, clock: MockClock, query: str, interval: str,
        data: list[dict[str, object]]) -> None:
    with trio.fail_after(10):
        owner = await make_member()
        track = await post_track(client, owner.headers, title="Summer", artist="Ana")
        batch = [_event(f"e{i}", track, ago=ago, country=country) for i, (ago, country) in enumerate(SPREAD)]
        assert (await client.post(EVENTS, headers=owner.headers, json={"events": batch})).status_code == 200
        response = await client.get(f"/v1/streaming/realtime/{track}{query}", headers=owner.headers)
        assert response.status_code == 200
        assert await response.get_json() == {"trackId": track, "interval": interval, "data": data}


async def test_realtime_of_an_unknown_track_or_a_bad_query(client: Client, make_member: MakeMember,
                                                           clock: MockClock) -> None:
    with trio.fail_after(10):
        owner = await make_member()
        track = await post_track(client, owner.headers, title="Summer", artist="Ana")
        missing = await client.get(f"/v1/streaming/realtime/{uuid.uuid4()}", headers=owner.headers)
        assert missing.status_code == 404 and (await missing.get_json())["error"]["code"] == "NOT_FOUND"
        for query in ("interval=1d", "buckets=0", "buckets=289", "buckets=many"):
            response = await client.get(f"/v1/streaming/realtime/{track}?{query}", headers=owner.headers)
            assert response.status_code == 400, query
        most = await client.get(f"/v1/streaming/realtime/{track}?interval=1h&buckets=288", headers=owner.headers)
        assert len((await most.get_json())["data"]) == 288


async def test_the_document_explains_partial_batches(client: Client) -> None:
    with trio.fail_after(10):
        doc = await (await client.get("/openapi.json")).get_json()
        operation = doc["paths"][EVENTS]["post"]
        assert "`accepted`" in operation["description"] and "re-sending" in operation["description"]
        rejected = operation["responses"]["400"]["content"]["application/json"]["schema"]["$ref"]
        assert set(doc["components"]["schemas"][rejected.rsplit("/", 1)[1]]["properties"]) == {
            "error", "accepted", "duplicates"}
        items = doc["components"]["schemas"]["EventBatch"]["properties"]["events"]["items"]
        assert set(items["required"]) == {"id", "trackId", "platform", "country", "timestamp"}


async def test_a_sandbox_checks_and_buckets_events_on_its_simulated_clock(
        ctx: ApiContext, make_member: MakeMember, clock: MockClock) -> None:
    ahead = timedelta(days=30)  # a sandbox's domain clock, a month past the real one
    client = build_api(dataclasses.replace(ctx, wall=lambda: NOW + ahead)).app.test_client()
    with trio.fail_after(10):
        owner = await make_member()
        track = await post_track(client, owner.headers, title="Summer", artist="Ana")
        batch = [_event("sim", track, ago=timedelta(minutes=1) - ahead),
                 _event("soon", track, ago=-timedelta(minutes=4) - ahead)]
        simulated = await client.post(EVENTS, headers=owner.headers, json={"events": batch})
        assert simulated.status_code == 200 and await simulated.get_json() == {"accepted": 2, "duplicates": 0}
        real = await client.post(EVENTS, headers=owner.headers, json={"events": [_event("real", track)]})
        assert real.status_code == 400  # a month before the domain clock's present
        assert [d["field"] for d in (await real.get_json())["error"]["details"]] == ["events[0].timestamp"]
        assert await _streams(client, owner, track) == 2  # the buckets are the simulated hour's
