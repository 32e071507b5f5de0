"""One image cut to one site and written as a COG without touching the store (:func:`archive_file`):
the worker side of ingest and import, as plain picklable jobs (:class:`FileJob`) run in worker
processes or on a Dask cluster (:func:`map_file_jobs`).
"""

from __future__ import annotations

import os
import socket
import warnings
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio.errors import NotGeoreferencedWarning

from ..band_scaling import DECLARED_SAR_SCALING, DECLARED_SCALING
from ..detect.clouds import QA_PIXEL_CLOUD_RULE, UDM2_CLOUD_RULE
from ..errors import ImageReadError, InputError, Level1CWarning, UncalibratedWarning
from ..files import is_file, partial_owner
from ..image_metadata import metadata_sidecars
from ..model import Grid, Site
from ..run import map_jobs
from ..sources.landsat import is_landsat_mtl, open_landsat_l2
from ..sources.maxar_toa import MaxarTOA, maxar_toa
from ..sources.planet import check_udm2, read_udm2_as_scl, udm2_sibling
from ..sources.planet_toa import PlanetTOA, planet_toa
from ..sources.providers import provider_product
from ..sources.s1_radiometry import ThermalNoise
from ..sources.safe import (
    NoiseNotRemovedWarning,
    is_s1_product,
    is_safe_product,
    open_s1_grd,
    open_s2_l2a,
)
from ..workspace import Workspace
from ..zero_collar import ZERO_NO_DATA_NOTE
from .archive import Archived, archive_observation
from .band_files import _refuse_bands_of_a_product, band_files_name, band_files_sensor
from .cut import _cut_to_grid, _qa_pixel_as_scl, _read_s1
from .grid import site_grid, site_mask
from .identity import _size, sha256_file, til_sha256, til_tiles
from .ortho import Orthorectify, Placement, placement_of
from .scene_ref import read_scene_ref

__all__ = ["archive_file", "FileJob", "archive_job", "map_file_jobs"]


