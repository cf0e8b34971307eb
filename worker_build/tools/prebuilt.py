"""Prebuilt tools: where each one is published, how it is checked, where it is kept.

* wasm-bindgen: `<base>/V/wasm-bindgen-V-<target>.tar.gz`, base
  `https://github.com/wasm-bindgen/wasm-bindgen/releases/download` (Linux: the
  static musl builds), checked against `<archive>.sha256sum` published beside it;
* wasm-opt: binaryen's native release (not npm's JavaScript build),
  `<base>/version_N/binaryen-version_N-<target>.tar.gz`, base
  `https://github.com/WebAssembly/binaryen/releases/download`, checked against
  `<archive>.sha256` beside it;
* esbuild: `<registry>/@esbuild/<platform>/-/<platform>-V.tgz`, registry
  `https://registry.npmjs.org`, checked against the registry's `dist.integrity`
  (sha512) in `<registry>/@esbuild/<platform>/V`.

Each base can be replaced by a mirror with the same layout below it (an http(s)://
URL, or file:// for a directory holding the files)
(`WORKER_BUILD_WASM_BINDGEN_MIRROR`, `WORKER_BUILD_BINARYEN_MIRROR`, and for
esbuild `WORKER_BUILD_NPM_REGISTRY`, else npm's own `npm_config_registry`).

A checked archive is unpacked (archive.py) into a staging directory in the
cache, its binary must report the promised version, and only then is the
directory renamed to `<cache>/<tool>/<version>-<target>/`. Nothing else in the
cache is touched: other versions stay.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import platform
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from worker_build.errors import UsageError, VerificationError
from worker_build.tools.cache_writes import local_error
from worker_build.tools.download import Fetcher
from worker_build.util.cachedir import cache_root

WASM_BINDGEN_BASE = "https://github.com/wasm-bindgen/wasm-bindgen/releases/download"
BINARYEN_BASE = "https://github.com/WebAssembly/binaryen/releases/download"
NPM_REGISTRY = "https://registry.npmjs.org"
WASM_BINDGEN_MIRROR_VAR = "WORKER_BUILD_WASM_BINDGEN_MIRROR"
BINARYEN_MIRROR_VAR = "WORKER_BUILD_BINARYEN_MIRROR"
NPM_REGISTRY_VAR = "WORKER_BUILD_NPM_REGISTRY"
RECORD_NAME = ".worker-build-download.json"
# A staging directory this old belongs to a download that was killed: removed.
STALE_STAGING_SECONDS = 24 * 3600

# (system, machine) as normalised by host() -> each project's name for that platform.
WASM_BINDGEN_TARGETS = {
    ("linux", "x86_64"): "x86_64-unknown-linux-musl",
    ("linux", "aarch64"): "aarch64-unknown-linux-musl",
    ("darwin", "x86_64"): "x86_64-apple-darwin",
    ("darwin", "aarch64"): "aarch64-apple-darwin",
    ("windows", "x86_64"): "x86_64-pc-windows-msvc",
}
BINARYEN_TARGETS = {
    ("linux", "x86_64"): "x86_64-linux",
    ("linux", "aarch64"): "aarch64-linux",
    ("darwin", "x86_64"): "x86_64-macos",
    ("darwin", "aarch64"): "arm64-macos",
    ("windows", "x86_64"): "x86_64-windows",
    ("windows", "aarch64"): "arm64-windows",
}
ESBUILD_PLATFORMS = {
    ("linux", "x86_64"): "linux-x64",
    ("linux", "aarch64"): "linux-arm64",
    ("darwin", "x86_64"): "darwin-x64",
    ("darwin", "aarch64"): "darwin-arm64",
    ("windows", "x86_64"): "win32-x64",
    ("windows", "aarch64"): "win32-arm64",
    ("freebsd", "x86_64"): "freebsd-x64",
    ("freebsd", "aarch64"): "freebsd-arm64",
}
_MACHINES = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}


def host() -> tuple[str, str]:
    machine = platform.machine().lower()
    return platform.system().lower(), _MACHINES.get(machine, machine)


def _exe(name: str) -> str:
    return name + ".exe" if host()[0] == "windows" else name


def _base(*variables: str, default: str) -> str:
    """The first variable set (a mirror), else the upstream URL; checked to be a URL
    so a typo is a usage error here rather than a network failure later."""
    for var in variables:
        value = os.environ.get(var)
        if value:
            if not value.startswith(("https://", "http://", "file://")):
                raise UsageError(
                    f"{var}={value} is not a URL",
                    f"set {var} to an https://, http:// or file:// URL, or unset it",
                )
            return value.rstrip("/")
    return default


def npm_registry() -> str:
    """Ours, else npm's (npm exports its config to scripts as lower-case variables)."""
    return _base(NPM_REGISTRY_VAR, "npm_config_registry", default=NPM_REGISTRY)


