"""The detection stage on an optical observation: its archived COG read tile by tile.

The observation goes through :func:`~sitewatch.detect.optical_image.detect_optical_tiled`, the
tiling ``sitewatch detect-image --sensor optical`` runs: overlapping windows of at most
:data:`~sitewatch.detect.optical_image.MAX_WINDOW_PX` pixels a side, each detection kept by the
one tile whose core holds it, the water references of the features taken once for the whole
grid (from a read decimated to about a million pixels, as detect-image's). Memory is that of
one window whatever the site grid's size: a 5 km port in 0.3 m imagery is 16,700 pixels a side,
and read whole it took the detector's 125 bytes a pixel, about 35 GB.

Each window's valid pixels are those inside the site polygon where every band is finite, its
known water (optical mode ``water``, or ``auto`` on simulated scenes: :func:`optical_water`)
the site's water polygon cut to it (:func:`~sitewatch.detection_masks.water_mask`), and its
cloud counted over the tile's core, so the cloud fraction is the whole grid's. An observation
that fits one tile is read and detected in one window, as before tiling.

An observation archived with a margin of image around its site (a small site's:
:func:`~sitewatch.detection_masks.has_context`) is searched over every pixel with data, so that the
water statistics and a ship's outline reach past the site's edge; only detections whose centroid
lies in the site are kept, and its cloud fraction is still that of the site's valid pixels.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .detect.base import PixelDetection
from .detection_masks import (
    BerthHidden,
    Window,
    has_context,
    in_site,
    near_water_at,
    water_mask,
    window_grid,
)
from .detection_read import observation_bands, read_observation
from .geo import ground_pixel_size
from .ingest.grid import site_mask
from .model import Observation, Site

__all__ = ["OPTICAL_TILE_PX", "detect_optical_observation", "optical_water"]

OPTICAL_TILE_PX = 2048
"""Core of a tile in pixels, as detect-image's; finer pixels take larger ones (see
:func:`~sitewatch.detect.optical_image.detect_optical_tiled`)."""


def optical_water(mode: str, obs: Observation) -> bool:
    """Whether optical detection takes the site's water polygon as known water.

    Known water (anything opaque inside the polygon is a vessel) is what the simulator's
    scenes need: their decks are as bright as real hulls (sen2ships medians), but their
    ships lie alongside narrow bright piers, and the learned detector, trained on real
    ports, takes ship and pier for one object and drops it. On real Sentinel-2 ports
    known water does far worse than the learned detector unless the polygon follows
    every quay and berth (sen2ships, 11 ports, with polygons made from each scene's own
    water: F1 0.21-0.22 against 0.45; ``benchmarks/optical_known_water.py``), so
    ``auto`` runs it on simulated scenes only.
    """
    return mode == "water" or (mode == "auto" and obs.scene.simulated)


def _dn_scale(obs: Observation) -> float | None:
    """The divisor ingest turned this observation's values into reflectance with, if it recorded one."""
    scale = obs.provenance.get("scale_applied")
    return 1.0 / float(scale) if isinstance(scale, int | float) and scale > 0 else None


def _split(data: NDArray[np.float32], names: list[str]) -> tuple[dict[str, NDArray[np.float32]], NDArray[np.float32] | None]:
    """The detector's input bands and the SCL of values read: an RGBA file's alpha band or a fifth
    band of a product is archived but is no input."""
    from .detect.optical import BANDS

    bands = {n: data[i] for i, n in enumerate(names)}
    scl = bands.pop("SCL", None)
    return {n: a for n, a in bands.items() if n in BANDS}, scl


def detect_optical_observation(
    site: Site,
    obs: Observation,
    path: str,
    *,
    limits: dict[str, Any],
    mode: str = "auto",
    tile: int = OPTICAL_TILE_PX,
) -> tuple[list[PixelDetection], float | None, dict[str, float]]:
    """Detect in an archived optical observation tile by tile: (pixel detections, cloud fraction,
    berths hidden).

    ``limits`` are ``min_length_m``/``max_length_m`` overrides, ``mode`` one of
    :data:`~sitewatch.config.OPTICAL_MODES`, ``tile`` the core of a tile in pixels. The cloud
    fraction is that of the valid pixels inside the site (None when none is valid); berths hidden
    the fraction of each berth's zone without data or under cloud, summed over the tiles' cores
    (:class:`~sitewatch.detection_masks.BerthHidden`). Raises
    :class:`~sitewatch.errors.ImageReadError` for an unreadable COG and
    :class:`~sitewatch.errors.InputError` for one without the bands the detector needs.
    """
    from .detect import optical
    from .detect.optical_image import decimated_shape, detect_optical_tiled

    names = observation_bands(path, obs)
    grid = obs.grid
    shape = grid.shape
    pixel = ground_pixel_size(grid.crs, grid.affine, grid.width, grid.height)
    # Ingest's divisor says whether an 8-bit display rendering went in.
    params = optical.params_for_dn_scale(replace(optical.OpticalParams(), **limits), _dn_scale(obs))
    if site.water is not None:
        # The site's polygon says where the water is: a river port narrower than a body of water
        # (water_body_m, which keeps image-only detection off a town's dark roofs) is still searched,
        # and the polygon then drops what lies far from it.
        params = replace(params, water_body_m=0.0)
    # The water references of the features, once for the whole grid: every tile judges
    # contrast against the same water (the whole grid itself when it has under 4 M pixels).
    whole, _ = _split(read_observation(path, out_shape=decimated_shape(shape)), names)
    stats = optical.scene_stats(whole)
    del whole

    context = has_context(obs)

    def read(win: Window) -> tuple[dict[str, NDArray[np.float32]], NDArray[np.bool_], NDArray[np.float32] | None]:
        data = read_observation(path, win)
        valid = np.all(np.isfinite(data), axis=0)
        if not context:
            valid &= site_mask(site, window_grid(grid, win))
        bands, scl = _split(data, names)
        return bands, valid, scl

    # The polygon as known water, or (auto, real imagery) only to drop vessels far from it.
    known = site.water is not None and optical_water(mode, obs)
    berths = BerthHidden(site, grid)
    in_site_cloud = [0, 0]  # cloudy, valid pixels of the site (with a margin, the detector counts the whole grid's)

    def on_core(win: Window, hidden: NDArray[np.bool_]) -> None:
        if site.berths:
            berths.add(win, hidden)
        if context:
            from .detect.clouds import scl_no_data

            _, valid, scl = read(win)
            valid &= site_mask(site, window_grid(grid, win))
            if scl is not None:  # as the detector counts: the SCL's no-data classes are no data, not cloud
                valid &= ~scl_no_data(np.nan_to_num(scl).astype(np.int16))
            in_site_cloud[0] += int((hidden & valid).sum())
            in_site_cloud[1] += int(valid.sum())

    found, cloud, _ = detect_optical_tiled(
        read, shape, pixel, stats, params=params, tile=tile,
        known_water=(lambda win: water_mask(site, grid, win)) if known else None,
        on_core=on_core if site.berths or context else None,
    )  # fmt: skip
    if context:
        found = in_site(found, site, grid)
        cloud = in_site_cloud[0] / in_site_cloud[1] if in_site_cloud[1] else None
    if site.water is not None and not known and mode == "auto":
        near = near_water_at(site.water, grid, [d.row for d in found], [d.col for d in found])
        found = [d for d, ok in zip(found, near, strict=True) if d.kind != "vessel" or ok]
    return found, None if cloud is None else round(cloud, 6), berths.fractions()
