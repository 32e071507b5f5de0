"""A made-up world port list: N polygon sites on the world's real coasts, as GeoJSON and KML.

Shaped like the World Port Index (NGA Pub. 150): each port has a WPI-style index number as its id
(``wpi-61020``), a name (some not ASCII: ``São Sebastião``, ``Gdańsk``, ``Владивосток``; some the same
name at several ports with distinct ids: ``Puerto Nuevo``, ``Newport``), a country tag and a harbour
size. Each polygon is a rotated rectangle 300 m to 4 km across, centred on a point of coast in the
1 km land mask sitewatch measures sea routes on (a cell of land beside water within about 2 km), so
the sites sit where ports are, spread over every ocean. The same ``n`` and ``seed`` give the same file.

    python benchmarks/_gazetteer.py 4000 --out ports.geojson   # or ports.kml
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from sitewatch.analysis.sea_route import water_at
from sitewatch.sites import kml_data, kml_document, kml_geometry

_STEMS = (
    "Port", "Puerto", "Porto", "Havn", "Hamn", "Liman", "Bandar", "Ko", "Gang", "Mina", "Baie", "Cala",
)  # fmt: skip
_PARTS = (
    "Alto", "Bel", "Cor", "Dar", "Esk", "Fal", "Gal", "Hol", "Ist", "Jor", "Kel", "Lor", "Mar", "Nor",
    "Ost", "Pen", "Quin", "Ros", "Sal", "Tor", "Ul", "Val", "Wes", "Yar", "Zan", "ville", "mouth", "haven",
    "sund", "wick", "ness", "dal", "berg", "ia", "ona", "ara",
)  # fmt: skip
_NON_ASCII = (
    "São Sebastião", "Gdańsk", "Tromsø", "Île-Rousse", "Çanakkale", "Ólafsvík", "Cádiz", "Nordfjordeið",
    "Świnoujście", "Ålesund", "Mersin Limanı", "Владивосток", "Мурманск", "高雄港", "釜山", "Πειραιάς",
    "ميناء جدة", "Đà Nẵng", "Hafnarfjörður", "A Coruña",
)  # fmt: skip
_DUPLICATED = ("Puerto Nuevo", "Newport", "San José", "Victoria", "Port Said", "Santa Cruz")
_COUNTRIES = ("AR", "AU", "BR", "CA", "CL", "CN", "DK", "ES", "FR", "GB", "GR", "ID", "IN", "IT", "JP",
              "KR", "MX", "NG", "NO", "NZ", "PE", "PH", "RU", "SE", "TR", "US", "VN", "ZA")  # fmt: skip
_SIZES = ("very small", "small", "medium", "large")


def coast_points(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` (lon, lat) points of coast: land in the mask, with water about 2 km to one side."""
    found: list[np.ndarray] = []
    total = 0
    d = 0.02  # degrees, about 2 km
    while total < n:
        # Uniform over the sphere between 60 S and 72 N (few ports beyond), not over the degrees.
        lon = rng.uniform(-179.5, 179.5, 200_000)
        lat = np.degrees(np.arcsin(rng.uniform(math.sin(math.radians(-60)), math.sin(math.radians(72)), lon.size)))
        centre = water_at(lon, lat)
        near = np.zeros(lon.size, bool)
        for dx, dy in ((d, 0), (-d, 0), (0, d), (0, -d)):
            near |= water_at(lon + dx, np.clip(lat + dy, -89.9, 89.9))
        keep = ~centre & near
        found.append(np.column_stack([lon[keep], lat[keep]]))
        total += int(keep.sum())
    return np.concatenate(found)[:n]


def _name(i: int, rng: np.random.Generator) -> str:
    if i % 50 == 7:
        return _NON_ASCII[(i // 50) % len(_NON_ASCII)]
    if i % 40 == 3:
        return _DUPLICATED[(i // 40) % len(_DUPLICATED)]
    parts = rng.choice(_PARTS, size=2)
    return f"{_STEMS[i % len(_STEMS)]} {parts[0]}{parts[1].lower()}"


def _rectangle(lon: float, lat: float, rng: np.random.Generator) -> list[list[float]]:
    """A rotated rectangle 300 m to 4 km long around (lon, lat), counter-clockwise, closed."""
    length = rng.uniform(300, 4000)
    width = length * rng.uniform(0.3, 1.0)
    angle = rng.uniform(0, math.pi)
    m_lat = 111_320.0
    m_lon = m_lat * math.cos(math.radians(lat))
    ring = []
    for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1), (-1, -1)):
        x, y = sx * length / 2, sy * width / 2
        xr = x * math.cos(angle) - y * math.sin(angle)
        yr = x * math.sin(angle) + y * math.cos(angle)
        ring.append([round(lon + xr / m_lon, 7), round(lat + yr / m_lat, 7)])
    return ring


def gazetteer(n: int, seed: int = 150) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of ``n`` port polygons (the first ``n`` of a larger list are a subset)."""
    rng = np.random.default_rng(seed)
    points = coast_points(n, rng)
    feats = []
    for i, (lon, lat) in enumerate(points):
        wpi = 10_000 + i * 17  # WPI's index numbers have gaps
        feats.append({
            "type": "Feature",
            "properties": {
                "id": f"wpi-{wpi}", "name": _name(i, rng), "kind": "port",
                "tags": [_COUNTRIES[i % len(_COUNTRIES)], f"harbour {_SIZES[i % len(_SIZES)]}"],
            },
            "geometry": {"type": "Polygon", "coordinates": [_rectangle(float(lon), float(lat), rng)]},
        })  # fmt: skip
    return {"type": "FeatureCollection", "features": feats}


def to_kml(collection: dict[str, Any]) -> str:
    """The same ports as a KML document (Google Earth's saved places: a placemark each)."""
    from shapely.geometry import shape

    lines = []
    for f in collection["features"]:
        p = f["properties"]
        lines.append(f"<Placemark><name>{_escape(p['name'])}</name>{kml_data({'role': 'site', 'id': p['id'], 'kind': p['kind'], 'tags': p['tags']})}"
                     f"{kml_geometry(shape(f['geometry']))}</Placemark>")  # fmt: skip
    return kml_document(lines)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int)
    ap.add_argument("--out", type=Path, required=True, help=".geojson or .kml")
    ap.add_argument("--seed", type=int, default=150)
    args = ap.parse_args()
    data = gazetteer(args.n, args.seed)
    text = to_kml(data) if args.out.suffix == ".kml" else json.dumps(data, ensure_ascii=False)
    args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
