"""Bytes to text for uploaded reports: UTF-8 with or without a BOM, else ISO-8859-1.

S4A exports are UTF-8 with a BOM; one DistroKid parser reads ISO-8859-1 (PROVIDERS.md B4). ISO-8859-1
decodes any byte string, so it has to come last, and we refuse what is plainly not text first. We do not
sniff other encodings: a guess that is wrong would put silent mojibake into song titles.
"""

from __future__ import annotations

import codecs

from adapters.stream_reports.model import ReportError

__all__ = ["decode"]

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def decode(data: bytes) -> tuple[str, str]:
    """Return ``(text, encoding)``, ``encoding`` being "utf-8-sig", "utf-8" or "iso-8859-1".

    The BOM is not part of ``text``. Raises ReportError for an empty file, a UTF-16 file, a file with NUL
    bytes (binary, a spreadsheet, an archive…), and a file that starts with a UTF-8 BOM but is not UTF-8:
    that file says it is UTF-8, so falling back to ISO-8859-1 would only hide the damage.
    """
    if not data:
        raise ReportError("the file is empty")
    if data.startswith(_UTF16_BOMS):
        raise ReportError("the file is UTF-16 text; export or save it as CSV in UTF-8 instead")
    if b"\x00" in data:
        raise ReportError("the file contains NUL bytes, so it is not a CSV or TSV text file")
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            offset = exc.start + len(codecs.BOM_UTF8)
            raise ReportError(
                f"the file starts with a UTF-8 byte-order mark but byte {offset} is not valid UTF-8"
            ) from None
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return data.decode("iso-8859-1"), "iso-8859-1"
