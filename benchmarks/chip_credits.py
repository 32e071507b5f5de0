"""What a chip's credit line, scale bar and north arrow cost: the report's chips drawn with them against the same
chips drawn without them (the two drawing steps skipped), in the same run, on a workspace's own images,
each drawn once each way to warm up, then alternately.

For each observation with detections (at most ``--limit``, spread over the workspace), the overview chip the report
draws (its detections' box, 270-360 px) is drawn ``--repeat`` times each way; it prints the median milliseconds and
the PNG bytes of both, and the ratios. With ``--report``, also the whole report of the workspace
(``render_report``, every site) made each way, once each after a warm-up: its CPU seconds and megabytes.

    sitewatch demo --out DEMO && python benchmarks/chip_credits.py DEMO --report
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from shapely.ops import unary_union

from sitewatch.report import charts
from sitewatch.report.html import OVERVIEW_CHIP_PX
from sitewatch.workspace import open_workspace


@contextmanager
def _without_credit() -> Iterator[None]:
    """The chips as drawn before 7 Dec 2026: no credit under them, no scale bar or north arrow on them."""
    saved = charts._credit_footer, charts._scale_and_north

    def nothing(*args: Any, **kwargs: Any) -> None:
        return None

    charts._credit_footer = nothing  # type: ignore[assignment]
    charts._scale_and_north = nothing  # type: ignore[assignment]
    try:
        yield
    finally:
        charts._credit_footer, charts._scale_and_north = saved  # type: ignore[assignment]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workspace", type=Path)
    ap.add_argument("--limit", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--report", action="store_true", help="also the whole report, each way")
    args = ap.parse_args()
    ws = open_workspace(args.workspace)
    with ws.store() as st:
        chosen = []
        for site in st.sites():
            for o in st.observations(site.id):
                dets = st.detections(observation_id=o.id)
                if dets:
                    chosen.append((site, o, dets))
    step = max(1, len(chosen) // args.limit)
    chosen = chosen[::step][: args.limit]
    rows = {"with": ([], []), "without": ([], [])}  # type: dict[str, tuple[list[float], list[int]]]

    def draw(way: str, site: Any, o: Any, dets: Any, focus: Any) -> bytes:
        if way == "with":
            return charts.chip_png(ws.root / o.path, o, dets, focus, size_px=OVERVIEW_CHIP_PX, site=site.name) or b""
        with _without_credit():
            return charts.chip_png(ws.root / o.path, o, dets, focus, size_px=OVERVIEW_CHIP_PX) or b""

    for n, (site, o, dets) in enumerate(chosen):
        focus = unary_union([d.footprint for d in dets]).envelope
        times: dict[str, list[float]] = {"with": [], "without": []}
        png: dict[str, bytes] = {}
        for way in ("without", "with"):  # warm: the first draw imports and reads the file into the OS cache
            draw(way, site, o, dets, focus)
        for r in range(args.repeat):
            # Alternated, each chip starting with the other way: a machine shared with other jobs slows both alike.
            for way in ("without", "with") if (n + r) % 2 == 0 else ("with", "without"):
                t0 = time.process_time()
                png[way] = draw(way, site, o, dets, focus)
                times[way].append(time.process_time() - t0)
        for way in ("without", "with"):
            rows[way][0].append(statistics.median(times[way]) * 1000)
            rows[way][1].append(len(png[way]))
    n = len(chosen)
    ms = {k: statistics.median(v[0]) for k, v in rows.items()}
    size = {k: sum(v[1]) / n for k, v in rows.items()}
    print(f"{n} chips of {args.workspace} (median of {args.repeat} draws each, CPU time of this process)")
    print("| chip | CPU ms (median) | PNG bytes (mean) |")
    print("|---|---:|---:|")
    print(f"| without credit, scale bar, north arrow (baseline) | {ms['without']:.0f} | {size['without']:,.0f} |")
    print(f"| with them | {ms['with']:.0f} | {size['with']:,.0f} |")
    print(f"| ratio | {ms['with'] / ms['without']:.2f}× | {size['with'] / size['without']:.2f}× |")
    if args.report:
        _report(ws)


def _report(ws: Any) -> None:
    from sitewatch.report.html import render_report

    with _without_credit():
        render_report(ws)  # warm
    cpu: dict[str, float] = {}
    mb: dict[str, float] = {}
    for way in ("without", "with"):
        t0 = time.process_time()
        if way == "with":
            html = render_report(ws)
        else:
            with _without_credit():
                html = render_report(ws)
        cpu[way] = time.process_time() - t0
        mb[way] = len(html.encode()) / 1e6
    print()
    print("| report | CPU s | MB |")
    print("|---|---:|---:|")
    print(f"| pictures without credit, scale bar, north arrow (baseline) | {cpu['without']:.1f} | {mb['without']:.2f} |")
    print(f"| with them | {cpu['with']:.1f} | {mb['with']:.2f} |")
    print(f"| ratio | {cpu['with'] / cpu['without']:.2f}× | {mb['with'] / mb['without']:.2f}× |")


if __name__ == "__main__":
    main()
