"""``change --shadow-twins`` on a berth whose cloud's shadow falls beyond its archived image: this tree (the source
files read coarse around the grid for a refused patch) against a baseline tree (default: ``main``) in the same run,
and against the naive way, a berth archived with the test's whole reach of image around it at full resolution.

    python benchmarks/change_shadow_margin.py [--before main] [--pixels 10,3] [--shadows 2500,500,none] [--repeat 1]

For each pixel size (10 m, 3 m) two plain GeoTIFFs of four bands, 11.4 km square, are written around a berth of
about 330 × 440 m: on the second a 400 × 400 m cloud over the berth's east half, its shadow ``SHADOW`` m to the south-west
(``none``: no shadow, as a new white roof has none). Three workspaces, each ingested by this tree:

- **baseline** and **this**: the berth archived as ingest archives it (1 km around its box, ``context_m``);
  ``change --shadow-twins`` by the baseline tree (``git archive BEFORE src``) and by this tree;
- **naive**: the berth archived with 5 km around it (``SITEWATCH_CONTEXT_M=5000``: the test's farthest shadow),
  ``change --shadow-twins`` by the baseline tree.

Each ``change`` runs in a fresh child process (``--force``); printed: its seconds (the command alone, not the
interpreter's start), the child's CPU seconds (its start and imports too) and its peak resident MiB, each also as
a ratio to the baseline's, and what the cloud test
found (clouds, refused), the share of the site compared and its regions of change. The truth: the cloud is cloud, nothing changed on the ground.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]
_CLOUD = 200.0  # half the cloud's side, m
_SIDE_M = 11_400.0  # the images' side: the berth's grid grown by 5 km, and a little


def _images(folder: Path, px: float, shadow_m: float | None) -> list[Path]:
    """The two dates' GeoTIFFs around the berth of :func:`_site` (the second with the cloud and its shadow)."""
    import numpy as np
    from affine import Affine

    from sitewatch.testing import site_utm_origin, write_tiff

    crs, x0, y0 = site_utm_origin(_site(), margin_m=_SIDE_M / 2 - 100.0)
    n = int(_SIDE_M / px)
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float32)
    base = (0.08 + 0.04 * (((yy * px // 400) + (xx * px // 500)) % 3)).astype(np.float32)
    del yy, xx
    out = []
    for day, seed in (("20241001", 1), ("20241005", 2)):
        rng = np.random.default_rng(seed)
        img = np.stack([base * np.float32(f) for f in (0.8, 1.0, 1.1, 2.5)])
        img += rng.normal(0, 0.004, img.shape).astype(np.float32)
        if seed == 2:
            c, r, e = n // 2, int(_CLOUD / px), int(_CLOUD / px)  # the cloud's west edge on the berth's centre
            if shadow_m is not None:
                s = int(shadow_m / np.sqrt(2) / px)
                img[:, c - r + s : c + r + s, c - r + e - s : c + r + e - s] *= np.float32(0.5)
            img[:, c - r : c + r, c - r + e : c + r + e] = np.array([0.50, 0.48, 0.46, 0.50], np.float32)[:, None, None]
        out.append(write_tiff(folder / f"berth_{day}.tif", img, crs=crs, transform=Affine(px, 0, x0, 0, -px, y0),
                              descriptions=("blue", "green", "red", "nir")))  # fmt: skip
    return out


def _site():  # type: ignore[no-untyped-def]
    from sitewatch.testing import tiny_site

    return tiny_site("berth", half_deg=0.002)


def _workspace(root: Path, files: list[Path], context_m: float | None) -> Path:
    """A workspace with the berth and the two images ingested (by this tree), with ``context_m`` if given."""
    from click.testing import CliRunner

    from sitewatch.cli import main
    from sitewatch.testing import workspace_with_sites

    ws = workspace_with_sites(root, _site())
    env = {"SITEWATCH_CONTEXT_M": f"{context_m:g}"} if context_m is not None else {}
    res = CliRunner(env=env).invoke(main, ["ingest", "berth", *map(str, files), "--sensor", "optical", "-w", str(ws.root)])
    if res.exit_code != 0:
        raise SystemExit(res.output)
    return ws.root


def _child(src: str, root: str) -> None:
    """In a fresh process: ``change --shadow-twins`` by the tree ``src`` on ``root``; one JSON line out."""
    sys.path.insert(0, src)
    from click.testing import CliRunner

    from sitewatch.cli import main

    t = time.perf_counter()
    res = CliRunner().invoke(main, ["change", "berth", "--json", "--force", "--shadow-twins", "-w", root])
    took = time.perf_counter() - t
    if res.exit_code != 0:
        raise SystemExit(res.output)
    (pair,) = json.loads(res.stdout)["pairs"]
    use = resource.getrusage(resource.RUSAGE_SELF)
    # VmHWM, not ru_maxrss, which a child keeps from its parent across fork and exec (the parent wrote the images)
    peak = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines() if line.startswith("VmHWM:"))
    print(json.dumps({"seconds": took, "cpu": use.ru_utime + use.ru_stime, "peak_mib": peak / 1024, "pair": pair}))


def _run(src: Path, root: Path) -> dict[str, object]:
    env = os.environ | {"PYTHONPATH": str(src)}
    out = subprocess.run([sys.executable, __file__, "--child", str(src), str(root)], env=env, capture_output=True,
                         text=True, check=False)  # fmt: skip
    if out.returncode != 0:
        raise SystemExit(f"change by {src} on {root} failed:\n{out.stdout}{out.stderr}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main_() -> None:
    """Each pixel size and shadow: baseline, naive and this tree's change, their time and memory."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", default="main", help="the git revision to measure against (default: main)")
    ap.add_argument("--pixels", default="10,3", help="pixel sizes, m (default: 10,3)")
    ap.add_argument("--shadows", default="2500,500,none", help="the shadow's distance from the cloud, m; none: no shadow")
    ap.add_argument("--repeat", type=int, default=1, help="runs of each change (the median is printed)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(*args.child)
        return
    sys.path.insert(0, str(_REPO / "src"))
    with tempfile.TemporaryDirectory(prefix="shadowmargin-bench-") as tmp:
        before = Path(tmp) / "before"
        before.mkdir()
        archive = subprocess.run(["git", "-C", str(_REPO), "archive", args.before, "src"], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        trees = {"baseline": before / "src", "naive": before / "src", "this": _REPO / "src"}
        print(f"baseline: {args.before} ({subprocess.run(['git', '-C', str(_REPO), 'rev-parse', '--short', args.before], capture_output=True, text=True, check=True).stdout.strip()}); "  # noqa: E501
              f"this: {subprocess.run(['git', '-C', str(_REPO), 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True, check=True).stdout.strip()}")  # fmt: skip
        print("| pixel | shadow | run | change s | time ratio | process CPU s | CPU ratio | peak MiB | memory ratio | clouds | refused | compared | regions |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for px in (float(p) for p in args.pixels.split(",")):
            for shadow in args.shadows.split(","):
                case = Path(tmp) / f"{px:g}m-{shadow}"
                case.mkdir()
                files = _images(case, px, None if shadow == "none" else float(shadow))
                roots = {"baseline": _workspace(case / "ws", files, None), "naive": _workspace(case / "wide", files, 5000.0)}
                roots["this"] = case / "ws-this"
                shutil.copytree(roots["baseline"], roots["this"])
                base: dict[str, float] = {}
                for run in ("baseline", "naive", "this"):
                    got = [_run(trees[run], roots[run]) for _ in range(args.repeat)]
                    secs = statistics.median(float(g["seconds"]) for g in got)  # type: ignore[arg-type]
                    peak = statistics.median(float(g["peak_mib"]) for g in got)  # type: ignore[arg-type]
                    cpu = statistics.median(float(g["cpu"]) for g in got)  # type: ignore[arg-type]
                    base.setdefault("s", secs)
                    base.setdefault("cpu", cpu)
                    base.setdefault("mib", peak)
                    pair = got[-1]["pair"]
                    assert isinstance(pair, dict)
                    left = pair["cloud_left_out"] or {}
                    regions = int(pair["appeared"]) + int(pair["disappeared"]) + int(pair["altered"])
                    print(f"| {px:g} m | {shadow} | {run} | {secs:.2f} | {secs / base['s']:.2f} | {cpu:.2f} | {cpu / base['cpu']:.2f} | {peak:.0f} | "
                          f"{peak / base['mib']:.2f} | {left.get('clouds')} | {left.get('refused')} | {float(pair['compared_fraction']):.0%} | {regions} |", flush=True)  # fmt: skip
                shutil.rmtree(case)


if __name__ == "__main__":
    main_()
