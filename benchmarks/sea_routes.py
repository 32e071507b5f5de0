"""Distance by sea: the route over water on the 1 km land mask against the great circle × 1.2 it replaced.

For a handful of port pairs, prints the great circle, the great circle × 1.2 (the former distance by
sea, now the fallback), the routed distance (:func:`sitewatch.analysis.sea_route.sea_distance`) and a
published sea distance, each figure's source named below. Then the time and peak memory of routing one
pair, each in a fresh process (peak resident memory after the imports subtracted), against the great
circle measured in the same run.

Then, with ``--official``, the pairs of :data:`OFFICIAL`: distances from an official table, NGA Pub. 151
"Distances Between Ports" (National Geospatial-Intelligence Agency, a US government work, public domain),
each routed once in a fresh process between the table's own port positions, with routed / published and
great circle × 1.2 / published and a summary (median, worst, how many within ±10 %).

Then, with ``--passages``, each passage of :data:`sitewatch.analysis.sea_route.PASSAGES` added on 7 Dec with a port
pair that goes through it (:data:`PASSAGE_PAIRS`): the route with every passage and without that one, each in a
fresh process, and what the sources say of the distance.

    python benchmarks/sea_routes.py [--repeat 3] [--official | --official-only] [--passages | --passages-only]
"""

from __future__ import annotations

import argparse
import json
import re
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
     "around the Korean peninsula, the README's example; NGA Pub. 151 gives 997 nm between its own positions "
     "for the two ports (OFFICIAL, below: routed 0.96 of it)"),
]  # fmt: skip

OFFICIAL_SOURCE = ("NGA Pub. 151, Distances Between Ports (National Geospatial-Intelligence Agency; US government work), "
                   "as transcribed to text in github.com/kaklin/sea-routes, PUB151_raw.txt (from the PDF its README links)")
"""Where the figures and positions of :data:`OFFICIAL` are read: each port's entry gives its position ("central
positions that most represent each port", the table's preface says) and its distances in nautical miles."""

