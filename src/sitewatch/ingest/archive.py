"""Observations written into the archive: a COG on the site's grid with its provenance (in the
store and in the COG's tags).

Files are written to a partial name in the archive and renamed into place only when complete,
then recorded in the store in one transaction (:func:`commit_archived`): an interrupted ingest
leaves no half-written COG and no half row, and :func:`remove_partials` clears what a killed run
left.
"""

from __future__ import annotations

import filecmp
import hashlib
import os
import re
import shlex
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely.wkt
from numpy.typing import NDArray
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError
from shapely.geometry import Polygon

from .. import __version__
from ..errors import (
    IdTakenError,
    InputError,
    OutputError,
    SameAcquisitionError,
    SiteError,
    SitewatchError,
)
from ..files import NO_SPACE, owner_running, partial_path, why_not_written
from ..geo import to_lonlat_beside
from ..model import Grid, Observation, SceneRef, Site, iso_utc, says_date_only
from ..store import Store
from ..workspace import Workspace
from .acquisition import held_acquisition, source_of
from .grid import (
    _grid_box,
    context_held,
    no_data_as_nan,
    site_mask,
    too_small_for,
    valid_outline,
    valid_pixels,
)
from .identity import sha256_file
from .removal import unrecorded_marker

__all__ = ["Archived", "NAMING_LOCK", "write_observation", "commit_archived", "remove_partials", "remove_sites_partials",
           "archive_observation"]

_MAX_NAME = 200
"""Longest archive file name taken from an id as it is: with ``.`` before it and ``.stac.json.PID.partial``
after (:func:`partial_path`), a name stays under the 255 bytes file systems allow."""


