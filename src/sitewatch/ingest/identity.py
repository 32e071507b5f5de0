"""Which image a file is: its content's sha256 (read at most once a run: :class:`SourceDigest`),
the repeats among a run's files (:func:`same_images`), and the id its observation gets in a site,
the same again for the same image, so that a rerun replaces instead of adding (:func:`unique_item_id`).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

from ..errors import ImageReadError, InputError
from ..files import sha256_file
from ..model import SceneRef, Site, says_date_only
from ..sources.providers import maxar_til_tiles
from ..sources.safe import is_safe_product, safe_product_name
from ..store import Store, stored_time

__all__ = ["sha256_file", "source_sha256", "til_sha256", "til_tiles", "SourceDigest", "imported_unchanged", "naming_order", "same_images", "unique_item_id"]


def til_tiles(til: Path) -> list[dict[str, str]]:
    """The tiles a Maxar ``.TIL`` lists (those in its folder), each as its path (resolved) and sha256."""
    return [{"path": str(t.resolve()), "sha256": sha256_file(t)} for t in maxar_til_tiles(til)]


def til_sha256(til: Path, tiles: Sequence[Mapping[str, str]]) -> str:
    """The sha256 a Maxar ``.TIL`` is known by: over its own text's and each of its ``tiles``' (:func:`til_tiles`),
    by name. A ``.TIL`` is a list of names: two byte-identical ones in two folders (a product delivered again,
    its tiles made anew) were one image by the ``.TIL``'s digest alone, whatever their tiles held."""
    h = hashlib.sha256(f"til\0{sha256_file(til)}\n".encode())
    for t in tiles:
        h.update(f"{Path(t['path']).name}\0{t['sha256']}\n".encode())
    return h.hexdigest()


def source_sha256(path: Path) -> str:
    """The sha256 that says which image an input is (provenance ``source_sha256``): its content's
    (:func:`sha256_file`), and for a Maxar ``.TIL``, its own and its tiles' (:func:`til_sha256`)."""
    path = Path(path)
    if _is_til(path):
        return til_sha256(path, til_tiles(path))
    return sha256_file(path)


def _is_til(path: Path) -> bool:
    """Whether ``path`` is a Maxar ``.TIL``, known by its tiles' digests as well as its own."""
    return path.suffix.lower() == ".til" and path.is_file()


class SourceDigest:
    """An input file's sha256, read at most once in a run and only when something asks for it.

    Its size, known without reading it (None for a folder), rules out without hashing a stored
    source of another size (provenance ``source_size``) as its copy. The digest, once read, goes
    to the worker in :class:`FileJob`, so that the provenance's ``source_sha256`` is not read again;
    a Maxar ``.TIL``'s goes with its tiles' digests (:attr:`tiles`), which the provenance lists.
    """

    def __init__(self, path: Path, sha256: str | None = None) -> None:
        self.path = Path(path)
        self.sha256 = sha256
        """The digest when it has been read (or was known), else None."""
        self.size = _size(self.path) if self.path.is_file() else None
        self.tiles: tuple[dict[str, str], ...] | None = None
        """A Maxar ``.TIL``'s tiles with their sha256 (:func:`til_tiles`) when its digest was read here, else None:
        the worker's provenance names them without hashing every tile a second time."""

    def value(self) -> str:
        """The file's sha256, read now if it has not been."""
        if self.sha256 is None:
            if _is_til(self.path):
                self.tiles = tuple(til_tiles(self.path))
                self.sha256 = til_sha256(self.path, self.tiles)
            else:
                self.sha256 = sha256_file(self.path)
        return self.sha256

    def same_as(self, prov: Mapping[str, Any]) -> bool:
        """Whether the stored source of provenance ``prov`` is this file's content (hashed only when
        its size, if recorded, is this file's)."""
        stored = prov.get("source_size")
        if not prov.get("source_sha256") or (self.size is not None and isinstance(stored, int) and stored != self.size):
            return False
        return bool(prov["source_sha256"] == self.value())


