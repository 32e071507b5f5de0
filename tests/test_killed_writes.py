"""A command killed (SIGKILL) while it put a file in place, then run again: the file the killed run left
half-done beside the output (exports, report.html, a GeoPackage export, the demo's timelines) is gone
after the rerun, not left for ever beside the file the rerun wrote."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sitewatch.files import partial_owner, partial_path, write_text_atomic, written_whole

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

_KILLED_AT_RENAME = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from sitewatch.files import write_text_atomic, written_whole

    def killed(src, dst):  # SIGKILL once the partial file is whole, before the rename
        os.kill(os.getpid(), signal.SIGKILL)

    os.replace = killed
    out = Path(sys.argv[2])
    if sys.argv[1] == "text":
        write_text_atomic(out, "half of it")
    else:
        with written_whole(out) as tmp:
            tmp.write_text("half of it", encoding="utf-8")
    """
)


def _killed_writing(how: str, out: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", _KILLED_AT_RENAME, how, str(out)], capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr


def _a_pid_not_running() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, encoding="utf-8")
    return int(proc.stdout)  # ended (and reaped) by the time it is read


def _beside(out: Path) -> list[str]:
    return sorted(p.name for p in out.parent.iterdir())


@pytest.mark.parametrize("how", ["text", "whole"])
def test_a_rerun_removes_what_a_killed_write_left(tmp_path: Path, how: str) -> None:
    out = tmp_path / "exports" / "detections.geojson"
    out.parent.mkdir()
    _killed_writing(how, out)
    left = _beside(out)
    assert len(left) == 1 and left[0].startswith(".detections.geojson.") and left[0].endswith(".partial"), left

    if how == "text":
        write_text_atomic(out, "all of it")
    else:
        with written_whole(out) as tmp:
            tmp.write_text("all of it", encoding="utf-8")

    assert _beside(out) == ["detections.geojson"]
    assert out.read_text(encoding="utf-8") == "all of it"


def test_a_running_writer_s_partial_file_and_other_files_are_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    host = partial_owner().split("-", 1)[1]
    dead = f"{_a_pid_not_running()}-{host}"
    running = partial_path(out, owner=f"{os.getppid()}-{host}")  # a live process's: the test's parent
    mine = partial_path(out)  # this process's own, being written in another thread
    elsewhere = partial_path(out, owner="4242-abcdef")  # a command's on another machine (Dask): not looked up
    longer = partial_path(tmp_path / "report.html.bak", owner=dead)  # another file's
    gone = partial_path(out, owner=dead)
    sqlite_journal = gone.with_name(f"{gone.name}-journal")  # a killed GeoPackage write's
    for p in (running, mine, elsewhere, longer, gone, sqlite_journal):
        p.write_text("x", encoding="utf-8")

    write_text_atomic(out, "<html></html>")

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["report.html", running.name, mine.name, elsewhere.name, longer.name]
    )


def test_export_killed_as_it_renames_its_file_then_run_again_leaves_only_the_file(tmp_path: Path) -> None:
    from sitewatch.testing import tiny_site, workspace_with_sites

    ws = workspace_with_sites(tmp_path / "ws", tiny_site())
    out = tmp_path / "out" / "sites.geojson"
    out.parent.mkdir()
    script = textwrap.dedent(
        """
        import os, signal, sys
        real = os.replace
        def replace(src, dst, *a, **k):
            if str(dst).endswith("sites.geojson"):
                os.kill(os.getpid(), signal.SIGKILL)
            return real(src, dst, *a, **k)
        os.replace = replace
        from sitewatch.cli import main
        sys.argv = ["sitewatch", *sys.argv[1:]]
        main()
        """
    )
    args = ["-q", "export", "--out", str(out), "-w", str(ws.root)]
    killed = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert any(n.endswith(".partial") for n in _beside(out))

    rerun = subprocess.run([sys.executable, "-m", "sitewatch", *args], capture_output=True, text=True, encoding="utf-8", timeout=120)

    assert rerun.returncode == 0, rerun.stderr
    assert _beside(out) == ["sites.geojson"]


_INIT_KILLED_AT_SETTINGS = textwrap.dedent(
    """
    import os, pathlib, signal, sys
    real = pathlib.Path.replace
    def replace(self, target):
        if str(target).endswith("sitewatch.toml"):  # its partial file written, not yet renamed into place
            os.kill(os.getpid(), signal.SIGKILL)
        return real(self, target)
    pathlib.Path.replace = replace
    from sitewatch.workspace import init_workspace
    init_workspace(pathlib.Path(sys.argv[1]))
    """
)


def test_a_demo_killed_as_it_wrote_its_settings_runs_again_into_its_folder(tmp_path: Path) -> None:
    """The demo (or init) killed as it renamed sitewatch.toml into place left only the settings' partial file in
    its new folder: the demo run again refused the folder as one that "holds files and is not a sitewatch
    workspace", and init kept the partial file beside the settings for ever."""
    from sitewatch.demo import _refuse_own_workspace
    from sitewatch.workspace import init_workspace

    out = tmp_path / "sitewatch-demo"
    proc = subprocess.run([sys.executable, "-c", _INIT_KILLED_AT_SETTINGS, str(out)], capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert [p.name for p in out.iterdir()][0].startswith(".sitewatch.toml.")

    _refuse_own_workspace(out, {"dunai"})  # what the demo asks first: no error
    init_workspace(out)

    assert sorted(p.name for p in out.iterdir()) == ["archive", "sitewatch.gpkg", "sitewatch.toml"]


def test_init_run_again_after_a_kill_leaves_no_partial_settings_file(tmp_path: Path) -> None:
    from sitewatch.workspace import init_workspace

    out = tmp_path / "ws"
    subprocess.run([sys.executable, "-c", _INIT_KILLED_AT_SETTINGS, str(out)], capture_output=True, text=True, encoding="utf-8", timeout=120)
    init_workspace(out)
    assert sorted(p.name for p in out.iterdir()) == ["archive", "sitewatch.gpkg", "sitewatch.toml"]


def test_init_of_a_workspace_removes_a_settings_partial_file_a_killed_command_left(tmp_path: Path) -> None:
    from sitewatch.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws")
    stale = partial_path(ws.config_path, owner=f"{_a_pid_not_running()}-{partial_owner().split('-', 1)[1]}")
    stale.write_text("half", encoding="utf-8")
    init_workspace(ws.root)  # as every demo run does
    assert not stale.exists() and ws.config_path.is_file()