@dataclass(frozen=True)
class Expected:
    """The digest an archive must have, and where that promise came from."""

    algorithm: str  # hashlib name: sha256, sha512
    digest: bytes
    source: str  # URL of the checksum file or the registry metadata

    def show(self, digest: bytes) -> str:
        if self.algorithm == "sha512":  # npm writes sha512 as base64 (SRI)
            return f"{self.algorithm}-{base64.b64encode(digest).decode()}"
        return f"{self.algorithm}:{digest.hex()}"


@dataclass(frozen=True)
class Asset:
    """One prebuilt tool for this platform."""

    tool: str  # what the user reads: "wasm-bindgen 0.2.130"
    url: str  # the .tar.gz
    binary: str  # relative path of the executable inside the unpacked archive
    directory: Path  # where the unpacked archive is kept in the cache
    expected: Callable[[Fetcher], Expected]  # fetches and parses the checksum

    @property
    def path(self) -> Path:
        return self.directory / self.binary


def wasm_bindgen(version: str) -> Asset | None:
    target = WASM_BINDGEN_TARGETS.get(host())
    if target is None:
        return None
    name = f"wasm-bindgen-{version}-{target}.tar.gz"
    url = f"{_base(WASM_BINDGEN_MIRROR_VAR, default=WASM_BINDGEN_BASE)}/{version}/{name}"
    return Asset(
        tool=f"wasm-bindgen {version}",
        url=url,
        binary=_exe("wasm-bindgen"),
        directory=cache_root() / "wasm-bindgen" / f"{version}-{target}",
        expected=lambda fetcher: _sha256_file(fetcher, url + ".sha256sum", name),
    )


def binaryen(major: str) -> Asset | None:
    target = BINARYEN_TARGETS.get(host())
    if target is None:
        return None
    name = f"binaryen-version_{major}-{target}.tar.gz"
    url = f"{_base(BINARYEN_MIRROR_VAR, default=BINARYEN_BASE)}/version_{major}/{name}"
    return Asset(
        tool=f"wasm-opt {major} (binaryen)",
        url=url,
        binary=f"bin/{_exe('wasm-opt')}",
        directory=cache_root() / "binaryen" / f"{major}-{target}",
        expected=lambda fetcher: _sha256_file(fetcher, url + ".sha256", name),
    )


def esbuild(version: str) -> Asset | None:
    plat = ESBUILD_PLATFORMS.get(host())
    if plat is None:
        return None
    registry = npm_registry()
    package = f"@esbuild/{plat}"
    return Asset(
        tool=f"esbuild {version}",
        url=f"{registry}/{package}/-/{plat}-{version}.tgz",
        binary="esbuild.exe" if plat.startswith("win32") else "bin/esbuild",
        directory=cache_root() / "esbuild" / f"{version}-{plat}",
        expected=lambda fetcher: _npm_integrity(fetcher, f"{registry}/{package}/{version}"),
    )


def _sha256_file(fetcher: Fetcher, url: str, archive_name: str) -> Expected:
    """`sha256sum` output: `<64 hex>  <path>`; the path, if any, must name the archive."""
    text = fetcher.fetch_bytes(url, f"the checksum of {archive_name}").decode("utf-8", "replace")
    match = re.match(r"\s*([0-9a-fA-F]{64})(?:\s+\*?(\S+))?\s*$", text)
    if match is None or (match.group(2) and Path(match.group(2)).name != archive_name):
        raise VerificationError(
            f"{url} is not a sha256 checksum of {archive_name} (starts {text[:60]!r})",
            "check the mirror setting: it must serve the release's files unchanged",
        )
    return Expected("sha256", bytes.fromhex(match.group(1)), url)


