"""Vendor the console's script layer: fetch pinned npm tarballs, verify them, write the files we serve.

Run by hand when a version changes (``python tools/vendor.py``), never at run time or in CI: the files it
writes into ``http_api/static/vendor/`` are checked in with ``MANIFEST.json``, which records each file's
package, version, licence, source URL and sha256 (tests/http_api/test_vendor.py holds the folder to it).

To move to a new version: change the version and paste the registry's ``dist.integrity`` for it
(``https://registry.npmjs.org/<name>/<version>``), run this, and commit the folder.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import sys
import tarfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PACKAGES", "Package", "main"]

VENDOR = Path(__file__).resolve().parents[1] / "http_api" / "static" / "vendor"
REGISTRY = "https://registry.npmjs.org"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    licence: str
    integrity: str  # the registry's dist.integrity: sha512 of the tarball, base64
    files: dict[str, str]  # path in the tarball (under package/) -> name written; the name carries the version

    @property
    def url(self) -> str:
        return f"{REGISTRY}/{self.name}/-/{self.name}-{self.version}.tgz"


PACKAGES = (
    Package(
        "htmx.org", "2.0.11", "0BSD",
        "sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==",
        {"dist/htmx.min.js": "htmx-2.0.11.min.js", "LICENSE": "htmx-2.0.11.LICENSE"},
    ),
    Package(
        "uplot", "1.6.32", "MIT",
        "sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==",
        {
            "dist/uPlot.iife.min.js": "uPlot-1.6.32.iife.min.js",
            "dist/uPlot.min.css": "uPlot-1.6.32.min.css",
            "LICENSE": "uPlot-1.6.32.LICENSE",
        },
    ),
)


def _verified_tarball(package: Package) -> bytes:
    with urllib.request.urlopen(package.url, timeout=60) as response:
        data: bytes = response.read()
    algorithm, _, expected = package.integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, data).digest()).decode()
    if actual != expected:
        raise SystemExit(f"{package.url}: {algorithm} is {actual}, pinned {expected}; refusing to vendor it")
    return data


def _extract(package: Package, tarball: bytes) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as archive:
        out = {}
        for inner, name in package.files.items():
            member = archive.extractfile(f"package/{inner}")
            if member is None:
                raise SystemExit(f"{package.url}: package/{inner} is not a file")
            out[name] = member.read()
        return out


def main() -> None:
    shutil.rmtree(VENDOR, ignore_errors=True)
    VENDOR.mkdir(parents=True)
    manifest = []
    script_bytes = 0
    for package in PACKAGES:
        files = _extract(package, _verified_tarball(package))
        for name, content in files.items():
            (VENDOR / name).write_bytes(content)
            script_bytes += len(content) if name.endswith(".js") else 0
        manifest.append({
            "name": package.name, "version": package.version, "licence": package.licence,
            "source": package.url, "integrity": package.integrity,
            "files": {name: hashlib.sha256(content).hexdigest() for name, content in files.items()},
        })
    (VENDOR / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {VENDOR}; script total {script_bytes:,} bytes ({script_bytes / 1024:.1f} KiB)", file=sys.stderr)


if __name__ == "__main__":
    main()
