"""The site gazetteer: built-in places, GeoJSON/KML import and export.

A site collection is exchanged as one GeoJSON FeatureCollection in which
each feature has a ``role``: ``site`` (the area of interest, a polygon),
``berth`` (a quay line or berth polygon, with ``site_id``) or ``water`` (the
site's water polygon, with ``site_id``). Plain polygon collections made in
QGIS import too: each polygon becomes a site with its ``id``, or an id made
from its ``name`` (suffixed ``-2``, ``-3``... when missing or repeated).
"""

from __future__ import annotations

import dataclasses
import json
import re
import unicodedata
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import shapely
import shapely.errors
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box, mapping, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union
from shapely.validation import explain_validity

from .errors import (
    InputError,
    RefusedFeatureWarning,
    RenamedSiteWarning,
    SiteError,
    SkippedInputWarning,
)
from .geo import cut_at_antimeridian, reproject_geometry
from .kml import read_kml
from .model import (
    SITE_ID_MAX_LENGTH,
    SITE_KINDS,
    WINDOWS_DEVICE_NAMES,
    Berth,
    Site,
    check_new_site_id,
)
from .untrusted import json_list, text_of, without_controls

__all__ = [
    "builtin_sites",
    "builtin_site",
    "site_from_bbox",
    "SitesIndex",
    "sites_from_geojson",
    "sites_to_geojson",
    "sites_to_kml",
    "kml_geometry",
    "kml_data",
    "kml_document",
    "read_sites_file",
    "read_sites_files",
    "right_handed",
    "slugify",
]


# Latin letters that Unicode does not decompose into a base letter and an accent.
_ASCII_LETTERS = str.maketrans({"ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ł": "l", "þ": "th", "ı": "i"})


def _ascii_slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.lower().translate(_ASCII_LETTERS))
    return re.sub(r"[^a-z0-9]+", "-", folded.encode("ascii", "ignore").decode()).strip("-")


_SLUG_MAX = SITE_ID_MAX_LENGTH - 8
"""A site id made from a name is cut to this length, leaving room for the suffix of a repeated name (``-2``)."""


def slugify(text: str) -> str:
    """A site id from free text: lowercase ASCII, accents dropped (``Ångström`` → ``angstrom``), ``-`` between words,
    cut to 56 characters (a long placemark name gave an id too long to be a folder name); a name Windows keeps for a
    device (``Aux``, ``NUL``) takes ``-site`` (``aux-site``), as its folder could not be made there."""
    slug = _ascii_slug(text)[:_SLUG_MAX].rstrip("-_") or "site"
    return f"{slug}-site" if slug in WINDOWS_DEVICE_NAMES else slug


def builtin_sites() -> dict[str, Site]:
    """The places of the seed story, with the source of their coordinates.

    Unresolved places are kept with ``resolved=False`` and say why in their
    note; one with no coordinates at all has no geometry.
    """
    text = files("sitewatch").joinpath("data/gazetteer.geojson").read_text(encoding="utf-8")
    return {s.id: s for s in sites_from_geojson(json.loads(text), origin="built-in gazetteer")}


def builtin_site(site_id: str) -> Site:
    """One built-in site by id."""
    sites = builtin_sites()
    if site_id not in sites:
        raise SiteError(f"no built-in site {site_id!r}; built-in: {', '.join(sorted(sites))}")
    return sites[site_id]


def site_from_bbox(
    site_id: str, bbox: tuple[float, float, float, float], name: str = "", kind: str = "area", source: str = ""
) -> Site:
    """A site from a W,S,E,N box in WGS84 degrees."""
    check_new_site_id(site_id)
    w, s, e, n = bbox
    if not (w < e and s < n):
        across = " (a box across the antimeridian, 180°, cannot be a site: make two)" if w > e and s < n else ""
        raise InputError(f"bbox {bbox}: expected W,S,E,N with W < E and S < N{across}")
    _check_geometry(box(w, s, e, n), f"bbox {w:g},{s:g},{e:g},{n:g}")  # past ±180°, or lat/lon swapped: said so
    return Site(
        id=site_id,
        name=name or site_id,
        kind=kind,
        geometry=box(w, s, e, n),
        coord_source=source or "bounding box given by the user",
    )


class SitesIndex:
    """Sites' areas in a spatial index (an STRtree): which of thousands a footprint meets, without
    testing each one (a port list holds ~4,000; an image covers a handful)."""

    def __init__(self, sites: Iterable[Site]) -> None:
        self._sites = list(sites)
        # A site without coordinates (unresolved) is never found: it has no area to meet.
        self._tree = shapely.STRtree([s.geometry for s in self._sites])

    def intersecting(self, geom: BaseGeometry) -> list[Site]:
        """The sites whose area intersects ``geom`` (same CRS, lon/lat), in the order they were given."""
        hits = self._tree.query(geom, predicate="intersects")
        return [self._sites[i] for i in sorted(int(i) for i in hits)]


