"""A machine short of memory: a command whose allocation fails says it ran out of memory, in one line, and
what to do, rather than a traceback from deep in numpy; nothing half-written stays behind.

The child process imports what the command needs and runs it once on a small image (so every module and
thread it starts is in place), then limits its own address space (RLIMIT_AS, as ``ulimit -v`` or ``prlimit
--as`` do) to what it already has plus a little, and runs the command on an image that needs more. A fixed
limit set before the child starts would depend on how much address space numpy's and GDAL's threads reserve
on this machine; this one does not.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np
import pytest

from sitewatch.cli.options import errors_to_click
from sitewatch.testing import write_tiff

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")

CHILD = textwrap.dedent(
    """
    import resource, sys
    from pathlib import Path
    from sitewatch.cli import main

    small, big, out = sys.argv[1:4]
    try:
        main(["-q", "detect-image", small, "--out", str(Path(out).with_name("small.geojson"))])
    except SystemExit as exc:
        assert exc.code in (0, None), exc.code
    vm = next(int(line.split()[1]) for line in open("/proc/self/status", encoding="utf-8") if line.startswith("VmSize:"))
    limit = vm * 1024 + 48 * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    main(["-q", "detect-image", big, "--out", out])
    """
)


def _sar(path: Path, side: int) -> Path:
    rng = np.random.default_rng(0)
    return write_tiff(path, rng.gamma(4.5, 0.03 / 4.5, size=(side, side)).astype(np.float32))


def test_detect_image_out_of_memory_says_so_in_one_line(tmp_path: Path) -> None:
    small = _sar(tmp_path / "small.tif", 256)
    big = _sar(tmp_path / "big.tif", 3000)  # 36 MB of pixels, some 9-17 bytes a pixel to detect in one pass
    out = tmp_path / "ships.geojson"
    # OpenBLAS's threads as a user's command has them (the tests hold theirs to one, conftest.py): with one, the
    # child's address space is some 50 MiB less, its limit under the floor, and the command refused at its start.
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    p = subprocess.run([sys.executable, "-c", CHILD, str(small), str(big), str(out)],
                       capture_output=True, text=True, encoding="utf-8", timeout=120, env=env)  # fmt: skip
    assert p.returncode == 1, p.stderr
    assert "Traceback" not in p.stderr, p.stderr
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("Error: out of memory: sitewatch detect-image could not allocate"), p.stderr
    assert "--workers" in lines[0] and "more memory" in lines[0]
    assert not out.exists()
    assert not [f for f in tmp_path.iterdir() if f.name.startswith((".ships", "ships"))], list(tmp_path.iterdir())


def _limited(mib: int) -> Callable[[], None]:
    def set_() -> None:
        import resource  # not on Windows

        resource.setrlimit(resource.RLIMIT_AS, (mib * 2**20, mib * 2**20))

    return set_


def test_too_little_address_space_is_refused_at_once(tmp_path: Path) -> None:
    """Under 400 MiB numpy, scipy and GDAL cannot all load: at 300 MiB a command printed the loader's ImportError
    as a traceback, and at 250 MiB scipy's OpenBLAS spun for ever as it loaded."""
    p = subprocess.run([sys.executable, "-m", "sitewatch", "-q", "timeline", "dunai", "-w", str(tmp_path)],
                       capture_output=True, text=True, encoding="utf-8", timeout=120, preexec_fn=_limited(300))  # fmt: skip
    assert p.returncode == 1, p.stderr
    assert p.stderr.strip() == (
        "Error: out of memory: the address space is limited to 300 MiB (ulimit -v), and sitewatch needs at least "
        '400 MiB to load its numerical libraries; raise the limit (README, "Memory")'
    ), p.stderr


def test_a_library_with_no_room_to_load_is_out_of_memory() -> None:
    """The loader's "failed to map segment" is the machine's memory, said as such; another ImportError is not."""
    missing = "/x/_geod.cpython-311-x86_64-linux-gnu.so: failed to map segment from shared object"
    with pytest.raises(click.ClickException, match=r"^out of memory: sitewatch could not allocate what it needed \(/x/_geod"):
        with errors_to_click():
            raise ImportError(missing)
    with pytest.raises(ImportError, match="No module named"):
        with errors_to_click():
            raise ImportError("No module named 'nothing'")


@pytest.mark.parametrize(
    "exc",
    [MemoryError("Unable to allocate 90.8 MiB"), ImportError("/x/_decomp_lu.so: failed to map segment from shared object")],
)
def test_dashboard_out_of_memory_is_a_503_that_passes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, exc: Exception) -> None:
    """serve under 512 MiB answered a page with its generic 500 "internal error (ImportError: …)"."""
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from click.testing import CliRunner
    from fastapi.testclient import TestClient

    import sitewatch.web.data as data
    from sitewatch.cli import main
    from sitewatch.web import create_app

    assert CliRunner().invoke(main, ["init", str(tmp_path)]).exit_code == 0
    res = CliRunner().invoke(main, ["sites", "add", "harbour", "--bbox", "131.10,42.70,131.14,42.73", "--kind", "port", "-w", str(tmp_path)])
    assert res.exit_code == 0, res.output

    def fails(*args: object, **kwargs: object) -> None:
        raise exc

    monkeypatch.setattr(data, "site_summaries", fails)
    r = TestClient(create_app(tmp_path), raise_server_exceptions=False).get("/api/sites")
    assert r.status_code == 503, r.text
    assert "Retry-After" in r.headers
    assert r.json()["detail"].startswith("the server ran out of memory answering this request"), r.text
