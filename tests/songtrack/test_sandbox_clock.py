"""The sandbox keeps one clock: ``songtrack run`` at ``[simulators] speed`` 3600 (a simulated day in 24 real
seconds) for four simulated days, and the demo campaign's analytics equal the Meta simulator's insights
day by day, to the cent, and its ``budgetSpent`` is the simulator's spend as of the last poll. The demo's
listens (``stream_rate`` 10 a real second, so 240 a simulated day) land on those simulated days: the
analytics' streams of each ended day are the events stored for it (the realtime route's hourly buckets),
the campaign's ``streams`` total follows, and the attribution keeps its lift of about 40 % over the
imported history.

Real clock and a real child process with its embedded PostgreSQL; the simulator is read over real HTTP
the way a client reads Meta (``filtering`` on the demo campaign's id).
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import trio

from tests.helpers.process import SongtrackProcess, free_port
from tests.helpers.signup import log_in

SPEED = 3600
DAYS = 4  # simulated days with spend before we compare
STREAM_RATE = 10  # listens a real second
DAY_LISTENS = STREAM_RATE * 86_400 / SPEED  # a simulated day's, 240


async def _simulator_days(meta: httpx.AsyncClient, act: str, campaign: str) -> dict[str, Decimal]:
    """The campaign's spend per day of its ad account, as the Meta simulator answers it now."""
    params = {"level": "campaign", "time_increment": "1", "fields": "campaign_id,spend", "limit": "500",
              "date_preset": "last_90d", "access_token": "SIMULATOR_TOKEN",
              "filtering": json.dumps([{"field": "campaign.id", "operator": "IN", "value": [campaign]}])}
    days: dict[str, Decimal] = {}
    for preset in ("last_90d", "today"):  # last_90d stops at yesterday
        answer = await meta.get(f"/v25.0/{act}/insights", params=params | {"date_preset": preset})
        assert answer.status_code == 200, answer.text
        rows = answer.json()["data"]
        assert {row["campaign_id"] for row in rows} <= {campaign}
        days.update({row["date_start"]: Decimal(row["spend"]) for row in rows})
    return days


