"""`songtrack sandbox` as a person runs it: both simulators on the given ports,
answering curl-style requests in the providers' wire formats, and a clean exit
on SIGTERM. Real clock: the child process cannot follow MockClock.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.helpers.process import SongtrackProcess, free_port


async def test_sandbox_serves_both_simulators_and_stops_cleanly(tmp_path: Path) -> None:
    meta_port, spotify_port = free_port(), free_port()
    proc = SongtrackProcess(["sandbox", "--meta-port", str(meta_port), "--spotify-port", str(spotify_port),
                             "--seed", "7"], tmp_path / "sandbox.log")
    await proc.start()
    try:
        await proc.wait_for_output("Spotify simulator on", within=30)
        async with httpx.AsyncClient(timeout=10) as client:
            accounts = await client.get(f"http://127.0.0.1:{meta_port}/v25.0/me/adaccounts",
                                        params={"access_token": "SIMULATOR_TOKEN", "fields": "id,currency"})
            no_token = await client.get(f"http://127.0.0.1:{meta_port}/v19.0/me/adaccounts")
            spotify = await client.get(f"http://127.0.0.1:{spotify_port}/v1/me")
        assert accounts.status_code == 200
        assert all(a["id"].startswith("act_") for a in accounts.json()["data"])
        assert no_token.status_code == 400 and "error" in no_token.json()
        assert spotify.status_code == 401 and spotify.json()["error"]["status"] == 401
        assert await proc.stop() == 0
    finally:
        await proc.kill()
