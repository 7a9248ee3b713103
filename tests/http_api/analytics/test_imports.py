"""`/v1/imports`: stream reports uploaded as a person would (multipart), their rows written by the API's
job runner, bad rows reported by line and column while the good ones land, and the same file twice
imported once. What was imported is read back through the analytics routes.

Rules: each test runs inside ``async with serving(api)`` (once: it runs the job runner, which writes the
rows), on real time, polling an import until it ends. The files are the parser's golden
files.
"""

from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

import trio
from prometheus_client import REGISTRY
from quart.datastructures import FileStorage

from engine.store import imports
from engine.store.database import Database
from songtrack.api import Api
from tests.helpers.factories import create_track
from tests.http_api.conftest import Client, MakeMember, Member, serving
from tests.http_api.paging import assert_paged

ARTIST = "Zoé Marchand"  # the artist the golden reports name
GOLDEN = Path(__file__).parents[2] / "adapters" / "stream_reports" / "golden"


def _file(name: str, data: bytes | None = None) -> dict[str, FileStorage]:
    content = (GOLDEN / name).read_bytes() if data is None else data
    return {"file": FileStorage(io.BytesIO(content), filename=name)}


async def _upload(client: Client, member: Member, name: str, *, data: bytes | None = None, status: int = 202,
                  **form: str) -> Any:
    response = await client.post("/v1/imports", headers=member.headers, files=_file(name, data), form=form)
    body = await response.get_json()
    assert response.status_code == status, body
    if status in (200, 202):
        assert response.headers["Location"] == f"/v1/imports/{body['id']}"
    return body


async def _import(client: Client, member: Member, import_id: str) -> Any:
    """The import once it has ended."""
    while True:
        response = await client.get(f"/v1/imports/{import_id}", headers=member.headers)
        assert response.status_code == 200
        body = await response.get_json()
        if body["status"] != "running":
            return body
        await trio.sleep(0.02)


async def _track_analytics(client: Client, member: Member, track: uuid.UUID, query: str = "") -> Any:
    response = await client.get(f"/v1/analytics/tracks/{track}{query}", headers=member.headers)
    assert response.status_code == 200
    return await response.get_json()


def _counted() -> tuple[float, ...]:
    """The metrics of ended imports (docs/metrics.md): song timelines that succeeded, rows imported, left out."""
    return (REGISTRY.get_sample_value("songtrack_imports_total", {"kind": "s4a_song_timeline",
                                                                  "status": "succeeded"}) or 0.0,
            *(REGISTRY.get_sample_value("songtrack_import_rows_total", {"result": result}) or 0.0
              for result in ("imported", "left_out")))


async def test_a_song_timeline_with_broken_rows_imports_the_good_ones_and_names_the_bad(
        api: Api, db: Database, client: Client, make_member: MakeMember) -> None:
    with trio.fail_after(30):
        async with serving(api):
            owner = await make_member()
            # The file name's title finds it:
            track = await create_track(db, owner.org_id, title="Broken Song", artist=ARTIST)
            counted = _counted()
            started = await _upload(client, owner, "Broken Song_timeline.csv")
            done = await _import(client, owner, started["id"])
            assert [after - before for after, before in zip(_counted(), counted, strict=True)] == [1, 3, 7]
            again = await _upload(client, owner, "Broken Song_timeline.csv", status=200)
            streams = await _track_analytics(client, owner, track, "?startDate=2026-03-01&endDate=2026-03-31")
    assert (started["status"], started["kind"], started["trackId"]) == ("running", "s4a_song_timeline", str(track))
    assert (done["status"], done["totalRows"], done["importedRows"], done["failedRows"]) == ("succeeded", 10, 3, 7)
    assert done["doneRows"] == 10 and done["progress"] == 1.0
    assert [(e["line"], e["column"]) for e in done["errors"]] == [
        (3, "Streams"), (4, None), (5, "Date"), (6, "Date"), (7, "Streams"), (8, "Streams"), (9, "Streams")]
    assert done["errors"][5]["message"] == "Streams must be a whole number ≥ 0, got '1.5'"
    assert (again["id"], again["duplicate"], again["status"]) == (started["id"], True, "succeeded")
    assert [(d["day"], d["streams"], d["source"]) for d in streams["streams"]["daily"]] == [
        ("2026-03-01", 120, "report"), ("2026-03-08", 160, "report"), ("2026-03-09", 171, "report")]


async def test_a_songs_table_lands_on_the_tracks_it_names_and_reports_the_songs_we_do_not_have(
        api: Api, db: Database, client: Client, make_member: MakeMember) -> None:
    with trio.fail_after(30):
        async with serving(api):
            owner = await make_member()
            neon = await create_track(db, owner.org_id, title="Neon Lights", artist=ARTIST)
            cafe = await create_track(db, owner.org_id, title="café noir", artist=ARTIST)  # titles match in any case
            body = await _upload(client, owner, "s4a_songs.csv")
            done = await _import(client, owner, body["id"])
            neon_figures = (await _track_analytics(client, owner, neon))["listeners"]["spotifyForArtists"]
            cafe_figures = (await _track_analytics(client, owner, cafe))["listeners"]["spotifyForArtists"]
    assert (done["importedRows"], done["failedRows"]) == (2, 2)
    assert [(e["line"], e["column"], e["message"]) for e in done["errors"]] == [
        (3, "song", "no track of your catalogue is titled 'Slow Down, Stay'"),
        (5, "song", "no track of your catalogue is titled 'Say \"Hello\"'")]
    assert neon_figures | {"importedAt": None} == {"listeners": 4120, "streams": 9874, "saves": 512,
                                                   "releaseDate": "2025-11-07", "importedAt": None}
    assert (cafe_figures["streams"], cafe_figures["saves"]) == (1432, None)


