"""``ingest`` and ``import`` on a Dask cluster: the same observations as a local run, failures named,
no partial file left behind, reruns that replace."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

import sitewatch.ingest as ingest
import sitewatch.run as run
from _dask import local_cluster, on_stall
from sitewatch.cli import main
from sitewatch.errors import OutputError
from sitewatch.files import owner_of, partial_owner, partial_path
from sitewatch.ingest import FileJob
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
from sitewatch.workspace import Workspace

distributed = pytest.importorskip("distributed")

SITE = tiny_site("pier")
FAR = tiny_site("elsewhere", lon=140.0, lat=45.0)


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """Two in-process workers of one thread each: what `dask worker` gives, without starting processes."""
    with local_cluster(n_workers=2, threads_per_worker=1, processes=False) as cluster:
        yield cluster.scheduler_address


def _sar(path: Path, day: int) -> Path:
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.random.default_rng(day).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    return write_tiff(path, data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"],
                      tags={"SITEWATCH_ACQUIRED": f"2024-10-{day:02d}T09:30:00Z"})  # fmt: skip


def _scenes(folder: Path, days: range = range(10, 15)) -> Path:
    """SAR scenes over the site, one with a truth sidecar, and a file that is no GeoTIFF."""
    folder.mkdir()
    for day in days:
        _sar(folder / f"s1_202410{day:02d}.tif", day)
    (folder / f"s1_202410{days[0]:02d}.truth.geojson").write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    (folder / "broken.tif").write_bytes(b"not a tiff")
    return folder


def _archive(ws: Workspace) -> dict[str, bytes]:
    """Every file of the archive (partial files too), by its path relative to the archive."""
    return {p.relative_to(ws.archive).as_posix(): p.read_bytes() for p in sorted(ws.archive.rglob("*")) if p.is_file()}


def _observations(ws: Workspace) -> list[dict[str, Any]]:
    """The stored observations as comparable records: provenance without the time of ingest."""
    with ws.store() as store:
        rows = []
        for site in store.sites():
            for o in store.observations(site.id):
                prov = {k: v for k, v in o.provenance.items() if k != "ingested_at"}
                rows.append({"id": o.id, "path": o.path, "sha256": o.sha256, "valid": o.valid_fraction,
                             "acquired": o.scene.acquired, "provenance": prov})  # fmt: skip
    return rows


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(main, ["-q", *args])


def _when_idle(scheduler: str) -> None:
    """Once no worker runs a job: a job cancelled while it ran goes on until it ends, and may then
    still write its files (which the command must have waited for, to remove them)."""
    import time

    with distributed.Client(scheduler) as client:
        deadline = time.monotonic() + 30
        while any(client.call_stack().values()) and time.monotonic() < deadline:
            time.sleep(0.1)


def test_ingest_on_dask_gives_what_a_local_run_gives(tmp_path: Path, scheduler: str) -> None:
    """ingest always ran locally: each worker wrote its COG under a name holding its process id, which
    only the command's own machine could tell apart. On Dask the observations, COG bytes, sidecars
    and provenance are a local run's; the unreadable file is named as locally; a rerun replaces."""
    scenes = _scenes(tmp_path / "in")
    here = workspace_with_sites(tmp_path / "local", SITE)
    there = workspace_with_sites(tmp_path / "dask", SITE)
    local = _invoke("ingest", SITE.id, str(scenes), "--workers", "1", "--json", "-w", str(here.root))
    on_dask = _invoke("ingest", SITE.id, str(scenes), "--scheduler", scheduler, "--json", "-w", str(there.root))
    assert local.exit_code == on_dask.exit_code == 3, on_dask.output  # the broken file: some skipped
    assert json.loads(on_dask.stdout)["refused"] == json.loads(local.stdout)["refused"] != []
    assert len(json.loads(on_dask.stdout)["ingested"]) == 5
    assert _observations(there) == _observations(here)
    assert _archive(there) == _archive(here)  # the COGs byte for byte, the sidecar, and no partial file
    again = _invoke("ingest", SITE.id, str(scenes), "--scheduler", scheduler, "-w", str(there.root))
    assert again.exit_code == 3, again.output
    assert _observations(there) == _observations(here)  # replaced, not added
    assert _archive(there) == _archive(here)


