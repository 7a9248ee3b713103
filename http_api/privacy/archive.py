"""The organization's export as a zip of JSON Lines files, one per kind, built in a temporary file and
streamed from it, so a big organization never sits in memory.

It owns the file's layout (``<kind>.jsonl``, one JSON object per line, and ``README.txt``); the rows come
from ``engine.store.organization_data.export_batches``. Writing and reading the file run in a worker
thread, so the event loop never waits on the disk.
"""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import IO

import trio

__all__ = ["build_archive", "stream_file"]

_README = (
    "SongTrackPro organization export. One file per kind of data, in JSON Lines: one JSON object per line,\n"
    "with the database's column names. Password and token hashes, sealed tokens, webhook secrets and report\n"
    "files are left out. docs/privacy.md describes each kind.\n"
)
_CHUNK = 64 * 1024


async def build_archive(batches: AsyncGenerator[tuple[str, list[str]], None]) -> IO[bytes]:
    """A temporary file holding the zip of ``batches`` (``(kind, JSON rows)``, a kind's batches in a row),
    positioned at its start. The caller closes it (``stream_file`` does); it is deleted when closed.

    Error handling: a store error while reading closes the file and propagates.
    """
    spool = tempfile.TemporaryFile()  # noqa: SIM115  (closed by the caller, or below on failure)
    try:
        with zipfile.ZipFile(spool, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            await trio.to_thread.run_sync(archive.writestr, "README.txt", _README)
            async with aclosing(batches) as rows:
                await _write_kinds(archive, rows)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return spool


async def _write_kinds(archive: zipfile.ZipFile, rows: AsyncIterator[tuple[str, list[str]]]) -> None:
    kind, entry = "", None
    try:
        async for batch_kind, lines in rows:
            if entry is None or batch_kind != kind:
                if entry is not None:
                    entry.close()
                kind, entry = batch_kind, archive.open(f"{batch_kind}.jsonl", "w")
            await trio.to_thread.run_sync(entry.write, "".join(f"{line}\n" for line in lines).encode())
    finally:
        if entry is not None:  # the archive cannot close around an open entry
            entry.close()


async def stream_file(spool: IO[bytes]) -> AsyncIterator[bytes]:
    """The file's bytes in chunks, closing (so deleting) it at the end or when the client goes away."""
    try:
        while chunk := await trio.to_thread.run_sync(spool.read, _CHUNK):
            yield chunk
    finally:
        spool.close()
