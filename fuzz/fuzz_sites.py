"""Fuzz a sites file as `sitewatch sites import FILE` reads it, against a workspace that holds one site; the
input's first byte picks GeoJSON, KML, a seed's GeoJSON with values of other types swapped in, or a KMZ."""

from __future__ import annotations

import io
import json
import zipfile

import atheris
from _harness import as_file, mutated_json, run

with atheris.instrument_imports(include=["sitewatch"]):
    from shapely.geometry import box

    from sitewatch.model import Site
    from sitewatch.sites import read_sites_file

KNOWN = {"busan": Site(id="busan", name="Busan", kind="port", geometry=box(129.0, 35.0, 129.1, 35.1))}
GEOJSON = (
    b'{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "EPSG:4326"}}, "features": ['
    b'{"type": "Feature", "id": "a", "properties": {"role": "site", "name": "Port A", "kind": "Port", "tags": "navy, pier",'
    b' "resolved": "yes", "note": "n"}, "geometry": {"type": "Polygon", "coordinates": [[[1, 1], [2, 1], [2, 2], [1, 2], [1, 1]]]}},'
    b'{"type": "Feature", "properties": {"role": "berth", "site_id": "a", "id": "b1"},'
    b' "geometry": {"type": "LineString", "coordinates": [[1.2, 1.2], [1.5, 1.5]]}},'
    b'{"type": "Feature", "properties": {"role": "water", "site_id": "busan"},'
    b' "geometry": {"type": "MultiPolygon", "coordinates": [[[[129.01, 35.01], [129.05, 35.01], [129.05, 35.05], [129.01, 35.01]]]]}},'
    b'{"type": "Feature", "properties": {"NAME": "pin"}, "geometry": {"type": "Point", "coordinates": [3, 3]}}]}'
)
KML = (
    b'<?xml version="1.0" encoding="UTF-8"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document><Folder>'
    b'<Placemark id="pa"><name>Port A</name><ExtendedData><Data name="role"><value>site</value></Data>'
    b'<Data name="tags"><value>["a,b"]</value></Data></ExtendedData><Polygon><outerBoundaryIs><LinearRing>'
    b"<coordinates>1,1,0 2,1,0 2,2,0 1,2,0 1,1,0</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>"
    b'<Placemark><name>q</name><ExtendedData><SchemaData><SimpleData name="role">berth</SimpleData>'
    b'<SimpleData name="site_id">pa</SimpleData></SchemaData></ExtendedData><MultiGeometry><LineString>'
    b"<coordinates>1.2,1.2 1.5,1.5</coordinates></LineString></MultiGeometry></Placemark>"
    b"<Placemark><name>pin</name><Point><coordinates>3,3</coordinates></Point></Placemark></Folder></Document></kml>"
)
POLYGON = b'{"type": "Polygon", "coordinates": [[[1, 1], [2, 1], [2, 2], [1, 1]]]}'


def _kmz(method: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", method) as zf:
        zf.writestr("doc.kml", KML)
        zf.writestr("files/readme.txt", b"pins")
    return out.getvalue()


SEEDS = [b"\x00" + GEOJSON, b"\x01" + KML, b"\x00" + POLYGON, b"\x02" + bytes(64), b"\x03" + _kmz(zipfile.ZIP_DEFLATED),
         b"\x03" + _kmz(zipfile.ZIP_STORED)]  # fmt: skip
DOCS = [json.loads(GEOJSON), json.loads(POLYGON)]


def read(data: bytes) -> None:
    mode = data[0] % 4 if data else 0
    body = mutated_json(data[1:], DOCS) if mode == 2 else data[1:]
    read_sites_file(as_file(body, ("sites.geojson", "sites.kml", "sites.geojson", "sites.kmz")[mode]), known=KNOWN)


if __name__ == "__main__":
    run(read, SEEDS)
