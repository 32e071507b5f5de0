"""A disk that fills mid-write: the error names the file and says the disk is full, nothing half-written
stays behind, and the same command run again once there is room completes.

GDAL says nothing of a full disk in the error it raises ("TIFFAppendToStrip:Write error at scanline 1024";
libtiff's own "No space left on device" goes to standard error alone): sitewatch tells it by the room left
on the disk. These tests make GDAL's writes really fail by pointing them at /dev/full, whose every write
fails with ENOSPC, and report no room left where the file was going (``files._room_left``), as a disk that
filled does; they need neither root nor a mount.
"""

from __future__ import annotations

import errno
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

import sitewatch.files as files
import sitewatch.sources.simulate as simulate_module
from sitewatch.cli import main
from sitewatch.errors import OutputError
from sitewatch.files import written_whole
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff

needs_dev_full = pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")

TINY = """
name: tiny
seed: 3
sites:
  - id: dunai
    layout:
      land: [[[-1700, 200], [1700, 200], [1700, 1700], [-1700, 1700]]]
      berths: [{id: quay, line: [[-300, 200], [300, 200]]}]
acquisitions:
  - {name: sar, site: dunai, sensor: sar, start: 2024-10-17, end: 2024-10-17, revisit_days: 1}
vessels: []
"""


@pytest.fixture()
def no_room(monkeypatch: pytest.MonkeyPatch) -> None:
    """The disk a write fails on has no room left, as one that filled."""
    monkeypatch.setattr(files, "_room_left", lambda path: 0, raising=False)


def _gtiff(path: Path) -> None:
    with rasterio.open(path, "w", driver="GTiff", width=512, height=512, count=1, dtype="float32",
                       crs="EPSG:32653", transform=Affine(10, 0, 5e5, 0, -10, 4.7e6), compress="deflate") as ds:  # fmt: skip
        ds.write(np.random.default_rng(0).random((512, 512), dtype=np.float32), 1)


@needs_dev_full
def test_a_gdal_write_on_a_full_disk_says_so_and_leaves_nothing(tmp_path: Path, no_room: None) -> None:
    """A mask or GeoPackage GDAL could not finish was "cannot write it (TIFFAppendToStrip:Write error at
    scanline 0)": nothing said the disk was full."""
    out = tmp_path / "mask.tif"
    with pytest.raises(OutputError, match=r"mask\.tif: cannot write it \(No space left on device\)$"):
        with written_whole(out) as tmp:
            tmp.symlink_to("/dev/full")
            _gtiff(tmp)
    assert list(tmp_path.iterdir()) == []


@needs_dev_full
def test_a_gdal_write_that_fails_with_room_left_keeps_gdal_s_words(tmp_path: Path) -> None:
    """Not every failed write is a full disk: with room left, GDAL's own words are given, not a guess."""
    with pytest.raises(OutputError, match=r"mask\.tif: cannot write it \((?!No space).*(Write|Seek|IO) error"):
        with written_whole(tmp_path / "mask.tif") as tmp:
            tmp.symlink_to("/dev/full")
            _gtiff(tmp)


