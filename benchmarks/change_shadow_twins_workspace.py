"""``sitewatch change --shadow-twins`` against the default (each image's brightness test) on optical pairs without
any cloud mask, in the same run.

    python benchmarks/change_shadow_twins_workspace.py

Cases (tests/test_change_clouds.py's, made afresh in a temporary folder):

1. **plain**: two imported 10 m GeoTIFFs of four bands, no SCL, UDM2 or QA_PIXEL; on the second date a 400 × 400 m
   cloud with its shadow 300 m south and west, and a new 300 × 300 m white roof without a shadow. True change:
   the roof alone.
2. **simulated 10 m / 3 m**: the simulator's round site with 45 % cloud on the second date (SCL band not
   archived), nothing changed on the ground. True change: none.

Printed for each, default then ``--shadow-twins`` (``--force``, same workspace): the share of the site compared,
regions and their m², what the shadow-twin test reports (``cloud_left_out``) and the seconds of ``change``, with
the ratio of the two times.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _two_dates import simulated_workspace  # noqa: E402
from sitewatch.cli import main  # noqa: E402
from test_change_clouds import _plain_pair, _scenario  # noqa: E402


def _change(root: Path, site: str, *args: str) -> tuple[dict[str, object], float]:
    t = time.perf_counter()
    res = CliRunner().invoke(main, ["change", site, "--json", "--force", *args, "-w", str(root)])
    took = time.perf_counter() - t
    if res.exit_code != 0:
        raise SystemExit(res.output)
    (pair,) = json.loads(res.stdout)["pairs"]
    return pair, took


def main_() -> None:
    """Each case, default then --shadow-twins."""
    with tempfile.TemporaryDirectory(prefix="changecloud-bench-") as tmp:
        cases = [("plain (truth: 1 roof)", _plain_pair(Path(tmp) / "plain"), "plain")]
        for res_m in (10.0, 3.0):
            _, ws = simulated_workspace(_scenario(res_m), Path(tmp) / f"sim{res_m:g}")
            cases.append((f"simulated {res_m:g} m (truth: none)", ws.root, "round"))
        for name, root, site in cases:
            times = []
            for args in ((), ("--shadow-twins",)):
                pair, took = _change(root, site, *args)
                times.append(took)
                regions = int(pair["appeared"]) + int(pair["disappeared"]) + int(pair["altered"])  # type: ignore[call-overload]
                print(f"{name:28} {' '.join(args) or 'default':15} compared {float(pair['compared_fraction']):.0%}  "  # type: ignore[arg-type]
                      f"regions {regions} ({float(pair['area_m2']):,.0f} m²)  {took:.2f} s  cloud_left_out {pair['cloud_left_out']}")  # type: ignore[arg-type]  # fmt: skip
            print(f"{name:28} time --shadow-twins / default: {times[1] / times[0]:.2f}")


if __name__ == "__main__":
    main_()
