"""Unpacking a downloaded .tar.gz without trusting it.

Release archives hold one top-level directory (`wasm-bindgen-0.2.130-<target>/`,
`binaryen-version_132/`, npm's `package/`) with regular files and directories
below it. Anything else is refused rather than skipped, so a tampered archive is
an error the user sees: symbolic and hard links (they can point outside the
cache), devices and FIFOs, absolute paths, `..`, the same path twice. Files are
created with O_EXCL and O_NOFOLLOW, and the unpacked total is capped.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tarfile
import zlib
from pathlib import Path, PurePosixPath

from worker_build.errors import VerificationError
from worker_build.tools.cache_writes import local_error

MAX_UNPACKED_BYTES = 1 << 30  # binaryen's release is ~100 MB unpacked


def _refuse(what: str, why: str) -> VerificationError:
    return VerificationError(
        f"the {what} archive {why}; refused, nothing was cached",
        "the download or the mirror serving it is not the published release",
    )


def _relative(member: tarfile.TarInfo, what: str) -> PurePosixPath | None:
    """The member's path without the top-level directory (None for that directory)."""
    name = member.name
    path = PurePosixPath(name)
    if name.startswith(("/", "\\")) or path.is_absolute() or (name[1:2] == ":"):
        raise _refuse(what, f"holds an absolute path ({name})")
    if any(part == ".." for part in path.parts) or "\\" in name or "\0" in name:
        raise _refuse(what, f"holds a path that leaves its directory ({name})")
    if member.issym() or member.islnk():
        raise _refuse(what, f"holds a link ({name} -> {member.linkname})")
    if not (member.isfile() or member.isdir()):
        raise _refuse(what, f"holds a special file ({name})")
    parts = [p for p in path.parts if p != "."]
    return PurePosixPath(*parts[1:]) if len(parts) > 1 else None


def extract_tar_gz(archive: Path, dest: Path, what: str) -> None:
    """Unpack `archive` into the new directory `dest`, dropping the top-level directory.
    On any refusal `dest` is removed again."""
    dest.mkdir()
    try:
        _extract(archive, dest, what)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def _extract(archive: Path, dest: Path, what: str) -> None:
    root = os.path.realpath(dest)
    total = 0
    seen: set[PurePosixPath] = set()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                rel = _relative(member, what)
                if rel is None:
                    continue
                if rel in seen:
                    raise _refuse(what, f"holds {rel} twice")
                seen.add(rel)
                target = os.path.join(root, *rel.parts)
                if os.path.commonpath([root, os.path.realpath(target)]) != root:
                    raise _refuse(what, f"holds a path that leaves its directory ({member.name})")
                if member.isdir():
                    os.makedirs(target, exist_ok=True)
                    continue
                total += member.size
                if total > MAX_UNPACKED_BYTES:
                    raise _refuse(what, f"unpacks to more than {MAX_UNPACKED_BYTES} bytes")
                os.makedirs(os.path.dirname(target), exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None, "regular files always have content"
                mode = 0o755 if member.mode & 0o111 else 0o644
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                fd = os.open(target, flags, mode)
                with os.fdopen(fd, "wb") as out, source:
                    shutil.copyfileobj(source, out)
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _refuse(what, f"is not a readable .tar.gz ({exc})") from exc
    except OSError as exc:  # the disk is full, the cache is not writable
        raise local_error(exc, f"unpack the {what} archive into", dest) from exc
