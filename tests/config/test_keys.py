"""Tests for config.keys: keys are created once, private, and never silently replaced.

Rules: every test works in its own tmp_path data directory. The one race test fakes the rival
process at the single point where it can win (the hard link), rather than hoping threads collide.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
import threading
from pathlib import Path

import pytest

from config import KeyFileError, Keys, load_or_create_keys
from config.keys import fingerprints

_NAMES = ("jwt-signing.key", "token-encryption.key")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_run_creates_private_files_in_a_private_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "not" / "yet"
    keys = load_or_create_keys(data_dir)
    key_dir = data_dir / "keys"
    assert _mode(key_dir) == 0o700
    assert sorted(path.name for path in key_dir.iterdir()) == sorted(_NAMES)  # no temp files left
    for name in _NAMES:
        assert _mode(key_dir / name) == 0o600
    assert len(keys.jwt_signing_key) == len(keys.token_encryption_key) == 32
    assert keys.jwt_signing_key != keys.token_encryption_key


def test_files_hold_urlsafe_base64_and_a_newline(tmp_path: Path) -> None:
    keys = load_or_create_keys(tmp_path)
    text = (tmp_path / "keys" / "jwt-signing.key").read_bytes()
    assert text.endswith(b"\n")
    assert base64.urlsafe_b64decode(text.strip()) == keys.jwt_signing_key


def test_keys_are_reused_never_regenerated(tmp_path: Path) -> None:
    first = load_or_create_keys(tmp_path)
    before = {name: (tmp_path / "keys" / name).read_bytes() for name in _NAMES}
    assert load_or_create_keys(tmp_path) == first
    assert {name: (tmp_path / "keys" / name).read_bytes() for name in _NAMES} == before


@pytest.mark.parametrize(
    "content",
    [b"not base64 at all!\n", base64.urlsafe_b64encode(b"x" * 16) + b"\n", b""],
    ids=["garbage", "short", "empty"],
)
def test_corrupt_key_file_is_refused_by_name_and_left_alone(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "keys" / "token-encryption.key"
    path.parent.mkdir(mode=0o700)
    path.write_bytes(content)
    with pytest.raises(KeyFileError) as excinfo:
        load_or_create_keys(tmp_path)
    assert excinfo.value.path == path
    assert str(path) in str(excinfo.value)
    assert path.read_bytes() == content  # never silently replaced


def test_loose_permissions_are_tightened(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    first = load_or_create_keys(tmp_path)
    key_file = tmp_path / "keys" / "jwt-signing.key"
    os.chmod(key_file, 0o644)
    os.chmod(tmp_path / "keys", 0o755)
    with caplog.at_level(logging.WARNING, logger="config.keys"):
        assert load_or_create_keys(tmp_path) == first
    assert _mode(key_file) == 0o600
    assert _mode(tmp_path / "keys") == 0o700
    assert len(caplog.records) == 2
    assert str(key_file) in caplog.text


def test_the_loser_of_a_first_start_race_reads_the_winners_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    winner = b"w" * 32
    real_link = os.link

    def rival_links_first(src: Path, dst: Path) -> None:
        # Another process finishes its first start between our write and our link.
        if not dst.exists():
            dst.write_bytes(base64.urlsafe_b64encode(winner) + b"\n")
        real_link(src, dst)

    monkeypatch.setattr(os, "link", rival_links_first)
    keys = load_or_create_keys(tmp_path)
    assert keys.jwt_signing_key == keys.token_encryption_key == winner
    assert sorted(path.name for path in (tmp_path / "keys").iterdir()) == sorted(_NAMES)


def test_concurrent_first_starts_agree(tmp_path: Path) -> None:
    results: list[Keys] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        results.append(load_or_create_keys(tmp_path))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert all(keys == results[0] for keys in results)


def test_repr_hides_the_keys(tmp_path: Path) -> None:
    keys = load_or_create_keys(tmp_path)
    assert repr(keys.jwt_signing_key) not in repr(keys)
    assert "hidden" in repr(keys)


def test_a_fingerprint_names_each_key_file_tells_keys_apart_and_holds_no_key(tmp_path: Path) -> None:
    keys, same, other = (load_or_create_keys(tmp_path / d) for d in ("a", "a", "b"))
    assert set(fingerprints(keys)) == set(_NAMES)
    assert fingerprints(keys) == fingerprints(same)
    assert all(mine != theirs for mine, theirs in zip(fingerprints(keys).values(), fingerprints(other).values(),
                                                      strict=True))
    shown = " ".join(fingerprints(keys).values())
    for key in (keys.jwt_signing_key, keys.token_encryption_key):
        assert key.hex() not in shown and base64.urlsafe_b64encode(key).decode() not in shown
