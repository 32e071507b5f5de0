"""The entry point: :func:`detect_changes` compares a pair of images by its sensor's method (with the
false-alarm probability, growth and rules' version each method runs with), and :func:`to_changes`
makes its regions the store's rows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import InputError
from ..model import Change
from . import learned as learned_score
from .blocklabels import block_hysteresis, block_regions
from .blocks import DEFAULT_BLOCKS, RowBlocks, _BlockMeans, _halo
from .optical import COVER_CLASSES, NoiseRule, optical_blocks
from .pair import ChangeImage, ChangeResult, check_same_grid
from .regions import PixelValues
from .sar import _f_thresholds, sar_blocks
from .submetre import (
    FINE_PIXEL_M,
    FINE_TOLERANCE_M,
    _fine_grow,
    _fine_scale,
    _fine_shapes,
)

__all__ = ["METHOD_VERSIONS", "DEFAULT_PFA", "GROW", "OPTICAL_BANDS", "VISIBLE_BANDS", "detect_changes", "to_changes"]

METHOD_VERSIONS: dict[str, str] = {"irmad-cva": "6", "log-ratio": "2"}
"""The version of each method's rules, bumped whenever they change what a pair gives (``log-ratio`` 2:
the looks of each despeckling window, not the scene's everywhere; ``irmad-cva`` 3: a pixel must also
differ from the common change of its spectral class; ``irmad-cva`` 4: pixels of :data:`FINE_PIXEL_M` or
finer have their own rules, see the package docstring; ``irmad-cva`` 5: pairs of
:data:`~.learned.LEARNED_PIXEL_M` with blue, green and red are thresholded on a learned score,
:mod:`.learned`; ``irmad-cva`` 6: at :data:`~.learned.LEARNED_FINE_PIXEL_M` a sub-metre learned score seeds
version 4's changed pixels; any other pair gives what version 4 or 3 gave and says so, or ``2`` without classes)."""

DEFAULT_PFA: dict[str, float] = {"optical": 1e-6, "sar": 1e-7}
"""Per-pixel false-alarm probability of the threshold a region must reach somewhere (its seed).
Regions grow from their seeds into the neighbouring pixels beyond the threshold of ``GROW`` times that
probability (hysteresis): a smoothed (optical) or despeckled (SAR) pixel shares its noise with its
neighbours, so one false alarm comes as a patch of a few pixels, which a single threshold of 1e-3 let
through a dozen times in a noise-only pair of 160 × 160 pixels, while a real change has a core far
beyond the noise. SAR's is lower because its 5 × 5 window spreads a false alarm further."""

GROW = 1000.0
"""How much likelier than the seeds' the false alarms of a region's extent may be (hysteresis)."""

UP_GROW, UP_SEED, DOWN_GROW, DOWN_SEED = 1, 2, 4, 8
"""The bits of :func:`_sar_thresholded`'s grid: past the grow and the seed thresholds, upward and downward."""


OPTICAL_BANDS = ("blue", "green", "red", "nir")
"""The optical bands compared, when both images have them (any others are ignored)."""
VISIBLE_BANDS = ("blue", "green", "red")
"""The bands an optical region's direction is judged on (all compared bands when none of these is)."""


def _version(method: str, classes: int, fine: bool = False, learned: bool = False) -> str:
    """The version of the rules a pair ran: ``irmad-cva`` at :data:`FINE_PIXEL_M` or finer is version 6's with
    the learned score, version 4's without; coarser, with the learned score version 5's; otherwise, without
    spectral classes, version 2's test, with them version 3's."""
    if method != "irmad-cva":
        return METHOD_VERSIONS[method]
    if fine:
        return "6" if learned else "4"
    if learned:
        return "5"
    return "2" if classes <= 1 else "3"


