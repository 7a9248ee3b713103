"""The deployment files hold what docs/deploy.md promises. No container runtime or systemd runs here, so:
the Dockerfile is linted with hadolint and its essentials read (slim base, non-root user, embedded PostgreSQL
off so a database URL is required, the data directory a volume, a health check on /health/ready); the compose
file is validated against the compose-spec JSON schema (check-jsonschema's copy) and its wiring read; the
systemd unit passes ``systemd-analyze verify`` where that exists; a built package carries every data file.
"""

from __future__ import annotations

import fnmatch
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from config import resolve
from config.sections import EngineSettings

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GRACE = EngineSettings().shutdown_grace


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions of its final stage, continuation lines joined."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    parsed = [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]
    last_from = max(index for index, (op, _) in enumerate(parsed) if op == "FROM")
    return parsed[last_from:]


def _image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for op, args in _instructions():
        if op == "ENV":
            env |= dict(part.split("=", 1) for part in shlex.split(args))
    return env


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    done = subprocess.run([str(BIN / "hadolint"), str(ROOT / "Dockerfile")], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_is_slim_runs_as_a_user_and_checks_readiness() -> None:
    steps = _instructions()
    assert re.fullmatch(r"python:3\.11-slim\S*", steps[0][1])
    (user,) = [args for op, args in steps if op == "USER"]
    assert user.split(":")[0] not in {"0", "root"}
    (health,) = [args for op, args in steps if op == "HEALTHCHECK"]
    assert "/health/ready" in health
    (volume,) = [args for op, args in steps if op == "VOLUME"]
    assert _image_env()["SONGTRACK_DATA_DIR"] in volume
    assert re.search(r"pip .*install -c constraints.txt \.", (ROOT / "Dockerfile").read_text())


def test_the_images_settings_require_a_database_url() -> None:
    env = _image_env()
    missing = resolve(env)
    assert [problem.message for problem in missing.problems] == [
        "the embedded PostgreSQL is off, so a url is required (DATABASE_URL or SONGTRACK_DATABASE_URL)"]
    given = resolve(env | {"DATABASE_URL": "postgresql://songtrack:pw@postgres:5432/songtrack"})
    assert given.settings is not None and given.settings.server.host == "0.0.0.0"


def test_dockerignore_keeps_what_the_dockerfile_copies() -> None:
    ignored = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    copied = [source for line in (ROOT / "Dockerfile").read_text().splitlines()
              if line.startswith("COPY ") and "--from" not in line for source in line.split()[1:-1]]
    assert copied, "no COPY found"
    assert [name for name in copied if any(fnmatch.fnmatch(name, pattern) for pattern in ignored)] == []


def test_the_compose_file_is_valid_by_the_compose_spec_schema() -> None:
    done = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec",
                           str(ROOT / "docker-compose.yml")], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_runs_songtrack_on_a_healthy_postgresql_15_with_named_volumes() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    postgres, songtrack = compose["services"]["postgres"], compose["services"]["songtrack"]
    assert postgres["image"] == "postgres:15" and "pg_isready" in str(postgres["healthcheck"]["test"])
    assert songtrack["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert re.fullmatch(r"postgresql://songtrack:\$\{POSTGRES_PASSWORD\}@postgres:5432/songtrack",
                        songtrack["environment"]["DATABASE_URL"])
    mounts = {service: dict(volume.split(":", 1) for volume in compose["services"][service]["volumes"])
              for service in ("postgres", "songtrack")}
    assert mounts["postgres"]["postgres-data"] == "/var/lib/postgresql/data"
    assert mounts["songtrack"]["songtrack-data"] == _image_env()["SONGTRACK_DATA_DIR"]
    assert set(compose["volumes"]) == {"postgres-data", "songtrack-data"}
    assert float(songtrack["stop_grace_period"].removesuffix("s")) > GRACE + 10


def _unit() -> dict[str, str]:
    return dict(line.split("=", 1) for line in (ROOT / "deploy" / "songtrack.service").read_text().splitlines()
                if "=" in line and not line.startswith("#"))


def test_the_systemd_unit_drains_on_sigterm_and_restarts_on_failure() -> None:
    unit = _unit()
    assert unit["User"] == "songtrack" and unit["EnvironmentFile"].startswith("/etc/songtrack/")
    assert unit["Restart"] == "on-failure" and unit["KillSignal"] == "SIGTERM"
    assert float(unit["TimeoutStopSec"]) > GRACE + 10  # the engine's drain, then the API workers'
    assert "SONGTRACK_DATABASE_EMBEDDED=false" in unit["Environment"]
    assert unit["NoNewPrivileges"] == "yes" and unit["ProtectSystem"] == "strict"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # verify checks that ExecStart exists: point it at the songtrack installed here.
    text = (ROOT / "deploy" / "songtrack.service").read_text()
    unit = tmp_path / "songtrack.service"
    unit.write_text(text.replace("/opt/songtrack/venv/bin/songtrack", str(BIN / "songtrack")))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and not done.stderr.strip(), done.stdout + done.stderr


def test_the_packages_data_files_are_all_installed() -> None:
    """A non-editable install (the image's) holds only the data files pyproject.toml lists."""
    listed = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    packages = ("config", "engine", "actors", "adapters", "http_api", "songtrack")
    files = [path for package in packages for path in (ROOT / package).rglob("*")
             if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts]
    roots = {package: ROOT / package.replace(".", "/") for package in listed}
    left_out = [str(path.relative_to(ROOT)) for path in files if not any(
        path.is_relative_to(roots[package]) and fnmatch.fnmatch(str(path.relative_to(roots[package])), pattern)
        for package, patterns in listed.items() for pattern in patterns)]
    assert left_out == []
