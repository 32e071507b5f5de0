"""Start-up of the ``sitewatch`` command: a command's module imported when it is asked for.

Each line is the median wall time of ``--repeat`` fresh processes (``python -c`` with the
package on ``sys.path``, so the console script's own cost is left out of both sides):

- ``baseline``: the group with every command module imported, as every command did before
  (``sitewatch.cli.all_commands()``: what ``sitewatch --help`` still needs);
- ``--version``, ``timeline --help``, ``sites --help``, ``detect --help``: the group as it runs
  now, importing only the command asked for;
- ``bare interpreter``: ``python -c pass``, the floor;
- ``Tab: …``: shell completion as bash asks for it (``_SITEWATCH_COMPLETE=bash_complete``), the command
  names, then a SITE of several commands completed from a workspace of two sites made for the run
  (``--workspace DIR``: that one instead, e.g. the demo's).

The ratio is baseline / line.

    python benchmarks/cli_startup.py [--repeat 7] [--workspace DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
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

TAB_CASES: list[tuple[str, str]] = [
    ("Tab: sitewatch <Tab>", "sitewatch "),
    ("Tab: timeline <Tab>", "sitewatch timeline "),
    ("Tab: detect <Tab>", "sitewatch detect "),
    ("Tab: ingest <Tab>", "sitewatch ingest "),
    ("Tab: import --site <Tab>", "sitewatch import x.tif --site "),
    ("Tab: ais <Tab>", "sitewatch ais "),
    ("Tab: eval <Tab>", "sitewatch eval "),
    ("Tab: links <Tab>", "sitewatch links "),
    ("Tab: show <Tab> (observation ids)", "sitewatch show "),
]
"""Command lines completed at their end; COMP_CWORD is the last (empty) word."""

_TAB = "from sitewatch.cli import main\ntry:\n    main(prog_name='sitewatch')\nexcept SystemExit:\n    pass"


def _median_s(code: str, repeat: int, env: dict[str, str] | None = None) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(SRC)!r})\n{code}"],
            check=True, stdout=subprocess.DEVNULL, env={**os.environ, **(env or {})},
        )  # fmt: skip
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=7, help="processes per line (median)")
    ap.add_argument("--workspace", type=Path, help="complete site ids from this workspace (default: one made for the run)")
    args = ap.parse_args()
    results = [(name, _median_s(code, args.repeat)) for name, code in CASES]
    with tempfile.TemporaryDirectory() as tmp:
        ws = args.workspace or _two_site_workspace(Path(tmp) / "ws")
        for name, line in TAB_CASES:
            env = {"_SITEWATCH_COMPLETE": "bash_complete", "COMP_WORDS": line, "COMP_CWORD": str(len(line.split(" ")) - 1),
                   "SITEWATCH_WORKSPACE": str(ws)}  # fmt: skip
            results.append((name, _median_s(_TAB, args.repeat, env)))
    base = results[0][1]
    print(f"{'':36} {'median s':>9} {'baseline / this':>16}")
    for name, s in results:
        print(f"{name:36} {s:9.3f} {base / s:15.1f}x")


def _two_site_workspace(root: Path) -> Path:
    sys.path.insert(0, str(SRC))
    from sitewatch.testing import tiny_site, workspace_with_sites

    return workspace_with_sites(root, tiny_site("dunai"), tiny_site("dunay", lon=132.5)).root


if __name__ == "__main__":
    main()
