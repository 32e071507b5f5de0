"""The detection stage: run the right detector on each observation of a site and store the result.

The image math lives in :mod:`sitewatch.detect`; this module reads the
archived COG, builds the masks (site polygon, the site's water polygon when
it has one: :mod:`sitewatch.detection_masks`), converts pixel detections to WGS84
footprints, assigns berths and class candidates (none for a vessel the detector found
``truncated``: cut by the window's edge or by missing data, its size a lower bound), and replaces the
observation's detections in one transaction (so a rerun gives the same rows).
Optical observations are read and detected tile by tile, as detect-image reads
an optical file (:mod:`sitewatch.detection_optical`); SAR observations in one pass,
or tile by tile above 64 M pixels, as detect-image reads a SAR file
(:mod:`sitewatch.detection_sar`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shapely.geometry import Polygon

from .config import OPTICAL_MODES
from .detect.base import PixelDetection
from .detection_masks import BERTH_DISTANCE_M
from .detection_optical import OPTICAL_TILE_PX, detect_optical_observation
from .detection_sar import detect_sar_observation
from .detection_state import _FINGERPRINT_COLUMNS
from .errors import ConfigError, ImageReadError, InputError
from .geo import ground_pixel_size, heading_from_north, reproject_geometry, unwrap_longitudes
from .ingest.grid import SMALL_SITE_M
from .ingest.identity import sha256_file
from .model import Detection, Observation, Site
from .run import map_jobs
from .store import Store, now_utc
from .workspace import ARCHIVE_DIR, Workspace

if TYPE_CHECKING:
    from .detection_state import FileStat

__all__ = ["DetectJob", "DetectResult", "check_length_limits", "detect_observation", "detect_site", "to_detections"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectJob:
    """Everything one worker needs to detect in one observation (picklable)."""

    site: Site
    observation: Observation
    path: str
    params: dict[str, Any]


@dataclass(frozen=True)
class DetectResult:
    """What detecting one observation gave: its detections and cloud fraction (None: SAR, or not
    measured), or, when it failed, no detections and ``error`` saying why (empty on success)."""
    observation: Observation
    detections: tuple[Detection, ...]
    cloud_fraction: float | None
    error: str = ""
    berths_hidden: dict[str, float] = field(default_factory=dict)
    """Berth id -> fraction of its zone without data or (optical) under cloud."""


def to_detections(
    found: Sequence[PixelDetection], site: Site, obs: Observation, detector: str, version: str
) -> list[Detection]:
    """Pixel detections of an observation → stored Detections (WGS84 footprints, berths, classes)."""
    from .vessels import class_candidates

    t = obs.grid.affine
    berths = [(b.id, reproject_geometry(b.geometry, "EPSG:4326", obs.grid.crs)) for b in site.berths]
    # A box across the antimeridian stays beside its site, not on both edges of the map.
    site_lon = site.require_geometry().centroid.x
    out = []
    # Sort so ids are stable whatever order a detector returns its objects in.
    found = sorted(found, key=lambda d: (round(d.row, 3), round(d.col, 3), d.kind))
    # The grid's north is the UTM zone's, degrees off true north away from its central meridian.
    headings = heading_from_north(
        [d.heading_deg for d in found], [d.row for d in found], [d.col for d in found], t, obs.grid.crs,
        ground_pixel_size(obs.grid.crs, t, obs.grid.width, obs.grid.height),
    )
    for i, (d, heading) in enumerate(zip(found, headings, strict=True)):
        # Detector pixel coordinates put pixel centres on integers; the affine maps pixel corners.
        local = Polygon([t @ (c + 0.5, r + 0.5) for c, r in d.corners])
        berth_id = None
        if berths and d.kind == "vessel":
            dist, bid = min((local.distance(g), bid) for bid, g in berths)
            berth_id = bid if dist <= BERTH_DISTANCE_M else None
        # A truncated hull's size is a lower bound: a class by size would be a guess (as detect-image).
        whole = d.kind == "vessel" and not d.truncated
        cands = class_candidates(d.length_m, d.width_m, obs.scene.resolution_m) if whole else ()
        out.append(
            Detection(
                id=f"{obs.id}#{i:03d}",
                observation_id=obs.id,
                kind=d.kind,
                footprint=unwrap_longitudes(reproject_geometry(local, obs.grid.crs, "EPSG:4326"), site_lon),
                length_m=round(d.length_m, 2),
                width_m=round(d.width_m, 2),
                heading_deg=round(heading, 1) % 180.0,
                score=round(d.score, 4),
                detector=detector,
                detector_version=version,
                row=round(d.row, 2),
                col=round(d.col, 2),
                berth_id=berth_id,
                class_candidates=tuple(cands),
                truncated=d.truncated,
            )
        )
    return out


def detect_observation(
    job: DetectJob,
    *,
    tile: int = OPTICAL_TILE_PX,
    sar_tile: int | None = None,
    sar_tile_above: int | None = None,
) -> DetectResult:
    """Detect objects in one archived observation. Pure apart from reading the COG.

    ``tile`` is the core of an optical observation's tiles in pixels
    (:func:`~sitewatch.detection_optical.detect_optical_observation`); a SAR observation of
    more than ``sar_tile_above`` pixels (None: detect-image's 64 M) is detected in tiles of ``sar_tile``
    (None: chosen from the pixel size, :func:`~sitewatch.detect.tiling.tile_core`;
    :func:`~sitewatch.detection_sar.detect_sar_observation`).
    """
    obs, site = job.observation, job.site
    limits = {k: v for k, v in job.params.items() if k in ("min_length_m", "max_length_m") and v is not None}
    cloud_fraction: float | None = None
    try:
        if sha256_file(Path(job.path)) != obs.sha256:
            raise ImageReadError(
                f"{job.path}: archived observation {obs.id} changed since it was ingested "
                "(sha256 differs); ingest its source again"
            )
        if obs.scene.sensor == "sar":
            from .detect import sar

            try:
                found, hidden = detect_sar_observation(
                    site, obs, job.path, limits=limits, tile=sar_tile, tile_above=sar_tile_above
                )
            except InputError as exc:  # e.g. pixels too fine for any tile to hold the detector's context
                return DetectResult(obs, (), None, error=f"{obs.id}: {exc}")
            detector, version = sar.DETECTOR, sar.VERSION
        else:
            from .detect import optical

            mode = job.params.get("optical_mode") or "auto"
            try:
                found, cloud_fraction, hidden = detect_optical_observation(
                    site, obs, job.path, limits=limits, mode=mode, tile=tile
                )
            except InputError as exc:  # e.g. an observation without the bands the detector needs
                return DetectResult(obs, (), None, error=f"{obs.id}: {exc}")
            detector, version = optical.DETECTOR, optical.VERSION
    except FileNotFoundError:
        return DetectResult(obs, (), None, error=f"{obs.id}: its archived image {job.path} is missing; ingest its source again")
    except (ImageReadError, OSError) as exc:
        return DetectResult(obs, (), None, error=str(exc) if obs.id in str(exc) else f"{obs.id}: {exc}")
    dets = to_detections(found, site, obs, detector, version)
    return DetectResult(obs, tuple(dets), cloud_fraction, berths_hidden=hidden)


def check_length_limits(
    min_length_m: float | None, max_length_m: float | None, sensors: Sequence[str] = ("sar", "optical")
) -> None:
    """Refuse vessel length limits that a detector to be run cannot use, naming the settings.

    One limit may be set alone, so it must also fit the other end of the detector's
    own range (a minimum of 480 m leaves the SAR detector, whose longest vessel is
    500 m, a range but the optical one, whose longest is 450 m, none).
    """
    from .detect import optical, sar

    limits = {k: v for k, v in (("min_length_m", min_length_m), ("max_length_m", max_length_m)) if v is not None}
    detectors: dict[str, tuple[str, Any]] = {
        "sar": ("SAR", sar.SarParams()),
        "optical": ("optical", optical.OpticalParams()),
    }
    for name, params in (detectors[s] for s in dict.fromkeys(sensors) if s in detectors):
        try:
            replace(params, **limits)
        except InputError as exc:
            lo = min_length_m if min_length_m is not None else params.min_length_m
            hi = max_length_m if max_length_m is not None else params.max_length_m
            raise ConfigError(
                f"vessel length limits {lo:g}–{hi:g} m leave the {name} detector no range: "
                "min_vessel_length_m (SITEWATCH_MIN_VESSEL_LENGTH_M) must be below "
                "max_vessel_length_m (SITEWATCH_MAX_VESSEL_LENGTH_M); "
                f"the {name} detector's own are {params.min_length_m:g} and {params.max_length_m:g}"
            ) from exc


def small_site_note(site: Site, without_margin: int = 1) -> str:
    """What to say of a site too small for the detectors whose ``without_margin`` observations were archived
    without a margin around it ('' for any other site, or when none was): their grid is the site's box, so the
    detectors see no water around it, and a vessel that fills much of it is missed or measured short.

    Measured (``benchmarks/site_sizes.py``'s small sites, a 110 × 16 m hull drawn at 10 m): in a 300 × 30 m pier
    the SAR detector found a 28 m vessel (classed a tug), in a 40 × 25 m berth nothing; in a 500 m box, hulls of
    110, 200 and 250 m came out 110-116, 198-212 and 239-265 m (three seeds, two headings). The SAR clutter is
    taken from the site's own pixels, and a hull that is a large share of them raises it. Such a site is now
    archived with a margin (the ``context_m`` setting, :func:`~sitewatch.ingest.grid.context_for`); this is said
    of observations archived before that, or with ``context_m`` 0.
    """
    from .geo import utm_crs_for

    geom = site.require_geometry()
    minx, miny, maxx, maxy = reproject_geometry(geom, "EPSG:4326", utm_crs_for(geom.centroid.x, geom.centroid.y)).bounds
    w, h = maxx - minx, maxy - miny
    if min(w, h) >= SMALL_SITE_M or without_margin <= 0:
        return ""
    return (
        f"{site.id} is {w:,.0f} × {h:,.0f} m, smaller than the detectors need ({SMALL_SITE_M:.0f} m a side), and "
        f"{without_margin} of its observations were archived without a margin of image around it: in those the "
        "detectors see only the site, so a vessel filling much of it may be missed or measured short (a 110 m hull in "
        "a 300 × 30 m pier came out 28 m at 10 m pixels). Ingest their images again (with the context_m setting above "
        "0, as by default) to archive them with a margin, or draw the site around the basin the berth opens on, at "
        f"least {SMALL_SITE_M:.0f} m a side, and give the berth as a berth of it (`sites import`, role berth)"
    )


ALONGSIDE_UNSEEN_M = 3.0
"""At this pixel size and finer the optical detector does not find a hull moored alongside a quay or pier on real
imagery (its pixel score stays low, or the hull joins the quay face: README, "Detect vessels in optical imagery";
BENCHMARKS.md, "Hulls alongside a quay or pier"), unless the site's water polygon is taken as known water."""


def alongside_note(site: Site, fine: int, optical_mode: str) -> str:
    """What to say of a site whose ``fine`` real optical observations are of :data:`ALONGSIDE_UNSEEN_M` or finer
    when they are searched by the learned detector ('' when the water polygon is taken as known water).

    An investigator's own site drawn around a harbour, with PlanetScope scenes of a landing ship at its pier,
    read "no vessel seen" in the timeline and report, with nothing to say that such a ship is not found.
    """
    if optical_mode == "water" and site.water is not None:
        return ""
    how = ("detect with `--optical-mode water` (the `optical_mode` setting), which takes its water polygon as known water"
           if site.water is not None else
           "give the site a water polygon with berth lines (`sitewatch sites import`, features of role water and berth) "
           "and detect with `--optical-mode water`")  # fmt: skip
    return (
        f"{site.id}: in its {fine} optical observation(s) of {ALONGSIDE_UNSEEN_M:g} m or finer, a ship moored alongside "
        "a quay or pier is not found by the optical detector (its hull joins the quay face), so a berth without a "
        f"vessel there is no evidence of an empty berth; to find them, {how}"
    )


_ROW_COLUMNS = (*_FINGERPRINT_COLUMNS, "scene_id")
"""What :func:`detect_site` reads of each observation of a site (its scene's own columns: only the fingerprint's)."""


@contextmanager
def _store_of(ws: Workspace, store: Store | None) -> Iterator[Store]:
    """``store`` as it is (its opener closes it), or the workspace's store opened for the block and closed after."""
    if store is not None:
        yield store
        return
    with ws.store() as opened:
        yield opened


def detect_site(
    ws: Workspace,
    site_id: str,
    *,
    workers: int = 0,
    scheduler: str = "",
    wait_workers: float | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    min_length_m: float | None = None,
    max_length_m: float | None = None,
    optical_mode: str = "auto",
    force: bool = False,
    store: Store | None = None,
) -> dict[str, Any]:
    """Detect in every observation of a site; replace each observation's detections atomically.

    ``store``: the workspace's store, open, to read and write through (left open); default: opened here and
    closed after. A command detecting at many sites opens it once for all of them: on a PostGIS team store each
    opening is a connection, a dozen catalogue statements and PostGIS loaded again in the server's session.

    ``min_length_m``/``max_length_m`` override the detectors' own vessel length limits;
    ``optical_mode`` is one of :data:`OPTICAL_MODES` (:func:`~sitewatch.detection_optical.optical_water`).
    An observation whose detections were made by the last complete run from the same
    inputs (COG, observation row, site, limits, optical mode, sitewatch code: see
    :mod:`sitewatch.detection_state`) keeps them unless ``force``; its archived file is
    still checked against its sha256, read again only when its size or times have changed since
    the last run found it right. The summary counts kept and new detections alike, by kind,
    and (``truncated``) those of each kind cut by the image's edge or by missing data.
    """
    from .detection_state import (
        detect_key,
        file_stat,
        load_states,
        observation_fingerprint,
        row_digest,
        save_state,
    )

    started = now_utc()
    with _store_of(ws, store) as store:
        site = store.get_site(site_id)
        # The rows, not yet observations: only those not detected in as they stand are built (below), from their whole
        # rows read then; the site's history is read without its scenes' properties, links and footprints (years of
        # daily images: megabytes a site, which a PostGIS server sent whole each day).
        rows = store._observations_where(site_id=site_id, columns=_ROW_COLUMNS)
        for r in rows:
            if r["scene_provider"] is None:
                store._observation_from_row(r)  # the StoreError naming it, as reading them all gave
        ids = [r["observation_id"] for r in rows]
        sensor_of = {r["observation_id"]: r["scene_sensor"] for r in rows}
        check_length_limits(min_length_m, max_length_m, list(sensor_of.values()))
        if optical_mode not in OPTICAL_MODES:
            raise ConfigError(f"optical_mode must be one of {', '.join(OPTICAL_MODES)}, got {optical_mode!r}")
        if optical_mode == "water" and site.water is None and "optical" in sensor_of.values():
            log.warning(
                "%s has no water polygon, so optical_mode 'water' cannot be used: its optical observations are "
                "searched by the learned detector alone (as 'image'); `sitewatch sites import` can give it one",
                site_id,
            )
        bare = sum(1 for r in rows if not _has_margin(r["provenance"]))
        if bare and (note := small_site_note(site, bare)):
            log.warning("%s", note)
        fine = sum(1 for r in rows if r["scene_sensor"] == "optical" and not r["scene_simulated"]
                   and 0 < (r["scene_resolution_m"] or 0) <= ALONGSIDE_UNSEEN_M)  # fmt: skip
        if fine and (note := alongside_note(site, fine, optical_mode)):
            log.warning("%s", note)
        limits: dict[str, Any] = {"min_length_m": min_length_m, "max_length_m": max_length_m, "optical_mode": optical_mode}
        # One key per sensor: the optical mode changes nothing in SAR observations, so a
        # new mode detects again in the optical ones alone.
        no_mode = {k: v for k, v in limits.items() if k != "optical_mode"}
        keys = {s: detect_key(site, limits if s == "optical" else no_mode) for s in sorted(set(sensor_of.values()))}
        previous: dict[str, str] = {}
        verified: dict[str, FileStat] = {}
        known_rows: dict[str, str] = {}
        for sensor, key in keys.items():
            detected, checked, digested = load_states(store, site_id, key, sensor)
            previous |= detected
            verified |= checked
            known_rows |= digested
        if force:
            previous, verified, known_rows = {}, {}, {}
        undetected = store.undetected(site_id)
        digests = {r["observation_id"]: row_digest(r) for r in rows}
        built: dict[str, Observation] = {}
        prints: dict[str, str] = {}

        gone: set[str] = set()

        def build(oids: set[str]) -> None:
            asked = oids - set(built)
            for full in store._observations_where(site_id=site_id, ids=asked):
                built[full["observation_id"]] = store._observation_from_row(full)  # (a StoreError: no scene stored)
            # Read apart from the rows above: an observation another process removed meanwhile (a member's `sites
            # remove`, a re-ingest under another id) is gone, not a KeyError; it is not detected in.
            if missing := asked - set(built):
                log.info("%s: %d observation(s) removed by another command meanwhile, not detected in", site_id, len(missing))
                gone.update(missing)

        unchanged = {r["observation_id"] for r in rows if r["observation_id"] in previous
                     and known_rows.get(r["observation_id"]) == digests[r["observation_id"]] and r["scene_provider"] is not None}  # fmt: skip
        build({r["observation_id"] for r in rows} - unchanged)
        rows = [r for r in rows if r["observation_id"] not in gone]
        ids = [oid for oid in ids if oid not in gone]
        for r in rows:
            oid = r["observation_id"]
            if oid in unchanged:
                prints[oid] = previous[oid]  # the row its fingerprint was made from, unchanged
            else:
                prints[oid] = observation_fingerprint(built[oid])
        # Absolute: a Dask worker started in another folder must find the same files.
        root = Path(ws.root).resolve()
        paths = {r["observation_id"]: str(root / r["path"]) for r in rows}
        if rows and not any(Path(p).parent.is_dir() for p in paths.values()):
            # Not images gone one by one but no folder of them at all (a team's shared archive not
            # mounted at this workspace, a disk unplugged): going on would drop every detection of the site.
            raise ConfigError(
                f"{site_id}: none of its {len(rows)} archived images is in {root / ARCHIVE_DIR}, "
                f"not even their folder (e.g. {Path(rows[0]['path']).parent}): is the archive (on a team store, "
                "the shared folder) there at this workspace? Nothing was changed; its detections are kept"
            )
        # Taken before the file is hashed (here or by the job): a file written after that has other times.
        stats: dict[str, FileStat | None] = {oid: file_stat(paths[oid]) for oid in ids}
        sha256 = {r["observation_id"]: r["sha256"] for r in rows}
        kept = {
            oid for oid in ids
            if oid not in undetected and previous.get(oid) == prints[oid]
            and _file_unchanged(paths[oid], sha256[oid], stats[oid], verified.get(oid))
        }  # fmt: skip
        if kept:
            log.info("%s: %d observation(s) unchanged since the last detect, kept", site_id, len(kept))
        build(set(ids) - kept)
        ids = [oid for oid in ids if oid not in gone]
        jobs = [DetectJob(site, built[r["observation_id"]], paths[r["observation_id"]], limits)
                for r in rows if r["observation_id"] not in kept and r["observation_id"] not in gone]  # fmt: skip
        kinds: dict[str, list[tuple[str, bool]]] = {oid: [] for oid in kept}
        for oid, kind, truncated in store.execute(
            "SELECT observation_id, kind, truncated FROM detections WHERE site_id = ? ORDER BY fid", (site_id,)
        ):
            if oid in kinds:
                kinds[oid].append((kind, bool(truncated)))
        done = len(kept)
        if progress and kept:
            progress(done, len(ids), "")
        errors: list[str] = []
        # On Dask, workers that do not see the archive are refused before any job: each of their
        # observations would fail as unreadable, and its stored detections be cleared.
        for res in map_jobs(
            detect_observation, jobs, workers=workers, scheduler=scheduler, wait_workers=wait_workers,
            describe=lambda job: f"observation {job.observation.id}",
            shared_folder=root / ARCHIVE_DIR, workers_write=False,
        ):  # fmt: skip
            if res.error:
                errors.append(res.error)
                log.info(res.error)  # reported once, in the summary's errors (the CLI prints them)
                # Detections of an image that cannot be read or has changed are no evidence.
                store.clear_detections(res.observation.id)
            else:
                with store.transaction() as db:
                    # Another command (ingest, fetch --force, sites remove) may have replaced or
                    # removed the observation while it was detected in: its result describes
                    # an image no longer on record. Under the lock ingest takes to replace it, so
                    # that it cannot do so between this look and the write (a team store).
                    store._lock(db, f"detections {res.observation.id}")
                    row = store.execute(
                        "SELECT sha256 FROM observations WHERE observation_id = ?", (res.observation.id,)
                    )
                    current = bool(row) and row[0][0] == res.observation.sha256
                    if current:
                        store.replace_detections(res.observation, res.detections)
                        if res.observation.scene.sensor == "optical":
                            store.set_cloud_fraction(res.observation.id, res.cloud_fraction)
                        # Replaced whole on every run: a berth hidden last time is not left hidden.
                        store.set_berths_hidden(res.observation.id, res.berths_hidden)
                if current:
                    kinds[res.observation.id] = [(d.kind, bool(d.truncated)) for d in res.detections]
                else:
                    errors.append(
                        f"{res.observation.id}: replaced or removed by another command while detect ran; "
                        "its result was not stored: run detect again"
                    )
            done += 1
            if progress:
                progress(done, len(ids), res.observation.id)
        # Counted in observation order, kept or not, so the summary is that of detecting them all.
        counts: dict[str, int] = {}
        cut: dict[str, int] = {}
        for oid in ids:
            for kind, truncated in kinds.get(oid, ()):
                counts[kind] = counts.get(kind, 0) + 1
                cut[kind] = cut.get(kind, 0) + truncated
        summary = {
            "observations": len(ids),
            "detections": counts,
            "truncated": {k: n for k, n in cut.items() if n},
            "errors": errors,
        }
        store.record_run("detect", site_id, {"workers": workers, "scheduler": scheduler} | limits, summary, started=started)
        if jobs:
            # Detections replaced or cleared: the layer's extent may have shrunk (replace_detections only grows it).
            # Only that layer, and only then: every layer's every geometry, read at each daily run, was work
            # proportional to the whole workspace for a detect that kept all its detections.
            store.update_extents(["detections"])
        for sensor, key in keys.items():
            current = {oid: prints[oid] for oid in kinds if sensor_of[oid] == sensor}
            files = {oid: st for oid in current if (st := stats[oid]) is not None}
            save_state(store, site_id, key, current, sensor, files, {oid: digests[oid] for oid in current})
        store.set_meta(f"detect:{site_id}", None)  # the one state of all sensors that sitewatch kept before
    return summary


def _has_margin(provenance: str | dict[str, Any] | None) -> bool:
    """Whether an observation row's provenance (JSON text, or as a team store's driver decoded it) records a margin
    of image around its site (``context_m``)."""
    import json

    try:
        prov = provenance if isinstance(provenance, dict) else json.loads(provenance or "{}")
        held = prov.get("context_m")
    except (ValueError, AttributeError):
        return False
    return isinstance(held, int | float) and not isinstance(held, bool) and held > 0


def _file_unchanged(path: str, sha256: str, stat: FileStat | None, verified: FileStat | None) -> bool:
    """Whether the archived COG is still there with the sha256 on record (else detection reports it): read
    only when its size or times (``stat``, taken now) are not those it had when last found right (``verified``)."""
    if stat is None:
        return False
    if stat == verified:
        return True
    try:
        return sha256_file(Path(path)) == sha256
    except OSError:
        return False
