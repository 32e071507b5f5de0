"""The least address space (``prlimit --as``) each usual command completes in, bisected.

Run:  python benchmarks/memory_floors.py [--only demo,detect,...] [--step 32] [--sar 25000x17000] [--optical 10000]

An address-space limit makes an allocation fail (numpy's MemoryError, GDAL's "out of memory") where a
machine short of memory would have the kernel kill the process; it counts every mapping, so numpy's
and GDAL's reservations as well as what is resident: a floor here is above the command's peak resident
memory (printed beside it, from an unlimited run). Each command runs in a child process, one at a time:

- ``demo --out DIR`` (a fresh folder each try), then on a copy of its workspace (fresh each try)
  ``detect dunai --force``, ``timeline dunai``, ``report``, ``change dunai``, ``export --out F``;
- ``serve`` answering its home page and the first few pages it links to;
- ``detect-image`` on a SAR scene-sized float32 raster (benchmarks/sar_scene_tiles.py writes it) and on a
  four-band uint16 optical raster, SIZE x SIZE pixels at 3 m, written strip by strip.

A try passes when the command exits 0 (serve: every page answered 200). Below each floor the script
prints the last lines the command wrote to standard error: what a user short of memory sees. Rasters and
workspaces go to a temporary folder, deleted afterwards.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

sys.path.insert(0, str(Path(__file__).resolve().parent))
from sar_scene_tiles import write_scene  # noqa: E402

MIB = 1 << 20
CLI = [sys.executable, "-m", "sitewatch", "-q"]


def _limit(mib: int | None) -> Callable[[], None] | None:
    if mib is None:
        return None

    def set_() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (mib * MIB, mib * MIB))

    return set_


def write_optical(path: Path, size: int) -> None:
    """Four uint16 bands (blue, green, red, NIR; reflectance x 10000) of basins and piers with a few bright hulls."""
    profile = dict(driver="GTiff", width=size, height=size, count=4, dtype="uint16", crs="EPSG:32652",
                   transform=from_origin(300000, 4300000, 3.0, 3.0), tiled=True, blockxsize=512, blockysize=512)  # fmt: skip
    rng = np.random.default_rng(0)
    strip = 1024
    levels = ((450, 1500), (400, 1600), (220, 1700), (120, 2100))
    with rasterio.open(path, "w", **profile) as ds:
        for i, name in enumerate(("blue", "green", "red", "nir"), start=1):
            ds.set_band_description(i, name)
        for r0 in range(0, size, strip):
            h = min(strip, size - r0)
            yy, xx = np.mgrid[r0 : r0 + h, 0:size]
            land = ((xx // 700) % 2 == 0) & ((yy // 900) % 3 != 0)
            hull = ((xx % 700) > 300) & ((xx % 700) < 340) & ((yy % 211) < 8)
            for b, (wv, lv) in enumerate(levels, start=1):
                v = np.where(land, lv, wv) + rng.normal(0, 40, (h, size))
                v = np.where(hull & ~land, 2500, v)
                ds.write(np.clip(v, 1, 10000).astype(np.uint16), b, window=((r0, r0 + h), (0, size)))


class Case:
    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None, prepare: Callable[[], None] | None = None,
                 serve: bool = False) -> None:  # fmt: skip
        self.name, self.argv, self.env, self.prepare, self.serve = name, argv, env, prepare, serve
        self.last_err = ""

    def run(self, mib: int | None) -> tuple[bool, int]:
        """(passed, peak resident KiB of the child)."""
        if self.prepare:
            self.prepare()
        env = {**os.environ, **(self.env or {})}
        if self.serve:
            return self._serve(mib, env)
        p = subprocess.run(self.argv, env=env, capture_output=True, text=True, encoding="utf-8", errors="replace",
                           preexec_fn=_limit(mib), timeout=3600)  # fmt: skip
        self.last_err = p.stderr.strip()
        return p.returncode == 0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss

    def _serve(self, mib: int | None, env: dict[str, str]) -> tuple[bool, int]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        p = subprocess.Popen([*self.argv, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, encoding="utf-8", errors="replace", preexec_fn=_limit(mib))  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        ok = False
        try:
            for _ in range(300):
                if p.poll() is not None:
                    break
                try:
                    home = urllib.request.urlopen(base + "/", timeout=60).read().decode("utf-8", "replace")
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                home = ""
            if p.poll() is None and home:
                links = [h for h in dict.fromkeys(re.findall(r'href="(/[^"#?]*)"', home)) if not h.startswith("/static")]
                ok = True
                for link in links[:6]:
                    try:
                        ok &= urllib.request.urlopen(base + link, timeout=120).status == 200
                    except OSError as exc:
                        ok = False
                        self.last_err = f"{link}: {exc}"
        finally:
            p.terminate()
            _, err = p.communicate(timeout=30)
            self.last_err = (self.last_err + "\n" + (err or "")).strip()
        return ok, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss


def floor(case: Case, step: int) -> None:
    t = time.time()
    ok, _ = case.run(None)
    if not ok:
        print(f"{case.name}: fails without a limit:\n{case.last_err[-2000:]}", flush=True)
        return
    # ru_maxrss of RUSAGE_CHILDREN is the largest child so far: measure this one alone.
    rss = _peak_of(case)
    lo, hi = 64, max(512, 2 * rss // 1024)
    below = ""
    while not case.run(hi)[0]:
        lo, hi, below = hi, hi * 2, case.last_err
    while hi - lo > step:
        mid = (lo + hi) // 2
        if case.run(mid)[0]:
            hi = mid
        else:
            lo, below = mid, case.last_err
    tail = "\n    ".join(below.splitlines()[-3:]) if below else "(nothing: always passed)"
    print(f"{case.name}: floor {hi} MiB (fails at {lo}); peak resident {rss / 1024:.0f} MiB; "
          f"{time.time() - t:.0f} s\n  below the floor it said:\n    {tail}", flush=True)  # fmt: skip


def _peak_of(case: Case) -> int:
    """Peak resident KiB of one unlimited run, measured by a wrapper process of its own."""
    code = ("import resource,subprocess,sys;subprocess.run(sys.argv[1:]);"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")  # fmt: skip
    if case.serve:
        return 0
    if case.prepare:
        case.prepare()
    out = subprocess.run([sys.executable, "-c", code, *case.argv], env={**os.environ, **(case.env or {})},
                         capture_output=True, text=True, encoding="utf-8", check=True).stdout  # fmt: skip
    return int(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="demo,detect,timeline,report,change,export,serve,detect-image-sar,detect-image-optical")
    ap.add_argument("--step", type=int, default=32, help="MiB the bisection stops within (default 32)")
    ap.add_argument("--sar", default="25000x17000", help="WIDTHxHEIGHT of the SAR raster (default a GRD scene's)")
    ap.add_argument("--optical", type=int, default=10_000, help="side of the optical raster (default 10000)")
    args = ap.parse_args()
    only = args.only.split(",")
    with tempfile.TemporaryDirectory(prefix="memory_floors_") as tmp:
        root = Path(tmp)
        os.chdir(root)  # `report` writes report.html where it runs
        demo = root / "demo"
        subprocess.run([*CLI, "demo", "--out", str(demo)], check=True, stdout=subprocess.DEVNULL)
        work = root / "ws"

        def fresh_demo() -> None:
            shutil.rmtree(root / "demo-try", ignore_errors=True)

        def fresh_ws() -> None:
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(demo, work)

        ws = {"SITEWATCH_WORKSPACE": str(work)}
        cases = [
            Case("demo", [*CLI, "demo", "--out", str(root / "demo-try")], prepare=fresh_demo),
            Case("detect", [*CLI, "detect", "dunai", "--force"], ws, fresh_ws),
            Case("timeline", [*CLI, "timeline", "dunai"], ws, fresh_ws),
            Case("report", [*CLI, "report"], ws, fresh_ws),
            Case("change", [*CLI, "change", "dunai"], ws, fresh_ws),
            Case("export", [*CLI, "export", "--out", str(root / "export.geojson")], ws, fresh_ws),
            Case("serve", [*CLI, "serve"], ws, fresh_ws, serve=True),
        ]
        if "detect-image-sar" in only:
            w, h = (int(v) for v in args.sar.split("x"))
            write_scene(root / "sar.tif", w, h, 400)
            cases.append(Case("detect-image-sar", [*CLI, "detect-image", str(root / "sar.tif"), "--out", str(root / "sar.geojson")]))
        if "detect-image-optical" in only:
            write_optical(root / "optical.tif", args.optical)
            cases.append(Case("detect-image-optical",
                              [*CLI, "detect-image", str(root / "optical.tif"), "--out", str(root / "optical.geojson")]))  # fmt: skip
        for case in cases:
            if case.name in only:
                floor(case, args.step)


if __name__ == "__main__":
    main()