def _check_geometry(geom: BaseGeometry, where: str) -> None:
    if geom.is_empty:
        raise InputError(f"{where}: the geometry is empty")
    minx, miny, maxx, maxy = geom.bounds
    if -90 <= miny <= maxy <= 90 and (minx < 180 < maxx <= 360 or -360 <= minx < -180 < maxx):
        # Longitudes past ±180 (drawn on a Pacific-centred map and saved as lon/lat): the area runs across the
        # antimeridian, which "did you swap them?" did not say.
        raise InputError(
            f"{where}: runs from longitude {minx:g} to {maxx:g}, across the antimeridian (180°), which a site "
            "cannot; split it at 180° into two sites, each with longitudes within -180..180"
        )
    if -90 <= miny <= maxy <= 90 and (180 < minx <= maxx <= 360 or -360 <= minx <= maxx < -180):
        raise InputError(
            f"{where}: longitudes {minx:g} to {maxx:g} are beyond ±180° (a 0..360° convention); give them "
            f"within -180..180 ({'subtract' if minx > 0 else 'add'} 360)"
        )
    if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise InputError(
            f"{where}: coordinates {geom.bounds} are not lon/lat degrees "
            "(WGS84 longitude first, then latitude; did you swap them, or export in a projected CRS?)"
        )


def _without_controls(value: Any) -> Any:
    """A property (a text, or a list of texts) through :func:`~sitewatch.untrusted.without_controls`:
    names, notes and berth ids of a downloaded gazetteer are printed to the terminal."""
    if isinstance(value, str):
        return without_controls(value)
    if isinstance(value, list):
        return [_without_controls(v) for v in value]
    return value


def _geojson_crs(data: dict[str, Any], origin: str) -> str | None:
    """The CRS a pre-RFC 7946 ``crs`` member names (QGIS and GDAL write one), or None for lon/lat."""
    member = data.get("crs")
    if member is None:
        return None
    props = member.get("properties") if isinstance(member, dict) else None
    name = props.get("name") if isinstance(props, dict) else None
    if not isinstance(name, str):
        raise InputError(f"{origin}: cannot read its 'crs' member {json.dumps(member)}; save the layer in EPSG:4326")
    from pyproj import CRS, Transformer
    from pyproj.exceptions import CRSError, ProjError

    try:
        crs = CRS.from_user_input(name)
    except CRSError as exc:
        raise InputError(f"{origin}: unknown CRS {name!r} in its 'crs' member; save the layer in EPSG:4326") from exc
    if crs.equals(CRS("OGC:CRS84"), ignore_axis_order=True):
        return None
    try:  # a CRS PROJ knows but has no way to lon/lat for (EPSG:2221): its features cannot be placed
        Transformer.from_crs(crs, CRS("EPSG:4326"), always_xy=True)
    except ProjError as exc:
        raise InputError(f"{origin}: cannot reproject its CRS {name!r} to lon/lat ({exc}); save the layer in EPSG:4326") from exc
    return name


def sites_from_geojson(
    data: dict[str, Any], origin: str = "GeoJSON", known: Mapping[str, Site] | None = None, source: str = ""
) -> list[Site]:
    """Sites from a GeoJSON FeatureCollection, Feature or bare geometry.

    Coordinates are WGS84 lon/lat, or in the CRS a legacy ``crs`` member names
    (a layer QGIS saved in EPSG:3857, say), reprojected to lon/lat. Berths and
    water of a site not in the collection but in ``known`` (the workspace's
    sites) come back as that site with its berths, or its water, replaced.

    A feature that cannot be one (no geometry, a bow-tie polygon, a berth outside its
    site...) is left out with a :class:`~sitewatch.errors.RefusedFeatureWarning` naming
    it, and the others are read; when nothing is left, the error names each. Pins
    (points) are skipped with a :class:`~sitewatch.errors.SkippedInputWarning`, as in KML.

    ``origin`` names the input in messages, as the user gave it; ``source`` is the coordinates' source
    recorded with a site that states none (``coord_source``), the file's whole path (default: ``origin``).
    """
    return [site for _, site in _sites_from_collections([(data, origin, source)], known or {})]


def _features(data: Any, origin: str) -> tuple[list[Any], str | None]:
    """The features of one GeoJSON input and the CRS its legacy ``crs`` member names; InputError names ``origin``."""
    if not isinstance(data, dict):
        raise InputError(f"{origin}: not a GeoJSON FeatureCollection, Feature or Polygon (a JSON {type(data).__name__})")
    crs = _geojson_crs(data, origin)
    if data.get("type") == "Feature":
        features = [data]
    elif data.get("type") == "FeatureCollection":
        features = json_list(data, "features", origin)
    elif data.get("type") in ("Polygon", "MultiPolygon"):  # a tuple: a "type" that is an object is not hashable
        features = [{"type": "Feature", "geometry": data, "properties": {}}]
    else:
        raise InputError(f"{origin}: not a GeoJSON FeatureCollection, Feature or Polygon")
    if not features:
        raise InputError(f"{origin}: the collection holds no features")
    return features, crs