def detect_changes(
    before: ChangeImage,
    after: ChangeImage,
    *,
    area: NDArray[np.bool_] | None = None,
    min_area_m2: float = 200.0,
    pfa: float | None = None,
    despeckle_px: int = 5,
    dark_db: float | None = -14.0,
    smooth_px: int = 3,
    exclude: NDArray[np.bool_] | None = None,
    noise: NoiseRule = "scene",
    classes: int = COVER_CLASSES,
    blocks: RowBlocks = DEFAULT_BLOCKS,
    learned: bool = True,
) -> ChangeResult:
    """The regions that changed from ``before`` to ``after``, two images of one grid and one sensor.

    ``area`` marks the pixels that belong to the comparison (the site's polygon; default: all);
    ``min_area_m2`` drops smaller regions; ``pfa`` is the per-pixel false-alarm probability of the
    threshold (chi-square quantile for optical, F quantiles for SAR; default :data:`DEFAULT_PFA`); ``despeckle_px`` the SAR mean
    filter's side, ``dark_db`` the SAR level below which a pixel dark in both is not tested (None: test
    all), ``smooth_px`` the side of the optical differences' mean. ``exclude`` marks pixels left out of
    the comparison, as cloud is (the vessels and cranes detection found: :mod:`sitewatch.change_objects`);
    :attr:`ChangeResult.excluded_m2` says how much of what could be compared they were, and
    :attr:`ChangeResult.compared_fraction` does not count them as not compared. See the package docstring for the
    methods; ``noise`` which pixels the optical noise spread is read from (:func:`_noise_sd`); ``classes``
    how many spectral classes of ``before`` the optical test centres each pixel's change on (0 or 1: none,
    method version 2's test; not used on pixels of :data:`FINE_PIXEL_M` or finer); ``blocks`` how many rows
    of the grid the test (optical or SAR) works on at a time (:class:`~.blocks.RowBlocks`; what it finds does not
    depend on it, the memory it takes does). ``learned``: optical pairs of :data:`~.learned.LEARNED_PIXEL_M`
    with blue, green and red are thresholded on the learned score (:mod:`.learned`, method version 5), and
    at :data:`~.learned.LEARNED_FINE_PIXEL_M` the sub-metre rules' changed pixels are kept where they hold a
    pixel of the sub-metre score's (version 6); False keeps the chi-square thresholds and version 4's rules. Raises :class:`GridMismatchError` when the grids differ and :class:`InputError` when
    the sensors differ or the images share no band to compare.
    """
    check_same_grid(before.grid, after.grid, before.label or "before", after.label or "after")
    if before.sensor != after.sensor:
        raise InputError(
            f"{before.name} is {before.sensor} and {after.name} is {after.sensor}: change compares two images "
            "of one sensor (SAR backscatter and optical reflectance measure different things); pick two of the same"
        )
    pfa = DEFAULT_PFA[before.sensor] if pfa is None else pfa
    if not 0 < pfa < 0.5:
        raise InputError(f"pfa must lie between 0 and 0.5, got {pfa}")
    if min_area_m2 < 0:
        raise InputError(f"the minimum region area must not be negative, got {min_area_m2} m²")
    ok = before.usable()
    ok &= after.usable()  # in place: a whole grid less (a byte a pixel each)
    if area is None:
        n_domain = ok.size
    else:
        domain = np.asarray(area, bool)
        ok &= domain
        n_domain = int(domain.sum())
        del domain
    compared = int(ok.sum())
    fraction = round(compared / n_domain, 6) if n_domain else 0.0
    excluded_m2 = 0.0
    if exclude is not None:
        if exclude.shape != before.grid.shape:
            raise InputError(f"exclude mask of shape {exclude.shape}, grid {before.grid.shape}")
        ex = np.asarray(exclude, bool)
        a, b, _, d, e, _ = before.grid.transform
        excluded_m2 = round(float((ok & ex).sum()) * abs(a * e - b * d), 3)
        ok = ok & ~ex
    params: dict[str, Any] = {"pfa": pfa, "min_area_m2": min_area_m2}
    if before.sensor == "optical":
        names_b, names_a = [n.lower() for n in before.band_names], [n.lower() for n in after.band_names]
        common = [n for n in OPTICAL_BANDS if n in names_b and n in names_a]
        if not common:
            raise InputError(
                f"{before.name} and {after.name} share none of the bands {', '.join(OPTICAL_BANDS)}: nothing to compare"
            )
        # The images' own arrays when they hold just these bands in this order (a whole tile's copy is 2 GB a date).
        xb = before.data if names_b == common else np.stack([before.data[names_b.index(n)] for n in common])
        xa = after.data if names_a == common else np.stack([after.data[names_a.index(n)] for n in common])
        method = "irmad-cva"
        pixel_m = max(before.grid.pixel_size)
        fine = pixel_m <= FINE_PIXEL_M
        if fine:
            classes = 0  # at sub-metre a spectral class is a kind of object (roofs, roads, shadow), not a cover
        learned_file = learned_score.learned_model_file(common, pixel_m) if learned else None
        if learned_file != (learned_score.FINE_MODEL_FILE if fine else learned_score.MODEL_FILE):
            learned_file = None  # each model on its own path only (FINE_PIXEL_M and the models' ranges are set apart)
        use_learned = learned_file is not None
        version = _version(method, classes, fine, use_learned)
        params |= {"bands": common, "smooth_px": smooth_px, "noise": noise, "classes": classes}
        if compared < 10 * len(common):
            return ChangeResult((), "optical", method, version, fraction, compared, np.zeros_like(ok), params, excluded_m2)
        visible = [i for i, n in enumerate(common) if n in VISIBLE_BANDS] or list(range(len(common)))
        tolerance = max(1, int(round(FINE_TOLERANCE_M / pixel_m))) if fine else 0
        from scipy import stats

        seed = float(stats.chi2.ppf(1.0 - pfa, len(common)))
        grow = float(stats.chi2.ppf(1.0 - min(0.1, pfa * GROW), len(common)))
        statistics: dict[str, Any] = {"smooth_px": smooth_px, "noise": noise, "brightness_bands": visible, "classes": classes, "blocks": blocks}
        if fine:
            z, brightness, scale = _fine_statistics(xb, xa, ok, tolerance, statistics)
            z /= scale
            brightness /= math.sqrt(scale)
            grow = _fine_grow(z, ok, grow, len(common))
            params |= {"noise_scale": round(math.sqrt(scale), 4), "tolerance_px": tolerance}
            with np.errstate(invalid="ignore"):
                changed = block_hysteresis(ok & (z > grow), ok & (z > seed), blocks)
            params |= {"chi2_seed": round(seed, 4), "chi2_grow": round(grow, 4)}
            if use_learned:
                assert learned_file is not None
                cut = float(learned_score.model(learned_file)["cut"])
                scored = _learned_seeds(xb, xa, ok, [common.index(n) for n in VISIBLE_BANDS], cut, statistics, learned_file)
                gate = float(stats.chi2.ppf(learned_score.FINE_SEED_QUANTILE, len(common)))
                strong_pfa = learned_score.STRONG_PFA
                strong = np.inf if strong_pfa is None else float(stats.chi2.isf(strong_pfa, len(common)))
                with np.errstate(invalid="ignore"):
                    seeds = (scored & (z > gate)) | (ok & (z > strong))
                del scored
                changed = block_hysteresis(changed | seeds, seeds, blocks)
                del seeds
                params |= {"learned_cut": cut, "learned_model": learned_file, "learned_seed_chi2": round(gate, 4), "learned_strong_pfa": strong_pfa}
            changed = _fine_shapes(changed, pixel_m, min_area_m2) & ok
            np.sqrt(np.nan_to_num(z, copy=False), out=z)  # the magnitude, in place: z is not needed again
            regions, kept = block_regions(lambda a, b: changed[a:b], before.grid, min_area_m2, z, brightness, blocks)
        else:
            if use_learned:
                assert learned_file is not None
                cut = float(learned_score.model(learned_file)["cut"])
                noisy = not (before.rendering or after.rendering)
                grown, seeds, magnitude, direction = _learned_thresholded(
                    xb, xa, ok, [common.index(n) for n in VISIBLE_BANDS], cut, statistics, noisy
                )
                params |= {"learned_cut": cut, "learned_model": learned_file}
                if noisy:
                    params |= {"learned_strong_pfa": learned_score.STRONG_PFA, "learned_grow_pfa": learned_score.GROW_PFA}
            else:
                grown, seeds, magnitude, direction = _thresholded(xb, xa, ok, grow, seed, statistics)
                params |= {"chi2_seed": round(seed, 4), "chi2_grow": round(grow, 4)}
            # The hysteresis and the regions in one labelling, a block of rows at a time: the parts of the
            # grown pixels that hold a seed are the regions (the whole grid's labels were 4 bytes a pixel).
            regions, kept = block_regions(
                lambda a, b: grown[a:b] | seeds[a:b], before.grid, min_area_m2, magnitude, direction, blocks,
                seeds=lambda a, b: seeds[a:b],
            )
            del grown, seeds
    else:
        method = "log-ratio"
        version = METHOD_VERSIONS[method]
        params |= {"despeckle_px": despeckle_px, "dark_db": dark_db, "band": before.band_names[0]}
        passed = _sar_thresholded(before.data, after.data, ok, pfa, despeckle_px, dark_db, blocks)
        if passed is None:
            return ChangeResult((), "sar", method, METHOD_VERSIONS[method], fraction, compared, np.zeros_like(ok), params, excluded_m2)
        state, db, looks_max, seed_min, grow_min = passed
        del passed, ok  # so that ``del state`` below frees the grid (the compared pixels are no longer needed)
        to_db = 10 / math.log(10)
        params |= {"looks": round(looks_max, 3), "seed_db": round(to_db * seed_min, 4), "grow_db": round(to_db * grow_min, 4)}
        # Upward and downward in turn, each a block of rows at a time: the hysteresis and the regions in
        # one labelling, the parts of the grow bit's pixels that hold a seed bit's.
        def bits(bit: int) -> Callable[[int, int], NDArray[np.bool_]]:
            return lambda a, b: (state[a:b] & np.uint8(bit)) != 0

        r_up, kept = block_regions(bits(UP_GROW | UP_SEED), before.grid, min_area_m2, db, "appeared", blocks, seeds=bits(UP_SEED))
        r_down, k_down = block_regions(bits(DOWN_GROW | DOWN_SEED), before.grid, min_area_m2, db, "disappeared", blocks, seeds=bits(DOWN_SEED))
        del state
        regions = r_up + r_down
        kept |= k_down
        del k_down
    regions.sort(key=lambda r: (-r.area_m2, r.polygon.bounds))
    return ChangeResult(tuple(regions), before.sensor, method, version, fraction, compared, kept, params, excluded_m2)