def archive_file(
    ws: Workspace,
    site: Site,
    path: Path,
    *,
    acquired: datetime | None = None,
    sensor: str | None = None,
    resolution_m: float | None = None,
    compress: str = "deflate",
    item_id: str | None = None,
    band_files: Mapping[str, Path] | None = None,
    thermal_noise: ThermalNoise = "keep",
    source_sha256: str | None = None,
    owner: str | None = None,
    dn_scale: float | None = None,
    dn_offset: float | None = None,
    context_m: float | None = None,
    orthorectify: Orthorectify | None = None,
    source_tiles: Sequence[Mapping[str, str]] | None = None,
) -> Archived | None:
    """Cut one image to the site and write its COG, without touching the store.

    The image is a GeoTIFF, a Sentinel-2 L2A or Sentinel-1 GRD SAFE product (read as
    reflectance or sigma0, :mod:`sitewatch.sources.safe`; ``thermal_noise`` says whether a
    Sentinel-1 product's noise LUT is subtracted) or, with ``band_files``, a set of
    single-band files. ``band_files`` (band name → single-band file, e.g. Sentinel-2 bands delivered
    one file each) makes one observation of several files; ``path`` is then the
    one its acquisition time and id are read from. ``item_id`` overrides the id
    the file would get (see :func:`ingest_paths`). ``source_sha256`` is ``path``'s sha256 when
    the caller has read it already (:class:`SourceDigest`); it is read here otherwise, and so are a Maxar ``.TIL``'s
    tiles' digests unless given as ``source_tiles`` (:attr:`SourceDigest.tiles`). ``owner`` is
    that of the partial files written (:func:`archive_observation`). ``dn_scale`` and ``dn_offset`` (an
    optical file, or band files, that is no product): reflectance = (value - ``dn_offset``) / ``dn_scale``,
    instead of the divisor read from the values' range (:func:`_check_given_scaling` says which files).
    ``context_m`` is the margin of image a site narrower than 500 m is archived with (the ``context_m``
    setting; None: :data:`~sitewatch.ingest.grid.CONTEXT_M`; :func:`~sitewatch.ingest.grid.site_grid`).
    ``orthorectify`` (``--orthorectify``): an image placed by RPCs or GCPs, not a map grid, is orthorectified onto the
    site's grid (:mod:`~sitewatch.ingest.ortho`), over its window that covers the site; its provenance says how.
    """
    path = Path(path)
    # Before anything is read: a file written after this has another time, and `import --new-only` reads it again.
    mtime_ns = _mtime_ns(path) if not band_files else None
    s1 = open_s1_grd(path, thermal_noise=thermal_noise) if not band_files and is_s1_product(path) else None
    product = open_s2_l2a(path) if not band_files and s1 is None and is_safe_product(path) else None
    landsat = open_landsat_l2(path) if not band_files and is_landsat_mtl(path) else None
    if band_files:
        sensor = sensor or band_files_sensor(band_files)
    elif s1 is None and product is None and landsat is None:
        _refuse_bands_of_a_product({"": path})
    scene, bands = read_scene_ref(
        path, acquired=acquired, sensor=sensor, name_bands=not band_files, thermal_noise=thermal_noise, orthorectify=orthorectify
    )
    sources: list[tuple[Path | str, int]] = [(path, i) for i in range(1, len(bands) + 1)]
    if band_files:
        bands = list(band_files)
        sources = [(Path(f), 1) for f in band_files.values()]
    if product is not None:
        sources = list(product.bands.values())
    if landsat is not None:
        sources = list(landsat.bands.values())
    if item_id:
        scene = replace(scene, item_id=item_id)
    elif band_files:
        scene = replace(scene, item_id=band_files_name(band_files))
    # A Planet scene's UDM2 is its cloud mask, archived as the band SCL in SCL's classes (as a
    # Sentinel-2 SCL is): detect then reads it instead of running the spectral cloud test.
    plain = not band_files and s1 is None and product is None and landsat is None
    # A Planet radiance file (…_3B_AnalyticMS_clip.tif): TOA reflectance by its metadata XML's coefficients.
    toa: PlanetTOA | MaxarTOA | None = (
        planet_toa(path, provider_product(path, len(bands)), len(bands)) if plain and scene.sensor == "optical" else None
    )
    udm2 = udm2_sibling(path) if plain and scene.sensor == "optical" else None
    classes: Callable[[Any], NDArray[np.uint8]] | None = None
    if udm2 is not None and "SCL" not in bands:
        check_udm2(udm2, path)
        bands = [*bands, "SCL"]
        classes = partial(read_udm2_as_scl, udm2)
    else:
        udm2 = None
    if landsat is not None and landsat.qa is not None:
        bands = [*bands, "SCL"]
        classes = partial(_qa_pixel_as_scl, landsat.qa)
    given = (dn_scale, dn_offset) != (None, None)
    if given:
        _check_given_scaling(path, scene.sensor, "a Sentinel-1 product" if s1 else "a Sentinel-2 product" if product else
                             "a Landsat product" if landsat else "a Planet radiance file" if toa else None)  # fmt: skip
    elif toa is None and plain and scene.sensor == "optical":
        # A Maxar file of counts: TOA reflectance by its .IMD's absCalFactor, effectiveBandwidth and meanSunEl
        # (without them, read by its range as before: read_scene_ref warned, naming the file).
        maxar = maxar_toa(path, provider_product(path, len(bands)), len(bands), scene.acquired)
        toa = maxar if isinstance(maxar, MaxarTOA) else None
    grid = site_grid(site, resolution_m or scene.resolution_m, context_m=context_m)
    placement = _placement(path, orthorectify) if plain or band_files else None
    if placement is not None:
        placement.check_grid(grid, site.id)  # a DEM that misses the site, named before anything is read
    if s1 is not None:
        out = np.full((len(bands), grid.height, grid.width), np.nan, dtype=np.float32)
        _read_s1(s1, grid, out)  # as sigma0, placed by its GCPs
        scale, zero, declared = 1.0, False, None
    else:
        cut = _cut_to_grid(path, scene, bands, sources, grid, product or landsat, classes, toa,
                           (dn_scale, dn_offset) if given else None, orthorectify)  # fmt: skip
        if cut is None:
            return None
        out, scale, zero, declared = cut
    # A cloud mask delivered with the image (a Planet UDM2, a Sentinel-2 SCL, a Landsat QA_PIXEL, archived as the band
    # SCL) says the cloud over the site now: shown before `detect` runs (which measures it again), as fetch does.
    cloud = site_cloud_fraction(site, grid, bands, out) if scene.sensor == "optical" else None
    sidecars = {}
    truth = path.with_name(path.stem + ".truth.geojson")
    if not is_file(truth) and path.is_symlink():  # a link to a simulated scene: its truth is beside the scene
        real = Path(os.path.realpath(path))
        truth = real.with_name(real.stem + ".truth.geojson")
    if is_file(truth):
        sidecars["truth"] = truth
    metadata = metadata_sidecars(path) if product is None and s1 is None and landsat is None else []  # a product's own metadata is recorded below
    if metadata:
        sidecars["metadata"] = metadata[0]  # the provider's metadata is archived next to the COG
    # A tiled Maxar product read whole through GDAL's TIL driver: its pixels are the tiles', which the .TIL lists;
    # it is known by its own and its tiles' digests.
    # Hashed once a run: by the parent when it read the .TIL's digest to choose the id, else here.
    tiles = ([dict(t) for t in source_tiles] if source_tiles is not None else til_tiles(path)) if path.suffix.lower() == ".til" else None
    provenance: dict[str, Any] = {
        "source": "sentinel-1 safe" if s1 else "landsat c2 l2" if landsat else "file" if product is None else "sentinel-2 safe",
        "source_path": str(path.resolve()),
        "source_sha256": source_sha256 or (til_sha256(path, tiles) if tiles is not None else sha256_file(path)),
        "ingested_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scale_applied": scale,
        "acquired_from": scene.properties.get("acquired_from", ""),
        "tags": {k: v for k, v in scene.properties.items() if k != "acquired_from"},
        "metadata_files": [str(m.resolve()) for m in metadata],
    }
    if cloud is not None:
        provenance["cloud_fraction_from"] = (
            f"ingest: the share of the site's data pixels its cloud mask ({_mask_name(provenance, product)}) marks as "
            "cloud or cloud shadow (SCL classes 3, 8, 9, 10), until `detect` measures it"
        )
    if path.is_file() and (size := _size(path)) is not None:
        # so that a later run rules out a file of another size as a copy of this one without hashing it
        provenance["source_size"] = size
        if mtime_ns is not None:
            provenance["source_mtime_ns"] = mtime_ns  # `import --new-only` skips the file while it has this time
    if zero:
        provenance["no_data"] = ZERO_NO_DATA_NOTE
    if placement is not None:
        provenance["orthorectified"] = placement.provenance()
    if given:
        # As a product's own: reflectance = (DN + offset_applied) x scale_applied.
        provenance["offset_applied"] = -(dn_offset or 0.0)
        provenance["scaling_from"] = " and ".join(o for o, v in (("--dn-scale", dn_scale), ("--dn-offset", dn_offset)) if v is not None)
    if declared is not None:
        # As a product's own: reflectance = (DN + offset_applied) x scale_applied; one value when every band shares it.
        scales = {b: s for b, (s, _) in declared.items()}
        offsets = {b: o / s for b, (s, o) in declared.items()}
        shared = len(set(declared.values())) == 1
        provenance["scale_applied"] = next(iter(scales.values())) if shared else scales
        provenance["offset_applied"] = next(iter(offsets.values())) if shared else offsets
        provenance["scaling_from"] = DECLARED_SCALING if scene.sensor == "optical" else DECLARED_SAR_SCALING
    if toa is not None:
        provenance["scale_applied"] = dict(zip(bands, toa.coefficients, strict=False))
        provenance["maxar" if isinstance(toa, MaxarTOA) else "planet"] = toa.provenance([b for b in bands if b != "SCL"])
    if band_files:
        provenance["band_files"] = {
            b: {
                "path": str(Path(f).resolve()),
                # the first band file is the source, hashed just above
                "sha256": provenance["source_sha256"] if Path(f).resolve() == path.resolve() else sha256_file(Path(f)),
            }
            for b, f in band_files.items()
        }
    if tiles is not None:
        provenance["tiles"] = tiles
    if product is not None:
        provenance["safe"] = product.provenance()
        provenance["offset_applied"] = product.offset
    if s1 is not None:
        provenance["safe"] = s1.provenance()
    if udm2 is not None:
        provenance["cloud_mask"] = {"from": "udm2", "path": str(udm2.resolve()), "sha256": sha256_file(udm2)}
        provenance["cloud_rule"] = UDM2_CLOUD_RULE
    if landsat is not None:
        provenance["landsat"] = landsat.provenance() | {"band_sha256": {b: sha256_file(f) for b, (f, _) in landsat.bands.items()}}
        provenance["offset_applied"] = landsat.offset
        if landsat.qa is not None:
            provenance["cloud_mask"] = {"from": "qa_pixel", "path": str(landsat.qa.resolve()), "sha256": sha256_file(landsat.qa)}
            provenance["cloud_rule"] = QA_PIXEL_CLOUD_RULE
    return archive_observation(
        ws, site, scene, out, grid, bands, provenance, cloud_fraction=cloud, sidecars=sidecars, compress=compress, owner=owner
    )