def _nothing_to_import(origin: str, messages: list[str]) -> InputError:
    if len(messages) == 1:
        return InputError(messages[0])
    return InputError(f"{origin}: nothing to import; each feature was refused:\n  " + "\n  ".join(messages))


def _sites_from_collections(
    collections: Sequence[tuple[Any, str, str]], known: Mapping[str, Site]
) -> list[tuple[str, Site]]:
    """Sites from several GeoJSON inputs (data, origin, source) read as one collection, each with the origin it came from.

    A berth or water feature may name a site of another input; a site id given in two inputs is an error naming
    both. An input that is not GeoJSON, holds nothing or only pins, or of which every feature was refused is an
    error naming it, and nothing is returned. See :func:`sites_from_geojson`.
    """
    parsed = [(*_features(data, origin), origin, source) for data, origin, source in collections]
    refused: list[tuple[int, str]] = []  # (feature ordinal across the inputs, why), said in the inputs' order
    refused_ids: set[str] = set()
    site_feats: list[dict[str, Any]] = []
    berths: dict[str, list[tuple[int, str, Berth]]] = defaultdict(list)
    water: dict[str, list[tuple[int, str, BaseGeometry]]] = defaultdict(list)
    spans: list[tuple[str, int, int, int]] = []  # each input's origin, its features' ordinals [start, end), its pins
    start = 0
    for features, crs, origin, source in parsed:
        pins: list[int] = []
        for i, feat in enumerate(features):
            try:
                read = _read_feature(feat, i, origin, crs)
            except InputError as exc:
                refused.append((start + i, str(exc)))
                if (given := _refused_site_id(feat)) is not None:
                    refused_ids.add(given)  # its berths and water go with it, not to the workspace's site
                continue
            if read is None:  # a pin, skipped with a note
                pins.append(i)
                continue
            role, site_key, where, value = read
            if role == "site":
                site_feats.append({**value, "i": start + i, "origin": origin, "source": source})
            else:
                (berths if role == "berth" else water)[site_key].append((start + i, where, value))
        if len(pins) == len(features):  # was "imported 0 site(s)" and exit code 0
            first = _with_name(features[pins[0]].get("properties") or {}).get("name") or "no name"
            more = f" and {len(pins) - 1} more" if len(pins) > 1 else ""
            raise InputError(f"{origin}: nothing to import: every feature is a pin (a Point: feature {pins[0]} ({first}){more}); "
                             "a site is an area: draw it as a polygon")  # fmt: skip
        spans.append((origin, start, start + len(features), len(pins)))
        start += len(features)

    def origin_of(ordinal: int) -> str:
        return next(o for o, lo, hi, _ in spans if lo <= ordinal < hi)

    out: list[tuple[str, Site]] = []
    for f, site_id in zip(site_feats, _site_ids(site_feats, known), strict=True):
        props, geom, where = f["props"], f["geometry"], f["where"]
        try:
            check_new_site_id(site_id)
            site = Site(
                id=site_id,
                name=str(props.get("name") or site_id),
                kind=_kind(props.get("kind")),
                geometry=geom,
                tags=_tags(props.get("tags")),
                coord_source=str(props.get("coord_source") or f["source"] or f["origin"]),
                resolved=f["resolved"],
                note=str(props.get("note") or ""),
            )
        except InputError as exc:
            refused.append((f["i"], f"{where}: {exc}"))
            refused_ids.add(site_id)
            continue
        out.append((f["origin"], _with_extras(site, berths.pop(site_id, None), water.pop(site_id, None), refused)))
    for site_key in sorted(set(berths) | set(water)):
        extras = [*berths.get(site_key, []), *water.get(site_key, [])]
        if site_key in refused_ids:
            refused += [(i, f"{w}: its site {site_key!r} was refused") for i, w, _ in extras]
        elif site_key not in known:
            why = (
                "it has no site_id; give it the id of its site"
                if not site_key
                else f"its site_id {site_key!r} is neither a site in the file{'s' if len(spans) > 1 else ''} nor in the workspace; "
                "give it the id of its site (`sitewatch sites list`)"
            )
            refused += [(i, f"{w}: {why}") for i, w, _ in extras]
        else:
            site = _with_extras(known[site_key], berths.get(site_key), water.get(site_key), refused, keep_refused=True)
            if site != known[site_key]:
                out.append((origin_of(min(i for i, _, _ in extras)), site))
    refused.sort(key=lambda r: r[0])
    for origin, lo, hi, n_pins in spans:
        # A file of which nothing could be read is a bad file, though the others are good: nothing is imported.
        mine = [why for i, why in refused if lo <= i < hi]
        if mine and len({i for i, _ in refused if lo <= i < hi}) + n_pins == hi - lo:
            raise _nothing_to_import(origin, mine)
    messages = [why for _, why in refused]
    if messages and not out:
        raise _nothing_to_import(", ".join(o for o, *_ in spans), messages)
    for message in messages:
        warnings.warn(RefusedFeatureWarning(f"{message}; the other features were imported"), stacklevel=3)
    return out