def _fine_statistics(
    before: Any, after: Any, ok: NDArray[np.bool_], tolerance_px: int, statistics: dict[str, Any],
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]:  # fmt: skip
    """The sub-metre path's values, a block of rows at a time (:func:`~.optical.optical_blocks`): the
    misregistration-tolerant statistic and the brightness change as whole grids (8 bytes a pixel each), and the
    noise scale (:func:`~.submetre._fine_scale`) of the plain statistic over the compared pixels whose window is
    whole, gathered from the blocks (no whole grid of it, nor of the windows' shares)."""
    zt, brightness = np.full(ok.shape, np.nan), np.full(ok.shape, np.nan)
    quiet = []
    height = ok.shape[0]
    smooth_px = statistics["smooth_px"]
    windows, halo = _BlockMeans(smooth_px, height), _halo(smooth_px)
    for r0, r1, z, tolerant, bright in optical_blocks(before, after, ok, tolerance_px=tolerance_px, **statistics):
        assert tolerant is not None
        share = windows.share(ok[max(0, r0 - halo) : min(height, r1 + halo)], max(0, r0 - halo), r0, r1)
        quiet.append(z[ok[r0:r1] & (share >= 1.0) & np.isfinite(z)])
        zt[r0:r1], brightness[r0:r1] = tolerant, bright
    return zt, brightness, _fine_scale(np.concatenate(quiet) if quiet else np.zeros(0), before.shape[0])


