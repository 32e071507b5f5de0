"""A static STAC catalogue on disk searched as a STAC API would be.

A delivery (a ``catalog.json`` or ``collection.json`` and its items, as stactools, pystac or a
data provider write them) has no ``/search``: :func:`search_static` walks it with pystac and keeps
the items an API's item search would answer with the same query: the item's geometry
intersecting the bbox, its ``datetime`` (or its ``start_datetime``/``end_datetime`` range)
meeting the period, and its collection (its ``collection`` field, else the collection it is
filed under) the one asked for. The items come back as JSON dicts with every asset href
absolute (a relative href resolved against the item's own file), in the API path's order.

The walk reads each file once: a sub-catalogue is read to learn its children, an item file is
read when its link is followed, and a collection whose id is not the one asked for, or whose
spatial or temporal extent misses the query, is not entered. A link that comes back to a file
already read (a catalogue linking its root as a child) is not followed again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from shapely import make_valid
from shapely.errors import ShapelyError
from shapely.geometry import box, shape

from ..errors import SourceError, require_extra

__all__ = ["catalogue_file", "search_static"]

ROOT_NAMES = ("catalog.json", "collection.json")
"""The file a catalogue's folder holds its root in, as pystac and stactools name it."""


def catalogue_file(url: str) -> Path:
    """The root JSON of a catalogue given by ``file://`` URL or path: the file, or its folder's
    ``catalog.json`` (else ``collection.json``). Raises SourceError naming a file that is not there."""
    path = Path(unquote(urlsplit(url).path)) if url.startswith("file:") else Path(url)
    if path.is_dir():
        found = next((path / n for n in ROOT_NAMES if (path / n).is_file()), None)
        if found is None:
            raise SourceError(f"{path}: a folder without {' or '.join(ROOT_NAMES)}; give the catalogue's root JSON file")
        return found
    if not path.is_file():
        raise SourceError(f"{path}: no such file; give the path of the catalogue's catalog.json (or collection.json)")
    return path