# (name, position of A, position of B, nautical miles, route): positions as the table writes them, each
# distance read from the first port's entry; the route is the table's where it names one ("via Naikai",
# "south of Greece"), otherwise the one its figure implies (Kiel Canal - Bremerhaven's 129 nm only through
# the canal). Pairs chosen within 2,500 km and through straits, canals, around peninsulas. Entries whose position is misprinted in the transcription (Hamburg 9°69', Helsinki
# 24°65', Seattle 47°3', Izmir 21°E) are left out, as is Nakhodka - Hakodate (62 nm for about 450).
OFFICIAL = [
    ("Vladivostok - Nampo", "43°06'30\"N., 131°53'00\"E.", "38°43'00\"N., 125°25'00\"E.", 997,
     "around Korea, via Changjuk Sudo"),
    ("Vladivostok - Kimchaek", "43°06'30\"N., 131°53'00\"E.", "40°39'15\"N., 129°12'30\"E.", 206, "coastal"),
    ("Ulsan - Rajin", "35°28'00\"N., 129°24'00\"E.", "42°14'00\"N., 130°18'00\"E.", 418,
     "east coast of Korea (Rajin is the table's Najkin)"),
    ("Vladivostok - Busan", "43°06'30\"N., 131°53'00\"E.", "35°06'00\"N., 129°03'00\"E.", 514, "Sea of Japan"),
    ("Vladivostok - Niigata", "43°06'30\"N., 131°53'00\"E.", "37°58'00\"N., 139°04'00\"E.", 453, "Sea of Japan"),
    ("Vladivostok - Kobe", "43°06'30\"N., 131°53'00\"E.", "34°40'00\"N., 135°12'00\"E.", 805,
     "via Naikai: Kanmon Strait and the Inland Sea"),
    ("Busan - Kobe", "35°06'00\"N., 129°03'00\"E.", "34°40'00\"N., 135°12'00\"E.", 361,
     "Kanmon Strait and the Inland Sea"),
    ("Busan - Wakamatsu", "35°06'00\"N., 129°03'00\"E.", "33°55'00\"N., 130°49'00\"E.", 120, "Korea Strait"),
    ("Kure - Wakamatsu", "34°14'00\"N., 132°32'00\"E.", "33°55'00\"N., 130°49'00\"E.", 125,
     "Inland Sea and Kanmon Strait"),
    ("Kobe - Iwakuni", "34°40'00\"N., 135°12'00\"E.", "34°10'00\"N., 132°17'00\"E.", 166, "Inland Sea"),
    ("Busan - Nagasaki", "35°06'00\"N., 129°03'00\"E.", "32°44'30\"N., 129°52'15\"E.", 163, "Korea Strait"),
    ("Nampo - Weihai", "38°43'00\"N., 125°25'00\"E.", "37°30'00\"N., 122°08'30\"E.", 172, "Yellow Sea"),
    ("Qingdao - Qinhuangdao", "36°05'30\"N., 120°19'00\"E.", "39°55'00\"N., 119°36'30\"E.", 381,
     "around Shandong, Bohai Strait"),
    ("Kobenhavn - Aarhus", "55°42'00\"N., 12°36'06\"E.", "56°09'30\"N., 10°13'30\"E.", 108, "The Sound, Kattegat"),
    ("Kobenhavn - Karlskrona", "55°42'00\"N., 12°36'06\"E.", "56°10'00\"N., 15°36'00\"E.", 148, "The Sound, Baltic"),
    ("Kobenhavn - Kalundborg", "55°42'00\"N., 12°36'06\"E.", "55°40'07\"N., 11°05'00\"E.", 115,
     "around Zealand's north"),
    ("Kiel Canal east end - Kobenhavn", "54°22'00\"N., 10°09'00\"E.", "55°42'00\"N., 12°36'06\"E.", 162,
     "via The Sound (the junction point Nord-Ostsee-Kanal (East Entrance))"),
    ("Kiel Canal east end - Bremerhaven", "54°22'00\"N., 10°09'00\"E.", "53°33'00\"N., 8°33'30\"E.", 129,
     "through the Kiel Canal and down the Elbe"),
    ("Rotterdam - Kiel Canal east end", "51°54'00\"N., 4°28'00\"E.", "54°22'00\"N., 10°09'00\"E.", 323,
     "North Sea, up the Elbe, through the Kiel Canal"),
    ("Kiel Canal east end - Riga", "54°22'00\"N., 10°09'00\"E.", "56°57'30\"N., 24°05'30\"E.", 555,
     "Fehmarn Belt, Baltic, Gulf of Riga"),
    ("Istanbul - Alexandroupolis", "41°01'15\"N., 28°59'09\"E.", "40°50'00\"N., 25°53'00\"E.", 200,
     "Sea of Marmara, Dardanelles"),
    ("Burgas - Istanbul", "42°28'50\"N., 27°27'13\"E.", "41°01'15\"N., 28°59'09\"E.", 126, "Bosporus"),
    ("Istanbul - Volos", "41°01'15\"N., 28°59'09\"E.", "39°21'25\"N., 22°56'37\"E.", 329, "Dardanelles, Aegean"),
    ("Kerch - Istanbul", "45°21'16\"N., 36°28'40\"E.", "41°01'15\"N., 28°59'09\"E.", 439,
     "Kerch Strait, Black Sea, Bosporus"),
    ("Kerch - Rostov-na-Donu", "45°21'16\"N., 36°28'40\"E.", "47°11'30\"N., 39°40'10\"E.", 208,
     "Kerch Strait, Sea of Azov, up the Don"),
    ("Istanbul - Alexandria", "41°01'15\"N., 28°59'09\"E.", "31°10'41\"N., 29°51'28\"E.", 742,
     "Dardanelles, Aegean"),
    ("Napoli - Reggio di Calabria", "40°50'19\"N., 14°16'20\"E.", "38°07'35\"N., 15°39'00\"E.", 179,
     "Strait of Messina"),
    ("Napoli - Istanbul", "40°50'19\"N., 14°16'20\"E.", "41°01'15\"N., 28°59'09\"E.", 981,
     "south of Greece: Strait of Messina, Dardanelles"),
    ("Volos - Khalkis", "39°21'25\"N., 22°56'37\"E.", "38°27'40\"N., 23°35'15\"E.", 88, "North Euboean Gulf"),
    ("Rhodes - Iraklion", "36°27'00\"N., 28°13'54\"E.", "35°20'41\"N., 25°08'24\"E.", 171, "open sea"),
    ("Larnaca - Al Latakia", "34°54'44\"N., 33°38'23\"E.", "35°31'40\"N., 35°45'35\"E.", 114, "around Cape Greco"),
    ("La Habana - Key West", "23°08'00\"N., 82°20'30\"W.", "24°33'30\"N., 81°48'30\"W.", 92, "Straits of Florida"),
    ("Punta Arenas - Rio Gallegos", "53°10'00\"S., 70°54'00\"W.", "51°36'40\"S., 69°12'10\"W.", 202,
     "Strait of Magellan, its First and Second Narrows"),
    ("Victoria - Nanaimo", "48°25'00\"N., 123°23'30\"W.", "49°10'00\"N., 123°55'45\"W.", 86,
     "Haro Strait, the Gulf Islands"),
    ("Vancouver - Nanaimo", "49°18'00\"N., 123°06'00\"W.", "49°10'00\"N., 123°55'45\"W.", 35, "Strait of Georgia"),
]  # fmt: skip

