"""A folder of PlanetScope orders of both products (radiance and ``_SR``, 8-band) listed by ``expand_paths``,
the code before a change against the code after, in the same run.

``expand_paths`` puts each radiance file after its scene's ``_SR`` file (``_surface_reflectance_first``) before
anything is read, on every ``ingest`` and ``import`` of the folder (``--new-only`` too: the files left out unread
are chosen after). The folder holds ``--pairs`` scenes of empty files named as Planet names them (only names are
read). Each version lists it in a fresh process, ``--repeat`` times; the figure is the median of the seconds
``expand_paths`` takes, and the ratio of the two. The script stops unless both list the same files in the same
order.

    python benchmarks/planet_pairs_order.py --before-src /work/main/src --pairs 500 2000
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"

_LIST = """
import json, sys, time
from pathlib import Path
from typing import Any
from sitewatch.ingest import expand_paths
t = time.perf_counter()
files = expand_paths([Path(sys.argv[1])])
print(json.dumps({"seconds": time.perf_counter() - t, "files": [str(f) for f in files]}))
"""


def make_folder(root: Path, pairs: int) -> Path:
    """``pairs`` PSScene scenes, each an 8-band radiance file, its ``_SR`` file and its UDM2, in one folder."""
    folder = root / f"pairs_{pairs}" / "PSScene"
    folder.mkdir(parents=True)
    for i in range(pairs):
        scene = f"2024{1 + i // 28 % 12:02d}{1 + i % 28:02d}_{i % 240000:06d}_{i % 100:02d}_24a{i % 10}"
        for part in ("AnalyticMS_8b_clip", "AnalyticMS_SR_8b_clip", "udm2_clip"):
            (folder / f"{scene}_3B_{part}.tif").touch()
    return folder.parent


def listing(src: Path, folder: Path) -> dict[str, Any]:
    """What ``expand_paths`` of ``folder`` gives with the code at ``src``, in a fresh process, and how long it took."""
    run = subprocess.run(
        [sys.executable, "-c", _LIST, str(folder)], env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    out: dict[str, Any] = json.loads(run.stdout)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before-src", type=Path, required=True, help="the src folder of the code before the change")
    parser.add_argument("--pairs", type=int, nargs="+", default=[500, 2000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for pairs in args.pairs:
            folder = make_folder(Path(tmp), pairs)
            times: dict[str, list[float]] = {"before": [], "after": []}
            files: dict[str, list[str]] = {}
            for _ in range(args.repeat):
                for name, src in (("before", args.before_src), ("after", SRC)):  # alternating
                    out = listing(src, folder)
                    times[name].append(out["seconds"])
                    files[name] = out["files"]
            if files["before"] != files["after"]:
                sys.exit(f"{pairs} pairs: the two versions list different files or another order")
            before, after = statistics.median(times["before"]), statistics.median(times["after"])
            print(f"{pairs:>6} pairs ({len(files['after'])} files): before {before:.3f} s, after {after:.3f} s, "
                  f"after/before {after / before:.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
