"""`songtrack import FILE`, run as a person runs it (a subprocess on the configured database): progress
lines (a bar with rate and time left on a terminal), every bad row named by line and column, the good rows
stored, a second run a no-op, and a clear refusal when the file or the organization is not right."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess
import sys
from pathlib import Path

import trio

from engine.store.database import open_database
from tests.helpers.factories import create_org, create_track

GOLDEN = Path(__file__).parents[1] / "adapters" / "stream_reports" / "golden"


async def _songtrack(dsn: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "SONGTRACK_DATABASE_URL": dsn, "SONGTRACK_SANDBOX": "off"}
    return await trio.run_process([sys.executable, "-m", "songtrack.cli", "import", *args], env=env,
                                  capture_stdout=True, capture_stderr=True, check=False)


async def test_an_import_from_the_command_line_reports_progress_and_bad_rows(
        property_dsn: str, tmp_path: Path) -> None:
    async with open_database(property_dsn, max_size=2) as db:
        org = await create_org(db, "Nightshift Records")
        track = await create_track(db, org, title="Broken Song", artist="Ana")
        report = tmp_path / "Broken Song_timeline.csv"
        shutil.copy(GOLDEN / report.name, report)
        with trio.fail_after(60):
            first = await _songtrack(property_dsn, str(report))  # the only organization
            second = await _songtrack(property_dsn, str(report), "--organization", "nightshift records")
        days = await db.fetch("SELECT day, streams FROM track_report_days WHERE track_id = $1 ORDER BY day", track)
    output = first.stdout.decode()
    assert first.returncode == 0, first.stderr.decode()
    assert "importing Broken Song_timeline.csv (s4a_song_timeline, utf-8, 10 rows)" in output
    assert "  10/10 rows (100%)" in output
    assert "succeeded: 3 rows imported, 7 left out" in output
    assert "  line 6, Date: Date must be a date written YYYY-MM-DD, got '03/04/2026'" in output
    assert "  line 4: expected 3 cells as in the header, got 2" in output
    assert [row["streams"] for row in days] == [120, 160, 171]
    assert second.returncode == 0 and "was imported before" in second.stdout.decode()


async def test_a_file_or_an_organization_we_cannot_use_is_refused_with_the_reason(
        property_dsn: str, tmp_path: Path) -> None:
    async with open_database(property_dsn, max_size=2) as db:
        await db.execute("INSERT INTO organizations (name) VALUES ('One'), ('Two')")
    garbage = tmp_path / "report.csv"
    garbage.write_bytes(b"colour,shape\nred,round\n")
    with trio.fail_after(60):
        ambiguous = await _songtrack(property_dsn, str(garbage))
        refused = await _songtrack(property_dsn, str(garbage), "--organization", "One")
    assert ambiguous.returncode == 1
    assert "more than one organization; give --organization" in ambiguous.stdout.decode()
    assert refused.returncode == 1 and refused.stdout.decode().startswith("songtrack import: report.csv: file: ")


async def test_on_a_terminal_the_progress_is_a_bar_with_the_rate_and_time_left(
        property_dsn: str, tmp_path: Path) -> None:
    async with open_database(property_dsn, max_size=2) as db:
        org = await create_org(db, "Terminal Records")
        await create_track(db, org, title="Broken Song", artist="Ana")
    report = tmp_path / "Broken Song_timeline.csv"
    shutil.copy(GOLDEN / report.name, report)
    leader, follower = pty.openpty()  # a real terminal for the command's output
    env = {**os.environ, "SONGTRACK_DATABASE_URL": property_dsn, "SONGTRACK_SANDBOX": "off", "COLUMNS": "100"}
    try:
        with trio.fail_after(60):
            done = await trio.run_process([sys.executable, "-m", "songtrack.cli", "import", str(report),
                                           "--organization", "Terminal Records"], env=env, stdout=follower,
                                          stderr=follower, check=False)
        os.close(follower)
        follower = -1
        shown = b""
        while chunk := _read(leader):
            shown += chunk
    finally:
        os.close(leader)
        if follower != -1:
            os.close(follower)
    text = shown.decode(errors="replace")
    assert done.returncode == 0, text
    assert "━" in text and "10/10" in text and "rows/s" in text  # the bar, rows done of all, the rate
    assert "0:00:00" in text  # the time left, once it is done
    assert "  10/10 rows (100%)" not in text  # no plain progress lines on a terminal
    assert "succeeded: 3 rows imported, 7 left out" in text


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the terminal's other end is closed: all read
        return b""
