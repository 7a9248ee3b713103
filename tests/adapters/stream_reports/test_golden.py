"""Golden files: every real-looking report in golden/ parses to the ParsedReport in its ``.expected.json``.

Rules: inputs are byte-exact files (BOMs, CRLF and ISO-8859-1 included), each parsed with its own file
name and no ``kind``; ``GOLDEN_UPDATE=1`` rewrites the expected files, which must then be read by eye
before they are committed: they are the specification, not a snapshot of whatever the code does.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import msgspec
import pytest

from adapters.stream_reports import parse_report

GOLDEN = Path(__file__).parent / "golden"
INPUTS = sorted(path for path in GOLDEN.iterdir() if not path.name.endswith(".expected.json"))


def test_golden_inputs_cover_every_kind_good_and_broken() -> None:
    assert len(INPUTS) == 10


@pytest.mark.parametrize("path", INPUTS, ids=lambda path: path.name)
def test_golden(path: Path) -> None:
    report = parse_report(path.read_bytes(), path.name)
    actual = msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n"
    expected = path.with_name(path.name + ".expected.json")
    if os.environ.get("GOLDEN_UPDATE") == "1":
        expected.write_bytes(actual)
    assert json.loads(actual) == json.loads(expected.read_bytes())