def unique_item_id(
    store: Store, site: Site, path: Path, scene: SceneRef, taken: Collection[str], *, copies: bool = True,
    band_paths: Collection[str] = (), content: SourceDigest | None = None,
) -> str:
    """The id a file's observation gets in ``site``: its name, unless another image holds that.

    Files are named after themselves (``harbour_20241017.tif`` → ``harbour_20241017``). When
    that observation already comes from another file, or another file of this run
    (``taken``) claims it — Sentinel Hub names every download ``response.tiff`` — the
    acquisition time is added (the date alone for an image known by its date), then a digest of the path. The same file (by path, or by
    content when it has moved) always lands on the same id again, so a rerun replaces
    instead of adding; with ``copies``, so does a byte-identical copy under another name, or
    with another acquisition time (``--acquired``, a date in its new name): a file that is not
    an observation of the same time and sensor by its path is matched by content against the
    site's observations of its sensor (a SAFE product is not). The file is hashed when the site holds
    an observation of its sensor with a recorded source digest (the worker takes that digest rather than
    hashing it again), and only the sources whose provenance holds the file's digest are decoded: a
    day's file was compared with every observation of years of a daily site. ``content`` is the file's
    :class:`SourceDigest`, shared by the sites of one import and passed on to the worker, so
    that a file is hashed at most once in a run. Bands given one file each
    (``band_paths``, resolved) are the same image as an observation made of any of those files,
    whatever the order or the set of bands given.
    """
    base = scene.item_id
    source = str(Path(path).resolve())
    # An image known by its date alone gets the date: its assumed noon in the id (`…_20161130T120000`)
    # read as the time it was taken. Ids so made before keep going to their files (`legacy` below).
    timed = scene.acquired.strftime("%Y%m%dT%H%M%S")
    stamp = scene.acquired.strftime("%Y%m%d") if says_date_only(scene.properties.get("acquired_from")) else timed
    digest = hashlib.sha256(source.encode()).hexdigest()[:8]
    if content is None:
        content = SourceDigest(Path(path))

    def same_file(prov: Mapping[str, Any]) -> bool:
        if band_paths and isinstance(prov.get("band_files"), dict):
            return bool({str(b.get("path")) for b in prov["band_files"].values()} & set(band_paths))
        if prov.get("source_path") in (None, source):
            return True
        if isinstance(prov.get("safe"), dict) and is_safe_product(path):
            # A SAFE product is the same image as its folder, its zip or a copy of either.
            return bool(prov["safe"].get("product") == safe_product_name(path))
        return content.same_as(prov)

    if copies:
        # Acquired within the same second: stored times are ISO text (the GeoPackage) or timestamptz (PostGIS),
        # and both compare with these bounds in the stored form.
        second = scene.acquired.astimezone(UTC).replace(microsecond=0)
        rows = store.execute(
            "SELECT observation_id, scene_id, provenance FROM observations WHERE site_id = ? AND sensor = ? "
            "AND acquired >= ? AND acquired < ? ORDER BY observation_id",
            (site.id, scene.sensor, stored_time(second), stored_time(second + timedelta(seconds=1))),
        )
        for row in rows:
            prov = json.loads(row["provenance"])
            item = str(row["observation_id"]).split("/", 1)[1]
            if (
                item not in taken and prov.get("source_path") and prov.get("source_sha256")
                and "band_files" not in prov and same_file(prov)
            ):  # fmt: skip
                return item  # this file's observation, or that of a copy of it under another name
            if item not in taken and scene.properties.get("SITEWATCH_SCENE_ID") and row["scene_id"] == scene.id:
                # An archived COG (this workspace's or a colleague's) of a scene the site holds, taken at that
                # second: that image cut to the site again, its observation again, not a second look that
                # would count each of its vessels twice.
                return item
        if not is_safe_product(path):
            # A copy imported with another time (--acquired, or a date in its new name) is still that image:
            # kept as a second observation, one image made two looks, on two dates of the timeline.
            # Only sources of this file's size (or of no recorded size) can be it: the file is hashed
            # when there is one. (The provenance is read here, not with the SQL dialects' JSON functions.)
            rows = _copy_candidates(store, site, scene.sensor, content)
            for row in rows:
                text = row["provenance"]
                if isinstance(text, str):
                    # Only a source whose digest is the file's can be its copy, and its provenance's text then holds
                    # that digest: the others are not decoded (years of a daily site's observations were, for each
                    # file, to compare their sizes). The file is hashed once (the worker takes that digest).
                    if '"source_sha256"' not in text:
                        continue
                    try:
                        if content.value() not in text:
                            continue
                    except OSError:  # unreadable now: the worker names it; decoded as before meanwhile
                        pass
                prov = json.loads(text)
                if prov.get("source_sha256") is None:
                    continue
                if content.size is not None and prov.get("source_size") not in (None, content.size):
                    continue
                item = str(row["observation_id"]).split("/", 1)[1]
                if item not in taken and "band_files" not in prov and content.same_as(prov):
                    return item
    if stamp != timed:
        for item in (f"{base}_{timed}", f"{base}_{timed}_{digest}"):
            legacy = store.execute("SELECT provenance FROM observations WHERE observation_id = ?", (f"{site.id}/{item}",))
            if item not in taken and legacy and same_file(json.loads(legacy[0]["provenance"])):
                return item
    for item in (base, f"{base}_{stamp}", f"{base}_{stamp}_{digest}"):
        if item in taken:
            continue
        held = store.execute(
            "SELECT provenance FROM observations WHERE observation_id = ?", (f"{site.id}/{item}",)
        )
        # The scene id (provider:collection:item) is one row of the workspace's scenes: another
        # site's observation of another image under that name (EO Browser names a day's exports
        # alike in every port) would have its scene, resolution and file taken over by this one.
        elsewhere = store.execute(
            "SELECT provenance FROM observations WHERE scene_id = ? AND site_id != ?",
            (replace(scene, item_id=item).id, site.id),
        )
        if any(not same_file(json.loads(row["provenance"])) for row in elsewhere):
            continue
        if not held or same_file(json.loads(held[0]["provenance"])):
            return item
    return f"{base}_{stamp}_{digest}"


