"""Start-up of the ``sitewatch`` command: a command's module imported when it is asked for.

Each line is the median wall time of ``--repeat`` fresh processes (``python -c`` with the
package on ``sys.path``, so the console script's own cost is left out of both sides):

- ``baseline``: the group with every command module imported, as every command did before
  (``sitewatch.cli.all_commands()``: what ``sitewatch --help`` still needs);
- ``--version``, ``timeline --help``, ``sites --help``, ``detect --help``: the group as it runs
  now, importing only the command asked for;
- ``bare interpreter``: ``python -c pass``, the floor.

The ratio is baseline / line.

    python benchmarks/cli_startup.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).parents[1] / "src"

CASES: list[tuple[str, str]] = [
    ("baseline (every command imported)", "from sitewatch.cli import all_commands; all_commands()"),
    ("--version", "from sitewatch.cli import main; main(['--version'], standalone_mode=False)"),
    ("timeline --help", "from sitewatch.cli import main; main(['timeline', '--help'], standalone_mode=False)"),
    ("sites --help", "from sitewatch.cli import main; main(['sites', '--help'], standalone_mode=False)"),
    ("detect --help", "from sitewatch.cli import main; main(['detect', '--help'], standalone_mode=False)"),
    ("bare interpreter", "pass"),
]


def _median_s(code: str, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(SRC)!r}); {code}"],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=7, help="processes per line (median)")
    args = ap.parse_args()
    results = [(name, _median_s(code, args.repeat)) for name, code in CASES]
    base = results[0][1]
    print(f"{'':36} {'median s':>9} {'baseline / this':>16}")
    for name, s in results:
        print(f"{name:36} {s:9.3f} {base / s:15.1f}x")


if __name__ == "__main__":
    main()