# (passage, A, B, routing cell km, what is published of the distance): ports placed to about 1 km.
PASSAGE_PAIRS = [
    ("Corinth Canal", "Piraeus - Patras", (23.63, 37.94), (21.73, 38.25), 1.0,
     "about 93 nm to the Rio-Antirrio narrows, a yacht's log (shaula3eng.myblog.it: 30 nm Athens - canal, 3 nm of "
     "canal, 60 nm to the narrows), Patras 5 nm beyond: ~181 km; the canal saves 185 nm (a cruise line, via gntc.com.au)"),
    ("East River", "New Haven - New York (the Battery)", (-72.92, 41.30), (-74.01, 40.70), 1.0,
     "none found (NOAA's Distances Between United States Ports, Table 4, not readable here)"),
    ("Cape Cod Canal", "Boston - Newport", (-71.05, 42.36), (-71.33, 41.49), 1.0,
     "none found; the canal 'saves 135 miles' of open sea on average (US Army Corps of Engineers, via wikimapia)"),
    ("Cape Cod Canal", "Boston - New York (the Battery)", (-71.05, 42.36), (-74.01, 40.70), 1.0, "none found"),
    ("Chesapeake and Delaware Canal", "Baltimore - Wilmington (Delaware)", (-76.58, 39.27), (-75.51, 39.72), 1.0,
     "none found; the canal 'saves about 300 miles' Baltimore - Wilmington (Wikipedia, via wikijii.com)"),
    ("Beagle Channel", "Punta Arenas - Ushuaia", (-70.90, -53.16), (-68.30, -54.81), 1.0,
     "none found; the ferry Yaghan takes 30-32 h to Puerto Williams by the Magdalena, Cockburn, Ballenero and "
     "O'Brien channels and the Beagle (travellers' accounts: ameliasilver.com, theworldintandem.com)"),
    ("Ballenero and O'Brien channels", "Punta Arenas - Puerto Williams", (-70.90, -53.16), (-67.61, -54.93), 1.0,
     "none found (as above)"),
    ("Strait of Messina", "Napoli - Iraklion at 2.8 km cells", (14.27, 40.84), (25.13, 35.34), 2.8,
     "none for the pair; Napoli - Reggio di Calabria 179 nm (NGA Pub. 151, OFFICIAL below)"),
    ("Strait of Messina", "Messina - Reggio di Calabria", (15.565, 38.195), (15.635, 38.115), 1.0,
     "none found (a ferry crossing; the strait open at 1 km cells, no passage needed)"),
    ("(none: open water)", "Norfolk - Baltimore", (-76.30, 36.85), (-76.58, 39.27), 1.0,
     "none found; the bay is '170 miles long from the entrance to the mouth of the Susquehanna' (US Coast Pilot, 1930s)"),
]  # fmt: skip

_CHILD = """
import json, resource, sys, time
from sitewatch.analysis.sea_route import sea_distance
import pyproj, skimage.graph  # imported by the first route: counted with the imports, not the route
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t = time.perf_counter()
args = json.loads(sys.argv[1])
if len(args) > 4:
    from sitewatch.analysis.sea_route import PASSAGES
    args, cell, leave_out = args[:4], args[4], args[5]
    sea = sea_distance(*args, cell_km=cell, passages=[p for p in PASSAGES if p.name != leave_out])
else:
    sea = sea_distance(*args)
dt = time.perf_counter() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"km": sea.km, "cell_km": sea.cell_km, "text": sea.text or sea.no_route, "s": dt, "legs_km": sea.legs_km,
                  "mb": (peak - base) / 1024, "peak_mb": peak / 1024}))
"""


def _route(a: tuple[float, float], b: tuple[float, float], *more: object) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", _CHILD, json.dumps([*a, *b, *more])], capture_output=True, encoding="locale", check=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


_DMS = re.compile(r"(\d+)°(\d+)'(\d+)\"([NSEW])")


