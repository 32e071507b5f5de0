"""Distance by sea: the route over water on the 1 km land mask against the great circle × 1.2 it replaced.

For a handful of port pairs, prints the great circle, the great circle × 1.2 (the former distance by
sea, now the fallback), the routed distance (:func:`sitewatch.analysis.sea_route.sea_distance`) and a
published sea distance, each figure's source named below. Then the time and peak memory of routing one
pair, each in a fresh process (peak resident memory after the imports subtracted), against the great
circle measured in the same run.

    python benchmarks/sea_routes.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

NM_KM = 1.852

# (name, (lon, lat) of A, (lon, lat) of B, published km or None, source)
PAIRS = [
    ("Rajin - Dunai", (130.300, 42.233), (132.338, 42.880), 200.0,
     "coastal track drawn by hand for sitewatch (LinkParams.detour_factor's docstring): not published"),
    ("Sokcho - Vladivostok", (128.597, 38.205), (131.883, 43.117), 352 * NM_KM,
     "352 nm, the ferry route before a detour towards Japan: Yonhap via Daily NK, dailynk.com (the story says 'mile')"),
    ("Port Said - Suez", (32.29, 31.25), (32.55, 29.97), 193.3,
     "193.3 km with the access channels: the Suez Canal's length as cruise-line port pages give it "
     "(smartsite.cruisefactory.net); ends at marinelink.com's port coordinates"),
    # The same page gives Portsmouth - Caen as "about 85 nm", less than the 179 km great circle between
    # Portsmouth and Ouistreham: not used.
    ("Dover - Calais", (1.33, 51.12), (1.86, 50.965), 21 * NM_KM,
     "21 nm (a rounded crossing, less than the 41 km great circle between the two harbours' centres here): "
     "thetechy.life, 'How far is France from England by boat'"),
    ("Nampo - Vladivostok", (125.380, 38.730), (131.883, 43.117), None,
     "no published figure found; around the Korean peninsula, the README's example"),
]  # fmt: skip

_CHILD = """
import json, resource, sys, time
from sitewatch.analysis.sea_route import sea_distance
import pyproj, skimage.graph  # imported by the first route: counted with the imports, not the route
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
sea = sea_distance(*json.loads(sys.argv[1]))
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"km": sea.km, "cell_km": sea.cell_km, "text": sea.text or sea.no_route, "s": dt,
                  "mb": (peak - base) / 1024, "peak_mb": peak / 1024}))
"""


def _route(a: tuple[float, float], b: tuple[float, float]) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([*a, *b])], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def main() -> None:
    """Print the table and the timings."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per pair for the timings (median)")
    args = ap.parse_args()
    from sitewatch.analysis.links import great_circle_km

    print(f"{'pair':32} {'great circle':>12} {'× 1.2':>8} {'routed':>8} {'published':>10} {'× 1.2/pub':>10} {'routed/pub':>10}"
          f" {'cell':>6} {'s':>6} {'MB':>6}")  # fmt: skip
    for name, a, b, published, _ in PAIRS:
        gc = great_circle_km(*a, *b)
        runs = [_route(a, b) for _ in range(args.repeat)]
        km = runs[0]["km"]
        s = statistics.median(float(r["s"]) for r in runs)  # type: ignore[arg-type]
        mb = max(float(r["mb"]) for r in runs)  # type: ignore[arg-type]
        pub = f"{published:10.0f}" if published else f"{'–':>10}"
        r12 = f"{gc * 1.2 / published:10.2f}" if published else f"{'–':>10}"
        rr = f"{float(km) / published:10.2f}" if published and km is not None else f"{'–':>10}"  # type: ignore[arg-type]
        kms = f"{float(km):8.0f}" if km is not None else f"{'none':>8}"  # type: ignore[arg-type]
        print(f"{name:32} {gc:12.0f} {gc * 1.2:8.0f} {kms} {pub} {r12} {rr} {runs[0]['cell_km']:>6} {s:6.2f} {mb:6.0f}")
    n = 100_000
    t = time.perf_counter()
    for _ in range(n):
        great_circle_km(130.300, 42.233, 132.338, 42.880)
    gc_s = (time.perf_counter() - t) / n
    print(f"\ngreat circle (the baseline): {gc_s * 1e6:.2f} µs a pair")
    for name, a, b, _, _ in (PAIRS[0], PAIRS[-1]):
        runs = [_route(a, b) for _ in range(args.repeat)]
        s = statistics.median(float(r["s"]) for r in runs)  # type: ignore[arg-type]
        print(f"routing {name}: {s:.2f} s ({s / gc_s:,.0f} × the great circle), peak memory "
              f"+{max(float(r['mb']) for r in runs):.0f} MB over the imports "  # type: ignore[arg-type]
              f"({max(float(r['peak_mb']) for r in runs):.0f} MB in all), median of {args.repeat}")  # type: ignore[arg-type]
    print("\nsources:")
    for name, *_, source in PAIRS:
        print(f"  {name}: {source}")


if __name__ == "__main__":
    main()
