"""``songtrack import FILE``: a stream report imported from the command line, the upload route's import
(``adapters.stream_reports.importer``) on the configured database. On a terminal its progress is a bar with
the rate and the time left (``rich``); piped or redirected, it is plain lines a log or a script can read.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import trio
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TimeRemainingColumn
from rich.text import Text

from adapters.stream_reports import importer as report_importer
from adapters.stream_reports.model import ReportKind
from config import Settings
from engine.store import imports as imports_store
from engine.store.migrate import apply_migrations
from songtrack.startup import open_store

__all__ = ["import_report"]

Shown = Callable[[imports_store.Import], Awaitable[None]]


class _RowRate(ProgressColumn):
    """Rows a second since the import began (rich's own speed needs several updates; a small file has one)."""

    def render(self, task: Task) -> Text:
        elapsed = task.elapsed or 0.0
        return Text(f"{task.completed / elapsed:,.0f} rows/s" if elapsed > 0 else "- rows/s")


@contextmanager
def _progress(out: TextIO, total: int) -> Iterator[Shown]:
    """How progress reaches ``out``: a bar on a terminal, else a line per step."""
    if not out.isatty():
        async def line(now: imports_store.Import) -> None:
            print(f"  {now.done_rows}/{now.total_rows} rows ({now.done_rows * 100 // max(now.total_rows, 1)}%)",
                  file=out)
        yield line
        return
    columns = (BarColumn(), MofNCompleteColumn(), _RowRate(), TimeRemainingColumn())
    with Progress(*columns, console=Console(file=out), auto_refresh=False, transient=False) as bar:
        task = bar.add_task("rows", total=total)

        async def step(now: imports_store.Import) -> None:
            bar.update(task, completed=now.done_rows, total=now.total_rows, refresh=True)
        yield step


async def import_report(settings: Settings, path: Path, *, organization: str | None, kind: str | None,
                        track_id: uuid.UUID | None, artist: str | None, out: TextIO) -> int:
    """``songtrack import FILE``: the upload route's import, with progress on ``out``. Returns the exit
    code: 0 imported (bad rows are listed, not fatal), 1 refused (the reason is printed)."""
    data = await trio.Path(path).read_bytes()
    async with open_store(settings) as db:
        await apply_migrations(db)
        organizations = await imports_store.organizations_named(db, organization)
        if len(organizations) != 1:
            every = await imports_store.organizations_named(db, None)
            known = ", ".join(f"{name!r} ({org_id})" for org_id, name in every)
            print(f"songtrack import: {'no' if not organizations else 'more than one'} organization"
                  f"{'' if organization is None else f' matches {organization!r}'}; give --organization"
                  f" (an id or a name): {known or 'none exist yet'}", file=out)
            return 1
        org_id = organizations[0][0]
        try:
            prepared = await report_importer.prepare(db, org_id, data, path.name, track_id=track_id, artist=artist,
                                                     kind=None if kind is None else ReportKind(kind))
        except report_importer.ImportRejected as exc:
            print(f"songtrack import: {path.name}: {exc.field}: {exc.message}", file=out)
            return 1
        record = prepared.record
        if not prepared.started:
            print(f"{path.name} was imported before (import {record.id}, {record.status}): nothing to do", file=out)
            return 0
        print(f"importing {path.name} ({record.kind}, {record.encoding}, {record.total_rows} rows)", file=out)

        with _progress(out, record.total_rows) as progress:
            done = await report_importer.load(db, org_id, prepared, progress=progress)
    print(f"import {done.id} {done.status}: {done.imported_rows} rows imported, {done.failed_rows} left out",
          file=out)
    for problem in done.row_errors:
        print(f"  line {problem.line}{f', {problem.column}' if problem.column else ''}: {problem.message}", file=out)
    return 0
