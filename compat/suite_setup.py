"""What workers-rs's suite needs before any build (steps 1-3 of compat/workers_rs_suite.py):
the source tree of a commit, relocked without the wasm-bindgen submodule, and the npm
packages the specs import. Everything is made under CACHE (git-ignored) once and reused.

1. Extract: `git archive <commit>` of the whole workspace (the sandbox crate `test/` is
   a member of the root workspace, with path dependencies on worker, worker-macros,
   worker-sys; cargo needs every member's manifest) into src-<commit>/.
2. Relock: upstream's Cargo.toml patches the wasm-bindgen crates to its `wasm-bindgen`
   git submodule, which `git archive` does not contain (and CI cannot fetch). The
   `[patch.crates-io]` section is removed and the same versions are taken from
   crates.io: the patched crates are pinned `=<locked version>` once so that cargo
   records them, then the manifest is restored (patch section still removed). The
   resulting Cargo.lock must lock exactly the same (name, version) set as upstream's,
   or the run stops.
3. npm: NPM_PACKAGES (exact versions) into a private npm/ directory, linked as
   src-<commit>/node_modules; installed with Node 22 (.cache/node22, from setup.sh),
   which miniflare 4 needs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from harness.bench_toolchain import DEBIAN_CARGO, DEBIAN_RUSTC
from harness.machine import stopwatch
from harness.paths import CACHE as REPO_CACHE

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CACHE = REPO_CACHE / "workers-rs-suite"
NODE22 = REPO_CACHE / "node22" / "node_modules" / ".bin" / "node"
# Bump when the way a source tree is prepared changes: older trees are then rebuilt.
PREP_VERSION = "1"
# Exact versions: miniflare as upstream's package-lock.json; vite/vitest the newest this
# machine's registry serves for Node 22 (upstream locks vitest 4.1.11, vite 8.2.1).
NPM_PACKAGES = ("miniflare@4.20260730.0", "vite@8.3.8", "vitest@4.1.12", "uuid@14.0.2")
NPM_TIMEOUT = 15 * 60


class SetupError(Exception):
    """A step before the suite runs failed; the message says what to do."""


def run_logged(
    argv: list[str], *, cwd: Path, env: Mapping[str, str], log_path: Path, timeout: float
) -> int:
    """Run to completion with stdout+stderr to `log_path`; the process group is killed
    when `timeout` passes (returns -SIGKILL then)."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as fh:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            return proc.wait(timeout=timeout)
        except BaseException:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            fh.write(f"\n[workers_rs_suite] killed after {timeout:.0f} s or interrupted\n")
            raise


def tail(path: Path, lines: int = 40) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# ------------------------------------------------------------------------------ relock


def patched_crates(manifest: str) -> list[str]:
    return sorted(tomllib.loads(manifest).get("patch", {}).get("crates-io", {}))


def drop_patch_section(manifest: str) -> str:
    """The manifest without its `[patch.crates-io]` table (up to the next table header
    or the end); everything else byte for byte."""
    match = re.search(r"^\[patch\.crates-io\][^\n]*\n", manifest, re.M)
    if match is None:
        return manifest
    rest = manifest[match.end() :]
    following = re.search(r"^\[", rest, re.M)
    end = match.end() + following.start() if following else len(manifest)
    return manifest[: match.start()] + manifest[end:]


def pin_workspace_deps(manifest: str, pins: Mapping[str, str]) -> str:
    """`name = { version = "X", ... }` / `name = "X"` under [workspace.dependencies] ->
    version "=pin". Every name in `pins` must be there."""
    table = re.search(r"^\[workspace\.dependencies\][^\n]*\n", manifest, re.M)
    if table is None:
        raise SetupError("the root Cargo.toml has no [workspace.dependencies] table")
    following = re.search(r"^\[", manifest[table.end() :], re.M)
    end = table.end() + following.start() if following else len(manifest)
    body = manifest[table.end() : end]
    for name, version in pins.items():
        key = re.escape(name)
        new, n = re.subn(
            rf'^({key}\s*=\s*(?:\{{[^\n]*?version\s*=\s*)?")[^"]*"',
            rf'\g<1>={version}"',
            body,
            count=1,
            flags=re.M,
        )
        if n != 1:
            raise SetupError(f"cannot pin {name}: not a versioned [workspace.dependencies] entry")
        body = new
    return manifest[: table.end()] + body + manifest[end:]


def unsourced_versions(lock: str, names: list[str]) -> dict[str, str]:
    """Locked version of each patched crate (its lock entry has no `source`)."""
    found: dict[str, str] = {}
    for pkg in tomllib.loads(lock)["package"]:
        if pkg["name"] in names and "source" not in pkg:
            found[pkg["name"]] = pkg["version"]
    return found


def locked_set(lock: str) -> set[tuple[str, str]]:
    return {(p["name"], p["version"]) for p in tomllib.loads(lock)["package"]}


