"""The cached llama-cpp-python wheel, verified by hash before scripts/bootstrap.sh installs it.

Owns: the hash record of a wheel cache folder (~/.cache/airgap-lsp/wheels/<tag>/SHA256SUMS,
written right after the wheel is built) and the check that the wheel in that folder is still
the file that was built. The cache is trusted by content, never by path: a folder without a
record, a wheel other than the recorded one, or a recorded wheel whose sha256 differs is
refused, and bootstrap.sh rebuilds. The recorded hash is also the one pip is given
(`--require-hashes`), so a file swapped between this check and the install is refused too.

One migration: folders built before hashes were recorded. pip records the sha256 of every file
it installs from a path (<venv>/.../llama_cpp_python-*.dist-info/direct_url.json); when the
venv being set up was installed from exactly this wheel and pip's record matches the file,
that record is the build-time hash, and it is written to the folder.

Standard library only: it runs in the fresh venv before anything else is installed.

    wheel_cache.py record DIR                   after a build: write DIR/SHA256SUMS
    wheel_cache.py verify DIR [--venv V] --requirement OUT
        check DIR's wheel; write a hash-pinned requirement line for it to OUT and print its
        sha256; exit 1 with the reason on stderr when it is refused
    wheel_cache.py sha256 FILE                  print a file's sha256
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

RECORD = "SHA256SUMS"
PATTERN = "llama_cpp_python-*.whl"
_LINE = re.compile(r"^([0-9a-f]{64}) [ *](llama_cpp_python-[^/\\\s]+\.whl)$")


class Refused(Exception):
    """The cached wheel cannot be used; the message says why."""


@dataclass(frozen=True)
class Verified:
    path: Path
    sha256: str

    def requirement(self) -> str:
        """A requirements-file line pip checks with --require-hashes."""
        return f"llama-cpp-python @ {self.path.resolve().as_uri()} --hash=sha256:{self.sha256}\n"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_record(directory: Path, wheel: Path, digest: str) -> None:
    tmp = directory / f".{RECORD}.tmp"
    tmp.write_text(f"{digest}  {wheel.name}\n")
    os.replace(tmp, directory / RECORD)


def record(directory: Path) -> Verified:
    """After a build: the folder holds exactly one wheel; record its sha256."""
    wheels = sorted(directory.glob(PATTERN))
    if len(wheels) != 1:
        raise Refused(f"expected one {PATTERN} in {directory}, found {len(wheels)}")
    digest = sha256_of(wheels[0])
    _write_record(directory, wheels[0], digest)
    return Verified(wheels[0], digest)


def _installed_record(venv: Path, wheel: Path) -> str | None:
    """The sha256 pip recorded when it installed `wheel` into `venv`, if it did."""
    for direct_url in venv.glob(
        "lib/python*/site-packages/llama_cpp_python-*.dist-info/direct_url.json"
    ):
        try:
            info = json.loads(direct_url.read_text())
        except (OSError, ValueError):
            continue
        if info.get("url") not in (wheel.absolute().as_uri(), wheel.resolve().as_uri()):
            continue
        digest = (info.get("archive_info") or {}).get("hashes", {}).get("sha256")
        if isinstance(digest, str) and re.fullmatch(r"[0-9a-f]{64}", digest):
            return digest
    return None


def _adopt(directory: Path, venv: Path | None) -> Verified:
    wheels = sorted(directory.glob(PATTERN))
    reason = f"{directory} has no {RECORD} (built before hashes were recorded)"
    if venv is None or len(wheels) != 1:
        raise Refused(reason)
    expected = _installed_record(venv, wheels[0])
    if expected is None:
        raise Refused(f"{reason}, and {venv} was not installed from it")
    actual = sha256_of(wheels[0])
    if actual != expected:
        raise Refused(
            f"{wheels[0]} has sha256 {actual}, but pip installed it into {venv} "
            f"with sha256 {expected}: the file changed since"
        )
    _write_record(directory, wheels[0], actual)
    return Verified(wheels[0], actual)


def verify(directory: Path, venv: Path | None = None) -> Verified:
    """The folder's recorded wheel, if it is still the file that was recorded."""
    if not directory.is_dir():
        raise Refused(f"no cached wheel in {directory}")
    listing = directory / RECORD
    if not listing.exists():
        return _adopt(directory, venv)
    lines = [line for line in listing.read_text(errors="replace").splitlines() if line.strip()]
    match = _LINE.match(lines[0]) if len(lines) == 1 else None
    if match is None:
        raise Refused(f"{listing} is not one '<sha256>  {PATTERN}' line")
    expected, name = match.groups()
    wheel = directory / name
    if wheel.is_symlink() or not wheel.is_file():
        raise Refused(f"{wheel}, recorded in {listing}, is missing or not a regular file")
    actual = sha256_of(wheel)
    if actual != expected:
        raise Refused(f"{wheel} has sha256 {actual}, but {expected} was recorded when it was built")
    return Verified(wheel, actual)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("record").add_argument("directory", type=Path)
    check = sub.add_parser("verify")
    check.add_argument("directory", type=Path)
    check.add_argument("--venv", type=Path)
    check.add_argument("--requirement", type=Path, required=True)
    sub.add_parser("sha256").add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "sha256":
            print(sha256_of(args.file))
        elif args.command == "record":
            print(record(args.directory).sha256)
        else:
            verified = verify(args.directory, args.venv)
            args.requirement.write_text(verified.requirement())
            print(verified.sha256)
    except Refused as refused:
        print(f"refused: {refused}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
