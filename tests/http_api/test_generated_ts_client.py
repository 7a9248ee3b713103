"""A TypeScript client of our OpenAPI document type-checks and works: ``openapi-typescript`` generates types
from the document the API serves, ``tsc`` (strict) checks ``ts_client/flow.ts`` against them, a label's
log in → track → campaign → analytics through ``fetch``, and Node runs what ``tsc`` emitted against the real
API on hypercorn. A schema renamed, a path or a field gone, breaks the build here.

The npm packages are pinned in tools/ts-client (package.json, package-lock.json) and installed by
``make ts-client`` (``npm ci``), which ``make test`` runs first. Without Node or those packages the test fails
and says what to install: it never skips, so CI cannot pass without checking the client.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import httpx
import pytest
import trio

from config import Keys
from engine.store import Database
from tests.helpers.live_ws import Server, serve, settings

ROOT = Path(__file__).parents[2]
PACKAGES = ROOT / "tools" / "ts-client" / "node_modules"
FLOW = Path(__file__).parent / "ts_client"


@pytest.fixture
async def server(nursery: trio.Nursery, db: Database, keys: Keys) -> Server:
    return await serve(nursery, db, keys, settings())


def _tools() -> tuple[str, Path]:
    node = shutil.which("node")
    if node is None:
        pytest.fail("Node.js is missing: install the nodejs and npm packages (apt-get install nodejs npm),"
                    " then run make ts-client")
    if not (PACKAGES / ".bin" / "tsc").exists() or not (PACKAGES / ".bin" / "openapi-typescript").exists():
        pytest.fail(f"the TypeScript client's npm packages are missing from {PACKAGES}: run make ts-client")
    return node, PACKAGES / ".bin"


async def _run(*argv: str | Path, cwd: Path) -> str:
    done = await trio.run_process([str(arg) for arg in argv], cwd=cwd, capture_stdout=True, capture_stderr=True,
                                  check=False)
    output = (done.stdout + done.stderr).decode()
    assert done.returncode == 0, output
    return done.stdout.decode()


async def test_a_generated_typescript_client_type_checks_and_reads_a_campaigns_analytics(
        server: Server, tmp_path: Path) -> None:
    node, bin_dir = _tools()
    email, password = f"ts-{uuid.uuid4().hex[:8]}@label.example", "a long enough password"
    with trio.fail_after(120):
        async with httpx.AsyncClient(base_url=server.http_url) as http:
            (tmp_path / "openapi.json").write_bytes((await http.get("/openapi.json")).content)
            registered = await http.post("/v1/auth/register", json={
                "email": email, "password": password, "name": "Tess Script", "organizationName": "TS Records"})
            assert registered.status_code == 201, registered.text
        for name in ("flow.ts", "tsconfig.json"):
            shutil.copy(FLOW / name, tmp_path / name)
        given = {"baseUrl": server.http_url, "email": email, "password": password}
        (tmp_path / "config.ts").write_text(f"export const config = {json.dumps(given)};\n")
        # A field with a default is optional in a request body, as the API treats it.
        await _run(node, bin_dir / "openapi-typescript", "openapi.json", "--output", "schema.d.ts",
                   "--default-non-nullable", "false", cwd=tmp_path)
        await _run(node, bin_dir / "tsc", "--project", "tsconfig.json", cwd=tmp_path)  # strict; emits into out/
        printed = json.loads(await _run(node, "out/flow.js", cwd=tmp_path))
    assert printed["campaign"]["name"] == "TS launch" and printed["campaign"]["status"] == "draft"
    assert printed["analytics"]["campaignId"] == printed["campaign"]["id"]
    assert printed["analytics"]["attribution"]["confidence"] in ("none", "low", "high")
