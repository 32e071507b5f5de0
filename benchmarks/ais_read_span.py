"""The AIS reader's file span (``first``, ``last``) on a file in time order and on the same rows sorted by MMSI,
and what finding the span's ends costs, against another git revision's reader in the same run.

A synthetic MarineCadastre-form day as ``benchmarks/ais_read.py`` writes it (ROWS rows, 5,000 ships), read with
the windows of two sites × 4 images; then the same rows sorted by MMSI (as many exports are). Each reader reads
each file REPEAT times, alternating, in one process; the best CPU time (``time.process_time``: other jobs on a
shared machine move it less than the wall clock) is kept. The span found is printed against
the file's true first and last report: a span too short makes an image near an end "not covered".

    python benchmarks/ais_read_span.py [--rows 1000000] [--against main] [--repeat 3]
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).parent))

from shapely.geometry import box  # noqa: E402

from ais_read import DAY, SITES, write_file  # noqa: E402
from sitewatch.analysis import ais_csv  # noqa: E402
from sitewatch.analysis.ais import AisParams, windows_for  # noqa: E402
from sitewatch.model import Grid, Observation, SceneRef, Site  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def _reader_at(rev: str) -> ModuleType:
    """``sitewatch.analysis.ais_csv`` as it is at git revision ``rev``, loaded beside the current one."""
    text = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:src/sitewatch/analysis/ais_csv.py"],
                          check=True, capture_output=True, encoding="utf-8").stdout  # fmt: skip
    name = "sitewatch.analysis._ais_csv_at_rev"
    spec = importlib.util.spec_from_loader(name, loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "sitewatch.analysis"
    sys.modules[name] = module
    exec(compile(text, f"{rev}:ais_csv.py", "exec"), module.__dict__)
    return module


def _windows() -> list[ais_csv.AisWindow]:
    sites, obs = {}, []
    for s, (lon, lat) in enumerate(SITES):
        sites[f"s{s}"] = Site(id=f"s{s}", name=f"s{s}", kind="port", geometry=box(lon - 0.018, lat - 0.0135, lon + 0.018, lat + 0.0135))
        for k in range(4):
            scene = SceneRef("bench", "c", f"i{s}{k}", "sar", DAY + timedelta(hours=2 + 20 * k / 3), 10.0)
            obs.append(Observation(f"s{s}/{k}", f"s{s}", scene, Grid("EPSG:32652", (10, 0, 0, 0, -10, 0), 1, 1), "x", "0", 1.0))
    return windows_for(obs, sites, AisParams())


def _sorted_by_mmsi(src: Path, dst: Path) -> tuple[str, str]:
    """The rows of ``src`` sorted by MMSI (stable: each ship's reports in time order) into ``dst``; the true span."""
    with open(src, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    body.sort(key=lambda r: r[0])
    with open(dst, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(body)
    times = sorted(r[1] for r in body)
    return times[0] + "Z", times[-1] + "Z"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--against", default="main", help="Git revision whose reader is the baseline.")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    readers = {args.against: _reader_at(args.against), "this tree": ais_csv}
    with tempfile.TemporaryDirectory() as tmp:
        ordered, by_mmsi = Path(tmp) / "AIS_2024_10_17.csv", Path(tmp) / "by_mmsi.csv"
        write_file(ordered, args.rows)
        span = _sorted_by_mmsi(ordered, by_mmsi)
        print(f"{args.rows:,} rows; true span {span[0]} to {span[1]}")
        for label, path in (("time order", ordered), ("sorted by MMSI", by_mmsi)):
            best: dict[str, float] = {}
            found: dict[str, tuple[str | None, str | None]] = {}
            for _ in range(args.repeat):
                for name, module in readers.items():
                    windows = [module.AisWindow(w.west, w.south, w.east, w.north, w.start, w.end) for w in _windows()]
                    t0 = time.process_time()
                    s = module.read_ais([path], windows).files[0]
                    best[name] = min(best.get(name, float("inf")), time.process_time() - t0)
                    found[name] = (s.first, s.last)
            base = best[args.against]
            for name in readers:
                print(f"{label:<15} {name:<10} {best[name]:6.2f} s CPU  {best[name] / base:.3f}x  span {found[name][0]} to {found[name][1]}")


if __name__ == "__main__":
    main()
