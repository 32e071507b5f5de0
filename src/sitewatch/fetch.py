"""Fetch: find a site's scenes in a STAC catalogue, cut them to the site, archive them (many sites: :mod:`.fetch_many`).

For every item the search returns, only the window of each asset that covers
the site is read (rasterio windowed reads of the COGs; GCP warping for
Sentinel-1 GRD), converted to physical values, put on the site's grid and
handed to :func:`sitewatch.ingest.write_observation`.

Optical scenes are judged over the site, not over the scene: the class band
(Sentinel-2 SCL, Landsat QA_PIXEL) is read first, the cloud and valid
fractions *inside the site polygon* are computed from it, and the scene is
skipped when the site is cloudier than ``max_cloud`` or has no valid pixel —
before its other bands are downloaded. Those figures are cached under the
workspace, so ``sitewatch search`` shows them and a rerun does not read the
class band again.

A fetch is resumable: an item whose observation is already archived is not
read again, and ``write_observation`` renames a COG into place only when it
is complete, so a killed fetch leaves nothing half-written. One bad asset
never stops the others: it is retried (transient errors), re-signed (an
expired token), then reported at the end with what to do.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shlex
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio._err import CPLE_BaseError
from rasterio.enums import Resampling
from rasterio.errors import RasterioError
from rasterio.warp import reproject
from rasterio.windows import Window, from_bounds

from .detect.clouds import QA_PIXEL_CLOUD_RULE, qa_pixel_to_scl
from .errors import CredentialError, ImageReadError, InputError, SourceError
from .fetch_options import FetchOptions
from .files import write_text_atomic
from .geo import recentred_past_180
from .ingest.archive import remove_partials, write_observation
from .ingest.cut import band_resampling
from .ingest.grid import no_data_as_nan, site_grid, site_mask, too_small_for, valid_pixels
from .ingest.removal import remove_unrecorded
from .model import Grid, Observation, SceneRef, Site
from .sources.gcp import (
    across_antimeridian,
    gcps_for_window,
    gcps_window,
    grid_bounds_in,
    sentinel1_centred,
    warp_with_gcps,
)
from .sources.s1_radiometry import S1Radiometry, ThermalNoise, parse_calibration, parse_noise
from .sources.stac import (
    Catalog,
    NoSigner,
    Profile,
    Signer,
    asset_scaling,
    catalog_credentials,
    credential_hint,
    gdal_env,
    item_to_scene,
    keys_go_to,
    make_signer,
    now_utc,
    profile_for,
    redact,
    require_asset_credentials,
    resolve_collection,
    search_items,
    token_goes_to,
)
from .store import Store
from .untrusted import check_not_linking
from .workspace import Workspace

__all__ = [
    "Convert",
    "S2_CLOUD_CLASSES",
    "S2_NODATA_CLASSES",
    "SiteStats",
    "Candidate",
    "FetchOptions",
    "FetchReport",
    "item_changes",
    "site_stats",
    "read_window",
    "find_scenes",
    "read_items",
    "site_candidates",
    "fetch_candidates",
    "fetch_candidates_of_sites",
    "measure_site_stats",
    "measure_stats_of_sites",
    "fetch_scenes",
    "cache_dir",
]

log = logging.getLogger(__name__)

S2_CLOUD_CLASSES: Mapping[int, str] = {
    3: "cloud shadow",
    8: "cloud, medium probability",
    9: "cloud, high probability",
    10: "thin cirrus",
}
"""Sentinel-2 SCL classes counted as cloud over the site."""
S2_NODATA_CLASSES: Mapping[int, str] = {0: "no data", 1: "saturated or defective"}
"""Sentinel-2 SCL classes counted as not valid (neither clear nor cloud)."""
LANDSAT_CLOUD_BITS: Mapping[int, str] = {1: "dilated cloud", 2: "cirrus", 3: "cloud", 4: "cloud shadow"}
"""Landsat C2 QA_PIXEL bits counted as cloud; bit 0 (fill) is not valid."""

CLOUD_RULE = {
    "SCL": "cloud = SCL classes " + ", ".join(f"{k} ({v})" for k, v in S2_CLOUD_CLASSES.items())
    + "; not valid = " + ", ".join(f"{k} ({v})" for k, v in S2_NODATA_CLASSES.items()),
    "QA": "cloud = QA_PIXEL bits " + ", ".join(f"{k} ({v})" for k, v in LANDSAT_CLOUD_BITS.items())
    + "; not valid = bit 0 (fill)",
}  # fmt: skip

Convert = Callable[[NDArray[np.float32], Window], NDArray[np.float32]]
"""Stored numbers of a window of an asset → physical values. The window, in the asset's pixels, is
for conversions that vary across the image (Sentinel-1 GRD's calibration and noise LUTs)."""

_STATUS = re.compile(r"HTTP (?:response code|error code|status)[: ]*(\d{3})")


# -- nouns ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteStats:
    """What a scene holds over the site polygon."""

    valid_fraction: float
    """Share of the site's pixels that hold data (clear or cloud; not no-data or defective), 0..1."""
    cloud_fraction: float | None
    """Share of the site's pixels with data that is cloud (0..1); None for SAR."""
    rule: str = ""
    """Which classes counted as cloud and not valid."""


@dataclass(frozen=True)
class Candidate:
    """One catalogue item as it bears on one site."""

    scene: SceneRef
    item: Mapping[str, Any] = field(repr=False)
    coverage: float
    """Share of the site polygon inside the item's footprint (0..1), from geometry alone."""
    stats: SiteStats | None = None
    """Pixel figures over the site, once known (read or cached)."""
    fetched: bool = False
    """Already archived as an observation of the site."""
    changed: str = ""
    """Archived, but from another version of the item: what differs between the item the observation was
    fetched from and the catalogue's item of that id now (:func:`item_changes`; blank: the same, or not archived).
    A fetch takes the new version."""


@dataclass(frozen=True)
class FetchReport:
    """What a fetch did."""

    observations: tuple[Observation, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    """(item id, reason): already fetched, cloudier than asked, no valid pixel over the site."""
    failed: tuple[tuple[str, str], ...] = ()
    """(item id/asset, what went wrong and what to do)."""
    replaced: tuple[tuple[str, str], ...] = ()
    """(item id, what changed): observations fetched again because the catalogue's item changed since (a provider
    reprocessed it under the same id); each is among ``observations`` too."""
    search_cached: float | None = None
    """When the search these items came from was made (``time.time()``), when its answer was the cache's (the
    catalogue not asked: items published since are not seen without ``--refresh``); None: the catalogue was asked."""
    unrecorded_removed: tuple[str, ...] = ()
    """Files of the site's archive folder that no observation named, removed before the fetch (paths in the
    workspace): a run killed between a COG's rename into place and its record left them
    (:func:`~sitewatch.ingest.removal.remove_unrecorded`)."""


# -- pixels ---------------------------------------------------------------------------------------


def site_stats(mask_band: str, values: NDArray[np.floating], inside: NDArray[np.bool_]) -> SiteStats:
    """Cloud and valid fractions of a class band over the site's pixels (``inside``)."""
    n = int(inside.sum())
    if n == 0:
        return SiteStats(0.0, None, CLOUD_RULE.get(mask_band, ""))
    v = values[inside]
    finite = np.isfinite(v)
    codes = np.where(finite, v, 0).astype(np.int64)
    if mask_band == "SCL":
        data = finite & ~np.isin(codes, list(S2_NODATA_CLASSES))
        cloud = data & np.isin(codes, list(S2_CLOUD_CLASSES))
    else:  # Landsat QA_PIXEL bit flags
        data = finite & ((codes & 1) == 0)
        bits = sum(1 << b for b in LANDSAT_CLOUD_BITS)
        cloud = data & ((codes & bits) != 0)
    n_data = int(data.sum())
    return SiteStats(
        valid_fraction=round(n_data / n, 6),
        cloud_fraction=round(int(cloud.sum()) / n_data, 6) if n_data else None,
        rule=CLOUD_RULE.get(mask_band, ""),
    )


def _status_of(message: str) -> int | None:
    m = _STATUS.search(message)
    if not m:
        # /vsis3/ reports S3 error codes rather than HTTP statuses
        if re.search(r"AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch|\bForbidden\b|\bUnauthorized\b", message):
            return 403
        return None
    return int(m.group(1))


def _grid_lon(grid: Grid) -> float:
    """Longitude of a grid's centre."""
    from pyproj import Transformer

    x, y = grid.affine @ (grid.width / 2, grid.height / 2)
    return float(Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True).transform(x, y)[0])


def read_window(
    href: str,
    grid: Grid,
    *,
    resampling: Resampling = Resampling.bilinear,
    convert: Convert | None = None,
    gcp_method: str = "tps",
    sentinel1_gcps: bool = False,
    opened: Any = None,
) -> tuple[NDArray[np.float32], str]:
    """Read the part of one raster asset that covers ``grid`` and put it on ``grid``.

    Returns the array (NaN = no data) and how it was placed (``"affine"`` or
    ``"gcp-<method>"``). ``convert`` turns stored numbers into physical values
    before resampling (so averages are of reflectance or intensity, not DNs), given the window
    read (Sentinel-1 GRD's LUTs vary across the image).
    ``sentinel1_gcps``: the asset's GCPs number samples and lines as Sentinel-1 does
    (:func:`~sitewatch.sources.gcp.sentinel1_centred`).
    ``opened``: ``href``'s raster, already opened (by the caller, who closes it; ``href`` then only names it
    in errors), so that several windows of one asset cost one open.
    """
    if opened is None:
        with _open_asset(href) as src:
            return read_window(href, grid, resampling=resampling, convert=convert, gcp_method=gcp_method,
                               sentinel1_gcps=sentinel1_gcps, opened=src)  # fmt: skip
    src = opened
    out = np.full(grid.shape, np.nan, dtype=np.float32)
    gcps, gcp_crs = src.gcps
    if sentinel1_gcps:
        gcps = sentinel1_centred(gcps)
    if gcps:
        gcps = across_antimeridian(gcps, gcp_crs, _grid_lon(grid))
    if src.crs is None and gcps:
        window = gcps_window(gcps, gcp_crs.to_string(), grid, (src.height, src.width))
        if window is None:
            return out, f"gcp-{gcp_method}"
        raw = _read(src, window, convert)
        try:
            warped = warp_with_gcps(
                raw, gcps_for_window(gcps, window), gcp_crs.to_string(), grid,
                method="polynomial" if gcp_method == "polynomial" else "tps", resampling=resampling,
            )  # fmt: skip
        except CPLE_BaseError as exc:  # GDAL's own error class, not a RasterioError
            raise ImageReadError(f"{redact(href)}: its ground control points cannot place it ({exc})") from exc
        return warped, f"gcp-{gcp_method}"
    if src.crs is None:
        raise ImageReadError(f"{redact(href)}: no CRS, no GCPs: cannot place it on the ground")
    # A Web Mercator asset across 180° is read as the same pixels centred 180° away: else the grid's
    # part past 180° maps to the far edge of the world, outside the asset (no data there).
    src_crs, src_transform = recentred_past_180(src.crs.to_string(), src.transform, src.width, src.height)
    left, bottom, right, top = grid_bounds_in(grid, src_crs)
    win = from_bounds(left, bottom, right, top, transform=src_transform)
    col0, row0 = int(np.floor(win.col_off)) - 2, int(np.floor(win.row_off)) - 2
    col1 = int(np.ceil(win.col_off + win.width)) + 2
    row1 = int(np.ceil(win.row_off + win.height)) + 2
    col0, row0 = max(col0, 0), max(row0, 0)
    col1, row1 = min(col1, src.width), min(row1, src.height)
    if col1 <= col0 or row1 <= row0:
        return out, "affine"
    window = Window(col0, row0, col1 - col0, row1 - row0)
    raw = _read(src, window, convert)
    try:
        reproject(
            raw, out,
            src_transform=rasterio.windows.transform(window, src_transform), src_crs=src_crs, src_nodata=np.nan,
            dst_transform=grid.affine, dst_crs=grid.crs, dst_nodata=np.nan, resampling=resampling,
        )  # fmt: skip
    except CPLE_BaseError as exc:
        raise ImageReadError(f"{redact(href)}: cannot be put on the site's grid ({exc})") from exc
    return out, "affine"


def _open_asset(href: str) -> Any:
    """The opened raster of ``href`` (its header read), refused if it links to other files."""
    src = rasterio.open(href)
    try:
        # A catalogue's asset is never a VRT (ingest passes its own VRT text for Sentinel-1 here).
        check_not_linking(src.driver, redact(href), by_name=not href.lower().startswith(("https://", "http://", "s3://")))
    except BaseException:
        src.close()
        raise
    return src


def _read(src: Any, window: Window, convert: Convert | None) -> NDArray[np.float32]:
    data = no_data_as_nan(src.read(1, window=window, masked=True, out_dtype="float32"))
    # Converted values (sigma0 from DN) follow the rule too: a zero calibration gain gives ±inf.
    return no_data_as_nan(convert(data, window)) if convert else data


# -- finding scenes -------------------------------------------------------------------------------


def cache_dir(ws: Workspace) -> Path:
    """Where search results and per-site scene figures are cached."""
    return ws.root / "cache" / "stac"


def _stats_file(ws: Workspace) -> Path:
    return cache_dir(ws) / "site-stats.json"


def _load_stats(ws: Workspace) -> dict[str, Any]:
    try:
        return dict(json.loads(_stats_file(ws).read_text(encoding="utf-8")))
    except (FileNotFoundError, ValueError):
        return {}


def _save_stats(ws: Workspace, table: Mapping[str, Any]) -> None:
    """Add ``table``'s figures to the cache; another fetch may have saved its own since this one read it."""
    merged = _load_stats(ws) | dict(table)
    write_text_atomic(_stats_file(ws), json.dumps(merged, indent=1, sort_keys=True))


def _stats_key(site: Site, scene: SceneRef) -> str:
    # The figures are over the site's polygon: a site given a new polygon (`sites add` again) is measured again.
    shape_id = hashlib.sha256(site.require_geometry().wkb).hexdigest()[:12]
    return f"{site.id}|{shape_id}|{scene.id}"


def _archived(ws: Workspace, store: Store, site: Site, scene: SceneRef, item: Mapping[str, Any]) -> tuple[bool, str]:
    """Whether the item is archived as an observation of the site, and what changed in the catalogue's item since
    it was fetched (:func:`item_changes`; blank: nothing, or not archived)."""
    rows = store.execute("SELECT path, provenance FROM observations WHERE observation_id = ?",
                         (f"{site.id}/{scene.item_id}",))  # fmt: skip
    if not rows or not (ws.root / rows[0]["path"]).exists():
        return False, ""
    provenance = rows[0]["provenance"]
    try:
        held = json.loads(provenance) if isinstance(provenance, str | bytes) else provenance
    except ValueError:
        return True, ""
    stored = held.get("stac_item") if isinstance(held, dict) else None
    if not isinstance(stored, dict):  # imported, or fetched by a sitewatch that kept no item: nothing to compare
        return True, ""
    return True, ", ".join(item_changes(stored, item))


def _asset_shape(asset: Any) -> Any:
    """An asset as :func:`item_changes` compares it: its file's name for its href (a catalogue on disk moved, a CDN's
    host or a signed URL's query changes no image) and its other fields, but its ``alternate`` hrefs."""
    if not isinstance(asset, dict):
        return asset
    href = str(asset.get("href") or "")
    name = urlsplit(href).path.rstrip("/").rpartition("/")[2] if "://" in href else Path(href).name
    return {k: v for k, v in asset.items() if k not in ("href", "alternate")} | {"href": name}


def _same(a: Any, b: Any) -> bool:
    """Whether two JSON values are the same: ``==`` (fast: a rerun compares every archived item), else as JSON text,
    keys sorted, where NaN (which a catalogue may write) is NaN, as ``==`` does not have it."""
    return bool(a == b) or json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def item_changes(stored: Mapping[str, Any], item: Mapping[str, Any]) -> list[str]:
    """What differs between the STAC item an observation was fetched from (``stored``, kept in its provenance) and the
    catalogue's item of that id now: ``"properties KEY"`` of each property added, removed or changed (``updated``,
    ``earthsearch:boa_offset_applied``, ``s2:processing_baseline``…), ``"asset KEY"`` of each asset whose file name or
    other fields (checksum, size, scaling) differ; ``"geometry"``. Links are not compared (a catalogue rewrites them
    as it likes); an empty list: the same item, as far as its JSON tells (an image rewritten under the same name with
    the same metadata is not seen: ``fetch --force`` takes it)."""
    out: list[str] = []
    old_p, new_p = stored.get("properties") or {}, item.get("properties") or {}
    if old_p == new_p:  # (the rerun's usual case, at C speed: a rerun compares every archived item)
        pass
    elif isinstance(old_p, dict) and isinstance(new_p, dict):
        out += [f"properties {k}" for k in sorted(set(old_p) | set(new_p), key=str)
                if not _same(old_p.get(k), new_p.get(k))]  # fmt: skip
    elif not _same(old_p, new_p):
        out.append("properties")
    old_a, new_a = stored.get("assets") or {}, item.get("assets") or {}
    if old_a == new_a:
        pass
    elif isinstance(old_a, dict) and isinstance(new_a, dict):
        out += [f"asset {k}" for k in sorted(set(old_a) | set(new_a), key=str) if old_a.get(k) != new_a.get(k)
                and not _same(_asset_shape(old_a.get(k)), _asset_shape(new_a.get(k)))]  # fmt: skip
    elif not _same(old_a, new_a):
        out.append("assets")
    if not _same(stored.get("geometry"), item.get("geometry")):
        out.append("geometry")
    return out


def find_scenes(
    ws: Workspace,
    store: Store,
    site: Site,
    catalog: Catalog,
    options: FetchOptions,
    *,
    refused: list[tuple[str, str]] | None = None,
    cached: list[float] | None = None,
) -> list[Candidate]:
    """The catalogue's items of ``options.collection`` over the site in the period, with coverage and any known
    site figures.

    An item that cannot be read as a scene (no datetime, an asset that is no remote URL…) is named in a
    warning and left out; with ``refused``, its (item id, reason) is added there too. With ``cached``, the time the
    search was made is added to it when its answer came from the cache (:func:`~sitewatch.sources.stac.search_items`)."""
    geom = site.require_geometry()
    items = search_items(
        catalog, options.collection, geom.bounds, options.start, options.end,
        cache_dir=cache_dir(ws), refresh=options.refresh, retries=options.retries, backoff=options.backoff,
        limit=options.page_size, env=options.env, cached=cached,
    )  # fmt: skip
    return site_candidates(ws, store, site, read_items(items, catalog), _load_stats(ws), refused)


def read_items(items: list[dict[str, Any]], catalog: Catalog) -> list[tuple[dict[str, Any], SceneRef | str]]:
    """Each item with its scene, or why it is no scene sitewatch reads: read once, however many sites it serves."""
    out: list[tuple[dict[str, Any], SceneRef | str]] = []
    for item in items:
        try:
            out.append((item, item_to_scene(item, catalog)))
        except (SourceError, InputError, KeyError) as exc:
            out.append((item, str(exc)))
    return out


def site_candidates(
    ws: Workspace,
    store: Store,
    site: Site,
    items: list[tuple[dict[str, Any], SceneRef | str]],
    known: Mapping[str, Any],
    refused: list[tuple[str, str]] | None = None,
) -> list[Candidate]:
    """The candidates of one site among items read by :func:`read_items`: those whose footprint covers part of
    the site's polygon (not of its bounding box), with the site figures ``known`` (the cache) holds."""
    geom = site.require_geometry()
    out = []
    for item, scene in items:
        if isinstance(scene, str):
            log.warning("item %s left out: %s", item.get("id"), scene)
            if refused is not None:
                refused.append((str(item.get("id")), scene))
            continue
        coverage = 1.0
        if scene.footprint is not None and geom.area > 0:
            coverage = round(float(scene.footprint.intersection(geom).area / geom.area), 4)
        if coverage <= 0:
            continue
        cached = known.get(_stats_key(site, scene))
        try:
            stats = SiteStats(**cached) if cached else None
        except TypeError:  # a cache written by another version: measure again
            stats = None
        fetched, changed = _archived(ws, store, site, scene, item)
        if changed:
            stats = None  # the figures measured on the item fetched: the new version's are measured anew
        out.append(Candidate(scene, item, coverage, stats, fetched, changed))
    return out


# -- fetching -------------------------------------------------------------------------------------


@dataclass
class _Reader:
    """Reads assets of one catalogue with signing, retries and credential errors.

    Inside :meth:`holding`, each asset is opened once (its header and overviews read once) and kept open for
    every window read of it: the sites of a group that one item covers each read their own window of it.
    """

    catalog: Catalog
    signer: Signer
    creds: Mapping[str, str]
    retries: int
    backoff: float
    held: dict[str, tuple[Any, str]] | None = field(default=None, repr=False)
    """Unsigned href → its opened raster and the signed href it was opened by, inside :meth:`holding`."""
    held_bytes: dict[str, bytes] | None = field(default=None, repr=False)
    """Unsigned href → a small metadata asset's bytes (a GRD calibration LUT), inside :meth:`holding`."""

    @classmethod
    def of(cls, catalog: Catalog, options: FetchOptions, creds: Mapping[str, str] | None = None) -> _Reader:
        """The reader of ``catalog``'s assets with ``options``' signer (else the catalogue's), retries and backoff."""
        if creds is None:
            creds = catalog_credentials(catalog, options.env)
        return cls(catalog, options.signer or make_signer(catalog), creds, options.retries, options.backoff)

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Keep the assets read inside open until the end (those of one item, for each site it covers), and the
        small metadata assets downloaded (a GRD's calibration and noise LUTs)."""
        outer, self.held = self.held, {}
        outer_bytes, self.held_bytes = self.held_bytes, {}
        try:
            yield
        finally:
            held, self.held, self.held_bytes = self.held, outer, outer_bytes
            with ExitStack() as closing:  # each one closed, though another's close() raise
                for src, _ in held.values():
                    closing.callback(src.close)

    def _drop(self, href: str) -> None:
        """Close a held asset that failed: the next try opens it anew (signed again after a 403)."""
        if self.held is not None and (opened := self.held.pop(href, None)) is not None:
            opened[0].close()

    def read(self, href: str, grid: Grid, **kwargs: Any) -> tuple[NDArray[np.float32], str]:
        """:func:`read_window` of ``href``, signed, retried, its credential errors explained."""
        refreshed = False
        attempt = 0
        while True:
            try:
                with gdal_env(self.catalog, self.creds, [href]):
                    if self.held is None:  # rasterio maps http(s):// and s3:// to GDAL's /vsi*/
                        return read_window(self.signer.sign(href, refresh=refreshed), grid, **kwargs)
                    if href not in self.held:
                        signed = self.signer.sign(href, refresh=refreshed)
                        self.held[href] = (_open_asset(signed), signed)
                    src, signed = self.held[href]
                    return read_window(signed, grid, opened=src, **kwargs)
            except RasterioError as exc:
                self._drop(href)
                message = redact(str(exc))
                status = _status_of(message)
                if status in (401, 403) and not refreshed and not isinstance(self.signer, NoSigner):
                    refreshed = True  # the token may have expired since it was issued: sign again once
                    continue
                if status in (401, 403):
                    host = urlsplit(href).hostname or href
                    if href.startswith("s3://") and {"access_key", "secret_key"} <= set(self.creds) and not keys_go_to(self.catalog, href):
                        hint = (  # the keys exist but were kept from a bucket the catalogue did not name
                            f"the S3 keys sign requests only to the buckets in s3_buckets, not to {host}; "
                            f"if {host} holds this catalogue's assets, add it: s3_buckets = [\"{host}\"] "
                            f"under [catalogs.{self.catalog.name}] in sitewatch.toml"
                        )
                    elif self.catalog.token_env and self.creds.get("token") and not token_goes_to(self.catalog, href):
                        hint = (  # the token exists but was kept from a host the catalogue did not name as its own
                            f"the catalogue's token is sent only to its own host and token_hosts, not to {host}; "
                            f"if {host} serves this catalogue's assets, add it: token_hosts = [\"{host}\"] "
                            f"under [catalogs.{self.catalog.name}] in sitewatch.toml"
                        )
                    else:
                        hint = credential_hint(self.catalog)
                    raise CredentialError(f"{redact(href)}: access refused (HTTP {status}): {hint}") from exc
                transient = status in (429, 500, 502, 503, 504) or "timed out" in message.lower()
                if transient and attempt < self.retries:
                    time.sleep(self.backoff * 2**attempt)
                    attempt += 1
                    continue
                raise ImageReadError(f"{redact(href)}: {message[:300]}") from exc


MAX_CALIBRATION_BYTES = 64 * 2**20
"""Most bytes of a GRD calibration or noise LUT fetch reads (Sentinel-1's are a few MB)."""


def _grd_radiometry(reader: _Reader, scene: SceneRef, pol: str, thermal_noise: ThermalNoise = "keep") -> S1Radiometry | None:
    """How polarisation ``pol``'s DN become sigma0 (its ``schema-calibration-*`` asset and, with
    ``thermal_noise`` ``subtract``, its ``schema-noise-*`` asset; with ``keep`` that one is not
    downloaded), or None when its calibration LUT cannot be read (said in the log)."""
    hrefs = scene.hrefs
    cal_href = hrefs.get(f"schema-calibration-{pol.lower()}")
    if not cal_href:
        log.warning("%s %s: no calibration LUT asset (schema-calibration-%s)", scene.item_id, pol, pol.lower())
        return None
    try:
        calibration = parse_calibration(_small_asset(reader, cal_href), redact(cal_href))
    except (OSError, ValueError) as exc:  # requests' errors are OSErrors; InputError is a ValueError
        log.warning("calibration of %s not read: %s", redact(cal_href), redact(str(exc)))
        return None
    if thermal_noise == "keep":
        return S1Radiometry(calibration, redact(cal_href))
    noise_href = hrefs.get(f"schema-noise-{pol.lower()}")
    if not noise_href:
        why = f"no thermal noise LUT asset (schema-noise-{pol.lower()}) in the item"
    else:
        try:
            return S1Radiometry(calibration, redact(cal_href), parse_noise(_small_asset(reader, noise_href), redact(noise_href)), redact(noise_href))
        except (OSError, ValueError) as exc:
            why = f"the noise LUT {redact(noise_href)} not read: {redact(str(exc))}"
    log.warning("%s %s: %s; its sigma0 keeps the noise (dark sea reads brighter)", scene.item_id, pol, why)
    return S1Radiometry(calibration, redact(cal_href), noise_missing=why)


def _small_asset(reader: _Reader, href: str) -> bytes:
    """The bytes of a metadata asset of at most :data:`MAX_CALIBRATION_BYTES`, over HTTP(S) (or, of a catalogue on
    disk, from its file).

    Raises OSError (requests' errors) or ValueError (too large, or a scheme not read: s3://). Inside the
    reader's :meth:`~_Reader.holding`, an asset is downloaded once.
    """
    if reader.held_bytes is not None and href in reader.held_bytes:
        return reader.held_bytes[href]
    content = _download_small(reader, href)
    if reader.held_bytes is not None:
        reader.held_bytes[href] = content
    return content


def _download_small(reader: _Reader, href: str) -> bytes:
    """:func:`_small_asset`'s bytes, read."""
    if reader.catalog.on_disk and Path(href).is_absolute():  # a catalogue on disk's own file (stac_static)
        with open(href, "rb") as f:
            local = f.read(MAX_CALIBRATION_BYTES + 1)
        if len(local) > MAX_CALIBRATION_BYTES:
            raise ValueError(f"larger than {MAX_CALIBRATION_BYTES:,} bytes")
        return local
    if not href.startswith("http"):
        raise ValueError(f"only http(s) assets are read, not {href.partition(':')[0]}://")
    import requests
    from requests.adapters import HTTPAdapter

    from .sources.stac import _retry

    session = requests.Session()
    session.mount("http", HTTPAdapter(max_retries=_retry(reader.retries, reader.backoff)))
    resp = session.get(reader.signer.sign(href), timeout=60, stream=True)
    resp.raise_for_status()
    content = bytearray()
    for chunk in resp.iter_content(1 << 20):
        # The catalogue's answer is read whole into memory: a few MB is a LUT, no more.
        content += chunk
        if len(content) > MAX_CALIBRATION_BYTES:
            raise ValueError(f"larger than {MAX_CALIBRATION_BYTES:,} bytes")
    return bytes(content)


def _sar_convert(profile: Profile, radiometry: S1Radiometry | None) -> tuple[Convert, str]:
    if profile.kind == "sentinel-1-rtc":
        def rtc(a: NDArray[np.float32], _: Window) -> NDArray[np.float32]:
            return np.where(a > 0, a, np.nan).astype(np.float32)
        return rtc, "RTC gamma0 linear power as delivered; values <= 0 as no data"
    if radiometry is not None:
        return radiometry.convert, radiometry.describe()

    def raw(a: NDArray[np.float32], _: Window) -> NDArray[np.float32]:
        return np.where(a > 0, a * a, np.nan).astype(np.float32)

    return raw, "uncalibrated intensity DN^2 (no calibration LUT readable); DN 0 as no data"


def _linear(scale: float, offset: float) -> Convert:
    def convert(a: NDArray[np.float32], _: Window) -> NDArray[np.float32]:
        return (a * np.float32(scale) + np.float32(offset)).astype(np.float32)

    return convert


def fetch_scenes(
    ws: Workspace,
    store: Store,
    site: Site,
    catalog: Catalog,
    options: FetchOptions,
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> FetchReport:
    """Fetch every item of ``options.collection`` over ``site`` in the period into the workspace.

    ``options.max_cloud`` is a percentage of the site's valid pixels (not the scene's); ``options.force``
    refetches items already archived (:class:`FetchOptions` says what each option does).
    """
    refused: list[tuple[str, str]] = []  # items that are no scene sitewatch reads: failed, not fetched
    cached: list[float] = []
    candidates = find_scenes(ws, store, site, catalog, options, refused=refused, cached=cached)
    report = fetch_candidates(ws, store, site, catalog, options, candidates, refused, progress=progress)
    return replace(report, search_cached=cached[0]) if cached else report


def fetch_candidates(
    ws: Workspace,
    store: Store,
    site: Site,
    catalog: Catalog,
    options: FetchOptions,
    candidates: list[Candidate],
    refused: list[tuple[str, str]],
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> FetchReport:
    """Fetch one site's ``candidates`` (found by :func:`find_scenes`) and record the run; ``refused`` items are
    reported as failed. Many sites: :func:`fetch_candidates_of_sites`."""
    reports = fetch_candidates_of_sites(ws, store, [site], catalog, options, {site.id: candidates},
                                        {site.id: refused}, progress=progress)  # fmt: skip
    return reports[site.id]


def fetch_candidates_of_sites(
    ws: Workspace,
    store: Store,
    sites: Sequence[Site],
    catalog: Catalog,
    options: FetchOptions,
    candidates: Mapping[str, list[Candidate]],
    refused: Mapping[str, list[tuple[str, str]]],
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, FetchReport]:
    """Fetch each site's ``candidates`` (site id → its candidates, as :func:`find_scenes` gives them, or for many
    sites one query of :mod:`sitewatch.fetch_many`) and record each site's run; ``refused`` items are reported
    as failed. Returns each site's report, the same as fetching it alone.

    An item over several sites is read once for all of them, item by item: each asset is opened (its header
    and overviews read) once, and each site's window read from it, not opened again for each site."""
    runs = [_SiteRun(ws, store, site, candidates[site.id], refused[site.id]) for site in sites]
    creds = catalog_credentials(catalog, options.env)
    if any(c for run in runs for c in run.candidates if options.force or not c.fetched):
        require_asset_credentials(catalog, creds)
    reader = _Reader.of(catalog, options, creds)
    stats_table = _load_stats(ws)
    # Each site's items in its own order (time, then id), merged: an item over several sites comes once.
    by_item: dict[str, list[tuple[_SiteRun, Candidate]]] = {}
    for run in runs:
        for cand in run.candidates:
            by_item.setdefault(cand.scene.id, []).append((run, cand))
    order = sorted(by_item, key=lambda k: (by_item[k][0][1].scene.acquired, by_item[k][0][1].scene.item_id, k))
    last = {id(run): k for k in order for run, _ in by_item[k]}  # the item after which a site's run is done
    total = sum(len(run.candidates) for run in runs)
    done = 0
    for run in runs:
        if id(run) not in last:
            run.finish(catalog, options)
    for k in order:
        with reader.holding():
            for run, cand in by_item[k]:
                try:
                    run.step(catalog, options, cand, reader, stats_table)
                finally:
                    _save_stats(ws, stats_table)
                    done += 1
                    if progress:
                        progress(done, total, cand.scene.item_id if len(runs) == 1 else f"{run.site.id}/{cand.scene.item_id}")
                if last[id(run)] == k:
                    run.finish(catalog, options)
    return {run.site.id: run.report() for run in runs}


class _SiteRun:
    """One site's fetch: its candidates (one an acquisition), what became of each, its run recorded at the end."""

    def __init__(self, ws: Workspace, store: Store, site: Site, candidates: list[Candidate],
                 refused: list[tuple[str, str]]) -> None:  # fmt: skip
        self.ws, self.store, self.site = ws, store, site
        self.candidates, duplicates = _one_per_acquisition(candidates, site)
        remove_partials(ws, site.id)  # COGs a killed run left half-written (as ingest does)
        # And COGs a run killed between their rename and their row left whole, which no row names (as ingest does).
        self.unrecorded = [p.relative_to(ws.root).as_posix() for p in remove_unrecorded(ws, store, site.id)]
        self.archived = store.observations(site.id)
        self.done: list[Observation] = []
        self.skipped: list[tuple[str, str]] = list(duplicates)
        self.failed: list[tuple[str, str]] = list(refused)
        self.replaced: list[tuple[str, str]] = []

    def step(self, catalog: Catalog, options: FetchOptions, cand: Candidate, reader: _Reader,
             stats_table: dict[str, Any]) -> None:  # fmt: skip
        """Fetch one candidate, or say why not (skipped, failed)."""
        site, scene = self.site, cand.scene
        try:
            if cand.fetched and not options.force and not cand.changed:
                self.skipped.append((scene.item_id, "already fetched"))
                return
            if twin := _archived_twin(self.archived, site, scene):
                here = (twin.provenance.get("catalog_url") == catalog.shown_url
                        and twin.provenance.get("collection") == scene.collection)  # fmt: skip
                where = ("from this catalogue and collection, under another id: another tile of this pass, or a "
                         "version the provider has since reprocessed under a new id" if here
                         else "another catalogue or collection")  # fmt: skip
                # The same catalogue's newer version: taken in its stead once the one archived is removed.
                instead = (f"; to take this one instead, `sitewatch observations remove {shlex.quote(twin.id)}` and fetch "
                           "again" if here else "")  # fmt: skip
                self.skipped.append((scene.item_id, f"same acquisition as {twin.id}, already archived ({where}): "
                                                    f"one observation per moment{instead}"))  # fmt: skip
                return
            known = cand.stats
            if known is not None and (reason := _rejection(known, options.max_cloud)):
                self.skipped.append((scene.item_id, reason + " (cached)"))
                return
            held = next((o for o in self.archived if o.id == f"{site.id}/{scene.item_id}"), None)
            outcome = _fetch_one(self.ws, self.store, site, catalog, cand, reader, options, stats_table)
            if isinstance(outcome, Observation):
                self.done.append(outcome)
                if cand.changed and held is not None:
                    image = ("its image changed: its detections were dropped, the next `sitewatch detect` finds them "
                             "again" if held.sha256 != outcome.sha256 else "its image is the same: its detections stay")
                    self.replaced.append((scene.item_id, f"the catalogue's item changed since it was fetched "
                                                         f"({cand.changed}); fetched again, {image}"))  # fmt: skip
            elif cand.changed:
                self.skipped.append((scene.item_id, f"the catalogue's item changed since it was fetched ({cand.changed}), "
                                                    f"and the new version is not kept: {outcome}; the observation "
                                                    "fetched before stays"))  # fmt: skip
            else:
                self.skipped.append((scene.item_id, outcome))
        except (CredentialError, ImageReadError, SourceError, InputError) as exc:
            self.failed.append((scene.item_id, str(exc)))
            log.warning("%s failed: %s", scene.item_id, exc)

    def finish(self, catalog: Catalog, options: FetchOptions) -> None:
        """Record the site's run."""
        self.store.record_run(
            "fetch",
            self.site.id,
            {"catalog": catalog.shown_url, "collection": resolve_collection(catalog, options.collection),
             "from": options.start.isoformat(), "to": options.end.isoformat(), "max_cloud": options.max_cloud},
            {"observations": len(self.done), "skipped": len(self.skipped), "failed": len(self.failed),
             **({"replaced": len(self.replaced)} if self.replaced else {})},
        )  # fmt: skip

    def report(self) -> FetchReport:
        """What the site's fetch did."""
        return FetchReport(tuple(self.done), tuple(self.skipped), tuple(self.failed), tuple(self.replaced),
                           unrecorded_removed=tuple(self.unrecorded))


def measure_site_stats(
    ws: Workspace,
    site: Site,
    catalog: Catalog,
    candidates: list[Candidate],
    options: FetchOptions,
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """Learn cloud and valid % over the site of optical candidates not yet measured.

    Only the class band's window is read (SCL at 20 m is a few kB per site);
    figures are cached like a fetch's. Returns the candidates with their stats
    and (item id, reason) for the ones that could not be measured. Of ``options``, the signer, retries,
    backoff and credentials' ``env`` count. Many sites: :func:`measure_stats_of_sites`.
    """
    measured = measure_stats_of_sites(ws, [site], catalog, {site.id: candidates}, options, progress=progress)
    return measured[site.id]


def measure_stats_of_sites(
    ws: Workspace,
    sites: Sequence[Site],
    catalog: Catalog,
    candidates: Mapping[str, list[Candidate]],
    options: FetchOptions,
    *,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, tuple[list[Candidate], list[tuple[str, str]]]]:
    """:func:`measure_site_stats` of each site's ``candidates`` (site id → its candidates): site id → its
    candidates with their stats, and (item id, reason) for those that could not be measured, as for it alone.

    Item by item, as :func:`fetch_candidates_of_sites` reads: an item over several sites has its class band
    opened once, and each site's window read from that one open, not opened again for each site."""
    reader = _Reader.of(catalog, options)
    table = _load_stats(ws)
    stats_of: dict[tuple[str, int], SiteStats] = {}
    problem_of: dict[tuple[str, int], str] = {}
    by_item: dict[str, list[tuple[Site, int, Candidate]]] = {}  # in the order first met, as each site lists them
    for site in sites:
        for i, cand in enumerate(candidates[site.id]):
            if cand.stats is None and cand.scene.sensor == "optical":
                by_item.setdefault(cand.scene.id, []).append((site, i, cand))
    total = sum(len(todo) for todo in by_item.values())
    done = 0
    try:
        for todo in by_item.values():
            with reader.holding():
                for site, i, cand in todo:
                    try:
                        stats_of[site.id, i] = _measure_over(reader, site, cand.scene, cand.item)
                        table[_stats_key(site, cand.scene)] = asdict(stats_of[site.id, i])
                    except (CredentialError, ImageReadError, SourceError, InputError, KeyError) as exc:
                        problem_of[site.id, i] = str(exc)
                    done += 1
                    if progress:
                        progress(done, total, cand.scene.item_id if len(sites) == 1 else f"{site.id}/{cand.scene.item_id}")
    finally:
        _save_stats(ws, table)
    out: dict[str, tuple[list[Candidate], list[tuple[str, str]]]] = {}
    for site in sites:
        cands = candidates[site.id]
        out[site.id] = (
            [replace(c, stats=stats_of[site.id, i]) if (site.id, i) in stats_of else c for i, c in enumerate(cands)],
            [(c.scene.item_id, problem_of[site.id, i]) for i, c in enumerate(cands) if (site.id, i) in problem_of],
        )
    return out


def _measure_over(reader: _Reader, site: Site, scene: SceneRef, item: Mapping[str, Any]) -> SiteStats:
    """Cloud and valid fractions of ``scene`` over ``site``'s polygon (its margin is not read for it)."""
    profile = profile_for(scene.collection, item.get("properties") or {})
    grid = site_grid(site, profile.resolution_m, context_m=0)
    inside = site_mask(site, grid)
    if not inside.any():
        raise too_small_for(site, grid)
    stats, _, _ = _measure(reader, profile, scene, grid, inside)
    return stats


def _measure(
    reader: _Reader, profile: Profile, scene: SceneRef, grid: Grid, inside: NDArray[np.bool_]
) -> tuple[SiteStats, NDArray[np.float32], str]:
    mb = profile.mask_band
    if mb not in scene.hrefs:
        raise SourceError(f"item {scene.item_id}: no {mb} asset to judge clouds by")
    values, placement = reader.read(scene.hrefs[mb], grid, resampling=Resampling.nearest)
    return site_stats(mb, values, inside), values, placement


def _one_per_acquisition(candidates: list[Candidate], site: Site) -> tuple[list[Candidate], list[tuple[str, str]]]:
    """Keep one item per acquisition: a site near a tile edge sits in two MGRS tiles (or UTM zones)
    of the same Sentinel-2 datatake, and two observations of one moment would count it twice.
    The one covering more of the site wins; on a tie, the one in the site's own UTM zone."""
    zone = site.utm_epsg()
    ranked = sorted(
        candidates,
        key=lambda c: (-c.coverage, c.fetched is False,
                       c.scene.properties.get("proj:epsg") != zone, c.scene.item_id),
    )  # fmt: skip
    kept: list[Candidate] = []
    dropped: list[tuple[str, str]] = []
    for c in ranked:
        twin = next(
            (k for k in kept if k.scene.platform == c.scene.platform and k.scene.collection == c.scene.collection
             and abs((k.scene.acquired - c.scene.acquired).total_seconds()) < 2.0),
            None,
        )  # fmt: skip
        if twin is None:
            kept.append(c)
        else:
            dropped.append((c.scene.item_id, f"same acquisition as {twin.scene.item_id}, which covers more of the site"))
    kept.sort(key=lambda c: (c.scene.acquired, c.scene.item_id))
    return kept, dropped


def _archived_twin(held: list[Observation], site: Site, scene: SceneRef) -> Observation | None:
    """Another observation of the site that holds the same acquisition as ``scene``.

    The same Sentinel-2 pass has other item ids on Earth Search and Planetary Computer (and a
    Sentinel-1 pass is both RTC and GRD): fetched from both, it would count twice.
    """
    own = f"{site.id}/{scene.item_id}"
    platform = scene.platform.lower()
    for obs in held:
        if (obs.id != own and platform and obs.scene.platform.lower() == platform and obs.scene.sensor == scene.sensor
                and abs((obs.scene.acquired - scene.acquired).total_seconds()) < 2.0):  # fmt: skip
            return obs
    return None


def _rejection(stats: SiteStats, max_cloud: float) -> str:
    if stats.valid_fraction <= 0:
        return "no valid pixel over the site"
    if stats.cloud_fraction is not None and stats.cloud_fraction * 100 > max_cloud:
        return f"cloud {stats.cloud_fraction * 100:.1f}% over the site > --max-cloud {max_cloud:g}"
    return ""


def _fetch_one(
    ws: Workspace,
    store: Store,
    site: Site,
    catalog: Catalog,
    cand: Candidate,
    reader: _Reader,
    options: FetchOptions,
    stats_table: dict[str, Any],
) -> Observation | str:
    scene, item = cand.scene, cand.item
    profile = profile_for(scene.collection, item.get("properties") or {})
    assets = item.get("assets") or {}
    props = item.get("properties") or {}
    grid = site_grid(site, profile.resolution_m, context_m=options.context_m)
    inside = site_mask(site, grid)
    if not inside.any():
        raise too_small_for(site, grid)  # not "no valid pixel": the item covers it, at pixels larger than the site
    asset_of = {
        band: next(k for k in keys if k in assets)
        for band, keys in profile.bands.items()
        if any(k in assets for k in keys)
    }
    missing = [b for b in profile.bands if b not in asset_of and b not in profile.optional]
    if missing or not asset_of:  # a SAR item's polarisations are each optional, but not all of them
        raise SourceError(f"item {scene.item_id}: no asset for band(s) {missing or list(profile.bands)}; "
                          f"assets: {sorted(assets)}")  # fmt: skip
    bands: dict[str, NDArray[np.float32]] = {}
    notes: dict[str, str] = {}
    placement = ""
    stats: SiteStats | None = None
    if profile.mask_band:
        mb = profile.mask_band
        stats, bands[mb], placement = _measure(reader, profile, scene, grid, inside)
        stats_table[_stats_key(site, scene)] = asdict(stats)
        notes[mb] = "class codes kept as they are; " + stats.rule
        if reason := _rejection(stats, options.max_cloud):
            return reason
    failures: list[str] = []
    for band in profile.bands:
        if band in bands or band not in asset_of:
            continue
        if profile.sensor == "sar":
            radiometry = _grd_radiometry(reader, scene, band, options.thermal_noise) if profile.kind == "sentinel-1-grd" else None
            convert, note = _sar_convert(profile, radiometry)
        else:
            scale, offset, note = asset_scaling(profile, band, props, assets[asset_of[band]])
            convert = _linear(scale, offset)
        try:
            bands[band], placement = reader.read(
                scene.hrefs[band], grid, convert=convert, gcp_method=options.gcp_method,
                resampling=band_resampling(band, profile.sensor), sentinel1_gcps=profile.kind == "sentinel-1-grd",
            )  # fmt: skip
        except (ImageReadError, CredentialError) as exc:
            if band in profile.optional and profile.sensor == "sar":
                failures.append(f"{band}: {exc}")  # the other polarisation may still make an observation
                continue
            raise
        notes[band] = note
    if failures and not any(b in bands for b in ("VV", "VH", "HH", "HV")):
        raise ImageReadError(f"item {scene.item_id}: no polarisation could be read: {'; '.join(failures)}")
    order = [b for b in profile.bands if b in bands]
    if "QA" in bands:
        # Landsat's QA_PIXEL bits go into the archive as SCL classes, as ingest archives a Landsat product's:
        # the detectors read SCL by name, so a fetched scene was masked by the spectral test alone and its
        # QA cloud figure (100 % over the site, say) overwritten by that test's, a usable "no vessel" date.
        qa = bands.pop("QA")
        bands["SCL"] = np.where(np.isfinite(qa), qa_pixel_to_scl(np.nan_to_num(qa, nan=1.0)), np.nan).astype(np.float32)
        notes["SCL"] = f"{QA_PIXEL_CLOUD_RULE} (the figure over the site: {notes.pop('QA')})"
        hrefs = {("SCL" if b == "QA" else b): h for b, h in scene.hrefs.items()}
        order = ["SCL" if b == "QA" else b for b in order]
    else:
        hrefs = dict(scene.hrefs)
    data = np.stack([bands[b] for b in order])
    if stats is None:
        valid = valid_pixels(data, inside)
        stats = SiteStats(round(float(valid.sum()) / max(int(inside.sum()), 1), 6), None, "")
        stats_table[_stats_key(site, scene)] = asdict(stats)
        if stats.valid_fraction <= 0:
            return "no valid pixel over the site"
    orbit = {k.split(":")[1]: props[k] for k in ("sat:orbit_state", "sat:relative_orbit", "sat:absolute_orbit") if k in props}
    provenance = {
        "source": "stac",
        "catalog": catalog.name,
        "catalog_url": catalog.shown_url,
        "collection": scene.collection,
        "item_id": scene.item_id,
        "asset_hrefs": {b: redact(hrefs[b]) for b in order},
        "platform": scene.platform,
        "orbit": orbit,
        "retrieved_at": now_utc(),
        "conversions": notes,
        "placement": placement,
        "site_valid_fraction": stats.valid_fraction,
        "site_cloud_fraction": stats.cloud_fraction,
        "cloud_rule": stats.rule,
        "partial_failures": failures,
        **({"item_changed": cand.changed} if cand.changed else {}),
        "stac_item": dict(item),
    }
    # Outside the workspace: a run killed here (SIGKILL) leaves no stray folder beside sitewatch.gpkg.
    with tempfile.TemporaryDirectory(prefix="sitewatch-item-") as tmp:
        item_path = Path(tmp) / "item.json"
        item_path.write_text(json.dumps(item, indent=1), encoding="utf-8")
        obs = write_observation(
            ws, store, site, scene, data, grid, order, provenance,
            cloud_fraction=stats.cloud_fraction, sidecars={"stac": item_path}, compress=options.compress,
        )  # fmt: skip
    return obs if obs is not None else "no valid pixel over the site"