def site_cloud_fraction(site: Site, grid: Grid, bands: Sequence[str], data: NDArray[np.floating]) -> float | None:
    """The share of the site's data pixels that ``data``'s band SCL (a delivered cloud mask in SCL's classes) marks
    as cloud or cloud shadow, as fetch measures it (:func:`~sitewatch.fetch.site_stats`); None without that band."""
    if "SCL" not in bands:
        return None
    from ..fetch import site_stats  # fetch writes through this package: imported when first needed

    return site_stats("SCL", data[list(bands).index("SCL")], site_mask(site, grid)).cloud_fraction


def _mask_name(provenance: Mapping[str, Any], product: object) -> str:
    """The cloud mask an ingested image brought, as a message names it."""
    mask = provenance.get("cloud_mask")
    if isinstance(mask, Mapping) and mask.get("from") == "udm2":
        return "Planet's UDM2"
    if isinstance(mask, Mapping) and mask.get("from") == "qa_pixel":
        return "Landsat's QA_PIXEL"
    return "Sentinel-2's SCL" if product is not None else "its band SCL"


def _placement(path: Path, orthorectify: Orthorectify | None) -> Placement | None:
    """How ``path`` is placed when it has no map grid and ``orthorectify`` is given (None otherwise)."""
    if orthorectify is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path) as src:
            return placement_of(src, path, orthorectify)


