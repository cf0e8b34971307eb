"""worker_build.serve.server_process: the start/stop paths of a server process, through a
WorkerdProcess of a fake workerd (a shell script speaking the control-fd protocol). The
real runtimes are run by tests/integration/test_serve_real.py and test_shim_workerd.py."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.builddir import fake_build_dir
from tests.support.fakes import fake_exe
from tests.support.procs import alive
from worker_build.serve import workerd_config as wd
from worker_build.serve.server_process import PortInUseError
from worker_build.serve.workerd_process import WorkerdProcess

# A fake workerd: finds --control-fd=N, starts a grandchild (to prove the whole group is
# stopped; its pid is written before any socket is reported), reports the sockets named in
# FAKE_SOCKETS and waits.
FAKE = r"""
for a in "$@"; do case "$a" in --control-fd=*) fd="${a#--control-fd=}";; esac; done
echo "fake workerd starting"
if [ -n "$FAKE_EXIT" ]; then echo "$FAKE_EXIT" >&2; exit 3; fi
sleep 300 &
echo $! > "$FAKE_PIDFILE"
port=4000
for s in $FAKE_SOCKETS; do
  port=$((port + 1))
  printf '{"event":"listen","socket":"%s","port":%d}\n' "$s" "$port" >> "/dev/fd/$fd"
done
wait
"""


def fake_process(tmp_path: Path, sockets: str, *, port: int = 0, **env: str) -> WorkerdProcess:
    exe = fake_exe(tmp_path / "bin" / "workerd", FAKE)
    worker = wd.Worker("main", wd.build_modules(fake_build_dir(tmp_path)))
    http = wd.Socket("http", "main", port=port)
    config = wd.Config((worker,), (http, wd.Socket("control", "main")))
    return WorkerdProcess(
        exe,
        config,
        env={"FAKE_SOCKETS": sockets, "FAKE_PIDFILE": str(tmp_path / "grandchild"), **env},
    )


def test_ports_are_read_back_and_stop_ends_the_whole_group(tmp_path: Path) -> None:
    process = fake_process(tmp_path, "http control")
    with process:
        assert process.ports == {"http": 4001, "control": 4002}
        assert process.running
        grandchild = int((tmp_path / "grandchild").read_text())
        assert alive(grandchild)
    assert not process.running
    deadline = time.monotonic() + 30  # the signal is sent; its delivery is asynchronous
    while alive(grandchild) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not alive(grandchild)
    assert "fake workerd starting" in process.log_text()  # kept after the dir is removed


def test_exit_before_listening_quotes_the_log(tmp_path: Path) -> None:
    process = fake_process(tmp_path, "", FAKE_EXIT="config error: no such module")
    with pytest.raises(wd.WorkerdError, match="workerd exited with code 3") as info:
        process.start()
    assert "config error: no such module" in info.value.message
    assert not process.running


def test_a_fixed_port_taken_meanwhile_is_a_port_in_use_error(tmp_path: Path) -> None:
    # serve() checks the port first; this is the server's own failure when another process
    # takes it in between (workerd's words, quoted)
    message = 'Socket "http": bind(): Address already in use (os error 98)'
    process = fake_process(tmp_path, "", port=8791, FAKE_EXIT=message)
    with pytest.raises(PortInUseError) as info:
        process.start()
    assert info.value.headline == "port 8791 on 127.0.0.1 is already in use"
    assert message in info.value.message
    any_port = fake_process(tmp_path / "any", "", FAKE_EXIT=message)
    with pytest.raises(wd.WorkerdError) as info:  # no fixed port: not ours to name
        any_port.start()
    assert not isinstance(info.value, PortInUseError)


def test_missing_socket_times_out_and_stops_it(tmp_path: Path) -> None:
    process = fake_process(tmp_path, "http")  # never reports "control"
    with pytest.raises(wd.WorkerdError, match="did not listen within 1 s"):
        process.start(timeout=1.0)
    assert not process.running
