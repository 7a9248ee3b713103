"""``adapters.spotify.schemas``: decode(encode(x)) == x for generated objects, both playlist shapes
decode alike, and junk never does anything but raise a msgspec error.

Rules: pure, no I/O; hypothesis generates the objects; decoders are the module's own, built once.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from adapters.spotify import schemas
from adapters.spotify.schemas import (
    Album,
    CursorPage,
    Cursors,
    ExternalIds,
    Page,
    PlayHistory,
    Playlist,
    PlaylistItem,
    SavedTrack,
    SimpleArtist,
    Track,
    TracksRef,
)

ids = st.text(alphabet="0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=22)
texts = st.text(max_size=30)
small = st.integers(0, 2**31)
maybe_int = st.none() | small
urls = st.none() | st.builds("https://api.spotify.com/v1/x?offset={}".format, small)
instants = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                        timezones=st.just(UTC)).map(lambda t: t.replace(microsecond=t.microsecond // 1000 * 1000))
artists = st.builds(SimpleArtist, id=ids, name=texts, uri=st.none() | texts)
albums = st.builds(Album, id=ids, name=texts, release_date=st.none() | st.just("2026-09-01"),
                   total_tracks=maybe_int, artists=st.lists(artists, max_size=2))
tracks = st.builds(Track, id=st.none() | ids, name=texts, duration_ms=maybe_int,
                   popularity=st.none() | st.integers(0, 100), explicit=st.none() | st.booleans(),
                   album=st.none() | albums, artists=st.lists(artists, max_size=3),
                   external_ids=st.none() | st.builds(ExternalIds, isrc=st.none() | texts))


def _pages(items: st.SearchStrategy[list[object]]) -> st.SearchStrategy[Page[object]]:
    return st.builds(Page, items=items, href=urls, limit=maybe_int, next=urls, offset=maybe_int,
                     previous=urls, total=maybe_int)


@given(tracks)
def test_track_round_trips(track: Track) -> None:
    assert schemas.track_decoder.decode(schemas.encoder.encode(track)) == track


@given(_pages(st.lists(tracks, max_size=4)))
def test_track_page_round_trips(page: Page[Track]) -> None:
    assert schemas.track_page_decoder.decode(schemas.encoder.encode(page)) == page


@given(_pages(st.lists(st.builds(SavedTrack, added_at=instants, track=tracks), max_size=3)))
def test_saved_track_page_round_trips(page: Page[SavedTrack]) -> None:
    assert schemas.saved_track_page_decoder.decode(schemas.encoder.encode(page)) == page


@given(st.builds(CursorPage, items=st.lists(st.builds(PlayHistory, track=tracks, played_at=instants), max_size=3),
                 next=urls, cursors=st.none() | st.builds(Cursors, after=st.none() | small.map(str))))
def test_play_history_page_round_trips(page: CursorPage[PlayHistory]) -> None:
    assert schemas.play_history_page_decoder.decode(schemas.encoder.encode(page)) == page


@given(id=ids, ref=st.builds(TracksRef, href=urls, total=maybe_int), renamed=st.booleans())
def test_both_playlist_shapes_decode_alike(id: str, ref: TracksRef, renamed: bool) -> None:
    body = msgspec.json.encode({"id": id, "name": "P", "items" if renamed else "tracks": ref})
    playlist = schemas.playlist_decoder.decode(body)
    assert playlist == Playlist(id=id, name="P", tracks=ref) and playlist.contents is None
    assert schemas.playlist_decoder.decode(schemas.encoder.encode(playlist)) == playlist


@given(track=tracks, renamed=st.booleans())
def test_both_playlist_item_shapes_decode_alike(track: Track, renamed: bool) -> None:
    body = b'{"added_at":"2026-09-01T00:00:00Z","%s":%s}' % (b"item" if renamed else b"track",
                                                             schemas.encoder.encode(track))
    page = schemas.playlist_item_page_decoder.decode(b'{"items":[%s]}' % body)
    assert page.items == [PlaylistItem(added_at=datetime(2026, 9, 1, tzinfo=UTC), track=track)]


def test_unknown_fields_are_ignored_and_removed_ones_are_none() -> None:
    body = b'{"id":"a","name":"N","future_field":{"x":1},"artists":[{"id":"b","name":"B","new":true}]}'
    track = schemas.track_decoder.decode(body)
    assert track.popularity is None and track.isrc is None and track.artists == [SimpleArtist(id="b", name="B")]
    played = schemas.play_history_page_decoder.decode(
        b'{"items":[{"track":{"id":"a"},"played_at":"2026-09-01T12:00:00.123Z","context":null}],'
        b'"next":null,"cursors":{"after":"1","before":"1"},"limit":1}')
    assert played.items[0].played_at == datetime(2026, 9, 1, 12, tzinfo=UTC) + timedelta(milliseconds=123)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(
        ["id", "items", "item", "track", "next", "added_at", "played_at", "tracks", "name", "x"]), inner, max_size=5),
    max_leaves=20)
decoders = st.sampled_from([schemas.user_decoder, schemas.track_decoder, schemas.artist_decoder,
                            schemas.playlist_decoder, schemas.search_decoder, schemas.track_page_decoder,
                            schemas.saved_track_page_decoder, schemas.play_history_page_decoder,
                            schemas.playlist_item_page_decoder])


@given(decoders, st.binary(max_size=200) | json_values.map(msgspec.json.encode))
def test_junk_raises_only_msgspec_errors(decoder: msgspec.json.Decoder[object], junk: bytes) -> None:
    try:
        decoded = decoder.decode(junk)
    except msgspec.DecodeError:  # ValidationError is a DecodeError
        return
    assert isinstance(decoded, msgspec.Struct)  # junk that happens to fit, e.g. {"id": "x"}