@dataclass(frozen=True)
class FileJob:
    """One image to cut to one site in a worker (:func:`archive_job`): plain values, picklable."""

    ws: Workspace
    site: Site
    path: Path
    acquired: datetime | None
    sensor: str | None
    compress: str = "deflate"
    item_id: str | None = None
    band_files: Mapping[str, Path] | None = None
    thermal_noise: ThermalNoise = "keep"
    source_sha256: str | None = None
    """The file's sha256 when the parent read it to choose the id (else the worker reads it)."""
    owner: str = field(default_factory=partial_owner)
    """The command that made the job, which commits or removes what it writes (:func:`~sitewatch.files.partial_path`)."""
    dn_scale: float | None = None
    dn_offset: float | None = None
    """The user's scaling of an optical file's values (``--dn-scale``, ``--dn-offset``; :func:`archive_file`)."""
    context_m: float | None = None
    """The margin of image around a small site (the ``context_m`` setting; :func:`archive_file`)."""
    orthorectify: Orthorectify | None = None
    """How an image placed by RPCs or GCPs is orthorectified (``--orthorectify``; :func:`archive_file`)."""
    source_tiles: tuple[Mapping[str, str], ...] | None = None
    """A Maxar ``.TIL``'s tiles with their sha256 when the parent read them with :attr:`source_sha256` (else the worker
    reads them)."""

    def absolute(self) -> FileJob:
        """The job as a Dask worker started in another folder, on another machine, needs it: its
        paths absolute, and the workspace without its store setting (a worker never opens the
        store, and a URL given with ``--store`` may hold a password)."""
        return replace(
            self, ws=Workspace(self.ws.root.resolve()), path=self.path.resolve(),
            band_files={b: Path(f).resolve() for b, f in self.band_files.items()} if self.band_files else None,
            orthorectify=self.orthorectify.absolute() if self.orthorectify else None,
        )  # fmt: skip