async def _demo_campaign(api: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    listed = (await api.get("/v1/campaigns", headers=headers)).json()["campaigns"]
    found = [c for c in listed if c["status"] in ("active", "paused")]  # paused once its guardrail stops it
    assert [c["name"] for c in found] == ["Demo campaign"]
    campaign: dict[str, Any] = (await api.get(f"/v1/campaigns/{found[0]['id']}", headers=headers)).json()
    return campaign


async def _let_it_spend(api: httpx.AsyncClient, headers: dict[str, str], campaign_id: str) -> None:
    """We follow spend for days, past the demo's budget: its guardrail, which pauses it at the budget within
    the first simulated day, is turned off as a label would, and the campaign resumed if it already did."""
    patched = await api.patch(f"/v1/campaigns/{campaign_id}", json={"budgetGuardrail": {"enabled": False}},
                              headers=headers)
    assert patched.status_code == 200, patched.text
    if patched.json()["status"] == "paused":
        launched = await api.post(f"/v1/campaigns/{campaign_id}/launch", headers=headers)
        assert launched.status_code == 200, launched.text


async def _ad_account_of(meta: httpx.AsyncClient, campaign: str) -> str:
    answer = await meta.get(f"/v25.0/{campaign}", params={"fields": "account_id", "access_token": "SIMULATOR_TOKEN"})
    assert answer.status_code == 200, answer.text
    return f"act_{answer.json()['account_id']}"


async def _stored_days(api: httpx.AsyncClient, headers: dict[str, str], track: str) -> tuple[Counter[str], str]:
    """The track's stored stream events per UTC day, from the realtime route's hourly buckets (12 days),
    and the (simulated) UTC day of its current bucket."""
    answer = await api.get(f"/v1/streaming/realtime/{track}?interval=1h&buckets=288", headers=headers)
    assert answer.status_code == 200, answer.text
    days: Counter[str] = Counter()
    for bucket in answer.json()["data"]:
        days[bucket["timestamp"][:10]] += bucket["streams"]
    return days, answer.json()["data"][-1]["timestamp"][:10]


def _check_streams(analytics: dict[str, Any], total: int, stored: Counter[str], first: str, today: str) -> None:
    """Each UTC day of the campaign from ``first`` that ended before ``today`` has in the analytics the
    streams stored for it, about a simulated day's listens; the campaign's running total (read between the
    analytics and ``stored``) lies between what those days add up to and everything stored; the
    attribution holds its lift at this speed."""
    engine = {point["date"]: point["streams"] for point in analytics["daily"]}
    ended = [day for day in sorted(stored) if first <= day < today]
    # The ad account's DAYS days (in its zone, west of UTC) hold at least two whole UTC days and a third begun.
    assert len(ended) >= 2 and stored[today] > 0, stored
    assert {day: engine.get(day) for day in ended} == {day: stored[day] for day in ended}
    spread = 5 * DAY_LISTENS ** 0.5  # a Poisson day: five standard deviations
    assert all(abs(stored[day] - DAY_LISTENS) < spread for day in ended), (stored, DAY_LISTENS)
    assert analytics["summary"]["totalStreams"] == sum(engine.values())
    assert sum(engine[day] for day in ended) <= total <= sum(stored.values())
    attribution = analytics["attribution"]
    assert attribution["confidence"] == "high" and attribution["baseline"]["observedDays"] == 28
    assert 0.3 < attribution["incrementalStreams"] / attribution["streamsDuring"] < 0.5


async def test_analytics_budget_spent_and_streams_follow_the_simulated_days(tmp_path: Path) -> None:
    await trio.Path(tmp_path).chmod(0o755)  # the embedded cluster runs unprivileged when we are root
    port = free_port()
    env = {**os.environ, "SONGTRACK_SIMULATORS_SPEED": str(SPEED),
           "SONGTRACK_SIMULATORS_STREAM_RATE": str(STREAM_RATE)}
    process = SongtrackProcess(["run", "--data-dir", str(tmp_path / "var"), "--port", str(port)],
                               tmp_path / "run.log", env)
    try:
        await process.start()
        await process.wait_ready(f"http://127.0.0.1:{port}", within=120)
        meta_url = re.search(r"Meta simulator on (http://\S+?)/v\d+\.0", process.output)
        login = re.search(r"log in as (\S+) / (\S+);", process.output)
        assert meta_url is not None and login is not None, process.output
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as api, \
                httpx.AsyncClient(base_url=meta_url[1], timeout=10) as meta:
            headers = await log_in(api, login[1], login[2])
            ours = await _demo_campaign(api, headers)
            await _let_it_spend(api, headers, ours["id"])
            act = await _ad_account_of(meta, ours["metaCampaignId"])
            track = ours["trackId"]
            with trio.fail_after(DAYS * 86_400 / SPEED + 60):
                while True:  # polling another process: there is no event to wait on
                    if len(before := await _simulator_days(meta, act, ours["metaCampaignId"])) >= DAYS:
                        break
                    await trio.sleep(1)
            _, streams_today = await _stored_days(api, headers, track)
            # Two Meta poll intervals (5 s at this speed), and the stream counter's gap (5 s), for the days
            # that ended before ``before`` and ``streams_today``.
            await trio.sleep(12)
            analytics = (await api.get(f"/v1/analytics/campaigns/{ours['id']}", headers=headers)).json()
            campaign = await _demo_campaign(api, headers)
            stored, _ = await _stored_days(api, headers, track)
            after = await _simulator_days(meta, act, ours["metaCampaignId"])
    finally:
        await process.kill()
    _check_streams(analytics, campaign["metrics"]["streams"], stored, campaign["startDate"][:10], streams_today)
    ended = sorted(before)[:-1]  # the last one was still running when we read it
    spent = campaign["budgetSpent"]
    engine = {point["date"]: Decimal(str(point["spend"])) for point in analytics["daily"]}
    assert len(ended) >= DAYS - 1
    assert {day: engine.get(day) for day in ended} == {day: before[day] for day in ended}
    assert max(engine) >= max(before)  # the default period runs to the simulated today
    assert Decimal(str(spent)) == sum(engine.values()) == Decimal(str(analytics["summary"]["totalSpend"]))
    assert sum(before[day] for day in ended) <= Decimal(str(spent)) <= sum(after.values())
