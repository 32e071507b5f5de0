"""Peak memory of the AIS reader on a small gzip that unpacks to one huge line, against another git revision's
reader, each in a fresh process (peak RSS cannot be reset within one).

The file: a header and one line of ``0,`` repeated (MB megabytes unpacked, about a thousandth of that packed), as
a damaged download or a zip bomb could be. Printed: each reader's peak RSS over that of a process that only
imports the reader (the baseline measured in the same run), what it said, and the ratio of the extra memory.

    python benchmarks/ais_gzip_bomb.py [--mb 40] [--against main]
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import resource, sys
sys.path.insert(0, sys.argv[1])
from ais_read_span import _reader_at
reader = _reader_at(sys.argv[2]) if sys.argv[2] != "-" else __import__("sitewatch.analysis.ais_csv", fromlist=["x"])
said = "imported only"
if sys.argv[3] != "-":
    try:
        reader.read_ais([sys.argv[3]])
        said = "read"
    except Exception as exc:
        said = f"{type(exc).__name__}: {str(exc)[-80:]}"
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, said, sep="\t")
"""


def _peak(rev: str, path: str) -> tuple[float, str]:
    out = subprocess.run([sys.executable, "-c", _CHILD, str(ROOT / "benchmarks"), rev, path],
                         check=True, capture_output=True, encoding="utf-8").stdout.strip()  # fmt: skip
    mb, said = out.split("\t", 1)
    return float(mb), said


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=40, help="Megabytes of the unpacked line.")
    ap.add_argument("--against", default="main", help="Git revision whose reader is the baseline.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bomb = Path(tmp) / "bomb.csv.gz"
        with gzip.open(bomb, "wb", compresslevel=9) as f:
            f.write(b"mmsi,time,lat,lon\n")
            for _ in range(args.mb):
                f.write(b"0," * 500_000)
            f.write(b"\n")
        print(f"{bomb.stat().st_size / 1e3:.0f} kB gzip, {args.mb} MB unpacked in one line")
        base, _ = _peak("-", "-")
        print(f"import only          {base:7.0f} MB peak")
        extra = {}
        for label, rev in ((args.against, args.against), ("this tree", "-")):
            mb, said = _peak(rev, str(bomb))
            extra[label] = mb - base
            print(f"{label:<20} {mb:7.0f} MB peak, {mb - base:6.0f} MB over import  ({said})")
        ratio = extra[args.against] / max(extra["this tree"], 1.0)
        print(f"extra memory: {args.against} / this tree = {ratio:.0f}x (this tree's extra floored at 1 MB)")


if __name__ == "__main__":
    main()