def archive_job(job: FileJob) -> Archived | None | str:
    """Worker side of ingest and import: the archived observation, None, or the error message naming the file."""
    missing = next((f for f in (job.path, *(job.band_files or {}).values()) if not Path(f).exists()), None)
    if missing is not None:
        # The command found it (click checks that the paths exist): a Dask worker on another machine, or in
        # another mount, does not see it there; "not a readable raster (No such file)" blamed the file.
        return (
            f"{missing}: not found where the job ran ({socket.gethostname()}), though the command sees it: every Dask "
            "worker must see the input files at the paths the command's machine sees them at (a shared file system "
            "mounted there), or run without --scheduler"
        )
    try:
        with warnings.catch_warnings():
            # ingest_paths said it when it read the product's scene (read_scene_ref); once is enough
            warnings.simplefilter("ignore", NoiseNotRemovedWarning)
            warnings.simplefilter("ignore", Level1CWarning)
            warnings.simplefilter("ignore", UncalibratedWarning)
            return archive_file(
                job.ws, job.site, job.path, acquired=job.acquired, sensor=job.sensor, compress=job.compress,
                item_id=job.item_id, band_files=job.band_files, thermal_noise=job.thermal_noise,
                source_sha256=job.source_sha256, owner=job.owner, dn_scale=job.dn_scale, dn_offset=job.dn_offset,
                context_m=job.context_m, orthorectify=job.orthorectify, source_tiles=job.source_tiles,
            )  # fmt: skip
    except (ImageReadError, InputError) as exc:
        return str(exc)


def map_file_jobs(
    ws: Workspace,
    jobs: Sequence[FileJob],
    *,
    workers: int = 0,
    scheduler: str = "",
    describe: Callable[[FileJob], str] = lambda job: str(job.path),
    wait_workers: float | None = None,
) -> Generator[Archived | None | str, None, None]:
    """:func:`archive_job` of each job, in order, in worker processes or on a Dask cluster (``scheduler``);
    ``describe`` names a job in the error of a worker that died running it.

    On Dask the jobs go with absolute paths (:meth:`FileJob.absolute`), each worker is first checked to
    see the workspace's archive at the path this machine sees it at, and a run that stops waits for the
    jobs running on workers (:func:`~sitewatch.run.map_jobs`), so that the caller's
    :func:`remove_partials` finds every file they wrote.
    """
    if scheduler:
        jobs = [job.absolute() for job in jobs]
    return map_jobs(
        archive_job, jobs, workers=workers, scheduler=scheduler, describe=describe, shared_folder=ws.archive.resolve(),
        wait_workers=wait_workers,
    )


def _check_given_scaling(path: Path, sensor: str, product: str | None) -> None:
    """Refuse ``--dn-scale``/``--dn-offset`` for a file they cannot apply to: SAR values are not
    reflectance, and a product (``product`` names its kind) is read with its own scaling."""
    if sensor != "optical":
        raise InputError(f"{path}: --dn-scale and --dn-offset are for optical images (reflectance); this one is {sensor}")
    if product is not None:
        raise InputError(f"{path}: is {product}, read with its own scale and offset; --dn-scale and --dn-offset are for other files")


def _mtime_ns(path: Path) -> int | None:
    """A plain file's modification time (ns); None for a folder (a SAFE product) or a file that cannot be read."""
    try:
        return path.stat().st_mtime_ns if path.is_file() else None
    except OSError:  # a missing file is named by its job
        return None