def _read_feature(
    feat: Any, i: int, origin: str, crs: str | None
) -> tuple[str, str, str, Any] | None:
    """One feature as (role, site id of a berth or water, where, value); None for a pin. InputError names it."""
    if not isinstance(feat, dict) or not isinstance(feat.get("properties") or {}, dict):
        raise InputError(f"{origin}, feature {i}: not a GeoJSON Feature with a properties object")
    props = _with_name({k: _without_controls(v) for k, v in (feat.get("properties") or {}).items()})
    where = f"{origin}, feature {i} ({props.get('id') or props.get('name') or 'no id'})"
    try:
        geom = shapely.force_2d(shape(feat["geometry"])) if feat.get("geometry") else None
    except (ValueError, TypeError, OverflowError, KeyError, IndexError, AttributeError, shapely.errors.ShapelyError) as exc:
        raise InputError(f"{where}: cannot read its geometry ({exc or type(exc).__name__})") from exc
    if geom is not None and crs is not None:
        geom = reproject_geometry(geom, crs, "EPSG:4326")
    if geom is not None:
        _check_geometry(geom, where)
        if geom.geom_type == "GeometryCollection" and all(g.geom_type in ("Polygon", "MultiPolygon") for g in geom.geoms):
            geom = MultiPolygon([p for g in geom.geoms for p in getattr(g, "geoms", [g])])  # QGIS may write one
    role = _role(props)
    site_key = str(props.get("site_id") or "")
    if role == "berth":
        if geom is None or not isinstance(geom, (LineString, Polygon)):
            raise InputError(f"{where}: a berth needs a LineString or Polygon geometry")
        if not geom.is_valid:
            raise InputError(f"{where}: the berth polygon is not valid ({explain_validity(geom)})")
        berth = Berth(id=str(props.get("id") or props.get("berth_id") or f"berth-{i}"), geometry=geom,
                      name=str(props.get("name") or ""))  # fmt: skip
        return "berth", site_key, where, berth
    if role == "water":
        if geom is None or geom.geom_type not in ("Polygon", "MultiPolygon"):
            raise InputError(f"{where}: a water feature needs a Polygon or MultiPolygon geometry")
        if not geom.is_valid:
            raise InputError(f"{where}: the water polygon is not valid ({explain_validity(geom)})")
        return "water", site_key, where, geom
    if role != "site":
        raise InputError(f"{where}: unknown role {role!r} (site, berth or water)")
    if geom is not None and geom.geom_type in ("Point", "MultiPoint") and not props.get("role"):
        warnings.warn(SkippedInputWarning(f"{where}: skipped, a site or berth needs a polygon or line ({geom.geom_type})"),
                      stacklevel=3)  # fmt: skip
        return None
    if geom is not None and geom.geom_type == "GeometryCollection":
        raise InputError(
            f"{where}: its geometry mixes {' and '.join(sorted({g.geom_type for g in geom.geoms}))}: a site is one polygon; "
            "make the lines placemarks (or features) of their own, with role berth and the site's id as site_id"
        )
    if isinstance(geom, MultiPolygon):
        if len(geom.geoms) != 1:
            bounds = [g.bounds for g in geom.geoms]
            at_180 = any(b[2] == 180.0 for b in bounds) and any(b[0] == -180.0 for b in bounds)
            raise InputError(
                f"{where}: a site is one polygon; split the multipolygon into sites"
                + ("; its parts meet at the antimeridian, where RFC 7946 cuts a polygon across 180°, and a site "
                   "cannot cross it: import each part as a site of its own (QGIS: Multipart to Singleparts)"
                   if at_180 else "")  # fmt: skip
            )
        geom = geom.geoms[0]
    if isinstance(geom, Polygon) and not geom.is_valid:  # a bow-tie: where it crosses itself
        raise InputError(f"{where}: the site polygon is not valid ({explain_validity(geom)}); redraw it")
    if geom is not None and not isinstance(geom, Polygon):
        hint = "; a line is a berth when it has role berth and the site_id of its site" if isinstance(geom, LineString) else ""
        raise InputError(f"{where}: a site needs a Polygon geometry, got {geom.geom_type}{hint}")
    resolved = _flag(props.get("resolved", True), f"{where}: resolved")
    if geom is None and resolved:
        raise InputError(f"{where}: it has no geometry; a site needs a polygon (resolved: false for a place not located yet)")
    given = _given_id(props, feat)
    return "site", "", where, {"geometry": geom, "props": props, "where": where, "given": given, "resolved": resolved}


def _given_id(props: dict[str, Any], feat: dict[str, Any]) -> Any:
    # site_id is the id in the GeoPackage's sites layer, exported from QGIS as it stands.
    given = props.get("id") or (props.get("site_id") if "name" in props else None) or feat.get("id")
    if isinstance(given, (int, float)) and not isinstance(given, bool):
        # A number is a row number (QGIS gives every new layer an integer `id` field; GDAL writes the FID
        # as the feature's id): the name makes the id when there is one ("Busan" → busan, not 1).
        if props.get("name"):
            return None
        if isinstance(given, int):  # as it is: float() of one of 400 digits overflows
            return given
        return int(given) if given.is_integer() else given  # 2.0, as a Real field writes it, is 2
    return given