async def test_a_distributor_report_in_latin_1_is_matched_to_tracks_by_isrc(
        api: Api, db: Database, client: Client, make_member: MakeMember) -> None:
    with trio.fail_after(30):
        async with serving(api):
            owner = await make_member()
            neon = await create_track(db, owner.org_id, title="Neon Lights", artist=ARTIST, isrc="QZES72500001")
            body = await _upload(client, owner, "distrokid_old.tsv")
            done = await _import(client, owner, body["id"])
            sales = (await _track_analytics(client, owner, neon))["distributorSales"]
            renamed = (GOLDEN / "distrokid_old.tsv").read_bytes() + b"\n"  # other bytes, the same lines
            again = await _upload(client, owner, "distrokid_copy.tsv", data=renamed)
            await _import(client, owner, again["id"])
            resold = (await _track_analytics(client, owner, neon))["distributorSales"]
    assert (done["encoding"], done["status"], done["failedRows"]) == ("iso-8859-1", "succeeded", 0)
    assert {(s["month"], s["store"]): s["quantity"] for s in sales}[("2025-12-01", "Spotify")] == 1523
    assert resold == sales  # a line already stored is not counted twice


async def test_files_that_cannot_be_imported_are_refused_with_a_reason(
        api: Api, db: Database, client: Client, make_member: MakeMember) -> None:
    with trio.fail_after(30):
        async with serving(api):
            owner = await make_member()
            viewer = await make_member(org_id=owner.org_id, role="viewer")
            garbage = await _upload(client, owner, "x.csv", data=b"\x00\x01\x02", status=400)
            unknown = await _upload(client, owner, "x.csv", data=b"a,b\n1,2\n", status=400)
            no_artist = await _upload(client, owner, "s4a_audience_utf8_bom.csv", status=400)
            no_track = await _upload(client, owner, "Demo Track-timeline.csv", status=400)
            await _upload(client, viewer, "s4a_songs.csv", status=403)
            not_a_form = await client.post("/v1/imports", headers=owner.headers, json={"file": "x"})
            listed = await client.get("/v1/imports", headers=owner.headers)
    assert garbage["error"]["details"][0]["field"] == "file"
    assert unknown["error"]["details"][0]["field"] == "file"
    assert no_artist["error"]["details"] == [{"field": "artist",
                                              "message": "an audience timeline is an artist's: give artist"}]
    assert no_track["error"]["details"][0]["field"] == "trackId"
    assert "'Demo Track'" in no_track["error"]["message"]
    assert not_a_form.status_code == 400
    assert (await listed.get_json())["imports"] == []  # nothing refused was recorded


async def test_imports_are_listed_newest_first_and_paged(db: Database, client: Client,
                                                         make_member: MakeMember) -> None:
    owner = await make_member()
    for n in range(3):  # recorded as an upload records them; the files' contents do not matter here
        new = imports.NewImport(sha256=f"{n}" * 64, filename=f"report-{n}.csv", size_bytes=10, kind="s4a_songs",
                                encoding="utf-8", total_rows=0)
        await imports.start_import(db, owner.org_id, new, [], None)
    listed = await assert_paged(client, "/v1/imports", owner.headers, "imports", total=3)
    assert [i["filename"] for i in listed] == ["report-2.csv", "report-1.csv", "report-0.csv"]


async def test_an_audience_timeline_shows_on_its_artist_s_tracks(
        api: Api, db: Database, client: Client, make_member: MakeMember) -> None:
    with trio.fail_after(30):
        async with serving(api):
            owner = await make_member()
            neon = await create_track(db, owner.org_id, title="Neon Lights", artist=ARTIST)  # by Zoé Marchand
            body = await _upload(client, owner, "s4a_audience_utf8_bom.csv", artist="zoé marchand")
            done = await _import(client, owner, body["id"])
            audience = (await _track_analytics(client, owner, neon, "?startDate=2026-03-01&endDate=2026-03-31"))[
                "artistAudience"]
    assert (done["encoding"], done["status"], done["artist"]) == ("utf-8-sig", "succeeded", "zoé marchand")
    assert len(audience) == done["importedRows"] > 0
    assert audience[:4] == [
        {"day": "2026-03-01", "listeners": 812, "streams": 1904, "followers": 1203},
        {"day": "2026-03-02", "listeners": 790, "streams": 1877, "followers": 1205},
        {"day": "2026-03-03", "listeners": None, "streams": 2011, "followers": 1206},
        {"day": "2026-03-04", "listeners": 1032, "streams": 2480, "followers": None}]


async def test_uploads_may_be_bigger_than_the_api_s_1_mb_bodies(
        api: Api, db: Database, client: Client, make_member: MakeMember) -> None:
    header, line = (GOLDEN / "distrokid_new.tsv").read_bytes().split(b"\n")[:2]
    lines = [line.replace(b"\t2025-", b"\t%d-" % (1000 + n // 12), 1) for n in range(20_000)]  # distinct lines
    data = b"\n".join([header, *lines]) + b"\n"
    assert len(data) > 2 * 1024 * 1024
    with trio.fail_after(60):
        async with serving(api):
            owner = await make_member()
            body = await _upload(client, owner, "big.tsv", data=data)
            done = await _import(client, owner, body["id"])
            too_big = await client.post("/v1/campaigns", data=b"{" + b" " * (2 << 20) + b"}",
                                        headers={**owner.headers, "Content-Type": "application/json"})
    assert (done["status"], done["totalRows"], done["failedRows"]) == ("succeeded", 20_000, 0)
    assert too_big.status_code == 413  # other routes keep the 1 MB limit