def _copy_candidates(store: Store, site: Site, sensor: str, content: SourceDigest) -> list[Any]:
    """The observations of ``site`` and ``sensor`` whose provenance text holds ``content``'s digest (and
    none when no source of theirs has a digest: the file is then not hashed), in id order.

    The store filters on the text (``LIKE``: the JSON text on the GeoPackage, the ``json`` column as text on
    PostGIS, jsonb's rewrite of one included: a 64-digit hex string is written alike in both): a day's file was
    compared with the 1,800 provenance texts of years of a daily site read into Python. A file that cannot
    be read now is looked for among all of them, as before (the worker names it).
    """
    where = "FROM observations WHERE site_id = ? AND sensor = ?"
    try:
        if content.sha256 is None:
            has_digest = store.execute(
                f"SELECT 1 {where} AND CAST(provenance AS TEXT) LIKE ? LIMIT 1", (site.id, sensor, '%"source_sha256"%')
            )
            if not has_digest:
                return []
        # A hex digest holds no LIKE wildcard (% or _); SQLite's LIKE ignores case, which only lets more in.
        pattern = f"%{content.value()}%"
    except OSError:
        return list(store.execute(f"SELECT observation_id, provenance {where} ORDER BY observation_id", (site.id, sensor)))
    return list(store.execute(
        f"SELECT observation_id, provenance {where} AND CAST(provenance AS TEXT) LIKE ? ORDER BY observation_id",
        (site.id, sensor, pattern),
    ))  # fmt: skip