def _refused_site_id(feat: Any) -> str | None:
    """The id a refused site feature gave, if it is a site and gave one."""
    props = feat.get("properties") if isinstance(feat, dict) else None
    if not isinstance(props, dict) or _role(props) != "site":
        return None
    given = _given_id(_with_name(props), feat)
    return str(given) if given else None


def _with_extras(
    site: Site,
    berths: list[tuple[int, str, Berth]] | None,
    water: list[tuple[int, str, BaseGeometry]] | None,
    refused: list[tuple[int, str]],
    keep_refused: bool = False,
) -> Site:
    """``site`` with the berths and water read for it (None: keep its own), each checked; those refused are added to ``refused``.

    With ``keep_refused`` (a workspace site whose berths or water alone the file brings), berths or water
    of which every feature was refused are kept as they were rather than removed.
    """
    kept_berths: list[Berth] = []
    for i, where, berth in berths or []:
        if any(b.id == berth.id for b in kept_berths):
            refused.append((i, f"{where}: berth id {berth.id!r} is given twice for site {site.id!r}; berth ids must be unique"))
        elif (outside := _outside(site, f"berth {berth.id!r}", berth.geometry)) is not None:
            refused.append((i, f"{where}: {outside}"))
        else:
            kept_berths.append(berth)
    pieces = []
    for i, where, geom in water or []:
        if (outside := _outside(site, "the water polygon", geom)) is not None:
            refused.append((i, f"{where}: {outside}"))
        else:
            pieces.append(geom)
    # Several water polygons of one site (a harbour basin and its approach) are one water.
    new_water = (unary_union(pieces) if len(pieces) > 1 else pieces[0]) if pieces else None
    return dataclasses.replace(
        site,
        berths=tuple(kept_berths) if berths is not None and (kept_berths or not keep_refused) else site.berths,
        water=new_water if water is not None and (pieces or not keep_refused) else site.water,
    )


def _outside(site: Site, what: str, geom: BaseGeometry) -> str | None:
    """Why a berth or water polygon outside its site's area (a wrong site_id, say) is refused: it is never in its images."""
    if site.geometry is None or geom.intersects(site.geometry):
        return None
    c = geom.centroid
    return (
        f"{what} of site {site.id!r}, at lon {c.x:.4f} lat {c.y:.4f}, lies outside the "
        "site's area; is its site_id right?"
    )


def _with_name(props: dict[str, Any]) -> dict[str, Any]:
    """``props`` with a ``name``: a layer that came through a shapefile calls it ``NAME`` or ``Name``."""
    if "name" not in props:
        variant = next((k for k in props if k.lower() == "name"), None)
        if variant is not None:
            return {**props, "name": props[variant]}
    return props


def _role(props: dict[str, Any]) -> Any:
    """A feature's role, ``Berth`` or `` water `` as typed in an attribute table read as ``berth`` and ``water``
    (they were "unknown role 'Berth'"); without one, the role of the layer it was saved from."""
    role = props.get("role")
    if isinstance(role, str) and role.strip().lower() in ("site", "berth", "water"):
        return role.strip().lower()
    return role or _layer_role(props)


def _layer_role(props: dict[str, Any]) -> str:
    """The role of a feature without one, from the fields of the GeoPackage layer it was saved from."""
    if "berth_id" in props:  # the berths layer: site_id, berth_id, name
        return "berth"
    if "site_id" in props and set(props) <= {"site_id", "fid"}:  # the site_water layer
        return "water"
    return "site"


def _kind(value: Any) -> str:
    """A site's kind as a layer typed it: ``Port``, ``Naval base`` and ``naval-base`` are ``port`` and ``naval_base``
    (they were refused, naming the kinds); anything else is left for :class:`Site` to refuse by name."""
    text = str(value or "area").strip()
    spelled = re.sub(r"[\s-]+", "_", text.lower())
    return spelled if spelled in SITE_KINDS else text


def _tags(value: Any) -> tuple[str, ...]:
    # A QGIS text field holds "navy, pier"; GeoJSON written by sitewatch holds a list.
    if isinstance(value, str) and value.startswith("["):  # the GeoPackage's JSON list, as QGIS exports it
        try:
            value = json.loads(value)
        except (ValueError, RecursionError):  # ValueError: also a number of more than 4300 digits
            pass
    if isinstance(value, str):
        return tuple(t.strip() for t in re.split(r"[,;]", value) if t.strip())
    if isinstance(value, bool | int | float):  # a number field named tags (QGIS): one tag, not a traceback
        return (str(value),)
    if value is not None and not isinstance(value, list):
        raise InputError(f"tags {json.dumps(value)[:80]} is neither a list nor comma-separated text")
    return tuple(str(t) for t in value or ())


