"""The three Spotify for Artists CSV exports we accept, and the song title a per-song timeline's file name
carries.

Spotify does not document these exports (PROVIDERS.md B4), so the columns are the ones seen in the wild:
the audience timeline, a song's timeline and the songs table. We ignore columns we do not know, so an
export that grows a column keeps importing. The Playlists table is not a stream count and is not accepted.
"""

from __future__ import annotations

import re

from adapters.stream_reports.model import AudienceDay, ReportKind, SongDay, SongTotal
from adapters.stream_reports.table import REQUIRED, Field, Schema, iso_date, text, whole

__all__ = ["AUDIENCE", "HEADERS", "SONGS", "SONG_TIMELINE", "song_title"]

AUDIENCE = Schema(
    fields=(
        Field("date", "day", iso_date, REQUIRED),
        Field("listeners", "listeners", whole),
        Field("streams", "streams", whole),
        Field("followers", "followers", whole),
    ),
    make=AudienceDay,
    unique="day",
)

SONG_TIMELINE = Schema(
    fields=(
        Field("date", "day", iso_date, REQUIRED),
        Field("streams", "streams", whole, REQUIRED),
    ),
    make=SongDay,
    unique="day",
)

# Two songs may share a title (a single and its album version), so titles may repeat here.
SONGS = Schema(
    fields=(
        Field("song", "song", text, REQUIRED),
        Field("listeners", "listeners", whole),
        Field("streams", "streams", whole, REQUIRED),
        Field("saves", "saves", whole),
        Field("release_date", "release_date", iso_date),
    ),
    make=SongTotal,
)

HEADERS: dict[ReportKind, tuple[str, ...]] = {
    ReportKind.S4A_AUDIENCE: tuple(f.header for f in AUDIENCE.fields),
    ReportKind.S4A_SONG_TIMELINE: tuple(f.header for f in SONG_TIMELINE.fields),
    ReportKind.S4A_SONGS: tuple(f.header for f in SONGS.fields),
}

_EXTENSION = re.compile(r"\.(?:csv|tsv|txt)$", re.IGNORECASE)
_TIMELINE_SUFFIX = re.compile(r"\s*[-_ ]\s*timeline\s*$", re.IGNORECASE)


def song_title(filename: str) -> str | None:
    """The song a per-song timeline belongs to: the file name without directories, a .csv/.tsv/.txt
    extension, or a trailing "-timeline", "_timeline" or " timeline"; ``None`` if nothing is left.

    We strip only those extensions because titles contain dots ("Mr. Brightside", "No.1") that a
    generic rule would eat.
    """
    name = re.split(r"[/\\]", filename)[-1]
    name = _EXTENSION.sub("", name.strip())
    name = _TIMELINE_SUFFIX.sub("", name).strip()
    return name or None