@needs_dev_full
def test_ingest_on_a_full_disk_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_room: None) -> None:
    """Ingest named the archive file, but as the reason GDAL's "TIFFWriteDirectoryTagData:IO error writing tag data"."""
    import sitewatch.ingest.archive as archive

    site = tiny_site()
    ws = workspace_with_sites(tmp_path / "ws", site)
    crs, x0, y0 = site_utm_origin(site)
    data = np.random.default_rng(0).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    src = write_tiff(tmp_path / "a_20241017.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
                     descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"})  # fmt: skip
    full = tmp_path / "full.tif"
    full.symlink_to("/dev/full")
    monkeypatch.setattr(archive, "partial_path", lambda final, owner=None: full)
    res = CliRunner().invoke(main, ["-q", "ingest", site.id, str(src), "-w", str(ws.root)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.exception
    want = f"{ws.archive / site.id / 'a_20241017.tif'}: cannot write it into the archive (No space left on device)"
    assert want in res.output, res.output
    assert list((ws.archive / site.id).iterdir()) == []
    with ws.store() as store:
        assert store.counts()["observations"] == 0


@needs_dev_full
def test_simulate_on_a_full_disk_names_the_scene_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo and `sitewatch simulate` said only "simulated: cannot write the simulated scenes there (Write
    failed. See previous exception for details.)": neither the file nor that the disk was full."""
    scenario = tmp_path / "tiny.yaml"
    scenario.write_text(TINY, encoding="utf-8")
    out = tmp_path / "out"
    scene = out / "dunai" / "sim-sar-dunai-20241017T0930.tif"
    scene.parent.mkdir(parents=True)
    full = scene.with_name("full-disk.partial")  # where the scene is written first
    full.symlink_to("/dev/full")
    own_partial = simulate_module.partial_path
    monkeypatch.setattr(simulate_module, "partial_path", lambda final, owner=None: full if final == scene else own_partial(final, owner))
    monkeypatch.setattr(files, "_room_left", lambda path: 0, raising=False)
    res = CliRunner().invoke(main, ["-q", "simulate", str(scenario), "--out", str(out)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.exception
    assert f"{scene}: cannot write it (No space left on device)" in res.output, res.output
    assert not any(p.name.endswith(".partial") for p in out.rglob("*")) and not scene.exists()
    monkeypatch.undo()  # room again: the same command completes
    res = CliRunner().invoke(main, ["-q", "simulate", str(scenario), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert scene.is_file()


def test_init_on_a_full_disk_leaves_no_half_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`sitewatch init` on a full disk left its temporary `sitewatch.toml.tmp` behind (empty, or cut where the disk filled)."""
    write_text = Path.write_text

    def fills(self: Path, text: str, *args: object, **kwargs: object) -> int:
        if self.name.startswith(".sitewatch.toml.") and self.name.endswith(".partial"):  # (files.partial_path)
            write_text(self, text[:100], encoding="utf-8")  # as far as there was room
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_text(self, text, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", fills)
    root = tmp_path / "ws"
    res = CliRunner().invoke(main, ["-q", "init", str(root)])
    assert res.exit_code == 1 and "No space left on device" in res.output, res.output
    assert sorted(p.name for p in root.iterdir()) == []
    monkeypatch.undo()
    res = CliRunner().invoke(main, ["-q", "init", str(root)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in root.iterdir()) == ["archive", "sitewatch.gpkg", "sitewatch.toml"]



def _copy_into_a_full_disk(src: Path, dst: Path) -> None:
    """shutil.copyfile on a full disk (Linux, os.sendfile): its error names the file read, then the one written."""
    raise OSError(errno.ENOSPC, "No space left on device", str(src), None, str(dst))


@pytest.mark.parametrize("copy", ["system", "sendfile"])
def test_ingest_names_the_sidecar_the_disk_had_no_room_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, copy: str) -> None:
    """A sidecar (NAME.truth.geojson) copied into the archive of a full disk was reported as "No space left on
    device: INPUT/NAME.truth.geojson", the input file read rather than the archive file written; a write
    error without a file name said "No space left on device: None"."""
    import sitewatch.ingest.archive as archive

    site = tiny_site()
    ws = workspace_with_sites(tmp_path / "ws", site)
    crs, x0, y0 = site_utm_origin(site)
    data = np.random.default_rng(0).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    (tmp_path / "in").mkdir()
    src = write_tiff(tmp_path / "in" / "a_20241017.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
                     descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"})  # fmt: skip
    src.with_name("a_20241017.truth.geojson").write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    folder = ws.archive / site.id
    if copy == "sendfile":
        monkeypatch.setattr(archive.shutil, "copyfile", _copy_into_a_full_disk)
        reason = f"No space left on device: {folder / 'a_20241017.truth.geojson'}"
    elif Path("/dev/full").exists():  # a write into /dev/full fails as on a full disk; its error names no file
        full = tmp_path / "full.json"
        full.symlink_to("/dev/full")
        partial_path = archive.partial_path
        monkeypatch.setattr(archive, "partial_path", lambda final, owner=None: full if final.suffix == ".geojson" else partial_path(final, owner))
        reason = "No space left on device"
    else:
        pytest.skip("needs /dev/full (Linux)")
    res = CliRunner().invoke(main, ["-q", "ingest", site.id, str(src), "-w", str(ws.root)])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.exception
    assert f"{folder / 'a_20241017.tif'}: cannot write it into the archive ({reason})\n" in res.output, res.output
    assert list(folder.iterdir()) == []
    monkeypatch.undo()  # room again: the rerun archives both
    res = CliRunner().invoke(main, ["-q", "ingest", site.id, str(src), "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in folder.iterdir()) == ["a_20241017.tif", "a_20241017.truth.geojson"]


def _file_size_limit(limit: int) -> Callable[[], None]:
    def limit_it() -> None:  # (in the child, before it runs: Python there ignores SIGXFSZ, so a write past it fails)
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))

    return limit_it


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX's")
def test_init_that_runs_out_of_room_making_the_database_leaves_none(tmp_path: Path) -> None:
    """`sitewatch init` on a disk that filled as it made sitewatch.gpkg left it behind, empty or migrated part of
    the way, which later commands took for a workspace's database."""
    root = tmp_path / "ws"
    command = [sys.executable, "-m", "sitewatch", "-q", "init", str(root)]
    # Room for sitewatch.toml (2 kB), not for the GeoPackage's tables (over 100 kB).
    run = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", preexec_fn=_file_size_limit(40_000), timeout=120)
    assert run.returncode == 1, run.stderr
    assert f"{root / 'sitewatch.gpkg'}: " in run.stderr and "Traceback" not in run.stderr, run.stderr
    assert not (root / "sitewatch.gpkg").exists() and not any(p.name.endswith(("-journal", ".tmp")) for p in root.iterdir())
    run = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", timeout=120)  # room again
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in root.iterdir()) == ["archive", "sitewatch.gpkg", "sitewatch.toml"]


def _jp2_pair(tmp_path: Path) -> tuple[Path, Path]:
    from test_change_blocks import _dn, _jp2_folder, _pair

    before, after, _ = _pair()
    return _jp2_folder(tmp_path / "b", _dn(before)), _jp2_folder(tmp_path / "a", _dn(after))


def test_a_temporary_folder_that_fills_as_change_image_keeps_values_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """change-image keeps JPEG 2000 dates' decoded values in a temporary file (about 2 GB for a Sentinel-2 tile
    pair): a temporary folder that filled ended it in a traceback (OSError: [Errno 28] from os.pwrite)."""
    import sitewatch.change_image_rows as rows

    b, a = _jp2_pair(tmp_path)
    pwrite = rows.os.pwrite

    def fills(fd: int, data: memoryview, at: int) -> int:
        if at > 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return pwrite(fd, data, at)

    monkeypatch.setattr(rows.os, "pwrite", fills)
    res = CliRunner().invoke(main, ["-q", "change-image", str(b), str(a), "--out", str(tmp_path / "c.geojson")])
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit), res.exception
    want = f"{rows.tempfile.gettempdir()}: cannot keep the images' values there while they are compared (No space left on device); "
    assert want in res.output and "TMPDIR" in res.output, res.output
    assert not (tmp_path / "c.geojson").exists()


def test_a_write_of_kept_values_cut_short_is_carried_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write into a disk that fills is cut short before it fails (os.pwrite returns the bytes it wrote): the
    rest of the values was never written, and the comparison ended in a traceback when it read them back ("the
    temporary copy of the image's rows 0-150 came back short"), even where the next write would have fitted."""
    import sitewatch.change_image_rows as rows
    from sitewatch.change_image import change_images

    b, a = _jp2_pair(tmp_path)
    _, whole = change_images(b, a)
    pwrite = rows.os.pwrite

    def half(fd: int, data: memoryview, at: int) -> int:
        return pwrite(fd, data[: max(1, len(data) // 2)], at)

    monkeypatch.setattr(rows.os, "pwrite", half)
    _, cut = change_images(b, a)
    assert np.array_equal(cut.changed, whole.changed) and cut.regions == whole.regions and whole.regions


def test_a_disk_with_less_room_than_the_file_counts_as_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """GDAL's COG driver removes its temporary files before it raises, so a disk that filled as ingest wrote a
    COG had megabytes free again when the error was read, and ingest gave GDAL's "TIFFAppendToStrip:Seek error
    at scanline 768" (the demo on a disk that filled during ingest)."""
    from rasterio.errors import RasterioIOError

    gdal = RasterioIOError("Write failed. See previous exception for details.")
    gdal.__cause__ = RuntimeError("TIFFAppendToStrip:Seek error at scanline 768")
    monkeypatch.setattr(files, "_room_left", lambda path: 3 << 20)  # 3 MiB left
    assert files.why_not_written(gdal, Path("x.tif"), size=17 << 20) == "No space left on device"
    assert files.why_not_written(gdal, Path("x.tif"), size=2 << 20) == "TIFFAppendToStrip:Seek error at scanline 768"
    assert files.why_not_written(gdal, Path("x.tif")) == "TIFFAppendToStrip:Seek error at scanline 768"
    monkeypatch.setattr(files, "_room_left", lambda path: 1000)
    assert files.why_not_written(gdal, Path("x.tif")) == "No space left on device"
    assert files.why_not_written(OSError(errno.EACCES, "Permission denied"), Path("x.tif")) == "Permission denied"


def _ingest_one(tmp_path: Path) -> tuple[Path, Path, str]:
    """A workspace with the tiny site and a small SAR image to ingest into it: (workspace, image, site id)."""
    site = tiny_site()
    ws = workspace_with_sites(tmp_path / "ws", site)
    crs, x0, y0 = site_utm_origin(site)
    data = np.random.default_rng(0).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    src = write_tiff(tmp_path / "a_20241017.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
                     descriptions=["VV"], tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"})  # fmt: skip
    return ws.root, src, site.id


@needs_dev_full
def test_a_cog_that_fills_the_disk_with_the_pixels_room_left_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The COG driver needs the pixels' room twice (a temporary GeoTIFF, then the COG) and gives the first back
    before it raises: the demo's import on a 60 MB disk stopped at its third 17 MB image with 28 MB free, and said
    GDAL's "Unknown GDAL Error" (then blamed a `sites remove`), not that the disk was full."""
    import sitewatch.ingest.archive as archive

    root, src, site_id = _ingest_one(tmp_path)
    pixels = 171 * 228 * 4  # the tiny site's grid of one float32 band, as archived
    monkeypatch.setattr(files, "_FULL_BELOW", 0)
    monkeypatch.setattr(files, "_room_left", lambda path: pixels * 3 // 2)  # more than the pixels, less than twice
    full = tmp_path / "full.tif"
    full.symlink_to("/dev/full")
    monkeypatch.setattr(archive, "partial_path", lambda final, owner=None: full)
    res = CliRunner().invoke(main, ["-q", "ingest", site_id, str(src), "-w", str(root)])
    assert res.exit_code == 1, res.output
    assert "cannot write it into the archive (No space left on device)" in res.output, res.output


def test_a_full_disk_that_gdal_calls_an_unknown_error_blames_no_site_removal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A COG write that fails on a full disk as rasterio's SystemError "Unknown GDAL Error" (the demo's import on a
    60 MB disk) ended "the file being written was removed … meanwhile: was the site removed (`sitewatch sites remove
    dunai --with-observations`) while this ran?": the partial file was looked for after it had been discarded
    itself, so it was always gone."""
    import sitewatch.ingest.archive as archive

    root, src, site_id = _ingest_one(tmp_path)

    def unknown_gdal_error(path: Path) -> str:
        raise SystemError("Unknown GDAL Error")

    monkeypatch.setattr(archive, "sha256_file", unknown_gdal_error)  # the partial COG is there, as written
    monkeypatch.setattr(files, "_room_left", lambda path: 0)
    res = CliRunner().invoke(main, ["-q", "ingest", site_id, str(src), "-w", str(root)])
    assert res.exit_code == 1, res.output
    assert "cannot write it into the archive (No space left on device)" in res.output, res.output
    assert "was the site removed" not in res.output
    assert [p for p in (root / "archive" / site_id).iterdir()] == []


@pytest.mark.parametrize("error", ["CPLE_OutOfMemoryError", "CPLE_NotSupportedError", "CPLE_IllegalArgError"])
def test_a_gdal_error_that_is_not_a_write_error_is_not_called_a_full_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: str
) -> None:
    """Room left for the pixels but not for twice them (the COG driver's two copies): GDAL's running out of memory,
    or an option it does not support, was said as "No space left on device", and freeing room changed nothing."""
    import rasterio._err

    import sitewatch.ingest.archive as archive

    root, src, site_id = _ingest_one(tmp_path)
    pixels = 171 * 228 * 4  # the tiny site's grid of one float32 band, as archived

    def fails(path: Path) -> str:
        raise getattr(rasterio._err, error)(2, 0, "GDAL's own words for it")

    monkeypatch.setattr(archive, "sha256_file", fails)
    monkeypatch.setattr(files, "_FULL_BELOW", 0)
    monkeypatch.setattr(files, "_room_left", lambda path: pixels * 3 // 2)
    res = CliRunner().invoke(main, ["-q", "ingest", site_id, str(src), "-w", str(root)])
    assert res.exit_code == 1, res.output
    assert "GDAL's own words for it" in res.output and "No space left" not in res.output, res.output
    assert [p for p in (root / "archive" / site_id).iterdir()] == []