def _flag(value: Any, where: str) -> bool:
    # Text and 0/1 fields from QGIS or a spreadsheet as well as JSON booleans; bool("false") is True.
    if value is None:  # a NULL field: not said, so the default
        return True
    if isinstance(value, bool | int | float) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "yes", "1", "t", "y"):
        return True
    if text in ("false", "no", "0", "f", "n"):
        return False
    raise InputError(f"{where}: {value!r} is not true or false")


def _site_ids(site_feats: list[dict[str, Any]], known: Mapping[str, Site]) -> list[str]:
    """One distinct id per site feature.

    An explicit ``id`` (property, ``site_id`` property or feature id) is a key that berths and water
    refer to, so a repeated one is an error. A site without one takes its id from
    its name, as a QGIS layer of drawn polygons has it; a missing or repeated
    name gets ``-2``, ``-3``... so every polygon is kept, with a
    :class:`RenamedSiteWarning` saying which. A workspace site (in ``known``) of
    the same name whose id older sitewatch made from it, dropping accented letters
    (``port-ngstr-m``), keeps that id, so importing the file again replaces it.
    """
    explicit: dict[str, dict[str, Any]] = {}
    for f in site_feats:
        given = f["given"]
        if given:
            if (first := explicit.get(str(given))) is not None:
                if first["origin"] != f["origin"]:  # files imported together
                    raise InputError(
                        f"site id {str(given)!r} is given in two files, {first['origin']} and {f['origin']} "
                        f"({first['where']}; {f['where']}); site ids must be unique across the files imported together"
                    )
                raise InputError(
                    f"{f['origin']}: site id {str(given)!r} is given twice "
                    f"({first['where']}; {f['where']}); site ids must be unique"
                )
            explicit[str(given)] = f
    used = set(explicit)
    ids = []
    # Per base id, a suffix below which every id is in `used` (which only grows): a file of thousands of
    # polygons of one name, or of none (a port list whose name field is not `name`), tries each id once,
    # not 2, 3, … again for each polygon.
    free_from: dict[str, int] = {}
    for f in site_feats:
        given = f["given"]
        if given:
            ids.append(str(given))
            continue
        name = str(f["props"].get("name") or "")
        base = site_id = slugify(name)
        legacy = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
        if legacy and legacy != base and legacy not in used and legacy in known and known[legacy].name == name:
            base = site_id = legacy
        unspellable = bool(name) and not _ascii_slug(name)
        # A name with no letters to spell an id from (Cyrillic) gets the fallback id: one a workspace site of
        # another name holds is another place, not this one imported again. A polygon with no name at all
        # (a footprint file, OSCD's `beihai.geojson`) has no name to tell: the workspace's `site` is this
        # place imported again only when it is the same area, else a second such file replaced the first.
        # (Asked of the one workspace site an id names, not of every workspace site for each polygon.)
        def other_place(sid: str, f: dict[str, Any] = f, name: str = name, unspellable: bool = unspellable) -> bool:
            if sid not in known:
                return False
            if unspellable:
                return known[sid].name != name
            return not name and not _same_area(known[sid].geometry, f["geometry"])

        if site_id in used or other_place(site_id):
            n = free_from.get(base, 2)
            while f"{base}-{n}" in used:
                n += 1
            free_from[base] = n
            site_id, n = f"{base}-{n}", n + 1
            while site_id in used or other_place(site_id):
                site_id, n = f"{base}-{n}", n + 1
        # A polygon without a name whose text fields may hold it under another title is told so, as 'site' too.
        fields_hint = "" if name else _name_fields_hint(f["props"])
        if site_id != base or unspellable or fields_hint:
            if unspellable:  # a name in Cyrillic, say: its id is not made from it
                why = f"its name {name!r} has no Latin letters or digits to make an id from; give it an id"
            elif name:
                why = f"the id {base!r} made from its name {name!r} is already taken"
            else:
                why = "it has no id or name" + fields_hint
            warnings.warn(
                RenamedSiteWarning(f"{f['where']}: imported as site {site_id!r} ({why})"),
                stacklevel=3,
            )
        used.add(site_id)
        ids.append(site_id)
    return ids


_SITE_FIELDS = frozenset({"role", "kind", "note", "tags", "coord_source", "resolved", "site_id", "berth_id", "description"})
"""The fields of a site feature sitewatch reads besides its id and name: none of them names the place."""


def _name_fields_hint(props: Mapping[str, Any]) -> str:
    """For a polygon imported without an id or name: its text fields, one of which may be its name under another
    title (a layer made in a Russian QGIS calls it ``Название``), and what to call it."""
    texts = [k for k, v in props.items() if isinstance(v, str) and v.strip() and k not in _SITE_FIELDS]
    if not texts:
        return ""
    shown = ", ".join(texts[:5]) + (", …" if len(texts) > 5 else "")
    return f" field; its text fields are {shown}: rename the one that names the place to name"


def _same_area(a: BaseGeometry | None, b: BaseGeometry | None) -> bool:
    """Whether two site areas are one polygon, whatever its ring's start and direction."""
    return a is not None and b is not None and a.normalize().equals_exact(b.normalize(), 1e-9)