def _thresholded(
    before: Any, after: Any, ok: NDArray[np.bool_], grow: float, seed: float, statistics: dict[str, Any],
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], PixelValues, PixelValues]:  # fmt: skip
    """The pixels whose statistic passes ``grow`` and ``seed`` (whole grids, a byte a pixel), and the
    magnitude (square root of the statistic) and brightness change at those pixels: the optical test a
    block of rows at a time (:func:`~.optical.optical_blocks`), with no whole grid of its float64 values."""
    blocks = ((r0, r1, z, bright, core & (z > grow), core & (z > seed))
              for r0, r1, z, _, bright in optical_blocks(before, after, ok, **statistics) for core in [ok[r0:r1]])  # fmt: skip
    return _gathered(blocks, ok.shape)


def _learned_thresholded(
    before: Any, after: Any, ok: NDArray[np.bool_], visible: list[int], cut: float, statistics: dict[str, Any], noisy: bool,
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], PixelValues, PixelValues]:  # fmt: skip
    """:func:`_thresholded`'s grids and values with the learned score (:func:`~.learned.learned_blocks`): the
    seeds are the pixels whose score reaches ``cut``, and, with ``noisy`` (not 8-bit renderings), those whose
    chi-square statistic passes :data:`~.learned.STRONG_PFA`; the grown pixels are the seeds and, with
    ``noisy``, the pixels past :data:`~.learned.GROW_PFA`."""
    from scipy import stats

    strong_pfa, grow_pfa = (learned_score.STRONG_PFA, learned_score.GROW_PFA) if noisy else (None, None)
    strong = np.inf if strong_pfa is None else float(stats.chi2.isf(strong_pfa, before.shape[0]))
    grow = np.inf if grow_pfa is None else float(stats.chi2.isf(grow_pfa, before.shape[0]))

    def passed(r0: int, r1: int, p: NDArray[np.float64], z: NDArray[np.float64]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
        core = ok[r0:r1]
        seeds = core & ((p >= cut) | (z > strong))
        return seeds | (core & (z > grow)), seeds

    blocks = ((r0, r1, z, bright, *passed(r0, r1, p, z))
              for r0, r1, p, z, bright in learned_score.learned_blocks(before, after, ok, visible, statistics))  # fmt: skip
    return _gathered(blocks, ok.shape)


def _learned_seeds(
    before: Any, after: Any, ok: NDArray[np.bool_], visible: list[int], cut: float, statistics: dict[str, Any], file: str,
) -> NDArray[np.bool_]:  # fmt: skip
    """The compared pixels whose learned score (the trees of ``file``) reaches ``cut``, a whole grid."""
    seeds = np.zeros(ok.shape, bool)
    for r0, r1, p, _, _ in learned_score.learned_blocks(before, after, ok, visible, statistics, file):
        with np.errstate(invalid="ignore"):
            seeds[r0:r1] = ok[r0:r1] & (p >= cut)
    return seeds


def _gathered(
    blocks: Iterator[tuple[int, int, NDArray[np.float64], NDArray[np.float64], NDArray[np.bool_], NDArray[np.bool_]]], shape: tuple[int, int],
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], PixelValues, PixelValues]:  # fmt: skip
    """The grown and seed pixels of ``blocks`` (``(r0, r1, z, brightness, grown, seeds)`` of each block of rows, top
    to bottom) as whole grids, and the magnitude (square root of z) and brightness change at the pixels of either."""
    grown, seeds = np.zeros(shape, bool), np.zeros(shape, bool)
    width = shape[1]
    index, magnitude, brightness = [np.zeros(0, np.intp)], [np.zeros(0)], [np.zeros(0)]
    with np.errstate(invalid="ignore"):  # (z is NaN where not compared)
        for r0, r1, z, bright, g, s in blocks:
            grown[r0:r1], seeds[r0:r1] = g, s
            at = np.flatnonzero(g | s)
            index.append(at + r0 * width)
            magnitude.append(np.sqrt(np.nan_to_num(z.ravel()[at])))
            brightness.append(bright.ravel()[at])
    at = np.concatenate(index)
    return grown, seeds, PixelValues(at, np.concatenate(magnitude)), PixelValues(at, np.concatenate(brightness))