def naming_order(files: Sequence[Path], scenes: Sequence[SceneRef | None]) -> list[tuple[int, SceneRef]]:
    """(index, scene) of ``files`` (those whose ``scenes`` were read) in the order their ids are chosen in a run:
    by acquisition time, then by path, whatever the order the files were given in.

    Two images of one name in a run (Sentinel Hub's ``response.tiff``) take the name and the name with the time
    added (:func:`unique_item_id`) by this order, so the same files give the same ids however they are listed
    (``ingest SITE a b`` or ``b a``, a folder's listing on another file system), and the earlier image keeps
    the plain name, as it does when the two come in on two days.
    """
    read = [(i, scene) for i, scene in enumerate(scenes) if scene is not None]
    return sorted(read, key=lambda pair: (pair[1].acquired, str(Path(files[pair[0]]).resolve())))


def same_images(
    files: list[Path], digests: dict[Path, str] | None = None
) -> tuple[list[Path], list[tuple[Path, Path]]]:
    """``files`` with every repeat of an image left out, and (repeat, first) for each one left out.

    The same file given twice (a folder and a file in it) or byte-identical copies in two
    folders are one image: one observation, as a moved file is on a rerun. Only files that
    share a size are hashed; ``digests`` (resolved path → sha256), when given, receives their
    digests, so that the run does not read them again.
    """
    sizes = [_size(f) for f in files]
    count = Counter(sizes)
    if digests is None:
        digests = {}  # resolved path -> sha256: a path given twice is hashed once
    first: dict[str, Path] = {}
    kept: list[Path] = []
    repeats: list[tuple[Path, Path]] = []
    for f, n in zip(files, sizes, strict=True):
        if f.is_dir() or f.suffix.lower() == ".zip":
            # SAFE products (folder or zip) are one image by their product name; one that is not
            # a product is named by its job.
            try:
                key = f"safe:{safe_product_name(f)}"
            except (InputError, ImageReadError):  # a damaged zip, say: named by its job
                kept.append(f)
                continue
            if key in first:
                repeats.append((f, first[key]))
            else:
                first[key] = f
                kept.append(f)
            continue
        if n is None or count[n] < 2:
            kept.append(f)
            continue
        real = f.resolve()
        try:
            if real not in digests:
                digests[real] = source_sha256(f)
        except OSError:
            kept.append(f)
            continue
        digest = digests[real]
        if digest in first:
            repeats.append((f, first[digest]))
        else:
            first[digest] = f
            kept.append(f)
    return kept, repeats


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:  # a missing file is named by its job
        return None


def imported_unchanged(store: Store, files: list[Path], site_ids: Collection[str] = ()) -> tuple[list[Path], list[Path]]:
    """``files`` apart from those an observation (of ``site_ids``, else of any site) came from as they are now: the
    same path, size and modification time (provenance ``source_mtime_ns``, recorded by ingests since it was added: an
    observation without it came from a file that is read again). Returns (the others, those).

    ``import --new-only``: a download folder that keeps every file is cut again whole by each day's import otherwise,
    a day's work that grows with the history.
    """
    sql = "SELECT provenance FROM observations"
    args: tuple[str, ...] = ()
    if site_ids:
        sql += f" WHERE site_id IN ({', '.join('?' for _ in site_ids)})"
        args = tuple(site_ids)
    seen: set[tuple[str, int, int]] = set()
    for row in store.execute(sql, args):
        prov = json.loads(row[0])
        size, mtime = prov.get("source_size"), prov.get("source_mtime_ns")
        # (a .TIL's tiles may be delivered again under the same .TIL: it is read again each run)
        if isinstance(size, int) and isinstance(mtime, int) and prov.get("source_path") and "band_files" not in prov and "tiles" not in prov:
            seen.add((str(prov["source_path"]), size, mtime))
    new: list[Path] = []
    old: list[Path] = []
    for f in files:
        try:
            st = f.stat() if f.is_file() else None
        except OSError:
            st = None
        (old if st is not None and (str(f.resolve()), st.st_size, st.st_mtime_ns) in seen else new).append(f)
    return new, old