def _npm_integrity(fetcher: Fetcher, url: str) -> Expected:
    """The registry's Subresource Integrity string for one version: `sha512-<base64>`."""
    raw = fetcher.fetch_bytes(url, "registry metadata")
    try:
        integrity = json.loads(raw)["dist"]["integrity"]
        algorithm, _, encoded = str(integrity).partition("-")
        digest = base64.b64decode(encoded, validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise VerificationError(
            f"{url} has no usable dist.integrity ({exc})",
            "check WORKER_BUILD_NPM_REGISTRY: it must serve npm registry metadata",
        ) from exc
    if algorithm != "sha512" or len(digest) != hashlib.sha512().digest_size:
        raise VerificationError(
            f"{url} gives integrity {integrity!r}; worker-build checks only sha512",
            "check WORKER_BUILD_NPM_REGISTRY",
        )
    return Expected("sha512", digest, url)


def discard_directory(directory: Path) -> None:
    """Remove a broken cache entry (a download or an install): renamed aside first, so
    nobody sees it half deleted."""
    parent = directory.parent
    try:
        aside = Path(tempfile.mkdtemp(prefix=f".{directory.name}.broken.", dir=parent))
    except OSError as exc:
        raise local_error(exc, "create a directory in", parent) from exc
    try:
        directory.rename(aside / "entry")
    except FileNotFoundError:
        pass  # another build removed it first
    except OSError as exc:
        raise local_error(exc, "remove the broken cache entry", directory) from exc
    finally:
        shutil.rmtree(aside, ignore_errors=True)


def _sweep(parent: Path, name: str) -> None:
    """Remove staging directories of killed downloads (never a young one: it may be a
    concurrent download in progress)."""
    now = time.time()
    for leftover in parent.glob(f".{name}.*"):
        try:
            if now - leftover.stat().st_mtime > STALE_STAGING_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)
        except OSError:
            continue


def obtain(asset: Asset, fetcher: Fetcher, check: Callable[[Path], None]) -> Path:
    """Download, verify and unpack `asset` into the cache; return its executable.

    `check` runs the unpacked executable (still in staging) and raises if it is not
    the promised tool and version. DownloadError: not fetched (the caller may fall
    back); VerificationError: fetched but not trustworthy; nothing is cached then."""
    from worker_build.tools import archive  # tarfile: only when something is downloaded

    expected = asset.expected(fetcher)
    parent = asset.directory.parent
    _sweep(parent, asset.directory.name)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{asset.directory.name}.", dir=parent))
    except OSError as exc:
        raise local_error(exc, "create a directory in", parent) from exc
    try:
        got = fetcher.fetch_file(
            asset.url, staging / "archive.tar.gz", asset.tool, expected.algorithm
        )
        if got.digest != expected.digest:
            raise VerificationError(
                f"{asset.tool} from {asset.url} does not match its checksum: expected "
                f"{expected.show(expected.digest)} (from {expected.source}), got "
                f"{expected.show(got.digest)} ({got.size} bytes); nothing was cached",
                "retry; if it persists, the download or the mirror is not the published "
                "release: check the mirror setting and your proxy",
            )
        tree = staging / "tree"
        archive.extract_tar_gz(got.path, tree, asset.tool)
        binary = tree / asset.binary
        if not binary.is_file():
            raise VerificationError(
                f"the {asset.tool} archive from {asset.url} has no {asset.binary}",
                "check the mirror setting",
            )
        check(binary)
        record = {
            "url": asset.url,
            expected.algorithm: expected.digest.hex(),
            "checksum_from": expected.source,
            "bytes": got.size,
            "downloaded_at": int(time.time()),
        }
        (tree / RECORD_NAME).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        try:
            tree.rename(asset.directory)
        except OSError:
            if not asset.path.is_file():  # not a concurrent winner: a real failure
                raise
        return asset.path
    except OSError as exc:
        raise local_error(exc, "write", staging) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
