"""Reading a day of AIS saved as UTF-16 or UTF-32 with its byte-order mark (Excel's "Unicode Text", PowerShell's
``Out-File``) against the same rows in UTF-8, in the same run: whether the marked file is read as it streams, as a
UTF-8 one is, or held in memory whole.

The rows are :mod:`ais_read`'s synthetic MarineCadastre day; each file is read by ``read_ais`` filtered by the two
sites' windows (the command's path) in a fresh process, so its peak memory (``ru_maxrss``) is its own. A file read
whole would show a peak that grows with the file (twice the UTF-8 file's bytes for UTF-16, four times for UTF-32);
one read as it streams keeps the UTF-8 peak.

    python benchmarks/ais_read_utf16.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from ais_read import _baseline_mb, write_file  # noqa: E402  (this folder's module, not a package)

ENCODINGS = ("utf-8", "utf-16", "utf-32")


def _recoded(src: Path, encoding: str, dst: Path) -> None:
    """``src`` (UTF-8) written again in ``encoding``, with its byte-order mark, a megabyte of text at a time."""
    with open(src, encoding="utf-8", newline="") as f, open(dst, "w", encoding=encoding, newline="") as out:
        while chunk := f.read(2**20):
            out.write(chunk)  # Python's utf-16 and utf-32 codecs write the mark once, first


def _run(path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, str(Path(__file__).parent / "ais_read.py"), "--child", "filtered", str(path)],
                         check=True, capture_output=True, encoding="locale")  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"utf-8": Path(tmp) / "AIS_2024_10_17.csv"}
        t = time.perf_counter()
        write_file(paths["utf-8"], args.rows)
        for encoding in ENCODINGS[1:]:
            paths[encoding] = Path(tmp) / f"AIS_2024_10_17.{encoding}.csv"
            _recoded(paths["utf-8"], encoding, paths[encoding])
        print(f"wrote {args.rows:,} rows in each encoding in {time.perf_counter() - t:.1f} s")
        print(f"python with numpy, scipy, shapely, pyproj imported: {_baseline_mb():.0f} MB peak")
        results = {e: _run(p) for e, p in paths.items()}
        base = results["utf-8"]
        print(f"{'encoding':<8} {'file MB':>8} {'seconds':>8} {'peak MB':>8} {'rows kept':>10}  vs UTF-8 (time, memory)")
        for e, r in results.items():
            print(f"{e:<8} {paths[e].stat().st_size / 1e6:>8.0f} {r['seconds']:>8.1f} {r['peak_mb']:>8.0f} {r['kept']:>10,}  "
                  f"{r['seconds'] / base['seconds']:.2f}x, {r['peak_mb'] / base['peak_mb']:.2f}x")  # fmt: skip
        if len({r["kept"] for r in results.values()}) != 1:
            raise SystemExit("the encodings kept different rows: the marked files were misread")


if __name__ == "__main__":
    main()
