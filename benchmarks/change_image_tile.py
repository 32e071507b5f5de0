"""Time and peak memory of ``sitewatch change-image`` on a whole Sentinel-2 tile pair (two R10m folders).

    python benchmarks/change_image_tile.py                       # 10980 (a whole tile) against 2745, same run
    python benchmarks/change_image_tile.py --size 5490 --baseline-size 2745
    python benchmarks/change_image_tile.py --size 10980 --kill-gb 18 --src OLD/src   # another checkout's sitewatch
    python benchmarks/change_image_tile.py --size 5490 --jp2    # band files in JPEG 2000, as a SAFE holds them
    python benchmarks/change_image_tile.py --sar --size 8000 --baseline-size 3000 --keep DIR   # a SAR pair instead
    python benchmarks/change_image_tile.py --sar --rows 25000 --cols 17000 --baseline-size 3000  # a whole S1 GRD scene pair

Writes two synthetic band folders in a temporary folder, named as a SAFE's ``GRANULE/*/IMG_DATA/R10m/``
names its files (``T33TUL_20240901T100031_B02_10m.tif``; GeoTIFF, not JPEG 2000 unless ``--jp2``: tiled, deflated uint16
DN of L2A's scale, offset 1000 as since baseline 04.00, on UTM 33N at 10 m): a scene of sea, a lake and
a river, and land of four covers (forest, crops, bare soil, town) with texture; the later date in other
light (a gain and an offset a band), fresh noise, and changed patches (a cover replaced by another; one a
500 × 500 pixel block, 12-40 pixels a side). Then runs ``python -m sitewatch change-image BEFORE AFTER
--out … --mask …`` in a child process for the baseline size and for ``--size``, and prints for each the
wall time, CPU time (user + system, and the system part: page faults of fresh arrays; ``os.wait4``'s rusage) and peak resident memory of the child
(its own ``VmHWM``, read as it ends: the rusage's ``ru_maxrss`` is not the child's alone, as Linux starts
an exec'd child's figure at the high-water mark of the memory it replaced, which for Python's vfork'ed
children is this script's, so it counted the pair the script had just generated: 1,404 MB for an 8,000 pair
whose ``change-image`` took 0.8 GB; it is printed beside the peak), bytes a pixel, and the recall of the planted patches (a patch is found when half its pixels are in the mask),
and the share of the mask outside them; last, each ratio large / baseline against the ratio of pixels.
A watchdog kills a child whose resident memory passes ``--kill-gb`` and says so.

``--sar``: a synthetic Sentinel-1-like pair instead (``--sensor sar``): one float32 GeoTIFF of linear sigma0 a
date (tiled, deflated, UTM 33N at 10 m), textured land about -9 dB and water at -22 dB under gamma speckle of
4.6 looks drawn anew each date, a bright scatterer every 250 pixels on both dates, and in each 500 × 500 block
a patch of 12-40 pixels a side that appeared (+2 dB) or, every other block, went (-3 dB to -12 dB).
``--rows``/``--cols`` (with ``--sar``): the large pair of that many rows and columns (25,000 × 17,000 is a
whole Sentinel-1 IW GRD scene, 425 Mpx), written a strip of rows at a time so that the writer does not hold
the scene (the same kind of scene, not the same pixels as a square pair's).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

TILE = "T33TUL"
DATES = ("20240901T100031", "20240926T100029")
BANDS = ("B02", "B03", "B04", "B08")
# Reflectance (blue, green, red, nir) of water and of four land covers.
WATER = np.array([0.040, 0.045, 0.030, 0.015], np.float32)
COVERS = np.array([
    [0.030, 0.050, 0.030, 0.300],  # forest
    [0.050, 0.090, 0.060, 0.400],  # crops
    [0.100, 0.130, 0.160, 0.230],  # bare soil
    [0.110, 0.120, 0.130, 0.170],  # town
], np.float32)  # fmt: skip
ORIGIN = (300_000.0, 5_000_040.0)  # T33TUL's upper left corner, UTM 33N
PATCH_EVERY = 500  # one changed patch a PATCH_EVERY × PATCH_EVERY pixel block


def _smooth_field(size: int, rng: np.random.Generator, cell: int) -> np.ndarray:
    """A smooth random field of ``size`` × ``size`` (float32, about unit spread): Gaussian noise on a grid of
    ``cell`` pixels, filtered and enlarged bilinearly (cheap at any size)."""
    from scipy import ndimage

    n = max(4, size // cell + 2)
    low = ndimage.gaussian_filter(rng.standard_normal((n, n)), 1.5)
    low = ((low - low.mean()) / (low.std() or 1.0)).astype(np.float32)
    return ndimage.zoom(low, size / (n - 1), order=1, prefilter=False)[:size, :size]


def scene(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int, int]]]:
    """(cover index of each pixel: 0 water, 1-4 the covers, uint8; the later date's; the changed patches as
    row, col, height, width)."""
    rng = np.random.default_rng(seed)
    cover = np.zeros((size, size), np.uint8)
    coast = _smooth_field(size, rng, 1500)
    rows = np.linspace(-1.0, 1.0, size, dtype=np.float32)[:, None]
    land = (coast + 2.5 * rows) > -1.2  # sea in the north, a wavy coast
    kind = _smooth_field(size, rng, 300)
    wet = _smooth_field(size, rng, 800)
    cover[land] = 1 + np.digitize(kind[land], [-0.6, 0.0, 0.6]).astype(np.uint8)
    del kind
    cover[land & (wet > 2.0)] = 0  # lakes
    x = np.arange(size, dtype=np.float32)
    river = (size * 0.5 + 0.08 * size * np.sin(x / max(size, 1) * 9.0)).astype(int)
    for c in range(0, size, 1):
        r0 = river[c]
        if land[min(r0, size - 1), c]:
            cover[max(0, r0 - 2) : r0 + 3, c] = 0
    del coast, wet, land
    after = cover.copy()
    patches = []
    for r0 in range(0, size - PATCH_EVERY + 1, PATCH_EVERY):
        for c0 in range(0, size - PATCH_EVERY + 1, PATCH_EVERY):
            h, w = rng.integers(12, 41, 2)
            r, c = r0 + rng.integers(50, PATCH_EVERY - 100), c0 + rng.integers(50, PATCH_EVERY - 100)
            was = cover[r : r + h, c : c + w]
            if (was == 0).mean() > 0.2:
                continue  # on land only (a lake or river under it: another)
            old = int(np.bincount(was.ravel(), minlength=5).argmax())
            new = 1 + (old + rng.integers(0, 3)) % 4  # any other land cover
            after[r : r + h, c : c + w] = new
            patches.append((int(r), int(c), int(h), int(w)))
    return cover, after, patches


def write_date(folder: Path, cover: np.ndarray, date: int, seed: int, jp2: bool = False) -> None:
    """The four R10m band files of one date: each cover's reflectance times a texture, the date's light, noise
    (GeoTIFF, or with ``jp2`` lossless JPEG 2000 in 1,024-pixel tiles as a SAFE holds them)."""
    import rasterio
    from rasterio.transform import from_origin

    size = cover.shape[0]
    rng = np.random.default_rng(seed)
    texture = 1.0 + 0.15 * _smooth_field(size, np.random.default_rng(99), 8)  # the same ground texture on both dates
    light = [(1.0, 0.0), (1.08, 0.004)][date]
    folder.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "uint16", "crs": "EPSG:32633",
        "transform": from_origin(ORIGIN[0], ORIGIN[1], 10.0, 10.0), "tiled": True, "blockxsize": 512, "blockysize": 512,
        "compress": "deflate", "zlevel": 1, "predictor": 2, "nodata": 0,
    }  # fmt: skip
    if jp2:
        for key in ("tiled", "compress", "zlevel", "predictor"):
            del profile[key]
        profile.update(driver="JP2OpenJPEG", blockxsize=1024, blockysize=1024, quality=100, reversible=True)
    table = np.vstack([WATER, COVERS])
    for k, band in enumerate(BANDS):
        refl = table[:, k][cover] * texture
        refl = refl * light[0] + light[1]
        refl += rng.standard_normal(refl.shape, np.float32) * np.float32(0.004)
        dn = np.clip(refl * 10_000 + 1000, 1, 65535).astype(np.uint16)  # L2A: DN = 10000 ρ + 1000
        del refl
        with rasterio.open(folder / f"{TILE}_{DATES[date]}_{band}_10m.{'jp2' if jp2 else 'tif'}", "w", **profile) as ds:
            ds.write(dn, 1)
        del dn


def make_pair(root: Path, size: int, seed: int = 0, jp2: bool = False) -> tuple[Path, Path, list[tuple[int, int, int, int]]]:
    cover, after, patches = scene(size, seed)
    folders = []
    for date, c in enumerate((cover, after)):
        d = root / f"S2A_MSIL2A_{DATES[date]}_{size}" / "R10m"
        write_date(d, c, date, seed * 10 + date + 1, jp2)
        folders.append(d)
    return folders[0], folders[1], patches


def sar_scene(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int, int]]]:
    """Mean sigma0 (linear, float32) of the two dates of ``--sar``, and the patches (row, col, height, width)."""
    rng = np.random.default_rng(seed)
    db = (-9.0 + 1.5 * _smooth_field(size, rng, 16)).astype(np.float32)
    water = _smooth_field(size, rng, 400) > 1.0
    db[water] = -22.0
    db[::250, ::250] = 10.0
    patches = []
    before = db.copy()
    after = db
    for k, r in enumerate(range(0, size - PATCH_EVERY + 1, PATCH_EVERY)):
        for j, c in enumerate(range(0, size - PATCH_EVERY + 1, PATCH_EVERY)):
            h, w = (int(v) for v in rng.integers(12, 41, 2))
            pr, pc = r + int(rng.integers(20, PATCH_EVERY - 60)), c + int(rng.integers(20, PATCH_EVERY - 60))
            if (k + j) % 2:
                before[pr : pr + h, pc : pc + w], after[pr : pr + h, pc : pc + w] = -3.0, -12.0
            else:
                after[pr : pr + h, pc : pc + w] = 2.0
            patches.append((pr, pc, h, w))
    return np.power(np.float32(10), before / 10), np.power(np.float32(10), after / 10), patches


def make_sar_pair(root: Path, size: int, seed: int = 0) -> tuple[Path, Path, list[tuple[int, int, int, int]]]:
    """The ``--sar`` pair's two GeoTIFFs, each in a folder of its own (removed after the run)."""
    import rasterio
    from rasterio.transform import from_origin

    means = sar_scene(size, seed)
    profile = {
        "driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "float32", "crs": "EPSG:32633",
        "transform": from_origin(ORIGIN[0], ORIGIN[1], 10.0, 10.0), "tiled": True, "blockxsize": 512, "blockysize": 512,
        "compress": "deflate", "zlevel": 1,
    }  # fmt: skip
    files = []
    for date, mean in enumerate(means[:2]):
        rng = np.random.default_rng(seed * 10 + date + 1)
        folder = root / f"S1A_IW_GRDH_{DATES[date]}_{size}"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "vv.tif"
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(mean * rng.gamma(4.6, 1 / 4.6, mean.shape).astype(np.float32), 1)
        files.append(path)
    return files[0], files[1], means[2]


