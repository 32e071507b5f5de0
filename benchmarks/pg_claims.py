"""``claims check`` and ``report --claims`` on a PostGIS store of years, this sitewatch against another, in one run.

Takes the workspace ``history_scale.py --out HS`` leaves (``HS/ws``, at 1,800 days: ten ports, daily SAR, optical
every 5th day at three) and makes two copies in ``--out`` (``before``, ``after``), each copied by the
``--before-src`` sitewatch into its own PostGIS database (``--url-before``, ``--url-after``; ``store copy --replace
--use``), as ``pg_reads.py`` does. A claims file is written with a few claims of each kind (a vessel present on a date
and over a week, on every date of it; absent; a crane present and absent; presence days over 30 days, this month and
a year back, at three ports; a transit from one port to the next, two, and a change, at three others), its dates in
the history's last month and a year before it; and the same file with the transits and the change at the first three
ports, without them, and with them alone. The change claim's site is given change pairs first (``--pairs-every``):
each series of its images (sensor and pixel size) chained image to image, a region on every Nth pair, as ``sitewatch
change`` stores them (written by ``replace_changes``, each side by its own sitewatch; not computed from the images).
Each round runs on each copy in turn (the order alternating), each in a fresh process:

- ``claims check FILE --json``, of each file;
- ``report SITE --from/--to`` (the last 30 days) ``--claims FILE``.

Figures, the median of the rounds: the client's CPU seconds (``wait4``) and what the PostGIS server did for the
command (``pg_stat_statements``, reset before it): statements, server ms, rows returned, sessions opened. The
standard output and the report of each command are compared between the two (the workspace's folder and the
report's time and code version aside): the script says which differ, and exits 1 then.

    python benchmarks/pg_claims.py --workspace HS/ws --url-before URL1 --url-after URL2 --before-src OLD/src --out DIR
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import statistics
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pg_daily import run  # noqa: E402
from pg_reads import normalised, server_figures, two_stores  # noqa: E402

PAIRS = """
import sys
from shapely.geometry import box
from sitewatch.model import Change
from sitewatch.store.changes import change_pairs, replace_changes
from sitewatch.workspace import open_workspace
ws, site, every = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open_workspace(ws).store() as store:
    if change_pairs(store, site):
        sys.exit(0)  # (a copy reused)
    c = store.get_site(site).geometry.centroid
    series = {}
    for o in store.observations(site):
        series.setdefault((o.scene.sensor, o.scene.resolution_m), []).append(o)
    for chain in series.values():
        for k, (b, a) in enumerate(zip(chain, chain[1:])):
            regions = [Change(a.id + "#bench", site, b.id, a.id, box(c.x, c.y, c.x + 0.001, c.y + 0.001), 5000.0, 0.5,
                              "appeared", "bench", "1")] if k % every == 0 else []
            replace_changes(store, b, a, compared_fraction=1.0, method="bench", method_version="1", parameters={},
                            changes=regions)
