"""What a process that serves the API runs beside the app (``songtrack.api``): its job runner outlives the
app's graceful stop, so a request still in flight when the stop begins may start a job, and serving ends
once that job has ended. Real time and a real port (hypercorn); no database: the route is the test's own.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import trio

from config import load, load_or_create_keys
from http_api.context import ApiContext
from songtrack.api import build_api


async def test_a_job_started_by_a_request_in_flight_at_the_stop_runs_to_its_end(tmp_path: Path) -> None:
    api = build_api(ApiContext(lambda: None, [], load({}), load_or_create_keys(tmp_path / "data")))
    happened: list[object] = []

    async def job() -> None:
        await trio.sleep(0.3)
        happened.append("job ended")

    async def slow() -> str:
        await trio.sleep(0.5)  # the stop begins meanwhile
        api.services.jobs.start("late", job)
        return "started"

    api.app.add_url_rule("/test/slow", "slow", slow)
    stop = trio.Event()

    async def serve(*, task_status: trio.TaskStatus[list[str]]) -> None:
        await api.serve("127.0.0.1:0", stop.wait, task_status=task_status)
        happened.append("served")

    async def request(url: str) -> None:
        async with httpx.AsyncClient() as client:
            happened.append((await client.get(f"{url}/test/slow")).status_code)

    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(serve)
            nursery.start_soon(request, urls[0])
            await trio.sleep(0.2)
            stop.set()
    assert happened == [200, "job ended", "served"]
