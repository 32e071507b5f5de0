"""``claims check`` of many claims at one pair of sites: claims read for their dates against the whole history, in one run.

Builds a GeoPackage of ``--days`` days of two ports (the seeded story of ``tests/test_alert_window.py``: ships
calling at both, some sailing from one to the other, the pier hidden on some days, days missed), writes claims files
of 1 and of ``--claims`` transit claims (a week each, every week from the first, within 6 days, Rason to Dunai), and
times, for each file, :func:`~sitewatch.evidence.check_claims_file` (each claim reads its sites' moves about its dates,
a read shared only by claims of the same dates) against the whole history read once and every claim checked on it (as
main checked transits before the ``claimsperiod2`` merge), each ``--rounds`` times alternately, the median; both give
the same verdicts (the script exits 1 when they do not).

    python benchmarks/claims_many_one_site.py --days 400 --claims 50 --out DIR
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from sitewatch.analysis import TimelineParams  # noqa: E402
from sitewatch.claims_file import check_against_sites, read_claims  # noqa: E402
from sitewatch.evidence import (  # noqa: E402
    ClaimsCheck,
    check_claims,
    check_claims_file,
    claims_to_dict,
    load_world,
)
from sitewatch.workspace import init_workspace, open_workspace  # noqa: E402
from test_alert_window import PLACES, START, History, _put, _site  # noqa: E402


def _claims(n: int) -> list[dict[str, object]]:
    return [{"id": f"t{k}", "text": "t", "source": "s", "sites": ["rason", "dunai"],
             "from": (START + timedelta(days=7 * k)).isoformat(), "to": (START + timedelta(days=7 * k + 6)).isoformat(),
             "assert": {"kind": "vessel_transit", "within_days": 6}} for k in range(n)]  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=400)
    ap.add_argument("--claims", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    if args.claims * 7 > args.days:
        ap.error(f"--claims {args.claims}: a week each needs --days of at least {args.claims * 7}")
    root = init_workspace(args.out / "ws").root
    story = History(args.days, seed=5)
    with open_workspace(root).store() as store:
        for sid in PLACES:
            store.put_site(_site(sid))
        for d in range(args.days):
            for o, dets in story.day(d):
                _put(store, o, dets)
    params = TimelineParams()
    same = True
    print("| claims | whole history, s (baseline) | read for their dates, s | ratio |\n|---:|---:|---:|---:|")
    for n in (1, args.claims):
        path = args.out / f"claims-{n}.yaml"
        path.write_text(yaml.safe_dump({"claims": _claims(n)}), encoding="utf-8")
        times: dict[str, list[float]] = {"whole": [], "period": []}
        with open_workspace(root).store() as store:
            for _ in range(args.rounds):
                t = time.perf_counter()
                claims = check_against_sites(read_claims(path), {s.id: s for s in store.sites()})
                world = load_world(store, ["rason", "dunai"], params)
                whole = claims_to_dict(ClaimsCheck(str(path), check_claims(claims.claims, world), claims.problems, claims.title, 0.0))
                times["whole"].append(time.perf_counter() - t)
                t = time.perf_counter()
                period = claims_to_dict(check_claims_file(store, path, params))
                times["period"].append(time.perf_counter() - t)
                same &= whole == period
        w, p = statistics.median(times["whole"]), statistics.median(times["period"])
        print(f"| {n} | {w:.2f} | {p:.2f} | {p / w:.2f}× |")
    print("verdicts: the same" if same else "verdicts: DIFFER")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