def right_handed(geom: BaseGeometry) -> dict[str, Any]:
    """A geometry as GeoJSON with its polygons' outer rings anticlockwise and holes clockwise.

    RFC 7946 (3.1.6) requires the right-hand rule, and KML asks for anticlockwise outer
    boundaries; a polygon drawn clockwise (as shapefiles, and so many QGIS layers, store
    them) was written as read, and strict readers and d3 take it for the rest of the globe.
    A shape that runs past ±180° (a detection beside a site at the antimeridian) is cut there, its
    parts on either side (RFC 7946, 3.1.9; :func:`~sitewatch.geo.cut_at_antimeridian`).
    """
    return mapping(shapely.orient_polygons(cut_at_antimeridian(geom)))


def sites_to_geojson(sites: Iterable[Site]) -> dict[str, Any]:
    """A FeatureCollection with a ``site`` feature per site plus its berths and water (RFC 7946)."""
    feats: list[dict[str, Any]] = []
    for s in sites:
        feats.append(
            {
                "type": "Feature",
                "id": s.id,
                "geometry": right_handed(s.geometry) if s.geometry is not None else None,
                "properties": {
                    "role": "site",
                    "id": s.id,
                    "name": s.name,
                    "kind": s.kind,
                    "resolved": s.resolved,
                    "coord_source": s.coord_source,
                    "note": s.note,
                    "tags": list(s.tags),
                },
            }
        )
        for b in s.berths:
            feats.append(
                {
                    "type": "Feature",
                    "id": f"{s.id}/{b.id}",
                    "geometry": right_handed(b.geometry),
                    "properties": {"role": "berth", "site_id": s.id, "id": b.id, "name": b.name},
                }
            )
        if s.water is not None:
            feats.append(
                {
                    "type": "Feature",
                    "id": f"{s.id}/water",
                    "geometry": right_handed(s.water),
                    "properties": {"role": "water", "site_id": s.id},
                }
            )
    return {"type": "FeatureCollection", "features": feats}


def kml_document(lines: Iterable[str]) -> str:
    """``lines`` (the document's name, then its folders and placemarks) as a KML 2.2 document, one to a line:
    the opening and closing the sites, detections and changes exports share."""
    return "\n".join(['<?xml version="1.0" encoding="UTF-8"?>', '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>',
                      *lines, "</Document></kml>"])  # fmt: skip


def _kml_coords(coords: Iterable[tuple[float, ...]]) -> str:
    # Each number as Python writes it back (its shortest exact form), as GeoJSON has it: written to six decimals,
    # a site exported and imported again moved by up to 5 cm, and import warned that its observations were cut
    # to its "old area".
    return " ".join(f"{float(c[0])!r},{float(c[1])!r},0" for c in coords)


def kml_geometry(geom: BaseGeometry) -> str:
    """A WGS84 polygon, line or point (or a collection of them) as a KML geometry element, outer rings
    anticlockwise.

    Raises :class:`~sitewatch.errors.InputError` for a geometry KML cannot hold here.
    """
    geom = shapely.orient_polygons(geom)  # KML's outer boundaries run anticlockwise
    if isinstance(geom, Point):  # an AIS point (`ais --out FILE.kml`)
        return f"<Point><coordinates>{_kml_coords(geom.coords)}</coordinates></Point>"
    if isinstance(geom, Polygon):
        inner = "".join(
            f"<innerBoundaryIs><LinearRing><coordinates>{_kml_coords(r.coords)}</coordinates></LinearRing></innerBoundaryIs>"
            for r in geom.interiors
        )
        return (
            "<Polygon><outerBoundaryIs><LinearRing><coordinates>"
            f"{_kml_coords(geom.exterior.coords)}</coordinates></LinearRing></outerBoundaryIs>{inner}</Polygon>"
        )
    if isinstance(geom, LineString):
        return f"<LineString><coordinates>{_kml_coords(geom.coords)}</coordinates></LineString>"
    if hasattr(geom, "geoms"):
        return "<MultiGeometry>" + "".join(kml_geometry(g) for g in geom.geoms) + "</MultiGeometry>"
    raise InputError(f"cannot write {geom.geom_type} to KML")


def _kml_list(values: Iterable[str]) -> str:
    # "navy,pier" reads well in Google Earth's balloon; a tag holding "," or ";" (split on reading)
    # or starting "[" (read as JSON) goes as the JSON list the GeoPackage holds, which reads back whole.
    values = list(values)
    if any(re.search(r"[,;]", v) or v.startswith("[") for v in values):
        return json.dumps(values, ensure_ascii=False)
    return ",".join(values)


def kml_data(props: dict[str, Any]) -> str:
    """``props`` as a Placemark's ``<ExtendedData>``, one ``<Data>`` each, escaped; empty values left out.

    A list goes as ``a,b`` or, when an item holds ``,``/``;`` or starts ``[``, as JSON, so that it reads back whole.
    """
    # ExtendedData carries what GeoJSON's properties do, so `sites import` reads the file back whole.
    cells = "".join(
        f'<Data name="{escape(k)}"><value>{escape(_kml_list(v) if isinstance(v, (list, tuple)) else str(v))}</value></Data>'
        for k, v in props.items()
        if v not in ("", None, (), [])
    )
    return f"<ExtendedData>{cells}</ExtendedData>"


