"""A reader that stops early (`sitewatch … | head -c 100`) while a command still has output to write: exit code 1,
nothing said, as README (Scripting) says, whether Python buffers standard output or not (PYTHONUNBUFFERED=1); a
full disk under standard output: exit code 1 and one line naming it, not a traceback."""

from __future__ import annotations

import fcntl
import io
import os
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from sitewatch.cli.whole_writes import WholeWrites
from sitewatch.testing import tiny_site, workspace_with_sites


def _reader_leaves_with_the_pipe_full(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    """Run ``cmd`` into a pipe; read one byte, wait until the pipe is full (the command blocked writing the rest)
    and close it, as `head -c 1` does while a large document is being written."""
    r, w = os.pipe()
    proc = subprocess.Popen(cmd, stdout=w, stderr=subprocess.PIPE, env=env)
    os.close(w)
    try:
        assert os.read(r, 1)
        buf = bytearray(4)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            fcntl.ioctl(r, termios.FIONREAD, buf)
            if int.from_bytes(buf, sys.byteorder) >= 60_000:  # of 65,536: the writer waits for room
                time.sleep(0.2)
                break
            time.sleep(0.05)
    finally:
        os.close(r)
    _, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, proc.returncode, b"", err)


def _env(unbuffered: bool) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("PYTHONUNBUFFERED", None)
    return env | ({"PYTHONUNBUFFERED": "1"} if unbuffered else {})


@pytest.mark.parametrize("unbuffered", [True, False])
def test_a_reader_that_leaves_early_is_exit_code_1(tmp_path: Path, unbuffered: bool) -> None:
    # With PYTHONUNBUFFERED=1 the blocked write returned the 64 kB the pipe took, TextIOWrapper dropped the rest
    # without a word, and the command exited 0: a script under `set -o pipefail` took a cut document for a whole.
    sites = [tiny_site(f"port-{i:03d}", lon=100.0 + i * 0.05, lat=10.0) for i in range(300)]
    ws = workspace_with_sites(tmp_path / "ws", *sites)
    env = _env(unbuffered)
    cmd = [sys.executable, "-m", "sitewatch", "sites", "list", "--json", "-w", str(ws.root)]
    whole = subprocess.run(cmd, capture_output=True, env=env, timeout=120, check=True)
    assert len(whole.stdout) > 150_000  # far more than a pipe holds (64 kB)
    res = _reader_leaves_with_the_pipe_full(cmd, env)
    assert res.returncode == 1 and res.stderr == b"", res.stderr.decode()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("unbuffered", [True, False])
def test_a_full_disk_under_standard_output_is_named(tmp_path: Path, unbuffered: bool) -> None:
    # /dev/full refuses every write with ENOSPC: a traceback from click.echo, exit code 1.
    ws = workspace_with_sites(tmp_path / "ws", tiny_site())
    cmd = [sys.executable, "-m", "sitewatch", "sites", "list", "--json", "-w", str(ws.root)]
    with open("/dev/full", "wb") as full:
        res = subprocess.run(cmd, stdout=full, stderr=subprocess.PIPE, env=_env(unbuffered), timeout=120, check=False)
    err = res.stderr.decode()
    assert res.returncode == 1 and "Traceback" not in err, err
    assert err.strip().splitlines() == ["Error: standard output: cannot write it (No space left on device)"]


def test_whole_writes_writes_what_a_raw_file_took_in_part() -> None:
    class Sip(io.RawIOBase):
        """A raw stream taking at most 3 bytes a write, as a pipe's write may take part of what it is given."""

        def __init__(self) -> None:
            self.got = bytearray()

        def writable(self) -> bool:
            return True

        def write(self, b) -> int:  # type: ignore[no-untyped-def, override]
            self.got += bytes(b[:3])
            return min(3, len(b))

    raw = Sip()
    text = io.TextIOWrapper(WholeWrites(raw), encoding="utf-8", newline="\n", write_through=True)
    text.write("ôte-toi de là\n" * 10)
    text.flush()
    assert raw.got.decode("utf-8") == "ôte-toi de là\n" * 10