def _safe_name(text: str) -> str:
    """A file name for an item id: the id itself when it is safe (and not too long), else made safe
    (cut to :data:`_MAX_NAME`) plus a digest of the id, so that two ids (``harbour east``,
    ``harbour_east``) never share one archive file."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "scene"
    if safe == text and len(safe) <= _MAX_NAME:
        return safe
    # A catalogue's id of 400 characters ended the whole fetch in "File name too long".
    return f"{safe[:_MAX_NAME]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


Archived = tuple[Observation, Polygon, tuple[tuple[Path, Path], ...]]
"""An observation written to the archive but not yet recorded: the observation, its WGS84
footprint, and the files to move into place when it is (each partial file and its final name)."""


def write_observation(
    ws: Workspace,
    store: Store,
    site: Site,
    scene: SceneRef,
    data: NDArray[np.floating],
    grid: Grid,
    band_names: Sequence[str],
    provenance: Mapping[str, Any],
    *,
    cloud_fraction: float | None = None,
    sidecars: Mapping[str, Path] | None = None,
    compress: str = "deflate",
) -> Observation | None:
    """Archive ``data`` (bands × rows × cols, NaN = no data) on ``grid`` as a COG and record it.

    Returns None (and archives nothing) when the site has no valid pixel in it.
    ``sidecars`` (name → file) are copied next to the COG, e.g. ``{"truth": path}``,
    and recorded in the provenance as paths relative to the workspace.
    """
    archived = archive_observation(
        ws, site, scene, data, grid, band_names, provenance,
        cloud_fraction=cloud_fraction, sidecars=sidecars, compress=compress,
    )  # fmt: skip
    return _commit(ws, store, archived)


def _commit(ws: Workspace, store: Store, archived: Archived | None) -> Observation | None:
    """Record what :func:`archive_observation` or :func:`archive_file` wrote (None: nothing, the
    site had no valid pixel in it) and return its observation."""
    if archived is None:
        return None
    commit_archived(ws, store, *archived)
    return archived[0]


NAMING_LOCK = "sitewatch observation ids"
"""What the commits of ingest and import take turns on (on a team store, every member's), so that the id each
chose is looked at again with what the others have recorded (:func:`commit_archived`'s ``still_named``)."""


def commit_archived(
    ws: Workspace,
    store: Store,
    obs: Observation,
    footprint: Polygon,
    files: Sequence[tuple[Path, Path]] | None = None,
    *,
    still_named: Callable[[], bool] | None = None,
) -> None:
    """Record an archived observation and move its COG and sidecars into place, together.

    ``files`` are the (partial, final) pairs of :data:`Archived` (default: the COG written by this
    process); one that holds the bytes of the file already at its final name is removed instead, that file kept as
    it is (its inode and times: ``detect`` reads a file again when they change). The row and the renames happen in
    one transaction (the renames last, just before
    the commit), so an interrupted run leaves either both or neither: the partial files of a
    commit that fails are removed, and those of a killed run by the next ingest of the site.

    ``still_named`` says, in that transaction and under :data:`NAMING_LOCK`, whether the id chosen before the
    file was cut is still this image's: another command (a team member's ingest of another image of that
    name, at the same moment) may have recorded its own under it, or under its scene id, since. When it is
    not, nothing is recorded or moved and an :class:`~sitewatch.errors.IdTakenError` names the file. Nor is
    anything when the site holds the same acquisition from another file (:func:`~sitewatch.ingest.acquisition.held_acquisition`:
    another order or product of the scene, a COG copy): a :class:`~sitewatch.errors.SameAcquisitionError` names both files.
    """
    final = ws.root / obs.path
    moves = list(files) if files is not None else [(partial_path(final), final)]
    markers: list[Path] = []
    try:
        with store.transaction() as db:
            # A `sites remove` of the site while its images were cut: recorded anyway, they were observations of
            # no site (and their COGs in an archive folder of none). Under the lock its removal takes (a team store).
            store._lock(db, f"site {obs.site_id}")
            if not store.execute("SELECT 1 FROM sites WHERE site_id = ?", (obs.site_id,)):
                source = obs.provenance.get("source_path") or obs.path
                raise SiteError(
                    f"{source}: site {obs.site_id!r} was removed (`sitewatch sites remove`) while this image was being "
                    "ingested; nothing of it was kept: add the site again, then run the ingest again"
                )
            if still_named is not None:
                store._lock(db, NAMING_LOCK)
                if not still_named():
                    source = obs.provenance.get("source_path") or obs.path
                    raise IdTakenError(
                        f"{source}: another command recorded another image as {obs.id} (or as its scene, "
                        f"{obs.scene.id}) while this one was being ingested, a team member's at the same time; "
                        "nothing of this file was kept: run the ingest (or import) again, which names it apart"
                    )
            cog = next((partial for partial, dest in moves if dest == final), final)
            if (held := held_acquisition(ws, store, obs, cog)) is not None:
                source = source_of(obs.provenance, obs.path)
                raise SameAcquisitionError(
                    f"{source}: the same acquisition as {held.id}, from {source_of(held.provenance, held.path)} "
                    f"({held.scene.platform or 'the same pixels'}, {held.scene.sensor}, taken at "
                    f"{held.scene.acquired.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC, over the same part of the site); "
                    "not recorded as a second observation, which would count each of its vessels twice"
                    + _keep_other_way(held, obs.provenance)
                )
            store.put_observation(obs, footprint=footprint)
            for partial, dest in moves:
                try:
                    if _same_bytes(partial, dest):
                        # Cut again to the same bytes (an import or ingest run again): the archived file stays, its
                        # inode and times with it, so detect finds it as it last checked it and reads it not again.
                        partial.unlink()
                    else:
                        # Marked first: killed before the commit, the file is named by no row and by this marker,
                        # which tells the next sweep it is this database's (remove_unrecorded).
                        markers.append(unrecorded_marker(dest))
                        markers[-1].touch()
                        os.replace(partial, dest)
                except OSError as exc:
                    raise OutputError(f"{dest}: cannot move it into place in the archive ({exc.strerror or exc})") from exc
    except BaseException:
        _discard(partial for partial, _ in moves)
        raise
    _discard(markers)  # committed: a row names each


def _same_bytes(a: Path, b: Path) -> bool:
    """Whether ``b`` is a regular file holding ``a``'s bytes (read only when the sizes agree)."""
    try:
        if not b.is_file() or b.is_symlink() or a.stat().st_size != b.stat().st_size:
            return False
        return filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def _writer_running(partial: Path) -> bool:
    """:func:`~sitewatch.files.owner_running` (the name the ingest tests replace)."""
    return owner_running(partial)


_PRODUCTS = {"sentinel-1 safe": "a Sentinel-1 product", "sentinel-2 safe": "a Sentinel-2 product", "landsat c2 l2": "a Landsat product"}
"""Provenance ``source`` of the inputs read as products (a folder or zip of many files), as a message names them."""


def _input_kind(prov: Mapping[str, Any]) -> str:
    """What an observation was made from, as a message names it: an image file, or a product's folder or zip."""
    product = _PRODUCTS.get(str(prov.get("source")))
    if product is None and "tiles" in prov:
        return "a Maxar product's .TIL, its tiles read as one image"  # a tile put at its path would not be read as one
    if product is None:
        return "an image file"
    return f"{product} ({'its zip' if str(prov.get('source_path', '')).lower().endswith('.zip') else 'its folder or file'})"


def _keep_other_way(held: Observation, refused: Mapping[str, Any] | None = None) -> str:
    """The sentence a :class:`~sitewatch.errors.SameAcquisitionError` ends with: how to keep the refused file's image
    (``refused``: its provenance) instead of ``held``'s, or nothing when ``held`` was fetched.

    The held file given again replaces its observation, so the refused one put at its path does, when the two are
    of one kind (two image files, two zips or two folders of products). A GeoTIFF at a product's ``.zip`` path, or
    a product at an image file's, is not read as what the path was: the way that works is then said instead, ``held``
    removed (``sitewatch observations remove``) and the refused file ingested again."""
    prov, site = held.provenance, held.site_id
    if prov.get("source_path") and "band_files" not in prov and refused is not None and "band_files" not in refused:
        kind, other = _input_kind(prov), _input_kind(refused)
        if kind != other:
            given = refused.get("source_path")
            again = (f"`sitewatch ingest {shlex.quote(site)} {shlex.quote(str(given))}`" if given
                     else "ingest this file again")  # fmt: skip
            return (f"; this file ({other}) is not of the kind of {prov['source_path']} ({kind}), so it cannot be put "
                    f"in its place to replace {held.id}; to keep this file's image instead, remove that observation "
                    f"(`sitewatch observations remove {shlex.quote(held.id)}`: its detections, change pairs and archived "
                    f"image go with it) and run {again}")  # fmt: skip
    bands = prov.get("band_files")
    if isinstance(bands, Mapping) and bands:
        # Quoted as a shell splits a command (a path with a space in it is one argument), to copy as it is.
        given = " ".join("--band " + shlex.quote(f"{name}={b.get('path')}") for name, b in bands.items() if isinstance(b, Mapping))
        return (f"; to keep this file's image instead, put its bands at those files' paths and run "
                f"`sitewatch ingest {shlex.quote(site)} {given}` again, which replaces {held.id}")  # fmt: skip
    if prov.get("source_path"):
        return (f"; to keep this file's image instead, put it at {prov['source_path']} and run "
                f"`sitewatch ingest {shlex.quote(site)} {shlex.quote(str(prov['source_path']))}` again, which replaces {held.id}")  # fmt: skip
    return ""


def remove_partials(ws: Workspace, site_id: str) -> int:
    """Delete the files an interrupted or killed run left half-done in a site's archive folder.

    The partial files of another command writing into the site at this moment are left alone, and so
    are those of a command on another machine (written for it by Dask workers): its next run there
    removes them. GDAL's own temporary files beside a partial COG (``….partial.ovr.tmp``, the overviews
    being built when the writer was killed) go with it, and so does the file a command killed while
    it checked its Dask workers left in the archive folder (:func:`~sitewatch.run.map_jobs`).
    """
    return _remove_left([*ws.archive.glob(".*.partial"), *(ws.archive / site_id).glob(".*.partial*")])


def remove_sites_partials(ws: Workspace, site_ids: Iterable[str]) -> int:
    """:func:`remove_partials` of many sites (``import`` into any of a port list's thousands), listing the
    archive folder once and looking only into the sites' folders that are there, not once a site."""
    wanted = set(site_ids)
    try:
        folders = [p for p in ws.archive.iterdir() if p.name in wanted and p.is_dir()]
    except (FileNotFoundError, NotADirectoryError):  # no archive yet: nothing was left in it
        folders = []
    return _remove_left([*ws.archive.glob(".*.partial"), *(p for f in folders for p in f.glob(".*.partial*"))])


def _remove_left(paths: Iterable[Path]) -> int:
    """Delete those of ``paths`` whose writer is not running; how many went."""
    n = 0
    for p in paths:
        if not _writer_running(p):
            _discard([p])  # (on a read-only workspace, the write that follows names the problem)
            n += not p.exists()
    return n


def archive_observation(
    ws: Workspace,
    site: Site,
    scene: SceneRef,
    data: NDArray[np.floating],
    grid: Grid,
    band_names: Sequence[str],
    provenance: Mapping[str, Any],
    *,
    cloud_fraction: float | None = None,
    sidecars: Mapping[str, Path] | None = None,
    compress: str = "deflate",
    owner: str | None = None,
) -> Archived | None:
    """Write the COG (and sidecars) of an observation without touching the store.

    Returns the observation, its WGS84 footprint and the files written, or None when the
    site has no valid pixel in ``data``. The COG and sidecars are left at :func:`partial_path`
    of their final names until :func:`commit_archived` records them. Safe to run in a
    worker process, or on a Dask worker: ``owner`` (:func:`~sitewatch.files.partial_owner`) is then
    the command's that will commit them, by default this process.
    """
    data = no_data_as_nan(np.asarray(data))  # ±inf archived as NaN, whoever made the values
    if data.ndim == 2:
        data = data[None]
    if data.shape[1:] != grid.shape or data.shape[0] != len(band_names):
        raise InputError(f"{scene.id}: data shape {data.shape} does not fit grid {grid.shape} × {len(band_names)} bands")
    inside = site_mask(site, grid)
    valid = valid_pixels(data, inside)
    n_inside = int(inside.sum())
    if n_inside == 0:
        raise too_small_for(site, grid)
    valid_fraction = float(valid.sum()) / n_inside if n_inside else 0.0
    if valid_fraction == 0.0:
        return None
    folder = ws.archive / site.id
    name = _safe_name(scene.item_id)
    final = folder / f"{name}.tif"
    tmp = partial_path(final, owner)
    # (each partial name once: it holds a random part)
    sidecar_files = [(src, _sidecar_path(folder, name, k, src)) for k, src in (sidecars or {}).items()]
    sidecar_partials = [partial_path(dest, owner) for _, dest in sidecar_files]
    written = [tmp, *sidecar_partials]
    prov = dict(provenance) | {
        "sitewatch_version": __version__,
        "sensor": scene.sensor,
        "acquired": iso_utc(scene.acquired),
        "resolution_m": scene.resolution_m,
        "scene_id": scene.id,
        "simulated": scene.simulated,
        "bands": list(band_names),
    }
    if held := context_held(site, grid):
        # The margin of image around the site's box (a small site's, :func:`~sitewatch.ingest.grid.context_for`):
        # detect takes its background there and still reports only what lies in the site. None recorded: the
        # grid is the site's box, detected on the site's pixels alone, as every archive before margins.
        prov["context_m"] = held
    if valid_fraction < 1.0 and (outline := valid_outline(valid, grid)) is not None:
        # Where this piece has data over the site (WKT, lon/lat): the pieces of one pass are judged on their union.
        # (to 1e-7°, a centimetre: the cells it is drawn round are a 128th of the grid)
        prov["valid_outline"] = shapely.wkt.dumps(to_lonlat_beside(outline, grid.crs, site.require_geometry().centroid.x),
                                                  rounding_precision=7)  # fmt: skip
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with rasterio.open(
            tmp,
            "w",
            driver="COG",
            width=grid.width,
            height=grid.height,
            count=data.shape[0],
            dtype="float32",
            crs=grid.crs,
            transform=grid.affine,
            nodata=float("nan"),
            compress=compress,
            predictor=3 if compress in ("deflate", "zstd", "lzw") else None,
            blocksize=256,
        ) as dst:
            dst.write(data)
            for i, band in enumerate(band_names, start=1):
                dst.set_band_description(i, band)
            dst.update_tags(
                SITEWATCH_SCENE_ID=scene.id,
                SITEWATCH_SITE=site.id,
                SITEWATCH_SENSOR=scene.sensor,
                # The date alone when only the date is known, as read back by ingest and import (as date only)
                # and as gdalinfo shows it: not the 12:00 UTC assumed for it, which would pass for a time.
                SITEWATCH_ACQUIRED=scene.acquired.astimezone(UTC).strftime(
                    "%Y-%m-%d" if says_date_only(prov.get("acquired_from")) else "%Y-%m-%dT%H:%M:%SZ"
                ),
                SITEWATCH_SIMULATED=str(scene.simulated).lower(),
                SITEWATCH_VERSION=__version__,
                # Read back by ingest and import, as the acquisition is: the archive's sidecar of a Maxar or
                # Airbus file (NAME.metadata.XML) is not where their names are looked for.
                **({"SITEWATCH_PLATFORM": scene.platform} if scene.platform else {}),
            )
            scale = prov.get("scale_applied")
            if isinstance(scale, int | float) and not isinstance(scale, bool) and scale > 0:
                # What the values were multiplied by to become reflectance (1/255: an 8-bit display
                # rendering), so that detect-image on this COG judges its clouds as the pipeline does.
                dst.update_tags(SITEWATCH_SCALE_APPLIED=repr(float(scale)))
        digest = sha256_file(tmp)
        copied: dict[str, str] = {}
        moves: list[tuple[Path, Path]] = []
        for key, (src_path, dest), part in zip(sidecars or {}, sidecar_files, sidecar_partials, strict=True):
            # Beside its final name until the commit, as the COG: an interrupted copy never leaves a cut
            # sidecar where the one an earlier run recorded was, nor one that no observation names.
            shutil.copyfile(src_path, part)
            moves.append((part, dest))
            copied[key] = dest.relative_to(ws.root).as_posix()
        moves.append((tmp, final))
    # SystemError: rasterio's "Unknown GDAL Error", as when the site's folder is removed (`sites remove`) mid-write.
    except (OSError, RasterioError, CPLE_BaseError, SystemError) as exc:
        if isinstance(exc, SitewatchError):
            _discard(written)
            raise
        # A full disk, a read-only or vanished workspace: the system's words (GDAL's have none for a full
        # disk: told by the room left, before the partial files give theirs back), and the file.
        if isinstance(exc, OSError) and exc.strerror:
            # A copy's error names the file read first and the one written second (shutil.copyfile on a full
            # disk): the one written, by its final name, is where the room or the right was missing.
            finals = {str(part): dest for part, (_, dest) in zip(sidecar_partials, sidecar_files, strict=True)}
            where = exc.filename2 or exc.filename
            why = exc.strerror + (f": {finals.get(str(where), where)}" if where else "")
        else:
            # The COG driver writes the pixels twice, a temporary GeoTIFF with its overviews and then the COG beside
            # it, and gives the first's room back before it raises: a disk that filled had the pixels' room left
            # again (a 17 MB image of the demo, 28 MB free after it failed at 60 MB), and the reason was GDAL's.
            why = why_not_written(exc, tmp, size=2 * data.nbytes)
        # Told before the partial file is discarded, which removes it: afterwards it is gone whatever happened.
        gone = not tmp.exists()
        _discard(written)
        if (broken := ws.archive_link_broken()) is not None:
            why = broken
        elif folder.is_dir() and not _writable(folder):
            # GDAL says only "Attempt to create new tiff file … failed": say which folder, and what to do.
            why = f"{folder} is read-only (a read-only disk or workspace?): make it writable, or use a copy of the workspace"
        elif isinstance(exc, FileNotFoundError | SystemError) and gone and why != NO_SPACE:
            # Its own partial file gone while it was written: the folder went (GDAL's "Unknown GDAL Error", or
            # "No such file or directory" for the partial name), the work of another command.
            why += (f"; the file being written was removed from {folder} meanwhile: was the site removed "
                    f"(`sitewatch sites remove {site.id} --with-observations`) while this ran?")  # fmt: skip
        raise OutputError(f"{final}: cannot write it into the archive ({why})") from exc
    except BaseException:
        _discard(written)
        raise
    obs = Observation(
        id=f"{site.id}/{scene.item_id}",
        site_id=site.id,
        scene=scene,
        grid=grid,
        path=final.relative_to(ws.root).as_posix(),
        sha256=digest,
        valid_fraction=round(valid_fraction, 6),
        cloud_fraction=cloud_fraction,
        provenance=prov | copied,
    )
    # Beside the site: a site at the antimeridian has a grid a pixel past it, whose box, projected as it is,
    # would run from 179.99 to -179.99 round the globe (QGIS's "zoom to layer" then shows the world).
    footprint = to_lonlat_beside(_grid_box(grid), grid.crs, site.require_geometry().centroid.x)
    return obs, footprint, tuple(moves)


def _writable(folder: Path) -> bool:
    """Whether this process may write into ``folder`` (False on a read-only disk, even for root)."""
    return os.access(folder, os.W_OK)


def _discard(partials: Iterable[Path]) -> None:
    """Remove partial files after a failed write, as far as the file system lets (it may be read-only)."""
    for p in partials:
        try:
            p.unlink(missing_ok=True)
        except OSError:
            pass


def _sidecar_path(folder: Path, name: str, key: str, src_path: Path) -> Path:
    return folder / f"{name}.{key}{''.join(Path(src_path).suffixes[-1:]) or '.json'}"
