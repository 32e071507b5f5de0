"""The entry points: :func:`ingest_paths` (files and folders of images into a site, cut in workers
and recorded here, in file order) and :func:`ingest_file` (one file), with :func:`expand_paths`,
the images a list of paths names.
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path

from ..errors import (
    IdTakenError,
    ImageReadError,
    InputError,
    SameAcquisitionError,
    SkippedInputWarning,
)
from ..files import broken_links_apart
from ..model import Observation, SceneRef, Site
from ..sources.landsat import (
    landsat_level1_products_in,
    landsat_product_id,
    landsat_product_of,
    landsat_products_in,
    landsat_tar_refusal,
)
from ..sources.planet import udm2_apart
from ..sources.s1_radiometry import ThermalNoise
from ..sources.safe import is_safe_product, product_root, safe_products_in
from ..store import Store, now_utc
from ..workspace import Workspace
from .archive import _commit, commit_archived, remove_partials
from .band_files import (
    _BAND_ORDER,
    _check_one_date,
    _refuse_bands_of_a_product,
    band_files_name,
    band_files_sensor,
)
from .identity import SourceDigest, imported_unchanged, naming_order, same_images, unique_item_id
from .jobs import FileJob, archive_file, map_file_jobs
from .ortho import Orthorectify
from .removal import remove_unrecorded
from .scene_ref import read_scene_ref

__all__ = ["RASTER_SUFFIXES", "IngestReport", "ingest_file", "ingest_paths", "expand_paths"]

RASTER_SUFFIXES = (".tif", ".tiff", ".gtiff", ".ntf")
"""File suffixes a folder given to ``ingest`` is searched for (case aside); a file named outright may be any raster GDAL reads.
NITF (``.NTF``) is Maxar's delivery format unless GeoTIFF is ordered (``24OCT19011107-M2AS-…_P001.NTF`` beside its ``.IMD``)."""


