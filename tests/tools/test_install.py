"""tools/install.py: installing a tool into the cache, announced and shown as it runs.

Fake cargo and npm programs stand in (unit tests of command lines and output handling);
the progress is a recorder, so nothing here depends on time."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fakes import fake_exe
from tests.support.progress import RecordingProgress
from worker_build.errors import ToolMissingError
from worker_build.tools import install

FIX = "run `cargo install wasm-bindgen-cli --version 0.2.130`"


def fake_cargo(tmp_path: Path, body: str = "") -> Path:
    """Prints a line as cargo does while compiling, then installs under --root ($6)."""
    return fake_exe(
        tmp_path / "bin" / "cargo",
        f'echo "   Compiling wasm-bindgen-cli v$4" >&2\n{body}\n'
        'mkdir -p "$6/bin" && printf "#!/bin/sh\\necho wasm-bindgen $4\\n" > "$6/bin/wasm-bindgen"',
    )


@pytest.mark.parametrize("shown", [True, False])
def test_cargo_install_is_announced_and_its_lines_shown_unless_quiet(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], shown: bool
) -> None:
    cargo = fake_cargo(tmp_path)
    root = tmp_path / "cache" / "wasm-bindgen" / "0.2.130"
    progress = RecordingProgress(show_tasks=shown)
    install.cargo_install(
        str(cargo), "wasm-bindgen-cli", "0.2.130", root, progress, "no prebuilt reachable", FIX
    )
    assert (root / "bin" / "wasm-bindgen").is_file()
    assert progress.tasks == [
        (
            f"compiling wasm-bindgen-cli 0.2.130 with `cargo install` into {root}, "
            f"{install.CARGO_ESTIMATE}",
            "no prebuilt reachable",
        )
    ]
    assert progress.events[-1] == ("task ended",)
    err = capfd.readouterr().err
    assert ("   Compiling wasm-bindgen-cli v0.2.130" in err) is shown


@pytest.mark.parametrize("shown", [True, False])
def test_a_failed_install_quotes_cargo_and_leaves_nothing(tmp_path: Path, shown: bool) -> None:
    cargo = fake_cargo(tmp_path, 'echo "error: could not compile walrus" >&2; exit 101')
    root = tmp_path / "cache" / "wasm-bindgen" / "0.2.130"
    progress = RecordingProgress(show_tasks=shown)
    with pytest.raises(ToolMissingError) as info:
        install.cargo_install(str(cargo), "wasm-bindgen-cli", "0.2.130", root, progress, "", FIX)
    assert info.value.headline == "installing wasm-bindgen-cli 0.2.130 with cargo failed"
    assert "error: could not compile walrus" in (info.value.details or "")
    assert info.value.fix == FIX
    assert list(root.parent.iterdir()) == []  # no staging directory left behind
    assert progress.events[-1] == ("task ended",)


def test_npm_install_into_the_cache(tmp_path: Path) -> None:
    log = tmp_path / "npm.txt"
    npm = fake_exe(
        tmp_path / "bin" / "npm",
        f'echo "$@" > {log}\nmkdir -p "$3/node_modules/.bin"\n'
        'printf "#!/bin/sh\\necho 0.28.2\\n" > "$3/node_modules/.bin/esbuild"',
    )
    root = tmp_path / "cache" / "esbuild" / "0.28.2"
    progress = RecordingProgress()
    install.npm_install(str(npm), "esbuild", "0.28.2", root, progress, "", "fix")
    assert (root / "node_modules" / ".bin" / "esbuild").is_file()
    assert progress.tasks == [
        (f"installing npm's esbuild@0.28.2 into {root}, {install.NPM_ESTIMATE}", "")
    ]
    assert log.read_text().split()[-1] == "esbuild@0.28.2"
    assert "--no-save" in log.read_text()
