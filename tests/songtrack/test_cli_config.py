"""``songtrack --version`` and ``songtrack config check``, run as a person runs them: the installed command in
a child process. The check prints the effective settings with every secret masked, every problem at once,
and what the configured database says; its exit status is 0 only when all is well.

Rules: each run gets an environment of its own (no SONGTRACK_ variable or DATABASE_URL leaks in from ours),
and every secret of the fixture is searched for in everything the command wrote.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import tomllib
from pathlib import Path

import trio

from tests.helpers.process import free_port

SONGTRACK = Path(sys.executable).parent / "songtrack"  # the console script pip installed
ROOT = Path(__file__).resolve().parents[2]
DB_PASSWORD, SMTP_PASSWORD, META_SECRET = "Db-pa55word", "smtp-Pa55word", "meta-app-s3cret"
HOOK_PASSWORD, QUERY_PASSWORD = "hook-pa55", "query-pa55"
SECRETS = (DB_PASSWORD, SMTP_PASSWORD, META_SECRET, HOOK_PASSWORD, QUERY_PASSWORD)


async def _songtrack(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Exit status and everything written (stdout then stderr)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("SONGTRACK_") and k != "DATABASE_URL"}
    with trio.fail_after(60):
        done = await trio.run_process([str(SONGTRACK), *args], env=base | (env or {}), capture_stdout=True,
                                      capture_stderr=True, check=False)
    return done.returncode, done.stdout.decode() + done.stderr.decode()


def _config_file(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "songtrack.toml"
    path.write_text(f'''data_dir = "{tmp_path / 'var'}"
[email]
smtp_host = "mail.example"
smtp_username = "mailer"
smtp_password = "{SMTP_PASSWORD}"
[simulators]
demo_webhook_url = "https://demo:{HOOK_PASSWORD}@hooks.example/in"
{extra}''')
    return path


async def test_version_is_the_installed_packages() -> None:
    status, output = await _songtrack("--version")
    assert status == 0
    assert output == f"songtrack {importlib.metadata.version('songtrackpro')}\n"
    assert importlib.metadata.version("songtrackpro") == tomllib.loads(
        (ROOT / "pyproject.toml").read_text())["project"]["version"]


async def test_a_good_configuration_is_shown_masked_with_its_origins_and_exits_0(
    tmp_path: Path, property_dsn: str
) -> None:
    # The session's server trusts local connections, so the password in the URL is carried but not needed.
    dsn = property_dsn.replace("postgresql://postgres@", f"postgresql://postgres:{DB_PASSWORD}@")
    env = {"DATABASE_URL": dsn, "SONGTRACK_META_APP_ID": "1234", "SONGTRACK_META_APP_SECRET": META_SECRET,
           "SONGTRACK_SERVER_HOST": "0.0.0.0"}
    status, output = await _songtrack("config", "check", "--config", str(_config_file(tmp_path)), "--port", "8080",
                                      env=env)
    assert status == 0, output
    assert not [secret for secret in SECRETS if secret in output], output
    assert 'url = "postgresql://postgres:********@/t_' in output
    assert 'smtp_password = "********"  # email.smtp_password (songtrack.toml)' in output
    assert 'app_secret = "********"  # SONGTRACK_META_APP_SECRET' in output
    assert 'demo_webhook_url = "https://demo:********@hooks.example/in"' in output
    assert 'host = "0.0.0.0"  # SONGTRACK_SERVER_HOST' in output
    assert "port = 8080  # server.port" in output
    assert "shutdown_grace = 10.0  # default" in output
    assert '[telemetry]\nendpoint = ""  # default\nservice_name = "songtrack"  # default' in output  # off
    assert "answers; all " in output and "migrations applied" in output
    assert "created at the first start" in output and not (tmp_path / "var").exists()  # nothing was written
    assert output.rstrip().endswith("# problems: none")


async def test_every_problem_is_listed_at_once_with_no_secret_and_exits_2(tmp_path: Path) -> None:
    config = _config_file(tmp_path, extra="[server]\nprot = 3000\n[database]\npool_min = 20\npool_max = 5\n")
    env = {"DATABASE_URL": f"mysql://root:{DB_PASSWORD}@db/x", "SONGTRACK_META_APP_SECRET": META_SECRET,
           "SONGTRACK_SERVER_WORKERS": "many", "SONGTRACK_LOG_LEVL": "debug"}
    status, output = await _songtrack("config", "check", "--config", str(config), env=env)
    assert status == 2, output
    assert not [secret for secret in SECRETS if secret in output], output
    problems = output[output.index("# problems: "):]
    assert problems.startswith("# problems: 5\n"), output
    for named in ("server.prot (songtrack.toml): unknown key; did you mean server.port?",
                  "SONGTRACK_LOG_LEVL: unknown setting", "SONGTRACK_SERVER_WORKERS: expected an integer",
                  "DATABASE_URL: expected a postgresql:// or postgres:// URL, got 'mysql://...'",
                  "meta.app_id (default), SONGTRACK_META_APP_SECRET: a Meta app needs both"):
        assert named in problems, output
    assert "# workers: invalid (see the problems below)" in output
    assert 'smtp_host = "mail.example"  # email.smtp_host (songtrack.toml)' in output  # the good part is shown


async def test_without_the_embedded_postgresql_a_database_url_is_required(tmp_path: Path) -> None:
    status, output = await _songtrack("config", "check", "--data-dir", str(tmp_path / "var"),
                                      env={"SONGTRACK_DATABASE_EMBEDDED": "false"})
    assert status == 2, output
    assert "database.url (default), SONGTRACK_DATABASE_EMBEDDED: the embedded PostgreSQL is off, so a url is" \
           " required" in output


async def test_a_database_that_does_not_answer_is_a_problem_and_exits_1(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    dsn = f"postgresql://songtrack:{DB_PASSWORD}@127.0.0.1:{port}/songtrack?password={QUERY_PASSWORD}"
    status, output = await _songtrack("config", "check", "--data-dir", str(tmp_path / "var"),
                                      env={"SONGTRACK_DATABASE_URL": dsn})
    assert status == 1, output
    assert not [secret for secret in SECRETS if secret in output], output
    assert f"# problems: 1\n#   database: the database at 127.0.0.1:{port}/songtrack is unavailable" in output
