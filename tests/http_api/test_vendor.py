"""The vendored scripts in http_api/static/vendor/ are exactly what tools/vendor.py fetched and verified: every
file is in MANIFEST.json with its sha256, and the manifest names no file that is not there (no network)."""

from __future__ import annotations

import hashlib
import json

from http_api.assets import STATIC

VENDOR = STATIC / "vendor"


def test_every_vendored_file_matches_its_manifest_checksum() -> None:
    manifest = json.loads((VENDOR / "MANIFEST.json").read_text())
    listed = {name: digest for package in manifest for name, digest in package["files"].items()}
    present = {path.name for path in VENDOR.iterdir()} - {"MANIFEST.json"}
    assert set(listed) == present
    for name, digest in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    for package in manifest:
        assert package["licence"] and any(name.endswith(".LICENSE") for name in package["files"]), package["name"]
        assert package["source"].startswith("https://registry.npmjs.org/"), package["name"]


def test_the_console_script_stays_well_under_its_budget() -> None:
    # The issue allows a page about 150 KB of script; the vendored layer leaves room for our own.
    assert sum(path.stat().st_size for path in VENDOR.glob("*.js")) < 110_000