def search_static(
    url: str,
    collection: str,
    bbox: Sequence[float],
    start: datetime,
    end: datetime,
    *,
    given: str = "",
    progress: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Items of ``collection`` in the static catalogue at ``url`` (a ``file://`` URL or path) over
    ``bbox`` (lon/lat) between ``start`` and ``end``, as JSON dicts with absolute asset hrefs.

    ``given`` is the id the user wrote when ``collection`` is what sitewatch's short name stands for
    (``s2`` for ``sentinel-2-l2a``): a catalogue of one's own names its collections as it likes, so one
    that has a collection of that very id is searched in it, and else in ``collection``.

    Raises SourceError naming the file for a catalogue that cannot be read (no such file, not
    STAC JSON, a child or item link naming no file) and for an item without geometry (whether it
    covers the site cannot be told); and, when nothing is found, for a catalogue that has no
    collection ``collection``, naming those it has.
    """
    require_extra("pystac", "stac")
    import pystac

    root_file = catalogue_file(url)
    root = _read(root_file, "")
    if isinstance(root, pystac.Item):
        raise SourceError(
            f"{root_file} is a STAC item, not a catalogue: give the catalog.json (or collection.json) it belongs to, "
            "or its image files to `sitewatch import`"
        )
    area = box(*bbox)
    names = {collection, given} - {""}
    found_in: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    n_items = 0
    collections: set[str] = set()
    seen: set[str] = {str(root_file.resolve())}
    todo: list[tuple[Any, str | None]] = [(root, None)]
    while todo:
        node, inherited = todo.pop()
        own = str(node.get_self_href())
        if isinstance(node, pystac.Collection):
            collections.add(node.id)
            if node.id not in names or not _extent_meets(node, area, start, end):
                continue  # its items are of another collection, or all elsewhere or at other times
            inherited = node.id
        for link in node.get_links(pystac.RelType.CHILD):
            href = _link_file(link, own, "child")
            if href not in seen:
                seen.add(href)
                todo.append((_read(Path(href), f"{own}: child link {link.href!r}: "), inherited))
        for link in node.get_links(pystac.RelType.ITEM):
            href = _link_file(link, own, "item")
            if href in seen:
                continue
            seen.add(href)
            item = _read(Path(href), f"{own}: item link {link.href!r}: ")
            if not isinstance(item, pystac.Item):
                raise SourceError(f"{own}: item link {link.href!r} names {href}, a {type(item).__name__}, not an item")
            n_items += 1
            if item.collection_id:
                collections.add(item.collection_id)
            of = item.collection_id or inherited
            if of in found_in and _meets(item, href, area, start, end):
                found_in[of].append(_item_dict(item, inherited))
                if progress:
                    progress(sum(map(len, found_in.values())))
    if given and given in collections:
        collection = given
    found = found_in[collection]
    if not found and collection not in collections:
        if collections:
            asked = repr(collection) if not given or given == collection else f"{given!r} (nor {collection!r}, which {given} stands for)"
            raise SourceError(f"{root_file} has no collection {asked}; its collections: "
                              f"{', '.join(sorted(collections))}; give one of them with --collection")  # fmt: skip
        if not n_items:
            raise SourceError(f"{root_file} links no items (nor child catalogues holding any)")
        raise SourceError(
            f"{root_file}: none of its {n_items} items names a collection (nor sits in one), so none is of "
            f"{collection!r}; give their image files to `sitewatch import`"
        )
    return found


def _read(path: Path, where: str) -> Any:
    """The STAC object in ``path``; a SourceError starting with ``where`` when there is none."""
    import pystac
    from pystac.errors import STACError, STACTypeError

    if path.exists() and not path.is_file():
        # A link to /dev/zero or a named pipe would be read for ever; a folder gives only "Is a directory".
        raise SourceError(f"{where}{path} is no file (a folder, device or pipe): a catalogue links JSON files")
    try:
        stac = pystac.read_file(str(path))
    except FileNotFoundError as exc:
        raise SourceError(f"{where}no such file {path}") from exc
    except OSError as exc:
        raise SourceError(f"{where}cannot read {path} ({exc.strerror or exc})") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SourceError(f"{where}{path} is not JSON ({exc})") from exc
    except (STACError, STACTypeError, ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        # (IndexError: pystac's of a collection whose extent's bbox or interval is an empty list)
        raise SourceError(f"{where}{path} is not STAC JSON ({type(exc).__name__}: {exc})") from exc
    # pystac takes an id, a collection or a link's href of any JSON type (an asset's href it refuses as it reads),
    # and fails on it later, far from this file.
    fields = {"id": stac.id} | ({"collection": stac.collection_id} if isinstance(stac, pystac.Item) and stac.collection_id is not None else {})
    for name, value in fields.items():
        if not isinstance(value, str):
            raise SourceError(f"{where}{path}: its {name!r} is {json.dumps(value)[:60]}, not a string")
    for link in stac.links:
        try:
            target = link.target
        except ValueError:  # pystac's "No target defined for link." of an href null, which it writes back as null
            continue
        if not isinstance(target, (str, pystac.STACObject)):
            raise SourceError(f"{where}{path}: its {link.rel!r} link's href is {json.dumps(target)[:60]}, not a string")
    return stac


def _link_file(link: Any, own: str, rel: str) -> str:
    """The file a child or item link names, as an absolute path; a SourceError for one that names no file
    on this machine (an http:// link: the walk reads the catalogue on disk only)."""
    href = str(link.get_absolute_href() or link.href)
    try:
        scheme = urlsplit(href).scheme.lower()
        if scheme == "file":
            href = unquote(urlsplit(href).path)
        elif len(scheme) > 1:  # (one letter: a Windows drive)
            raise SourceError(f"{own}: {rel} link {link.href!r} is not a file on this machine; the catalogue on disk is read alone")
        return str(Path(href).resolve())
    except ValueError as exc:  # "Invalid IPv6 URL" (a "[" in its host), "embedded null byte"
        raise SourceError(f"{own}: {rel} link {link.href!r} names no file ({exc})") from exc


def _extent_meets(collection: Any, area: Any, start: datetime, end: datetime) -> bool:
    """Whether a collection's extent may hold items meeting the query; an extent that cannot be read
    says nothing, and the collection is entered."""
    try:
        boxes = collection.extent.spatial.bboxes or []
        intervals = collection.extent.temporal.intervals or []
        if boxes and len(boxes[0]) in (4, 6):
            b = [float(v) for v in boxes[0]]
            west, south, east, north = (b[0], b[1], b[3], b[4]) if len(b) == 6 else b  # (6: with heights)
            if west <= east and not box(west, south, east, north).intersects(area):  # (west > east: across the antimeridian)
                return False
        if intervals and len(intervals[0]) == 2:
            first, last = (_aware(t) if t is not None else None for t in intervals[0])
            if (first is not None and first > end) or (last is not None and last < start):
                return False
    except (TypeError, ValueError, IndexError, AttributeError, OverflowError, ShapelyError):
        return True
    return True


def _meets(item: Any, path: str, area: Any, start: datetime, end: datetime) -> bool:
    """Whether an item meets the query as an API's item search judges it: its geometry intersects the
    bbox, and its time (or its start..end range) meets the period."""
    if not item.geometry:
        raise SourceError(
            f"{path}: item {item.id!r} has no geometry, so whether it covers the site cannot be told; "
            "give it its footprint, or its image files to `sitewatch import`"
        )
    try:
        footprint = shape(item.geometry)
        if not footprint.is_valid:
            footprint = make_valid(footprint)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, ShapelyError) as exc:
        # (ShapelyError: GEOS's own, and shapely's GeometryTypeError for a "type" no geometry has)
        raise SourceError(f"{path}: item {item.id!r}: its geometry is not a valid GeoJSON geometry ({exc})") from exc
    first = item.common_metadata.start_datetime or item.datetime
    last = item.common_metadata.end_datetime or item.datetime
    if first is None or last is None:
        return False  # (pystac refuses an item with neither)
    return _aware(first) <= end and _aware(last) >= start and bool(footprint.intersects(area))


def _aware(when: datetime) -> datetime:
    """A catalogue's time without a zone is UTC, as STAC says all its times are."""
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _item_dict(item: Any, collection: str | None) -> dict[str, Any]:
    """The item as an API answers it, its asset hrefs absolute and its collection named."""
    out: dict[str, Any] = item.to_dict(include_self_link=True, transform_hrefs=False)
    for key, asset in item.assets.items():
        out["assets"][key]["href"] = asset.get_absolute_href() or asset.href
    if not out.get("collection") and collection:
        out["collection"] = collection
    return out