def table_position(text: str) -> tuple[float, float]:
    """(lon, lat) in degrees from a position as Pub. 151 writes it: ``43°06'30"N., 131°53'00"E.``."""
    parts = _DMS.findall(text)
    if len(parts) != 2 or (parts[0][3], parts[1][3]) not in {("N", "E"), ("N", "W"), ("S", "E"), ("S", "W")}:
        raise ValueError(f"not a position: {text!r}")
    (lat, lon) = (
        (int(d) + int(m) / 60 + int(sec) / 3600) * (-1 if h in "SW" else 1) for d, m, sec, h in parts
    )
    return lon, lat


def official(show_sources: bool = True) -> None:
    """Route each pair of :data:`OFFICIAL` once (a fresh process each) and print the ratios and their summary."""
    from sitewatch.analysis.links import great_circle_km

    print(f"\nofficial table: {OFFICIAL_SOURCE}")
    print(f"{'pair':34} {'nm':>5} {'pub km':>7} {'gc km':>7} {'routed':>7} {'routed/pub':>10} {'×1.2/pub':>9}"
          f" {'cell':>5} {'legs km':>11} {'s':>5}  route")  # fmt: skip
    routed: list[float] = []
    fallback: list[float] = []
    for name, pa, pb, nm, via in OFFICIAL:
        a, b = table_position(pa), table_position(pb)
        pub = nm * NM_KM
        gc = great_circle_km(*a, *b)
        run = _route(a, b)
        km = run["km"]
        r12 = gc * 1.2 / pub
        fallback.append(r12)
        if km is None:
            rr, kms = "none", "none"
        else:
            routed.append(float(km) / pub)  # type: ignore[arg-type]
            rr, kms = f"{routed[-1]:.2f}", f"{float(km):.0f}"  # type: ignore[arg-type]
        legs = "–" if km is None else "/".join(f"{x:.1f}" for x in run["legs_km"])  # type: ignore[attr-defined]
        print(f"{name:34} {nm:5d} {pub:7.0f} {gc:7.0f} {kms:>7} {rr:>10} {r12:9.2f} {run['cell_km']!s:>5} {legs:>11}"
              f" {float(run['s']):5.1f}  {via}" + ("" if km is not None else f" [{run['text']}]"))  # type: ignore[arg-type]
    for label, ratios, n in (("routed / published", routed, len(OFFICIAL)), ("great circle × 1.2 / published", fallback, len(OFFICIAL))):
        if not ratios:
            continue
        worst = max(ratios, key=lambda r: abs(r - 1))
        within = sum(abs(r - 1) <= 0.10 for r in ratios)
        print(f"{label}: median {statistics.median(ratios):.2f}, worst {worst:.2f}, within ±10 % {within} of {n}"
              + (f" ({n - len(ratios)} with no route)" if len(ratios) < n else ""))
    if show_sources:
        print(f"\npositions and nautical miles: {OFFICIAL_SOURCE}; 1 nm = {NM_KM} km")


def passages() -> None:
    """Route each pair of :data:`PASSAGE_PAIRS` with every passage and without its own (a fresh process each)."""
    from sitewatch.analysis.links import great_circle_km

    print(f"\n{'passage':30} {'pair':36} {'gc km':>6} {'routed':>7} {'without':>8} {'cell':>5} {'s':>5}  published")
    for name, pair, a, b, cell, published in PASSAGE_PAIRS:
        gc = great_circle_km(*a, *b)
        run, shut = _route(a, b, cell, ""), _route(a, b, cell, name)
        km = "none" if run["km"] is None else f"{float(run['km']):.0f}"  # type: ignore[arg-type]
        off = "none" if shut["km"] is None else f"{float(shut['km']):.0f}"  # type: ignore[arg-type]
        print(f"{name:30} {pair:36} {gc:6.0f} {km:>7} {off:>8} {run['cell_km']!s:>5} {float(run['s']):5.1f}  {published}")  # type: ignore[arg-type]


def main() -> None:
    """Print the table and the timings."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per pair for the timings (median)")
    ap.add_argument("--official", action="store_true", help="then the pairs from the official table (Pub. 151)")
    ap.add_argument("--official-only", action="store_true", help="the pairs from the official table alone")
    ap.add_argument("--passages", action="store_true", help="then the pairs through the passages added on 7 Dec")
    ap.add_argument("--passages-only", action="store_true", help="those pairs alone")
    args = ap.parse_args()
    if args.passages_only:
        passages()
        return
    if args.official_only:
        official()
        return
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
    if args.official:
        official()
    if args.passages:
        passages()


if __name__ == "__main__":
    main()
