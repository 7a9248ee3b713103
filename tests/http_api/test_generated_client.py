"""A client generated from our OpenAPI document works: ``openapi-python-client`` builds a Python package from
the document the API serves, with no piece skipped, and that package drives a label's first steps against
the real API on hypercorn: register, log in, create a track and a campaign, read the campaign and its
analytics. A schema the generator cannot read, or a name two schemas share, shows up here first.
"""

from __future__ import annotations

import importlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from config import Keys
from engine.store import Database
from tests.helpers.live_ws import Server, serve, settings

_PACKAGE = "songtrack_client"


@pytest.fixture
async def server(nursery: trio.Nursery, db: Database, keys: Keys) -> Server:
    return await serve(nursery, db, keys, settings())


@pytest.fixture
def on_path(tmp_path: Path) -> Iterator[Path]:
    """``tmp_path`` on ``sys.path`` while the test runs, and the generated package forgotten afterwards."""
    sys.path.insert(0, str(tmp_path))
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in [name for name in sys.modules if name == _PACKAGE or name.startswith(f"{_PACKAGE}.")]:
        del sys.modules[name]


async def _generate(server: Server, into: Path) -> Any:
    async with httpx.AsyncClient(base_url=server.http_url) as http:
        (into / "openapi.json").write_bytes((await http.get("/openapi.json")).content)
    (into / "config.yaml").write_text(f"project_name_override: songtrack-client\npackage_name_override: {_PACKAGE}\n")
    bin_dir = Path(sys.executable).parent  # the generator formats its output with our ruff
    done = await trio.run_process(
        [str(bin_dir / "openapi-python-client"), "generate", "--path", "openapi.json", "--config", "config.yaml",
         "--meta", "none", "--output-path", _PACKAGE], cwd=into, capture_stdout=True, capture_stderr=True,
        check=False, env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"})
    output = (done.stdout + done.stderr).decode()
    assert done.returncode == 0, output
    assert "Warning" not in output and "Skipping" not in output, output  # every operation and schema generated
    return importlib.import_module(_PACKAGE)


async def test_a_generated_python_client_registers_logs_in_and_reads_a_campaigns_analytics(
        server: Server, on_path: Path) -> None:
    with trio.fail_after(60):
        package = await _generate(server, on_path)
        models = importlib.import_module(f"{_PACKAGE}.models")
        register, login = _operations("auth.post_auth_register", "auth.post_auth_login")
        email = f"sdk-{uuid.uuid4().hex[:8]}@label.example"
        async with package.Client(base_url=server.http_url) as anonymous:  # closes its httpx client
            registered = await register.asyncio_detailed(client=anonymous, body=models.RegisterBody(
                email=email, password="a long enough password", name="Sam Sdk", organization_name="SDK Records"))
            assert registered.status_code == 201, registered.content
            answer = await login.asyncio(client=anonymous, body=models.LoginBody(
                email=email, password="a long enough password"))
        assert isinstance(answer, models.AuthResult), answer
        async with package.AuthenticatedClient(base_url=server.http_url, token=answer.tokens.access_token) as label:
            await _first_campaign(label, models)


def _operations(*names: str) -> list[Any]:
    return [importlib.import_module(f"{_PACKAGE}.api.{name}") for name in names]


async def _first_campaign(client: Any, models: Any) -> None:
    """A track, a draft campaign for it, the campaign read back and its analytics, through ``client``."""
    add_track, create, get_campaign, analytics = _operations(
        "tracks.post_tracks", "campaigns.post_campaigns", "campaigns.get_campaigns_by_campaign_id",
        "analytics.get_analytics_campaigns_by_campaign_id")
    track = await add_track.asyncio(client=client, body=models.TrackCreate(title="Client Song", artist="SDK"))
    assert isinstance(track, models.Track), track
    body = models.CampaignCreate.from_dict({
        "name": "SDK launch", "budget": 250, "currency": "USD", "trackId": str(track.id),
        "startDate": "2031-03-01T00:00:00Z", "endDate": "2031-03-31T00:00:00Z"})
    created = await create.asyncio(client=client, body=body)
    assert isinstance(created, models.Campaign) and created.status == "draft", created
    fetched = await get_campaign.asyncio(client=client, campaign_id=created.id)
    assert isinstance(fetched, models.Campaign) and fetched.name == "SDK launch" and fetched.budget == 250
    report = await analytics.asyncio(client=client, campaign_id=created.id)
    assert isinstance(report, models.CampaignAnalytics), report
    assert report.campaign_id == created.id and report.attribution.confidence in ("none", "low", "high")