@dataclass(frozen=True)
class IngestReport:
    """What an ingest run did: observations written and inputs skipped with the reason."""

    observations: tuple[Observation, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    """(input path or id, reason) for every input that was not ingested."""
    duplicates: tuple[tuple[str, str], ...] = ()
    """(input path, earlier input path) for every file that is the same image as an earlier one
    of the run: it went in once, as that one."""
    sources: tuple[str, ...] = ()
    """The input path of each of ``observations``, in the same order (as given, not resolved)."""
    missed: tuple[str, ...] = ()
    """The inputs of ``skipped`` that are readable but hold no valid pixel over the site (the
    others were refused: unreadable, no CRS...)."""
    unchanged: tuple[str, ...] = ()
    """With ``new_only``: the files an observation of the site came from, unchanged since, left out unread."""
    unrecorded_removed: tuple[str, ...] = ()
    """Files of the site's archive folder that no observation named, removed before the run (paths in the workspace):
    a run killed between a COG's rename into place and its record left them (:func:`~.removal.remove_unrecorded`)."""


def ingest_file(
    ws: Workspace,
    store: Store,
    site: Site,
    path: Path,
    *,
    acquired: datetime | None = None,
    sensor: str | None = None,
    resolution_m: float | None = None,
    compress: str = "deflate",
    thermal_noise: ThermalNoise = "keep",
    context_m: float | None = None,
) -> Observation | None:
    """Cut one GeoTIFF to the site, archive it (a COG compressed with ``compress``, the
    ``cog_compress`` setting; a Sentinel-1 product's noise as ``thermal_noise``, the
    ``sar_thermal_noise`` setting, says; a site narrower than 500 m with ``context_m`` of image
    around it, the ``context_m`` setting) and record it. None when it misses the site."""
    scene, _ = read_scene_ref(path, acquired=acquired, sensor=sensor, thermal_noise=thermal_noise)
    content = SourceDigest(path)
    item = unique_item_id(store, site, path, scene, (), content=content)
    archived = archive_file(
        ws, site, path, acquired=acquired, sensor=sensor, resolution_m=resolution_m, compress=compress, item_id=item,
        thermal_noise=thermal_noise, source_sha256=content.sha256, context_m=context_m, source_tiles=content.tiles,
    )  # fmt: skip
    return _commit(ws, store, archived)


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """The images PATHS name: GeoTIFFs, and SAFE products (folders and zips) taken whole; a
    folder is searched for both, without looking inside the products it holds, and for what it holds packed
    that would go unread in silence (a Landsat ``.tar``, a zip of GeoTIFFs not unzipped beside it), which reading names."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir() and is_safe_product(p):
            out.append(p)
        elif p.is_dir():
            # SAFE products in the folder go in whole; the files inside them are theirs, not scenes.
            # So do Landsat Level-2 products, by their MTL files, and their band files are theirs.
            products = safe_products_in(p)
            landsat = set(landsat_products_in(p))
            # A Level-1 product is named once, by its MTL, not once a band file.
            level1 = landsat_level1_products_in(p)
            of_level1 = {(m.parent, m.name.split("_MTL.")[0]) for m in level1}
            tree = sorted(p.rglob("*"))
            rasters = [
                q for q in tree
                if q.suffix.lower() in RASTER_SUFFIXES and not q.name.startswith(".")
                and not any(d in products for d in q.parents) and landsat_product_of(q) not in landsat
                and not any(q.parent == d and q.name.startswith(f"{pid}_") for d, pid in of_level1)
            ]  # fmt: skip
            out += rasters + products + sorted(landsat) + level1
            # A delivery still in its zip (a Planet order as downloaded) is named, not passed over in silence, unless
            # it is unpacked there too: reading it names it with the command that unpacks it. Unpacked means its images
            # are in the folder, whether they go in as files or as a product's (a Landsat product's band files).
            out += _zips_of_images(tree, products, {q.name for q in tree if q.suffix.lower() in RASTER_SUFFIXES})
            # A product still in USGS's .tar is named (not "no GeoTIFF found"), unless it is unpacked there too.
            unpacked = {landsat_product_id(m) for m in landsat}
            out += sorted(
                q for q in p.rglob("*") if landsat_tar_refusal(q) and q.is_file() and not q.name.startswith(".")
                and re.sub(r"\.(tar|tar\.gz|tgz)$", "", q.name, flags=re.I) not in unpacked
                and q.name.upper().startswith(("LC0", "LE0", "LT0", "LO0"))
            )  # fmt: skip
        else:
            out.append(product_root(p))  # a product's MTD_MSIL2A.xml or manifest.safe: the product
    return _surface_reflectance_first(out)


_PLANET_RADIANCE = re.compile(r"_(?:(AnalyticMS)(?!_SR)|(BGRN)_Analytic)(?=_|\.)", re.I)
"""Where a PlanetScope radiance file's name (a scene's ``…_3B_AnalyticMS_8b_clip.tif``, an ortho tile's
``…_BGRN_Analytic.tif``) differs from its surface reflectance file's (``…_3B_AnalyticMS_SR_8b_clip.tif``,
``…_BGRN_SR.tif``)."""

_HARMONIZED = re.compile(r"(_clip)?(\.[^.]*)$", re.I)
"""Where the surface reflectance file of a scene harmonized to Sentinel-2 says so (``…_3B_AnalyticMS_SR_8b_harmonized_clip.tif``,
as Planet names it when the order asks for harmonization, which its radiance file does not get)."""


def _surface_reflectance_name(m: re.Match[str]) -> str:
    return f"_{m[1] or m[2]}_SR"


def _surface_reflectance_first(files: list[Path]) -> list[Path]:
    """``files`` with each PlanetScope radiance file moved after its scene's surface reflectance file, when both are
    among them. The two are one acquisition, and the first recorded is kept: by name an 8-band order's radiance file
    (``…_AnalyticMS_8b_clip.tif``) and an ortho tile's (``…_BGRN_Analytic.tif``) came first and their ``_SR``
    product (harmonized or not), the one the detector was trained for, was refused. One pass over ``files``: moving each file by its
    index took 10 s for 2,000 pairs, before anything was read."""
    given = set(files)
    reflectance_of: dict[Path, Path] = {}
    for f in files:
        name = _PLANET_RADIANCE.sub(_surface_reflectance_name, f.name, count=1)
        if name == f.name:
            continue
        for twin in (f.with_name(name), f.with_name(_HARMONIZED.sub(r"_harmonized\1\2", name, count=1))):
            if twin in given:
                reflectance_of[f] = twin
                break
    if not reflectance_of:
        return list(files)
    out: list[Path] = []
    placed: set[Path] = set()
    waiting: dict[Path, list[Path]] = {}  # surface reflectance file -> radiance files to put after it
    for f in files:
        reflectance = reflectance_of.get(f)
        if reflectance is not None and reflectance not in placed:
            waiting.setdefault(reflectance, []).append(f)
            continue
        out.append(f)
        placed.add(f)
        out += waiting.pop(f, [])
    for rest in waiting.values():  # (none: each twin is among ``files``; kept rather than lost all the same)
        out += rest
    return out


def _zips_of_images(tree: Iterable[Path], products: Collection[Path], unpacked: Collection[str]) -> list[Path]:
    """The zip files of ``tree`` (a folder's contents), not SAFE products nor inside one, that hold GeoTIFFs not
    unpacked in the folder (a member's file name not among ``unpacked``): a provider's delivery as downloaded, which
    the caller names. A macOS zip's ``__MACOSX/`` and ``._`` members are no images (unzipped, they are not read)."""
    found: list[Path] = []
    for q in tree:
        if (q.suffix.lower() != ".zip" or q.name.startswith(".") or q in products
                or any(d in products for d in q.parents) or not q.is_file()):  # fmt: skip
            continue
        try:
            with zipfile.ZipFile(q) as zf:
                images = {
                    Path(n).name for n in zf.namelist()
                    if Path(n).suffix.lower() in RASTER_SUFFIXES and not Path(n).name.startswith(".")
                    and not n.startswith("__MACOSX/")
                }  # fmt: skip
        except (OSError, zipfile.BadZipFile):
            continue  # a damaged zip is among ``products``, named by reading it
        if images - set(unpacked):
            found.append(q)
    return found


def _same_id(
    store: Store, site: Site, path: Path, scene: SceneRef, item: str, content: SourceDigest,
    band_paths: Collection[str], *, copies: bool,
) -> Callable[[set[str]], bool]:
    """Whether :func:`unique_item_id` still gives ``path`` the id ``item`` (given the ids the run's files
    before it took): what ``commit_archived`` asks, under its lock, as the file is recorded."""

    def same(earlier: set[str]) -> bool:
        now = unique_item_id(store, site, path, scene, earlier, copies=copies, band_paths=band_paths, content=content)
        return now == item

    return same


def ingest_paths(
    ws: Workspace,
    store: Store,
    site: Site,
    paths: Iterable[Path],
    *,
    acquired: datetime | None = None,
    sensor: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    workers: int = 0,
    scheduler: str = "",
    wait_workers: float | None = None,
    compress: str = "deflate",
    band_files: Mapping[str, Path] | None = None,
    thermal_noise: ThermalNoise = "keep",
    dn_scale: float | None = None,
    dn_offset: float | None = None,
    new_only: bool = False,
    context_m: float | None = None,
    orthorectify: Orthorectify | None = None,
) -> IngestReport:
    """Ingest files and folders of GeoTIFFs into ``site``; a bad file is skipped and named.

    ``thermal_noise`` (the ``sar_thermal_noise`` setting) says whether a Sentinel-1 GRD
    product's noise LUT is subtracted. Files are cut and written in parallel (``workers``, 0 = one per core),
    or on the Dask cluster whose scheduler is at ``scheduler`` (:func:`map_file_jobs`); the store is written
    here, one observation per transaction, in file order.
    Each file's observation id comes from :func:`unique_item_id`; a file that is the same
    image as an earlier one of the run goes in once (``IngestReport.duplicates``). With
    ``band_files`` (band name → single-band file) those files make one
    observation and ``paths`` is ignored. ``dn_scale`` and ``dn_offset`` scale an optical file's
    values to reflectance, (value - offset) / scale, instead of the scale read from their range
    (a file they cannot apply to, SAR or a product, is skipped and named). With ``new_only`` a file an
    observation of the site came from, unchanged since (:func:`imported_unchanged`), is left out unread.
    ``context_m`` (the ``context_m`` setting; None: :data:`~sitewatch.ingest.grid.CONTEXT_M`) is the margin of
    image a site narrower than 500 m is archived with, for the detectors' background. ``orthorectify``
    (``--orthorectify``): a file placed by RPCs or GCPs instead of a map grid is orthorectified onto the site's grid
    (:mod:`~sitewatch.ingest.ortho`), not refused.
    """
    started = now_utc()
    # A Planet UDM2 goes in with its image, as its cloud mask: set apart before repeats are looked for,
    # so that two scenes' masks alike byte for byte are not one "image".
    files, broken = broken_links_apart(expand_paths(paths))
    files, masks = udm2_apart(files)
    masks = broken + masks
    unchanged: list[Path] = []
    if new_only and not band_files:
        files, unchanged = imported_unchanged(store, files, [site.id])
    digests: dict[Path, str] = {}
    files, repeats = same_images(files, digests)
    if band_files:
        # In one order whatever the order of the flags, so that a rerun reads the same first file.
        band_files = dict(sorted(band_files.items(), key=lambda kv: _BAND_ORDER.get(kv[0].upper(), len(_BAND_ORDER))))
        _refuse_bands_of_a_product(band_files)
        _check_one_date(band_files)
        files = [next(iter(band_files.values()))]
    remove_partials(ws, site.id)
    # COGs a run killed between their rename and their row left whole, which no row names (as fetch does).
    unrecorded = tuple(p.relative_to(ws.root).as_posix() for p in remove_unrecorded(ws, store, site.id))
    done: list[Observation] = []
    sources: list[str] = []
    missed: list[str] = []
    skipped: list[tuple[str, str]] = [(str(f), why) for f, why in masks] if not band_files else []
    jobs: list[FileJob] = []
    band_paths = {str(Path(b).resolve()) for b in (band_files or {}).values()}
    contents = [SourceDigest(f, digests.get(f.resolve())) for f in files]
    scenes: list[SceneRef | None] = []
    for f in files:
        try:
            scene, _ = read_scene_ref(
                f, acquired=acquired, sensor=sensor or (band_files_sensor(band_files) if band_files else None),
                name_bands=not band_files, thermal_noise=thermal_noise, scaling_given=(dn_scale, dn_offset) != (None, None),
                orthorectify=orthorectify,
            )  # fmt: skip
        except (ImageReadError, InputError):
            scenes.append(None)  # the job names the file and the reason
        else:
            scenes.append(replace(scene, item_id=band_files_name(band_files)) if band_files else scene)
    # Ids are chosen in an order of the images' own (naming_order), not the order given; each file's id and the
    # ids chosen before it are kept to look at again as it is recorded (another command may have recorded an
    # image under that id meanwhile: commit_archived's still_named).
    items: list[str | None] = [None] * len(files)
    naming: list[Callable[[], bool] | None] = [None] * len(files)
    taken: set[str] = set()
    for i, scene in naming_order(files, scenes):
        name = unique_item_id(
            store, site, files[i], scene, taken, copies=not band_files, band_paths=band_paths, content=contents[i],
        )  # fmt: skip
        naming[i] = partial(_same_id(store, site, files[i], scene, name, contents[i], band_paths, copies=not band_files), set(taken))
        items[i] = name
        taken.add(name)
    for f, chosen, content in zip(files, items, contents, strict=True):
        jobs.append(FileJob(
            ws, site, f, acquired, sensor, compress, chosen, band_files, thermal_noise, content.sha256, dn_scale=dn_scale, dn_offset=dn_offset,
            context_m=context_m, orthorectify=orthorectify, source_tiles=content.tiles,
        ))  # fmt: skip
    results = map_file_jobs(ws, jobs, workers=workers, scheduler=scheduler, wait_workers=wait_workers)
    try:
        for i, (f, result) in enumerate(zip(files, results, strict=True)):
            if isinstance(result, str):
                warnings.warn(result, SkippedInputWarning, stacklevel=2)
                skipped.append((str(f), result))
            elif result is None:
                skipped.append((str(f), f"{f}: no valid pixel over site {site.id!r}"))
                missed.append(str(f))
            else:
                try:
                    commit_archived(ws, store, *result, still_named=naming[i])
                except (IdTakenError, SameAcquisitionError) as exc:
                    warnings.warn(str(exc), SkippedInputWarning, stacklevel=2)
                    skipped.append((str(f), str(exc)))
                else:
                    done.append(result[0])
                    sources.append(str(f))
            if progress:
                progress(i + 1, len(files), f.name)
    except BaseException:
        # Ctrl-C: the workers are ended first, then the COGs they wrote that were not committed go.
        results.close()
        remove_partials(ws, site.id)
        raise
    # Again at the end: the workers of a run killed just before this one started may have
    # been finishing a file then (they end within a second of their parent).
    remove_partials(ws, site.id)
    if not files and not skipped and not unchanged:
        given = ", ".join(str(p) for p in paths)
        skipped.append((given, f"no GeoTIFF files or SAFE products found in {given}"))
    store.record_run(
        "ingest",
        site.id,
        {"paths": [str(p) for p in paths], "sensor": sensor}
        | ({"band_files": {b: str(f) for b, f in band_files.items()}} if band_files else {}),
        {"observations": len(done), "skipped": len(skipped), "duplicates": len(repeats)},
        started=started,
    )
    return IngestReport(
        tuple(done), tuple(skipped), tuple((str(f), str(g)) for f, g in repeats), tuple(sources), tuple(missed),
        tuple(str(f) for f in unchanged), unrecorded,
    )