def _field_rows(low: np.ndarray, rows: int, cols: int, r0: int, r1: int) -> np.ndarray:
    """Rows ``r0`` to ``r1`` of the ``rows`` × ``cols`` field enlarged bilinearly from ``low`` (float32)."""
    nr, nc = low.shape
    y = np.arange(r0, r1) * ((nr - 1) / rows)
    i = y.astype(np.intp)
    t = (y - i)[:, None]
    lines = low[i] * (1 - t) + low[i + 1] * t
    x = np.arange(cols) * ((nc - 1) / cols)
    j = x.astype(np.intp)
    u = x - j
    return (lines[:, j] * (1 - u) + lines[:, j + 1] * u).astype(np.float32)


def _low_field(rows: int, cols: int, rng: np.random.Generator, cell: int) -> np.ndarray:
    """The coarse grid of :func:`_field_rows`: Gaussian noise on cells of ``cell`` pixels, smoothed, unit spread."""
    from scipy import ndimage

    low = ndimage.gaussian_filter(rng.standard_normal((max(4, rows // cell + 2), max(4, cols // cell + 2))), 1.5)
    return (low - low.mean()) / (low.std() or 1.0)


def make_sar_scene_pair(root: Path, rows: int, cols: int, seed: int = 0, strip: int = 512) -> tuple[Path, Path, list[tuple[int, int, int, int]]]:
    """A ``--sar`` pair of ``rows`` × ``cols`` (``--rows``/``--cols``: a whole Sentinel-1 GRD scene is about
    25,000 × 17,000) written a strip of rows at a time, so that the writer never holds the scene: the same
    kind of scene as :func:`sar_scene` (textured land, water, bright scatterers, a patch a 500 × 500 block)
    with its smooth fields enlarged from their coarse grids strip by strip (not the same pixels as the
    square pairs')."""
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    rng = np.random.default_rng(seed)
    texture, water = _low_field(rows, cols, rng, 16), _low_field(rows, cols, rng, 400)
    patches, kinds = [], []
    for k, r in enumerate(range(0, rows - PATCH_EVERY + 1, PATCH_EVERY)):
        for j, c in enumerate(range(0, cols - PATCH_EVERY + 1, PATCH_EVERY)):
            h, w = (int(v) for v in rng.integers(12, 41, 2))
            pr, pc = r + int(rng.integers(20, PATCH_EVERY - 60)), c + int(rng.integers(20, PATCH_EVERY - 60))
            patches.append((pr, pc, h, w))
            kinds.append((k + j) % 2)
    profile = {
        "driver": "GTiff", "width": cols, "height": rows, "count": 1, "dtype": "float32", "crs": "EPSG:32633",
        "transform": from_origin(ORIGIN[0], ORIGIN[1], 10.0, 10.0), "tiled": True, "blockxsize": 512, "blockysize": 512,
        "compress": "deflate", "zlevel": 1, "BIGTIFF": "IF_SAFER",
    }  # fmt: skip
    files = []
    for date in range(2):
        folder = root / f"S1A_IW_GRDH_{DATES[date]}_{rows}x{cols}"
        folder.mkdir(parents=True, exist_ok=True)
        files.append(folder / "vv.tif")
    speckle = [np.random.default_rng(seed * 10 + date + 1) for date in range(2)]
    with rasterio.open(files[0], "w", **profile) as d0, rasterio.open(files[1], "w", **profile) as d1:
        for r0 in range(0, rows, strip):
            r1 = min(rows, r0 + strip)
            db = -9.0 + 1.5 * _field_rows(texture, rows, cols, r0, r1)
            db[_field_rows(water, rows, cols, r0, r1) > 1.0] = -22.0
            first = -(-r0 // 250) * 250
            db[first - r0 : r1 - r0 : 250, ::250] = 10.0
            before, after = db, db.copy()
            for (pr, pc, h, w), gone in zip(patches, kinds, strict=True):
                a, b = max(pr, r0), min(pr + h, r1)
                if a >= b:
                    continue
                if gone:
                    before[a - r0 : b - r0, pc : pc + w], after[a - r0 : b - r0, pc : pc + w] = -3.0, -12.0
                else:
                    after[a - r0 : b - r0, pc : pc + w] = 2.0
            for ds, mean, rng_d in ((d0, before, speckle[0]), (d1, after, speckle[1])):
                sigma0 = np.power(np.float32(10), mean / np.float32(10)) * rng_d.gamma(4.6, 1 / 4.6, mean.shape).astype(np.float32)
                ds.write(sigma0.astype(np.float32), 1, window=Window(0, r0, cols, r1 - r0))
    return files[0], files[1], patches


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


# The child runs the CLI as ``python -m sitewatch`` does and, as it ends, writes its own peak (VmHWM, kB) to the
# file named by CHANGE_IMAGE_TILE_VMHWM: the rusage wait4 gives counts this script's peak too (see the docstring).
_CHILD = """import os, re
from sitewatch.cli import main
try:
    main()
finally:
    with open(os.environ["CHANGE_IMAGE_TILE_VMHWM"], "w") as f:
        f.write(re.search(r"VmHWM:\\s*(\\d+)", open("/proc/self/status").read()).group(1))
"""


def run(before: Path, after: Path, out_dir: Path, kill_gb: float, src: Path, extra: tuple[str, ...] = ()) -> dict[str, float | str]:
    """One ``change-image`` in a child process (sitewatch from ``src``): wall, CPU, peak RSS, and the output's paths."""
    hwm = out_dir / "vmhwm.kb"
    hwm.unlink(missing_ok=True)
    env = {**os.environ, "PYTHONPATH": str(src) + os.pathsep + os.environ.get("PYTHONPATH", ""), "PYTHONDONTWRITEBYTECODE": "1",
           "CHANGE_IMAGE_TILE_VMHWM": str(hwm)}  # fmt: skip
    out, mask = out_dir / "changes.geojson", out_dir / "changed.tif"
    cmd = [sys.executable, "-c", _CHILD, "change-image", str(before), str(after), "--out", str(out), "--mask", str(mask), *extra]
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, encoding="locale")
    killed = {"rss_kb": 0}
    timeline: list[tuple[float, int]] = []

    def watch() -> None:
        while child.poll() is None:
            rss = _rss_kb(child.pid)
            timeline.append((time.perf_counter() - t0, rss))
            if rss > kill_gb * 1024**2:
                killed["rss_kb"] = rss
                child.send_signal(signal.SIGKILL)
                return
            time.sleep(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert child.stdout is not None
    with child.stdout:  # closed once read: left to the collector, Python warns (ResourceWarning)
        text = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    watcher.join()
    if killed["rss_kb"]:
        return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "peak_mb": killed["rss_kb"] / 1024, "killed": f"killed at {killed['rss_kb'] / 1024**2:.1f} GB"}
    if child.returncode != 0:
        raise SystemExit(f"change-image failed ({child.returncode}):\n{text}")
    peak_kb = int(hwm.read_text(encoding="utf-8"))
    hwm.unlink()
    return {
        "wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "sys": usage.ru_stime, "peak_mb": peak_kb / 1024,
        "ru_maxrss_mb": usage.ru_maxrss / 1024,
        "said": text.strip().splitlines()[-1],
        "mask": str(mask), "timeline": " ".join(f"{t:.0f}s:{r / 1024**2:.1f}G" for t, r in timeline[:: max(1, len(timeline) // 24)]),
    }  # fmt: skip


def recall(mask_path: str, patches: list[tuple[int, int, int, int]]) -> tuple[float, float, int]:
    """(share of patches half in the mask, share of mask pixels outside every patch, mask pixels)."""
    import rasterio

    with rasterio.open(mask_path) as ds:
        m = ds.read(1)
    np.greater(m, 0, out=m)  # a byte a pixel, not another grid (a scene's mask is 425 MB)
    found, n, inside = 0, int(np.count_nonzero(m)), 0
    for r, c, h, w in patches:
        found += m[r : r + h, c : c + w].mean() >= 0.5
    for r, c, h, w in patches:
        inside += int(np.count_nonzero(m[r : r + h, c : c + w]))
        m[r : r + h, c : c + w] = 0  # counted once where patches overlap
    return found / max(1, len(patches)), float(n - inside) / max(1, n), n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10980, help="pixels a side of the large pair (10980: a whole tile at 10 m)")
    parser.add_argument("--baseline-size", type=int, default=2745, help="pixels a side of the baseline pair, measured in the same run")
    parser.add_argument("--kill-gb", type=float, default=18.0, help="kill a child whose resident memory passes this")
    parser.add_argument("--keep", type=Path, default=None, help="write the pairs and outputs here and keep them (default: a temporary folder, removed)")
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src",
                        help="the sitewatch source tree the children run (default: this checkout's; another, e.g. "
                             "`git archive COMMIT src | tar -x -C DIR`, to measure it)")  # fmt: skip
    parser.add_argument("--jp2", action="store_true", help="band files in lossless JPEG 2000 (as a SAFE holds them), not GeoTIFF")
    parser.add_argument("--sar", action="store_true", help="a synthetic SAR pair (one float32 GeoTIFF a date, --sensor sar) instead")
    parser.add_argument("--rows", type=int, default=None, help="with --sar and --cols: the large pair rows × cols instead of --size "
                        "(25000 × 17000: a whole Sentinel-1 IW GRD scene), written a strip at a time")  # fmt: skip
    parser.add_argument("--cols", type=int, default=None, help="see --rows")
    parser.add_argument("--compare-learned", action="store_true",
                        help="optical: run change-image on each pair with --no-learned (the chi-square test) too, and print both and their ratios")  # fmt: skip
    args = parser.parse_args()
    if (args.rows is None) != (args.cols is None) or (args.rows is not None and not args.sar):
        parser.error("--rows and --cols go together, and with --sar")
    root = args.keep or Path(tempfile.mkdtemp(prefix="change_tile_"))
    rows = []
    large = (args.rows, args.cols) if args.rows is not None else (args.size, args.size)
    try:
        for shape in ((args.baseline_size, args.baseline_size), large):
            height, width = shape
            t0 = time.perf_counter()
            if args.sar and shape == (args.rows, args.cols):
                before, after, patches = make_sar_scene_pair(root, height, width)
            elif args.sar:
                before, after, patches = make_sar_pair(root, height)
            else:
                before, after, patches = make_pair(root, height, jp2=args.jp2)
            made = time.perf_counter() - t0
            out_dir = root / f"out_{height}x{width}"
            out_dir.mkdir(exist_ok=True)
            if args.compare_learned and not args.sar:
                chi2 = run(before, after, out_dir, args.kill_gb, args.src, ("--no-learned",))
                rec, outside, n = recall(str(chi2["mask"]), patches)
                print(f"{height:>6} × {width:<6} --no-learned: wall {chi2['wall']:7.1f} s  cpu {chi2['cpu']:7.1f} s  peak {chi2['peak_mb']:8.0f} MB"
                      f"  recall {rec:.3f}, {n} changed pixels, {outside:.1%} outside the patches", flush=True)  # fmt: skip
            r = run(before, after, out_dir, args.kill_gb, args.src, ("--sensor", "sar") if args.sar else ())
            if args.compare_learned and not args.sar and "killed" not in r:
                print(f"{height:>6} × {width:<6} learned / --no-learned: wall {r['wall'] / chi2['wall']:.2f}x, cpu {r['cpu'] / chi2['cpu']:.2f}x, "
                      f"peak {r['peak_mb'] / chi2['peak_mb']:.2f}x", flush=True)  # fmt: skip
            mpx = height * width / 1e6
            line = (f"{height:>6} × {width:<6} {mpx:7.1f} Mpx  wall {r['wall']:7.1f} s  cpu {r['cpu']:7.1f} s  peak {r['peak_mb']:8.0f} MB"
                    f"  {r['peak_mb'] * 1024**2 / (height * width):6.1f} B/px  (pair written in {made:.0f} s)")  # fmt: skip
            if "killed" in r:
                print(line + f"  {r['killed']}", flush=True)
                rows.append((height * width, r))
                break
            rec, outside, n = recall(str(r["mask"]), patches)
            print(line + f"  (system {r['sys']:.0f} s of the cpu; ru_maxrss {r['ru_maxrss_mb']:.0f} MB)", flush=True)
            print(f"        {len(patches)} patches planted, recall {rec:.3f}; {n} changed pixels, {outside:.1%} outside the patches", flush=True)
            print(f"        change-image said: {r['said']}", flush=True)
            print(f"        RSS over time: {r['timeline']}", flush=True)
            rows.append((height * width, r))
            if args.keep is None:  # kept, the pairs can be given to another checkout's change-image to compare outputs
                for d in (before, after):
                    shutil.rmtree(d.parent)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    if len(rows) == 2:
        (s0, r0), (s1, r1) = rows
        px = s1 / s0
        print(f"large / baseline: pixels {px:.2f}x, wall {r1['wall'] / r0['wall']:.2f}x, cpu {r1['cpu'] / r0['cpu']:.2f}x, "
              f"peak {r1['peak_mb'] / r0['peak_mb']:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
