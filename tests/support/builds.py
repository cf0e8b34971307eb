"""Running worker-build and cargo the way the integration tests do: the repository's paths, the
environment with the pinned npm tools, the sample crates built once per variant."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.paths import CACHE, NODE_BIN, SAMPLES

VENV_BIN = Path(sys.executable).parent


# name -> (worker-build flags, cargo target dir key). Variants that compile the same
# code share a target dir, so the session does each cold std + crate build once.
VARIANTS: dict[str, tuple[tuple[str, ...], str]] = {
    "unwind": (("--panic-unwind",), "unwind"),
    "unwind-generic": (("--panic-unwind", "--panic-body", "generic"), "unwind"),
    "unwind-message": (("--panic-unwind", "--panic-body", "message"), "unwind"),
    "unwind-exnref": (("--panic-unwind", "--eh-encoding", "exnref"), "unwind-exnref"),
    "abort": ((), "abort"),
}


# The EH variant names some tests use -> the target dir key above.
EH_VARIANT_TARGET = {"legacy": "unwind", "exnref": "unwind-exnref", "abort": "abort"}


# Crates with the same dependencies share a target dir: std is compiled once for both.
SHARED_TARGET = {"bindgen-types": "pure-exports"}


def cargo_target_dir(crate: str, eh_variant: str) -> Path:
    """The cargo target dir the fixtures use for `crate` built as `eh_variant`
    (legacy | exnref | abort). Tests that run cargo themselves with the same flags as
    worker-build share it, so the session compiles std and the crate once."""
    owner = SHARED_TARGET.get(crate, crate)
    return CACHE / "test-target" / f"{owner}-{EH_VARIANT_TARGET[eh_variant]}"


def cargo_build(crate: str | Path, eh_variant: str, target_dir: Path | None = None) -> Path:
    """cargo's build of a crate exactly as worker-build runs it for `eh_variant`
    (legacy | exnref | abort, release profile): the toolchain it finds, its std cache
    entry, its flags. In the fixtures' target dir for that variant unless `target_dir`
    is given, so it compiles nothing the fixtures compiled. Returns cargo's .wasm."""
    from harness.cargo import cargo_invocation
    from worker_build.build.options import RawArgs
    from worker_build.build.steps.cargo import find_artifact

    path = crate if isinstance(crate, Path) else SAMPLES / crate
    raw = RawArgs(
        path=path,
        panic_unwind=eh_variant != "abort",
        eh_encoding="exnref" if eh_variant == "exnref" else None,
    )
    inv = cargo_invocation(raw)
    target = target_dir or cargo_target_dir(path.name, eh_variant)
    env = {**tool_env(), **inv.env, "CARGO_TARGET_DIR": str(target)}
    proc = subprocess.run(["nice", "-n", "10", *inv.argv], cwd=inv.cwd, env=env,
                          capture_output=True, text=True, timeout=3600, check=False)  # fmt: skip
    crate_info = inv.context.need_crate()
    wasm = find_artifact(proc.stdout, crate_info.lib_name) if proc.returncode == 0 else None
    if wasm is None:
        pytest.fail(f"cargo build of {path.name} ({eh_variant}) failed ({proc.returncode}):\n"
                    f"{proc.stderr[-4000:]}", pytrace=False)  # fmt: skip
    return wasm


def wasm_bindgen_for(crate: Path) -> Path:
    """The wasm-bindgen worker-build runs for `crate`: the version its Cargo.lock locks,
    found the way the build finds it (resolve.wasm_bindgen, never installing). A missing
    one fails the test (never skips)."""
    from worker_build.build.crate import load_crate
    from worker_build.errors import ToolMissingError
    from worker_build.tools import resolve
    from worker_build.tools.tool import InstallPolicy

    version = load_crate(crate).wasm_bindgen_version
    try:
        return resolve.wasm_bindgen(version, InstallPolicy.OFFLINE).path
    except ToolMissingError as exc:
        pytest.fail(f"{exc.message}: run ./setup.sh", pytrace=False)


def require_tool(path: Path | str) -> str:
    """Path of a tool the integration tests need; fails (never skips) when absent."""
    found = shutil.which(str(path))
    if found is None:
        pytest.fail(f"required tool {path} is missing: run ./setup.sh", pytrace=False)
    return found


def tool_env() -> dict[str, str]:
    """Environment for running worker-build in tests: the repo's pinned npm tools,
    independent of the caller's PATH order. The Rust toolchain is found by worker-build's
    own discovery (where rustup has no rust-src: Debian's rustc-web, README "Quick start"); set
    WORKER_BUILD_RUSTC to test another one."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(VENV_BIN), str(NODE_BIN), env.get("PATH", "")])
    env.pop("NO_COLOR", None)
    return env


@dataclass(frozen=True)
class Built:
    crate: str
    variant: str
    out: Path  # the build/ directory

    @property
    def wasm(self) -> Path:
        return self.out / "index_bg.wasm"


def worker_build(
    *args: str | os.PathLike[str],
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 1800,
) -> subprocess.CompletedProcess[str]:
    """Run the installed console script (as a user would) and capture its output."""
    return subprocess.run(
        [str(VENV_BIN / "worker-build"), *map(str, args)],
        env=env or tool_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def build_sample(crate: str, variant: str, *extra: str) -> Built:
    """Build sample-crates/<crate> with worker-build into .cache/test-builds/<crate>-<variant>.

    Each variant has its own cargo target dir, so switching panic strategy does
    not rebuild std over and over across the session.
    """
    require_tool(NODE_BIN / "wasm-opt")
    require_tool(NODE_BIN / "esbuild")
    out = CACHE / "test-builds" / f"{crate}-{variant}"
    env = tool_env()
    flags, target = VARIANTS[variant]
    env["CARGO_TARGET_DIR"] = str(
        CACHE / "test-target" / f"{SHARED_TARGET.get(crate, crate)}-{target}"
    )
    proc = worker_build(SAMPLES / crate, "--out-dir", out, *flags, *extra, env=env)
    if proc.returncode != 0:
        pytest.fail(
            f"worker-build {crate} ({variant}) failed with {proc.returncode}:\n"
            f"{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}",
            pytrace=False,
        )
    return Built(crate, variant, out)


_BUILT: dict[tuple[str, str], Built] = {}


def cached_build(crate: str, variant: str) -> Built:
    key = (crate, variant)
    if key not in _BUILT:
        _BUILT[key] = build_sample(crate, variant)
    return _BUILT[key]


def copy_crate(name: str, dest: Path, *, lock: bool = True) -> Path:
    """A copy of sample-crates/<name> at `dest`, without its build outputs; `lock=False`
    leaves out its Cargo.lock as well (a crate as users copy it from an example)."""
    ignored = ["target", "build", *([] if lock else ["Cargo.lock"])]
    shutil.copytree(SAMPLES / name, dest, ignore=shutil.ignore_patterns(*ignored))
    return dest


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` with its bytes, to compare before and after a build."""
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }
