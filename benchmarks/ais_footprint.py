"""What the AIS coverage footprint and the de-duplication cost: ``read_ais`` of a day of AIS as ``sitewatch ais``
reads it (filtered by the sites' windows), with each file's 0.1° cells and its box across 180°
(:class:`~sitewatch.analysis.ais_coverage.FootprintBuilder`) against the same read keeping one min/max box
(what the reader did before), in the same run and the same process, alternated REPEAT times; then the
file given twice (two overlapping exports), whose every kept row is a duplicate.

The file is ``benchmarks/ais_read.py``'s synthetic MarineCadastre day (5,000 ships over a 10° × 10° sea).

    python benchmarks/ais_footprint.py [--rows 1000000] [--repeat 3] [--keep FILE]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from ais_read import DAY, SITES, write_file  # noqa: E402


class _BoxOnly:
    """The reader's former extent: one min/max box of the valid positions (the baseline)."""

    def __init__(self) -> None:
        self.box = [math.inf, math.inf, -math.inf, -math.inf]

    def add(self, lons: np.ndarray, lats: np.ndarray) -> None:  # type: ignore[type-arg]
        if lons.size:
            b = self.box
            self.box = [min(b[0], float(lons.min())), min(b[1], float(lats.min())),
                        max(b[2], float(lons.max())), max(b[3], float(lats.max()))]  # fmt: skip

    def build(self):  # type: ignore[no-untyped-def]
        from sitewatch.analysis.ais_coverage import Footprint

        return Footprint(frozenset(), tuple(self.box) if math.isfinite(self.box[0]) else None)  # type: ignore[arg-type]


def _windows(images: int = 4):  # type: ignore[no-untyped-def]
    from shapely.geometry import box

    from sitewatch.analysis.ais import AisParams, windows_for
    from sitewatch.model import Grid, Observation, SceneRef, Site

    sites, obs = {}, []
    for s, (lon, lat) in enumerate(SITES):
        sites[f"s{s}"] = Site(id=f"s{s}", name=f"s{s}", kind="port", geometry=box(lon - 0.018, lat - 0.0135, lon + 0.018, lat + 0.0135))
        for k in range(images):
            scene = SceneRef("bench", "c", f"i{s}{k}", "sar", DAY + timedelta(hours=2 + 20 * k / (images - 1)), 10.0)
            obs.append(Observation(f"s{s}/{k}", f"s{s}", scene, Grid("EPSG:32652", (10, 0, 0, 0, -10, 0), 1, 1), "x", "0", 1.0))
    return windows_for(obs, sites, AisParams())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="Write (or reuse) the synthetic file here.")
    args = ap.parse_args()
    from sitewatch.analysis import ais_csv
    from sitewatch.analysis.ais_coverage import FootprintBuilder

    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "AIS_2024_10_17.csv"
        if not path.exists():
            write_file(path, args.rows)
        windows = _windows()
        times: dict[str, list[float]] = {"box (before)": [], "footprint": []}
        for _ in range(args.repeat):
            for name, builder in (("box (before)", _BoxOnly), ("footprint", FootprintBuilder)):
                ais_csv.FootprintBuilder = builder  # type: ignore[misc]
                t = time.perf_counter()
                data = ais_csv.read_ais([path], windows)
                times[name].append(time.perf_counter() - t)
                if name == "footprint":
                    s = data.files[0]
                    cells, extent, kept = s.cells, s.extent, s.kept
        ais_csv.FootprintBuilder = FootprintBuilder  # type: ignore[misc]
        t = time.perf_counter()
        twice = ais_csv.read_ais([path, path], windows)
        t_twice = time.perf_counter() - t
    base = statistics.median(times["box (before)"])
    print(f"{args.rows:,} rows, {kept:,} kept near 2 sites × 4 image times; footprint: {cells:,} cells, extent {extent}")
    print(f"{'read':<28} {'median s':>9} {'vs box':>7}")
    for name, ts in times.items():
        print(f"{name:<28} {statistics.median(ts):>9.2f} {statistics.median(ts) / base:>6.2f}x")
    a, b = twice.files
    print(f"{'the file twice (duplicates)':<28} {t_twice:>9.2f} {t_twice / base:>6.2f}x  "
          f"(kept {a.kept:,} + {b.kept:,}; {b.duplicates:,} duplicates dropped)")  # fmt: skip
    from sitewatch.analysis.ais_coverage import Footprint

    rng = np.random.default_rng(0)  # the footprint's own part: the rows' positions cell by cell, chunk by chunk
    lons, lats = rng.uniform(125, 135, args.rows), rng.uniform(35, 45, args.rows)
    t = time.perf_counter()
    builder = FootprintBuilder()
    for k in range(0, args.rows, ais_csv.CHUNK_ROWS):
        builder.add(lons[k : k + ais_csv.CHUNK_ROWS], lats[k : k + ais_csv.CHUNK_ROWS])
    builder.build()
    t_add = time.perf_counter() - t
    print(f"{'footprint of the rows alone':<28} {t_add:>9.3f} {t_add / base:>6.3f}x")
    fp = Footprint(frozenset(range(0, 6_480_000, 7)), None)
    t = time.perf_counter()
    for _ in range(1000):
        fp.reaches(132.3, 42.87, 132.35, 42.89)
    print(f"Footprint.reaches on {len(fp.cells):,} cells: {(time.perf_counter() - t) * 1000 / 1000:.3f} ms a site")


if __name__ == "__main__":
    main()
