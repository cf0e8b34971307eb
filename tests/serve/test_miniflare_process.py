"""worker_build.serve.miniflare_process: the command line and options file of a miniflare
run, with a fake node (a shell script speaking the control-fd protocol as
templates/serve_miniflare.mjs does); the real one runs in tests/integration/test_serve_real.py."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.fakes import fake_exe
from worker_build.serve.miniflare_process import DRIVER, OPTIONS_FILE, MiniflareProcess

# argv: DRIVER OPTIONS.json PACKAGE FD. Copies the options file (removed after the start)
# and its arguments where the test reads them, then reports both sockets.
FAKE_NODE = r"""
cp "$2" "$FAKE_SEEN/options.json"
printf '%s\n' "$@" > "$FAKE_SEEN/argv"
printf '{"event":"listen","socket":"http","port":4101}\n' >> "/dev/fd/$4"
printf '{"event":"listen","socket":"control","port":4102}\n' >> "/dev/fd/$4"
exec sleep 300
"""


def test_node_runs_the_driver_with_the_options_and_the_package(tmp_path: Path) -> None:
    node = fake_exe(tmp_path / "bin" / "node", FAKE_NODE)
    seen = tmp_path / "seen"
    seen.mkdir()
    package = tmp_path / "node_modules" / "miniflare"
    process = MiniflareProcess(
        node,
        package,
        lambda tmp: {"resourceTmpPath": str(tmp), "vars": "grüße"},
        port=8793,
        env={"FAKE_SEEN": str(seen)},
    )
    assert process.sockets == {"http": 8793, "control": 0}
    with process:
        assert process.ports == {"http": 4101, "control": 4102}
        workdir = process._workdir
        assert (workdir / "tmp").is_dir()  # miniflare's temporary data: private
        assert not (workdir / OPTIONS_FILE).exists()  # read at startup, then removed
    argv = (seen / "argv").read_text().splitlines()
    assert Path(argv[0]).name == DRIVER
    assert argv[1:] == [str(workdir / OPTIONS_FILE), str(package), argv[3]]
    options = json.loads((seen / "options.json").read_text(encoding="ascii"))
    assert options == {"resourceTmpPath": str(workdir / "tmp"), "vars": "grüße"}
    assert not workdir.exists() and not process.running