def _sar_thresholded(
    before: Any, after: Any, ok: NDArray[np.bool_], pfa: float, despeckle_px: int, dark_db: float | None, blocks: RowBlocks,
) -> tuple[NDArray[np.uint8], PixelValues, float, float, float] | None:  # fmt: skip
    """The SAR test a block of rows at a time (:func:`~.sar.sar_blocks`): the pixels past the grow and seed
    thresholds upward and downward (one whole grid of a byte a pixel, the bits :data:`UP_GROW`,
    :data:`UP_SEED`, :data:`DOWN_GROW`, :data:`DOWN_SEED`), the change in dB at those pixels, the most looks
    of any pixel and the lowest seed and grow thresholds (ln); None when no pixel has looks."""
    runs = sar_blocks(before, after, ok, despeckle_px=despeckle_px, dark_db=dark_db, blocks=blocks)
    if runs is None:
        return None
    state = np.zeros(ok.shape, np.uint8)
    width = ok.shape[1]
    index, values = [], []
    looks_max, seed_min, grow_min, any_looks = -math.inf, math.inf, math.inf, False
    to_db = 10 / math.log(10)
    for r0, r1, lr, tested, looks in runs:
        finite = np.isfinite(looks)
        any_looks |= bool(finite.any())
        if not np.isnan(looks).all():
            looks_max = max(looks_max, float(np.nanmax(looks)))
        t_seed, t_grow = _f_thresholds(looks, pfa), _f_thresholds(looks, min(0.1, pfa * GROW))
        seed_min, grow_min = min(seed_min, float(np.min(t_seed))), min(grow_min, float(np.min(t_grow)))
        block = state[r0:r1]
        with np.errstate(invalid="ignore"):
            for bit, passed in ((UP_GROW, lr > t_grow), (UP_SEED, lr > t_seed), (DOWN_GROW, lr < -t_grow), (DOWN_SEED, lr < -t_seed)):
                block[tested & passed] |= np.uint8(bit)
        at = np.flatnonzero(block)
        index.append(at + r0 * width)
        values.append(np.nan_to_num(np.abs(lr.ravel()[at])) * to_db)
    if not any_looks:
        return None
    return state, PixelValues(np.concatenate(index), np.concatenate(values)), looks_max, seed_min, grow_min


def to_changes(result: ChangeResult, site_id: str, before_id: str, after_id: str) -> list[Change]:
    """The regions as :class:`~sitewatch.model.Change` rows (WGS84 polygons), ids ``BEFORE..AFTER#n``."""
    return [
        Change(
            id=f"{before_id}..{after_id}#{i + 1}",
            site_id=site_id,
            before_id=before_id,
            after_id=after_id,
            polygon=r.polygon_wgs84,
            area_m2=r.area_m2,
            magnitude=r.magnitude,
            direction=r.direction,
            method=result.method,
            method_version=result.method_version,
        )
        for i, r in enumerate(result.regions)
    ]