def sites_to_kml(sites: Iterable[Site]) -> str:
    """A KML document with a folder per site: the area, its berths and its water (read back by :func:`read_sites_file`)."""
    parts = ["<name>sitewatch sites</name>"]
    for s in sites:
        desc = escape(f"id: {s.id}; kind: {s.kind}; resolved: {s.resolved}; source: {s.coord_source}. {s.note}")
        # The folder carries the description too: a site without coordinates has no placemark,
        # and its note (why it is unresolved) must not be lost.
        parts.append(f"<Folder><name>{escape(s.name)}</name><description>{desc}</description>")
        if s.geometry is not None:
            site_data = {"role": "site", "id": s.id, "kind": s.kind, "resolved": str(s.resolved).lower(),
                         "coord_source": s.coord_source, "note": s.note, "tags": s.tags}  # fmt: skip
            parts.append(
                f'<Placemark id="{escape(s.id)}"><name>{escape(s.name)}</name>'
                f"<description>{desc}</description>{kml_data(site_data)}{kml_geometry(s.geometry)}</Placemark>"
            )
        for b in s.berths:
            data = kml_data({"role": "berth", "site_id": s.id, "id": b.id})
            if not b.name:
                # Google Earth shows the id as the placemark's name; the empty name in the data reads back as none
                # (the berth came back named after its id).
                data = data.replace("</ExtendedData>", '<Data name="name"><value></value></Data></ExtendedData>')
            parts.append(
                f"<Placemark><name>{escape(b.name or b.id)}</name>"
                f"<description>berth {escape(b.id)} of {escape(s.id)}</description>"
                f"{data}{kml_geometry(b.geometry)}</Placemark>"
            )
        if s.water is not None:
            parts.append(
                f"<Placemark><name>water</name><description>water of {escape(s.id)}</description>"
                f"{kml_data({'role': 'water', 'site_id': s.id})}{kml_geometry(s.water)}</Placemark>"
            )
        parts.append("</Folder>")
    return kml_document(parts)


def read_sites_file(path: Path, known: Mapping[str, Site] | None = None) -> list[Site]:
    """Sites from a GeoJSON, KML or KMZ file, naming the file in any error (``known``: see :func:`sites_from_geojson`)."""
    return [site for _, site in read_sites_files([path], known)]


def read_sites_files(paths: Sequence[Path], known: Mapping[str, Site] | None = None) -> list[tuple[Path, Site]]:
    """Sites from GeoJSON, KML or KMZ files read as one collection, each with the file it came from.

    Every file is read before any site is made: a file that cannot be read, holds
    nothing to import or gives a site id another file gives too is an error naming
    it (and the other), and no site is returned. A berth or water feature may belong
    to a site of another of the files. A file named twice is read once.
    ``known``: see :func:`sites_from_geojson`.
    """
    unique: dict[Path, Path] = {}  # resolved path -> the path as given first
    for p in map(Path, paths):
        unique.setdefault(p.resolve(), p)
    by_origin = {str(p): p for p in unique.values()}
    collections = [(_sites_data(p), str(p), str(resolved)) for resolved, p in unique.items()]
    return [(by_origin[origin], site) for origin, site in _sites_from_collections(collections, known or {})]


def _sites_data(path: Path) -> Any:
    """The GeoJSON of a GeoJSON, KML or KMZ file; InputError names the file."""
    if path.suffix.lower() in (".kml", ".kmz"):
        return read_kml(path)
    try:
        # JSON is UTF-8 (RFC 8259), whatever the locale; a byte order mark (Notepad, PowerShell) is ignored, as it
        # allows, and UTF-16 with its mark (Windows PowerShell's `ConvertTo-Json | Out-File`) read as such.
        data = json.loads(text_of(path.read_bytes()))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, or a number of more than 4300 digits Python refuses
        if path.suffix.lower() not in (".geojson", ".json"):  # a GeoPackage or shapefile read as JSON said "utf-8 codec…"
            raise InputError(
                f"{path}: not GeoJSON, KML or KMZ, the formats sites are read from; save the layer as GeoJSON "
                f"(QGIS: Export > Save Features As…, format GeoJSON; or `ogr2ogr -f GeoJSON sites.geojson {path.name}`)"
            ) from exc
        if isinstance(exc, UnicodeDecodeError):  # saved in a Windows code page (cp1252) rather than UTF-8
            raise InputError(f"{path}: not UTF-8 (byte {exc.start}), as GeoJSON must be; save it as UTF-8") from exc
        raise InputError(f"{path}: not valid JSON ({exc})") from exc
    except RecursionError as exc:  # "[[[[…" a hundred thousand deep: Python's parser recurses
        raise InputError(f"{path}: its JSON is nested too deeply to read") from exc
    return data