def locked_version(lock: str, name: str) -> str:
    versions = {v for n, v in locked_set(lock) if n == name}
    if len(versions) != 1:
        raise SetupError(f"Cargo.lock locks {len(versions)} versions of {name}")
    return versions.pop()


def cargo_env() -> dict[str, str]:
    """Debian's cargo 1.96 for the lock step (rust-toolchain.toml asks rustup for 1.88,
    which is not installed here; this step compiles nothing)."""
    env = {k: v for k, v in os.environ.items() if k not in {"CARGO_TARGET_DIR", "RUSTFLAGS"}}
    env["RUSTC"] = str(DEBIAN_RUSTC)
    return env


def relock(tree: Path) -> None:
    """Replace the submodule-patched wasm-bindgen crates by the same versions from
    crates.io (see the module docstring, step 2)."""
    manifest_path, lock_path = tree / "Cargo.toml", tree / "Cargo.lock"
    manifest, lock = manifest_path.read_text(), lock_path.read_text()
    names = patched_crates(manifest)
    if not names:
        return
    pins = unsourced_versions(lock, names)
    unpatched = drop_patch_section(manifest)
    pinnable = {
        n: v for n, v in pins.items() if re.search(rf"^{re.escape(n)}\s*=", unpatched, re.M)
    }
    manifest_path.write_text(pin_workspace_deps(unpatched, pinnable))
    argv = [str(DEBIAN_CARGO), "metadata", "--format-version", "1"]
    proc = subprocess.run(argv, cwd=tree, env=cargo_env(), capture_output=True, text=True)
    manifest_path.write_text(unpatched)
    if proc.returncode != 0:
        raise SetupError(f"cargo could not lock the crates.io wasm-bindgen:\n{proc.stderr[-3000:]}")
    proc = subprocess.run(argv, cwd=tree, env=cargo_env(), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SetupError(f"cargo metadata failed after relocking:\n{proc.stderr[-3000:]}")
    before, after = locked_set(lock), locked_set(lock_path.read_text())
    if before != after:
        raise SetupError(
            "relocking changed the locked versions: "
            f"lost {sorted(before - after)}, gained {sorted(after - before)}"
        )


# ------------------------------------------------------------------------------ source tree


def ensure_tree(repo: Path, commit: str, timings: dict[str, float]) -> Path:
    """The prepared source tree of `commit` (made once, reused while PREP_VERSION holds)."""
    tree = CACHE / f"src-{commit[:12]}"
    stamp = tree / ".workers-rs-suite"
    if stamp.is_file() and stamp.read_text() == PREP_VERSION:
        return tree
    check = subprocess.run(
        ["git", "-C", str(repo), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True
    )
    if check.returncode != 0:
        raise SetupError(
            f"commit {commit} is not in {repo} (fetch it there, or pass --repo a "
            "copy of cloudflare/workers-rs that has it)"
        )
    staging = tree.with_name(tree.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with stopwatch(timings, "extract"):
        archive = subprocess.run(
            ["git", "-C", str(repo), "archive", commit], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(staging)], input=archive, check=True)
    if not (staging / "test" / "Cargo.toml").is_file():
        raise SetupError(f"{commit} has no test/Cargo.toml: not a workers-rs commit with its suite")
    with stopwatch(timings, "relock"):
        relock(staging)
    (staging / "node_modules").symlink_to(CACHE / "npm" / "node_modules")
    (staging / ".workers-rs-suite").write_text(PREP_VERSION)
    shutil.rmtree(tree, ignore_errors=True)
    staging.rename(tree)
    return tree


def spec_files(tree: Path) -> list[str]:
    return sorted(p.name for p in (tree / "test" / "tests").glob("*.spec.ts"))


# ------------------------------------------------------------------------------ npm


def node_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(NODE22.parent), env.get("PATH", "")])
    return env


def ensure_npm(timings: dict[str, float]) -> None:
    """NPM_PACKAGES in CACHE/npm (installed once per package list)."""
    npm_dir = CACHE / "npm"
    stamp = npm_dir / ".packages"
    want = "\n".join(NPM_PACKAGES)
    if stamp.is_file() and stamp.read_text() == want:
        return
    if not NODE22.is_file():
        raise SetupError(f"Node 22 is missing at {NODE22} (run ./setup.sh)")
    npm_dir.mkdir(parents=True, exist_ok=True)
    deps = dict(spec.rsplit("@", 1) for spec in NPM_PACKAGES)
    (npm_dir / "package.json").write_text(
        json.dumps({"private": True, "type": "module", "dependencies": deps}, indent=2) + "\n"
    )
    npm = shutil.which("npm")
    if npm is None:
        raise SetupError("npm is not on PATH (install Node.js and npm)")
    with stopwatch(timings, "npm install"):
        code = run_logged(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=npm_dir,
            env=node_env(),
            log_path=npm_dir / "install.log",
            timeout=NPM_TIMEOUT,
        )
    if code != 0:
        raise SetupError(f"npm install failed ({code}):\n{tail(npm_dir / 'install.log')}")
    stamp.write_text(want)