def test_import_on_dask_gives_what_a_local_run_gives(tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """import on a cluster named by the `scheduler` setting (SITEWATCH_SCHEDULER): each file into
    the sites it covers, as a local run does."""
    scenes = _scenes(tmp_path / "in", range(20, 23))
    here = workspace_with_sites(tmp_path / "local", SITE, FAR)
    there = workspace_with_sites(tmp_path / "dask", SITE, FAR)
    local = _invoke("import", str(scenes), "--workers", "1", "--json", "-w", str(here.root))
    monkeypatch.setenv("SITEWATCH_SCHEDULER", scheduler)
    monkeypatch.setattr(run, "_map_in_processes", None)  # nothing may run locally
    on_dask = _invoke("import", str(scenes), "--json", "-w", str(there.root))
    assert local.exit_code == on_dask.exit_code == 3, on_dask.output
    assert [r["id"] for r in json.loads(on_dask.stdout)["imported"]] == [f"pier/s1_202410{d}" for d in (20, 21, 22)]
    assert json.loads(on_dask.stdout)["refused"] == json.loads(local.stdout)["refused"]
    assert _observations(there) == _observations(here)
    assert _archive(there) == _archive(here)


def test_a_file_whose_dask_workers_died_is_named_and_nothing_partial_stays(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job that killed its workers ends the run naming its file; the files committed before it are
    kept, a job still running on the other worker is waited for and its COG removed, and a rerun
    ingests the rest once."""
    import time

    from distributed import KilledWorker

    scenes = _scenes(tmp_path / "in")
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    archive_file = ingest.archive_file

    def dies_on_the_third(ws: Workspace, site: Any, path: Path, **kw: Any) -> Any:
        if path.name == "s1_20241012.tif":
            raise KilledWorker("archive_job-1", type("W", (), {"address": "tcp://10.0.0.9:40000"})(), 3)
        if path.name == "s1_20241013.tif":
            time.sleep(1.0)  # still writing when the run stops
        return archive_file(ws, site, path, **kw)

    monkeypatch.setattr("sitewatch.ingest.jobs.archive_file", dies_on_the_third)  # (the workers run in this process)
    res = _invoke("ingest", SITE.id, str(scenes), "--scheduler", scheduler, "-w", str(ws.root))
    _when_idle(scheduler)
    assert res.exit_code == 1, res.output
    assert f"Dask workers died running a job, {(scenes / 's1_20241012.tif').resolve()} (" in res.output
    assert sorted(_archive(ws)) == ["pier/s1_20241010.tif", "pier/s1_20241010.truth.geojson", "pier/s1_20241011.tif"]
    assert [o["id"] for o in _observations(ws)] == ["pier/s1_20241010", "pier/s1_20241011"]
    monkeypatch.setattr("sitewatch.ingest.jobs.archive_file", archive_file)
    again = _invoke("ingest", SITE.id, str(scenes), "--scheduler", scheduler, "-w", str(ws.root))
    assert again.exit_code == 3, again.output  # the broken file
    assert [o["id"] for o in _observations(ws)] == [f"pier/s1_202410{d}" for d in range(10, 15)]
    assert not [name for name in _archive(ws) if "partial" in name]


def test_a_job_that_raises_on_dask_leaves_no_partial_file(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job that fails with an error that stops the run (a full disk) on a worker: the error is the
    worker's, and the COGs the other worker had written, not committed, are gone."""
    import time

    scenes = _scenes(tmp_path / "in", range(20, 24))
    ws = workspace_with_sites(tmp_path / "ws", SITE, FAR)
    archive_file = ingest.archive_file

    def disk_full_on_the_first(ws: Workspace, site: Any, path: Path, **kw: Any) -> Any:
        if path.name == "s1_20241020.tif":
            raise OutputError(f"{path.name}: cannot write it into the archive (No space left on device)")
        time.sleep(0.5)  # the other worker still writing when the run stops
        return archive_file(ws, site, path, **kw)

    monkeypatch.setattr("sitewatch.ingest.jobs.archive_file", disk_full_on_the_first)
    res = _invoke("import", str(scenes), "--scheduler", scheduler, "-w", str(ws.root))
    _when_idle(scheduler)
    assert res.exit_code == 1, res.output
    assert "s1_20241020.tif: cannot write it into the archive (No space left on device)" in res.output
    assert _archive(ws) == {} and _observations(ws) == []


def test_workers_that_do_not_see_the_workspace_are_named(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker on a machine where the workspace's path is another folder (not mounted, or a disk of
    its own) would write the COGs where the command cannot rename them: refused before any job,
    naming the folder and each worker."""
    scenes = _scenes(tmp_path / "in", range(10, 12))
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    other = tmp_path / "worker-disk" / "archive"
    other.mkdir(parents=True)
    cannot_use = run._cannot_use

    def on_its_own_disk(probe: str, token: str, write: bool = True, code: str = "") -> str:  # the same path, on the worker's own disk
        return cannot_use(str(other / Path(probe).name), token, write, code)

    monkeypatch.setattr(run, "_cannot_use", on_its_own_disk)
    res = _invoke("ingest", SITE.id, str(scenes), "--scheduler", scheduler, "-w", str(ws.root))
    assert res.exit_code == 1, res.output
    with distributed.Client(scheduler) as client:
        workers = client.scheduler_info()["workers"]
    assert f"Dask worker(s) cannot use the workspace folder {ws.archive.resolve()} (" in res.output
    assert all(f"{w}: another folder of that path, not the command's" in res.output for w in workers), res.output
    assert _archive(ws) == {} and _observations(ws) == []  # (the check's own file removed too)


def test_dask_jobs_carry_absolute_paths_and_no_store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker started in another folder resolved `ingest SITE scenes/` and `-w .` against its own
    folder; and a URL given as the store may hold a password, which a worker has no use for."""
    monkeypatch.chdir(tmp_path)
    job = FileJob(Workspace(Path("."), "postgresql://ana:secret@db/sitewatch"), SITE, Path("in/a.tif"), None, None,
                  band_files={"VV": Path("in/a.tif"), "VH": Path("in/b.tif")})  # fmt: skip
    far = job.absolute()
    assert far.ws == Workspace(tmp_path.resolve()) and far.ws.store_setting is None
    assert far.path == tmp_path.resolve() / "in/a.tif"
    assert far.band_files == {"VV": tmp_path.resolve() / "in/a.tif", "VH": tmp_path.resolve() / "in/b.tif"}
    assert far.owner == job.owner
    sent: list[Any] = []

    def on_dask(func: Any, items: Any, scheduler: str, describe: Any, shared_folder: Path | None,
                workers_write: bool, wait_workers: float | None) -> Iterator[Any]:  # fmt: skip
        sent.extend(items)
        assert shared_folder == tmp_path.resolve() / "archive" and workers_write
        yield from ()

    monkeypatch.setattr(run, "_map_on_dask", on_dask)
    list(ingest.map_file_jobs(job.ws, [job], scheduler="tcp://cluster:8786"))
    assert sent == [far]  # what ingest and import send


def test_an_input_file_a_worker_does_not_see_is_named_as_such(tmp_path: Path) -> None:
    """A Dask worker on another machine (or mount) that does not see `ingest`'s input file, which the
    command sees: the file was called "not a readable raster (No such file or directory)"."""
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    there = tmp_path / "elsewhere" / "scene_20241017T093000.tif"
    for job in (FileJob(ws, SITE, there, None, "sar"),
                FileJob(ws, SITE, there, None, "sar", band_files={"VV": there, "VH": there.with_name("vh.tif")})):  # fmt: skip
        why = ingest.archive_job(job.absolute())
        assert isinstance(why, str) and why.startswith(f"{there}: not found where the job ran ("), why
        assert "every Dask worker must see the input files at the paths" in why and "readable raster" not in why


def test_partial_names_tell_commands_and_machines_apart(tmp_path: Path) -> None:
    """Partial files were named by process id alone: two machines' commands (or two Dask workers
    running one job) wrote one file, and a command on one machine removed another's, still running
    elsewhere, when no process of its id ran on its own."""
    import os

    from sitewatch.ingest import _writer_running

    final = tmp_path / "a.tif"
    mine = partial_path(final)
    assert mine != partial_path(final)  # a random part: never one file for two writers
    assert owner_of(mine) == (os.getpid(), True) and not _writer_running(mine)  # this command's own: removable
    elsewhere = partial_path(final, "4242-abcdef")  # a command's on another machine
    assert owner_of(elsewhere) == (4242, False) and _writer_running(elsewhere)
    assert owner_of(tmp_path / ".a.tif.99999999.partial") == (99_999_999, True)  # an earlier sitewatch's
    assert not _writer_running(tmp_path / ".a.tif.99999999.partial")
    longest = tmp_path / ("x" * 209 + ".metadata.json")  # an id cut to fit (ingest._MAX_NAME), a sidecar's suffix
    assert len(partial_path(longest, "4194304-abcdef").name) <= 255  # (Linux's largest process id)


def test_a_probe_left_by_a_killed_command_is_removed(tmp_path: Path) -> None:
    """The file a command writes into the archive to check its Dask workers is a partial file: a
    command killed while it checked leaves it, and the next ingest removes it."""
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    ws.archive.mkdir(exist_ok=True)
    host = partial_owner().split("-")[1]
    left = partial_path(ws.archive / "sitewatch-probe", f"99999999-{host}")  # a command of this machine, gone
    left.write_text("0123", encoding="utf-8")
    ingest.remove_partials(ws, SITE.id)
    assert not left.exists()


def test_a_cluster_without_workers_yet_ingests_once_one_joins(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """No worker to check yet: the run says so, waits, and the files go in once one joins."""
    from sitewatch.ingest import ingest_paths

    scenes = _scenes(tmp_path / "in", range(10, 12))
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    with local_cluster(n_workers=0, processes=False) as cluster:
        # A worker once the run has said there is none (a timer of 1 s raced the run's connecting: on a
        # loaded machine the worker had joined first, and the warning was never given).
        with caplog.at_level("WARNING", logger="sitewatch.run"), ws.store() as store, on_stall(lambda: cluster.scale(1)):
            report = ingest_paths(ws, store, SITE, [scenes / "s1_20241010.tif", scenes / "s1_20241011.tif"],
                                  scheduler=cluster.scheduler_address)  # fmt: skip
    assert f"the Dask scheduler at {cluster.scheduler_address} has no workers" in caplog.text
    assert [o.id for o in report.observations] == ["pier/s1_20241010", "pier/s1_20241011"]
    assert sorted(_archive(ws)) == ["pier/s1_20241010.tif", "pier/s1_20241010.truth.geojson", "pier/s1_20241011.tif"]


def test_a_cluster_no_worker_joins_is_said_under_quiet_and_ends_the_run_after_wait_workers(tmp_path: Path) -> None:
    """-q hid the warning and the jobs waited for ever: a cron job hung without a word. The warning is shown
    under -q now, and --wait-workers (the wait_workers setting) ends the wait with an error naming the scheduler."""
    import os
    import subprocess
    import sys

    scenes = _scenes(tmp_path / "in", range(10, 11))
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    with local_cluster(n_workers=0, processes=False, protocol="tcp://", host="127.0.0.1") as cluster:
        address = cluster.scheduler_address  # tcp://127.0.0.1:PORT: another process's command reaches it
        r = subprocess.run(
            [sys.executable, "-m", "sitewatch", "-q", "ingest", SITE.id, str(scenes / "s1_20241010.tif"),
             "--scheduler", address, "--wait-workers", "1", "-w", str(ws.root)],
            capture_output=True, encoding="locale", timeout=120, env={**os.environ, "SITEWATCH_WAIT_WORKERS": "600"},
        )  # fmt: skip
        assert r.returncode == 1, r.stderr
        assert f"WARNING sitewatch.stalled: the Dask scheduler at {address} has no workers" in r.stderr
        assert f"no worker joined the Dask scheduler at {address} in 1 s" in r.stderr and "Traceback" not in r.stderr
        with ws.store() as store:
            assert store.observations() == []
        # The setting alone (here from the environment), on import.
        res = CliRunner().invoke(
            main, ["import", str(scenes / "s1_20241010.tif"), "--scheduler", address, "-w", str(ws.root)],
            env={"SITEWATCH_WAIT_WORKERS": "0.5"},
        )  # fmt: skip
        assert res.exit_code == 1 and f"no worker joined the Dask scheduler at {address} in 0.5 s" in res.output
    assert _archive(ws) == {}  # nothing written, the workers' check's file removed


def test_ingest_on_dask_into_a_postgis_store_gives_what_the_geopackage_gets(
    tmp_path: Path, scheduler: str, pg_url: str
) -> None:
    """A team store: the workers write COGs into the shared archive, the command alone writes PostGIS."""
    from sitewatch.workspace import init_workspace

    scenes = _scenes(tmp_path / "in", range(10, 13))
    here = workspace_with_sites(tmp_path / "local", SITE)
    team = init_workspace(tmp_path / "team", store=pg_url)
    with team.store() as store:
        store.put_site(SITE)
    local = _invoke("ingest", SITE.id, str(scenes), "--workers", "1", "-w", str(here.root))
    on_dask = _invoke("ingest", SITE.id, str(scenes), "--scheduler", scheduler, "-w", str(team.root))
    assert local.exit_code == on_dask.exit_code == 3, on_dask.output
    assert _observations(team) == _observations(here)
    assert _archive(team) == _archive(here)


def test_detect_on_workers_that_do_not_see_the_archive_is_refused_and_keeps_the_detections(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Detect's workers only read the archive, but one that does not see it would fail every
    observation as unreadable, and detect clears an unreadable observation's detections: refused
    before any job, the stored detections kept."""
    crs, x0, y0 = site_utm_origin(SITE)
    sea = np.random.default_rng(3).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    sea[120:123, 100:112] = 2.0  # a 120 m hull, 25 dB over the sea
    scene = write_tiff(tmp_path / "s1_20241010.tif", sea, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
                       descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": "2024-10-10T09:30:00Z"})  # fmt: skip
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    assert _invoke("ingest", SITE.id, str(scene), "-w", str(ws.root)).exit_code == 0
    assert _invoke("detect", SITE.id, "--workers", "1", "-w", str(ws.root)).exit_code == 0
    with ws.store() as store:
        before = [(d.id, d.observation_id) for d in store.detections(site_id=SITE.id)]
        runs = len(store.execute("SELECT 1 FROM runs"))
    assert before  # the hull: something that could be lost
    cannot_use = run._cannot_use

    def unmounted(probe: str, token: str, write: bool = True, code: str = "") -> str:  # the workspace not mounted there
        return cannot_use(str(tmp_path / "nowhere" / Path(probe).name), token, write, code)

    monkeypatch.setattr(run, "_cannot_use", unmounted)
    res = _invoke("detect", SITE.id, "--force", "--scheduler", scheduler, "-w", str(ws.root))
    assert res.exit_code == 1, res.output
    assert f"cannot use the workspace folder {ws.archive.resolve()} (" in res.output and "no such folder there" in res.output
    assert "may write there" not in res.output  # reading is all detect asks of them
    with ws.store() as store:
        assert [(d.id, d.observation_id) for d in store.detections(site_id=SITE.id)] == before
    monkeypatch.setattr(run, "_cannot_use", cannot_use)
    res = _invoke("detect", SITE.id, "--force", "--scheduler", scheduler, "-w", str(ws.root))
    assert res.exit_code == 0, res.output
    with ws.store() as store:
        assert [(d.id, d.observation_id) for d in store.detections(site_id=SITE.id)] == before
        assert len(store.execute("SELECT 1 FROM runs")) > runs
    assert not [p for p in ws.archive.rglob("*") if "probe" in p.name]


def test_a_worker_without_sitewatch_or_with_other_code_is_named_before_any_job(
    tmp_path: Path, scheduler: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker machine the team forgot to install sitewatch on ended the command in a traceback (the
    ImportError of unpickling the check, raised by Client.run); one running another sitewatch would have
    made the detections that the store records as this version's. Both are named, nothing is written."""
    scenes = _scenes(tmp_path / "in", range(10, 12))
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    cannot_use = run._cannot_use
    with distributed.Client(scheduler) as client:
        workers = sorted(client.scheduler_info()["workers"])

    def not_installed(*args: Any) -> str:
        raise ModuleNotFoundError("No module named 'sitewatch'")

    monkeypatch.setattr(run, "_cannot_use", not_installed)
    res = _invoke("ingest", SITE.id, str(scenes), "--scheduler", scheduler, "-w", str(ws.root))
    assert res.exit_code == 1 and "Traceback" not in res.output, res.output
    assert all(f"{w}: cannot run sitewatch there (ModuleNotFoundError: No module named 'sitewatch')" in res.output for w in workers)
    assert "install sitewatch[dask]" in res.output and "same version" in res.output

    def other_code(probe: str, token: str, write: bool = True, code: str = "") -> str:
        return cannot_use(probe, token, write, "the code of another sitewatch")

    monkeypatch.setattr(run, "_cannot_use", other_code)
    res = _invoke("ingest", SITE.id, str(scenes), "--scheduler", scheduler, "-w", str(ws.root))
    assert res.exit_code == 1, res.output
    assert all(f"{w}: runs another sitewatch than this command's" in res.output for w in workers), res.output
    assert _archive(ws) == {} and _observations(ws) == []
