"""How often ingest and import read each input file whole for its sha256, and what it costs.

FILES GeoTIFFs of about MB megabytes each (random uint16, uncompressed, each a few rows
taller than the last so that no two share a size, as compressed deliveries do not) cover
two sites, one inside the other. Two runs, each timed with one worker (in this process,
so that every call of ``sha256_file`` on an input file is counted, wherever ``sitewatch.ingest`` calls it):

1. ``ingest`` of the files into site A of an empty workspace;
2. ``import`` of the same files, which go into A again (the same paths) and into B.

The baseline, measured in the same run, is the same two runs with the sitewatch source of
``--baseline-rev`` (default: the commit before the change, which hashed every file before
the workers started and again in the worker, once per site on import), checked out with
``git archive`` into a temporary folder and run in a child process as this tree is.

    python benchmarks/ingest_hashing.py [--files 8] [--mb 200] [--baseline-rev 61442ff]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_REPO = Path(__file__).resolve().parent.parent


def _write_inputs(folder: Path, files: int, mb: int) -> list[Path]:
    import numpy as np
    import rasterio
    from affine import Affine

    from sitewatch.testing import site_utm_origin, tiny_site

    crs, x0, y0 = site_utm_origin(tiny_site("a"))
    side = int((mb * 1e6 / 2) ** 0.5)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(files):
        rows = side + 4 * i  # another size each
        data = rng.integers(0, 4000, (rows, side), dtype=np.uint16)
        path = folder / f"delivery_{i}.tif"
        profile = {"driver": "GTiff", "width": side, "height": rows, "count": 1, "dtype": "uint16", "crs": crs}
        # 10 m pixels from 20 km west and north of the site: it lies well inside every file.
        with rasterio.open(path, "w", **profile, transform=Affine(10, 0, x0 - 20_000, 0, -10, y0 + 20_000)) as dst:
            dst.write(data, 1)
            dst.set_band_description(1, "VV")
            dst.update_tags(SITEWATCH_ACQUIRED=f"2024-10-{i + 1:02d}T09:30:00Z")
        paths.append(path)
    return paths


def _child(inputs: list[Path], root: Path) -> dict[str, object]:
    """Both runs in this process with the sitewatch on sys.path; hash calls per input file and seconds."""
    from click.testing import CliRunner

    import sitewatch.ingest as ingest_module
    from sitewatch.cli import main
    from sitewatch.testing import tiny_site, workspace_with_sites

    ws = workspace_with_sites(root, tiny_site("a"), tiny_site("b", lon=132.339, lat=42.879, half_deg=0.003))
    names = {p.name for p in inputs}
    calls: list[str] = []
    hash_file = ingest_module.sha256_file

    def counted(path: Path) -> str:
        if Path(path).name in names:
            calls.append(Path(path).name)
        return hash_file(path)

    # The baseline's sitewatch.ingest is one module, this tree's a package whose modules each hold the name.
    for name, module in list(sys.modules.items()):
        if name.split(".")[:2] == ["sitewatch", "ingest"] and getattr(module, "sha256_file", None) is hash_file:
            module.sha256_file = counted
    out: dict[str, object] = {}
    for label, command in (
        ("ingest into A", ["ingest", "a", *map(str, inputs)]),
        ("import into A and B", ["import", *map(str, inputs)]),
    ):
        calls.clear()
        t0 = time.perf_counter()
        r = CliRunner().invoke(main, ["-q", *command, "--workers", "1", "-w", str(ws.root)])
        seconds = time.perf_counter() - t0
        if r.exit_code != 0:
            raise SystemExit(f"{label}: exit {r.exit_code}\n{r.output}")
        out[label] = {"hashes_per_file": len(calls) / len(inputs), "seconds": seconds}
    return out


def _run(src: Path, inputs: list[Path], root: Path) -> dict[str, dict[str, float]]:
    env = dict(os.environ, PYTHONPATH=str(src))
    args = [sys.executable, __file__, "--child", str(root), *map(str, inputs)]
    done = subprocess.run(args, env=env, check=True, capture_output=True, encoding="locale")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--baseline-rev", default="61442ff", help="git revision of the baseline (default: before the change)")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child([Path(p) for p in args.child[1:]], Path(args.child[0]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "in").mkdir()
        inputs = _write_inputs(folder / "in", args.files, args.mb)
        size_gb = sum(p.stat().st_size for p in inputs) / 1e9
        (folder / "baseline").mkdir()
        archive = subprocess.run(["git", "-C", str(_REPO), "archive", args.baseline_rev, "src"], check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(folder / "baseline")], input=archive.stdout, check=True)
        baseline = _run(folder / "baseline" / "src", inputs, folder / "ws-baseline")
        current = _run(_REPO / "src", inputs, folder / "ws-current")
    print(f"{args.files} files, {size_gb:.2f} GB in all; one worker; load average {os.getloadavg()[0]:.1f}")
    print(f"{'run':<22}{'hashes/file before':>20}{'after':>8}{'s before':>10}{'s after':>9}{'ratio':>7}")
    for label, before in baseline.items():
        after = current[label]
        print(
            f"{label:<22}{before['hashes_per_file']:>20.1f}{after['hashes_per_file']:>8.1f}"
            f"{before['seconds']:>10.1f}{after['seconds']:>9.1f}{before['seconds'] / after['seconds']:>6.2f}x"
        )


if __name__ == "__main__":
    main()