"""


def claims_file(last: dt.date, sites: list[str], moving: list[str]) -> dict[str, object]:
    """A few claims of each kind, dated in the month before ``last`` and a year before it: of a vessel, an object and
    presence days at ``sites`` (three), of a transit and a change at ``moving`` (three)."""
    a, b, c = sites
    x, y, z = moving
    day = last - dt.timedelta(days=10)
    back = last - dt.timedelta(days=365)

    def claim(cid: str, on: list[str], when: dict[str, str], asserted: dict[str, object]) -> dict[str, object]:
        return {"id": cid, "text": cid, "source": "a benchmark", "sites": on, **when, "assert": asserted}

    def span(first: dt.date, days: int) -> dict[str, str]:
        return {"from": first.isoformat(), "to": (first + dt.timedelta(days=days - 1)).isoformat()}

    one = {"date": day.isoformat()}
    return {"title": "a benchmark's claims", "claims": [
        claim("present", [a], one, {"kind": "vessel_present", "min_length_m": 50}),
        claim("present-week", [b], span(day, 7), {"kind": "vessel_present", "on": "all"}),
        claim("present-back", [c], span(back, 7), {"kind": "vessel_present"}),
        claim("absent", [c], one, {"kind": "vessel_absent"}),
        claim("absent-back", [a], {"date": back.isoformat()}, {"kind": "vessel_absent", "max_length_m": 80}),
        claim("crane", [a], span(day, 3), {"kind": "object_present", "object": "crane"}),
        claim("no-crane", [b], one, {"kind": "object_absent", "object": "crane"}),
        claim("days", [a], span(last - dt.timedelta(days=29), 30), {"kind": "presence_days", "days": 12, "tolerance": 2}),
        claim("days-back", [b], span(back, 30), {"kind": "presence_days", "days": 5}),
        claim("transit", [x, y], span(day, 7), {"kind": "vessel_transit", "within_days": 5}),
        claim("transit-back", [y, z], span(back, 7), {"kind": "vessel_transit", "within_days": 5}),
        claim("change", [z], span(day, 10), {"kind": "change_present"}),
    ]}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workspace", type=Path, required=True, help="history_scale.py's ws (copied, never written).")
    ap.add_argument("--url-before", required=True, help="A PostGIS database the run may empty (pg_stat_statements made).")
    ap.add_argument("--url-after", required=True, help="Another one, for this sitewatch.")
    ap.add_argument("--before-src", type=Path, required=True, help="The src of the sitewatch to compare with.")
    ap.add_argument("--src", type=Path, help="The src measured (default: this checkout's).")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sites", default="port-00,port-01,port-02", help="Three sites of the claims of vessels, objects, days.")
    ap.add_argument("--moving", default="port-03,port-04,port-05", help="Three sites of the transits and the change.")
    ap.add_argument("--pairs-every", type=int, default=10, help="A region on every Nth change pair of the change's site.")
    ap.add_argument("--reuse", action="store_true", help="Keep the copies an earlier run left in --out.")
    args = ap.parse_args()
    src = args.src or Path(__file__).resolve().parents[1] / "src"
    sides, servers, last = two_stores(args, src, columns=160)
    for ws, _, env in sides.values():
        subprocess.run([sys.executable, "-c", PAIRS, str(ws), args.moving.split(",")[2], str(args.pairs_every)], check=True, env=env)
    for server in servers.values():
        server.conn.execute("ANALYZE")  # (the pairs are new)
    sites = args.sites.split(",")
    claims, same, still = args.out / "claims.yaml", args.out / "claims-same-sites.yaml", args.out / "claims-no-transit.yaml"
    claims.write_text(yaml.safe_dump(claims_file(last, sites, args.moving.split(",")), sort_keys=False), encoding="utf-8")
    same.write_text(yaml.safe_dump(claims_file(last, sites, sites), sort_keys=False), encoding="utf-8")
    doc = claims_file(last, sites, sites)
    doc["claims"] = [c for c in doc["claims"] if not str(c["id"]).startswith(("transit", "change"))]  # type: ignore[attr-defined]
    still.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    doc = claims_file(last, sites, args.moving.split(","))
    doc["claims"] = [c for c in doc["claims"] if str(c["id"]).startswith(("transit", "change"))]  # type: ignore[attr-defined]
    moving = args.out / "claims-transit-change.yaml"
    moving.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    since30 = (last - dt.timedelta(days=29)).isoformat()
    cmds: list[tuple[str, list[str]]] = [
        ("claims check --json", ["claims", "check", str(claims), "--json"]),
        ("claims check --json (transits at the same sites)", ["claims", "check", str(same), "--json"]),
        ("claims check --json (no transit, no change)", ["claims", "check", str(still), "--json"]),
        ("claims check --json (the transits and the change alone)", ["claims", "check", str(moving), "--json"]),
        ("report --from/--to (30 days) --claims", ["report", sites[0], "--from", since30, "--to", last.isoformat(),
                                                   "--claims", str(claims), "--out", "OUT/report.html"]),
    ]  # fmt: skip
    figures: dict[str, dict[str, list[dict[str, float]]]] = {}
    differ: set[str] = set()
    print(f"history to {last}; sites {', '.join(sites)}", flush=True)
    for k in range(args.repeat):
        for name, rest in cmds:
            outputs: dict[str, bytes] = {}
            for side in (list(sides) if k % 2 == 0 else list(reversed(sides))):
                ws, _, env = sides[side]
                slot = args.out / "outputs" / side
                slot.mkdir(parents=True, exist_ok=True)
                stdout = slot / (re.sub(r"\W+", "_", name) + ".out")
                servers[side].reset()
                m = run([sys.executable, "-m", "sitewatch", "-q", *[a.replace("OUT/", f"{slot}/") for a in rest], "-w", str(ws)],
                        env, stdout)  # fmt: skip
                m.update(server_figures(servers[side]))
                body = stdout.read_bytes().replace(str(slot).encode(), b"OUT")
                if "OUT/report.html" in rest:
                    body += (slot / "report.html").read_bytes()
                outputs[side] = normalised(body, ws)
                figures.setdefault(name, {}).setdefault(side, []).append(m)
                print(f"round {k + 1} {name} [{side}]: " + ", ".join(f"{key} {v:.4g}" for key, v in m.items()), flush=True)
            if outputs["before"] != outputs["after"]:
                differ.add(name)
                for side, data in outputs.items():
                    (args.out / "outputs" / side / (re.sub(r"\W+", "_", name) + ".compared")).write_bytes(data)
    (args.out / "figures.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    verdicts = json.loads((args.out / "outputs" / "after" / (re.sub(r"\W+", "_", cmds[0][0]) + ".out")).read_text(encoding="utf-8"))
    print("verdicts: " + ", ".join(f"{c['id']} {c['verdict']}" for c in verdicts["claims"]))

    def med(ms: list[dict[str, float]], key: str) -> float:
        return statistics.median(m[key] for m in ms)

    print(f"\n{'command':50s}{'CPU s before/after':>20s}{'server ms before/after':>24s}{'x':>6s}"
          f"{'statements':>13s}{'rows':>17s}{'sessions':>10s}")  # fmt: skip
    for name, by in figures.items():
        b, a = by["before"], by["after"]
        print(f"{name:50s}{med(b, 'cpu'):>9.2f}/{med(a, 'cpu'):<10.2f}{med(b, 'server_ms'):>11.0f}/{med(a, 'server_ms'):<12.0f}"
              f"{med(a, 'server_ms') / max(med(b, 'server_ms'), 1e-9):>6.2f}{med(b, 'statements'):>6.0f}/{med(a, 'statements'):<6.0f}"
              f"{med(b, 'rows'):>8.0f}/{med(a, 'rows'):<8.0f}{med(b, 'sessions'):>4.0f}/{med(a, 'sessions'):<5.0f}")  # fmt: skip
    print("outputs the same before and after" + (f", but for: {', '.join(sorted(differ))}" if differ else ""))
    if differ:
        sys.exit(1)


if __name__ == "__main__":
    main()
