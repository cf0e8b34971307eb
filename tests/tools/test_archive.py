"""archive.py: only regular files and directories come out, below the destination."""

from __future__ import annotations

import errno
import tarfile
from pathlib import Path

import pytest

from harness.mirror import member, release_tgz, script, tar_gz
from worker_build.errors import EXIT_TOOL_MISSING, ToolMissingError, VerificationError
from worker_build.tools import archive


def unpack(tmp_path: Path, data: bytes) -> Path:
    src = tmp_path / "a.tar.gz"
    src.write_bytes(data)
    dest = tmp_path / "out"
    archive.extract_tar_gz(src, dest, "wasm-bindgen 0.2.130")
    return dest


def test_release_layout_loses_its_top_directory(tmp_path: Path) -> None:
    data = release_tgz(
        "wasm-bindgen-0.2.130-x86_64-unknown-linux-musl",
        {"wasm-bindgen": script("wasm-bindgen 0.2.130"), "README.md": b"hi", "sub/x": b"x"},
        executables=("wasm-bindgen",),
    )
    dest = unpack(tmp_path, data)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == [
        "README.md",
        "sub",
        "sub/x",
        "wasm-bindgen",
    ]
    assert (dest / "wasm-bindgen").stat().st_mode & 0o777 == 0o755
    assert (dest / "README.md").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (member("top/evil", tarfile.SYMTYPE, link="/etc/passwd"), "holds a link (top/evil -> /etc"),
        (member("top/hard", tarfile.LNKTYPE, link="top/README.md"), "holds a link"),
        ((member("/top/abs"), b"x"), "holds an absolute path (/top/abs)"),
        ((member("top/../../escape"), b"x"), "leaves its directory (top/../../escape)"),
        (member("top/dev", tarfile.CHRTYPE), "holds a special file (top/dev)"),
        (member("top/fifo", tarfile.FIFOTYPE), "holds a special file"),
        ((member("top/README.md"), b"again"), "holds README.md twice"),
    ],
)
def test_unsafe_entries_are_refused(
    tmp_path: Path, entry: tarfile.TarInfo | tuple[tarfile.TarInfo, bytes], reason: str
) -> None:
    data = tar_gz([member("top", tarfile.DIRTYPE, 0o755), (member("top/README.md"), b"hi"), entry])
    with pytest.raises(VerificationError, match="refused, nothing was cached") as info:
        unpack(tmp_path, data)
    assert reason in info.value.message
    assert info.value.exit_code == EXIT_TOOL_MISSING
    assert not (tmp_path / "out").exists(), "a refused archive leaves nothing behind"
    assert not (tmp_path / "etc").exists() and not (tmp_path.parent / "escape").exists()


def test_not_a_tar_gz(tmp_path: Path) -> None:
    with pytest.raises(VerificationError, match=r"not a readable \.tar\.gz"):
        unpack(tmp_path, b"<html>captive portal</html>")
    with pytest.raises(VerificationError, match=r"not a readable \.tar\.gz"):
        unpack(tmp_path, release_tgz("top", {"x": b"x" * 5000}, ())[:-200])


def test_full_disk_while_unpacking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_space(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(archive.shutil, "copyfileobj", no_space)
    with pytest.raises(ToolMissingError, match="No space left on device") as info:
        unpack(tmp_path, release_tgz("top", {"x": b"x"}, ()))
    assert "free disk space" in (info.value.fix or "")
    assert not (tmp_path / "out").exists()


def test_size_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive, "MAX_UNPACKED_BYTES", 100)
    with pytest.raises(VerificationError, match="more than 100 bytes"):
        unpack(tmp_path, release_tgz("top", {"a": b"a" * 60, "b": b"b" * 60}, ()))
