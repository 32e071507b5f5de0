"""Train the ship/clutter trees of the 8-bit rendering detector; print held-out figures.

Run:  python benchmarks/sar_render_train.py [--datasets DIR] [--opensarship-held-out] [--nested]
      [--quick] [--members M] [--seed N] [--write] [--diagnose]
      [--anchorages N] [--speckle N] [--self-train] [--drop FEATURE ...] [--chip-balance]
      [--relative FEATURE ...] [--downscale N] [--open-water] [--open-water-feature]
      [--robust-spread]   (tried, not shipped)
      [--train-second-pass [--no-pass-feature] [--cross-fit]] [--passes N] [--second-cut C] [--join-pieces]   (5 Dec, not shipped)
      [--pairs] [--pairs-inline] [--diagnose-pairs CHIP]   (5 Dec, `pairs`; the join shipped in 1.13.0)
      [--diagnose-held-out CHIP]
      [--core-shape] [--ring-cv]   (7 Dec, helper sarfa39; tried, not shipped)

Candidates are :func:`sitewatch.detect.sar_render.rendering_candidates` on the 16 box-labelled
chips (12 SAR-Ship-Dataset samples, 4 HRSID samples); a candidate is a ship when its centroid
falls inside a labelled box. One model is gradient boosting of depth-2 trees on the logistic
loss (numpy, 150 trees, rate 0.1, split thresholds at 33 quantiles of each feature, at least 5
candidates a leaf, classes weighted to equal total weight: ships are about one candidate in
five; split search by cumulative histograms over the threshold ranks). The shipped model
(sar-cfar 1.10.0) is the mean raw score of ``MEMBERS`` = 16 such models: member ``s`` is fitted
on every training chip as it is plus ``PER_CHIP`` = 2 re-renderings of it, ``255 (v/255)^gamma``
with gammas drawn (seed ``s``) from 8 log-spaced values in 0.5-2 (:data:`GAMMAS`; the range
fixed before any figure was seen); OpenSARShip's renderings (below) are re-rendered the same way.
The display stretch is the renderer's choice, and trees fitted on 16 chips' own stretches found
small dim ships at some gammas and none at others (``tests/test_sar_render.py``). Written as one
model of 2400 trees (leaf values divided by 16), read by the unchanged numpy inference.
``--members 1``: one model on the chips as they are (1.8.0's recipe).
Box-level P/R/F1 as ``benchmarks/sar_real.py`` counts them (one-to-one, centroid in box):

* leave-one-chip-out: each chip scored by trees fitted on the other 15;
* leave-one-dataset-out: SAR-Ship-Dataset scored by trees fitted on HRSID and the reverse
  (other sensors, other renderings, other pixel sizes);
* leave-one-source-out: five groups (Gaofen-3, Sentinel-1 and unnamed SAR-Ship-Dataset chips,
  HRSID's P0119, the other HRSID chips), each scored by trees fitted on the other four;
* ``--nested``: each split again with the cut chosen inside each fold, by an inner
  leave-one-source-out on the fold's training chips (best of 0.5-0.9 in steps of 0.05); the
  shipped ``CUT`` is what that rule picks on all 16 chips (printed after the source split).

Figures (1.10.0, cut 0.75; 1.8.0 in brackets, single model, cut 0.8), P / R / F1:
leave-one-chip-out 0.791 / 0.724 / 0.756 (0.863 / 0.589 / 0.700), leave-one-dataset-out
0.779 / 0.724 / 0.751 (0.859 / 0.626 / 0.724), leave-one-source-out 0.785 / 0.734 / 0.758
(0.873 / 0.579 / 0.697); nested cut F1 0.740 / 0.722 / 0.742 (0.699 / 0.734 / 0.687);
in-sample 0.810 (0.811). Those score the first pass's candidates; each split (and the in-sample fit)
then runs the detector (:func:`detect_rendering`) on every chip with its fold's trees: first pass only
without the join (``first pass only (no join)``, the same figures); with sar-cfar 1.12.0's second look
without the kept ships (``1.12.0 (second pass, no join)``): leave-one-chip-out 0.787 / 0.846 / 0.815,
leave-one-dataset-out 0.751 / 0.832 / 0.789, leave-one-source-out 0.784 / 0.850 / 0.816, in-sample
0.788 / 0.869 / 0.827; and as shipped, 1.13.0, the second look and the typical-hull join
(``shipped detector (2 passes + join)``): 0.808 / 0.846 / 0.826, 0.771 / 0.832 / 0.800,
0.805 / 0.850 / 0.827, in-sample 0.823 / 0.869 / 0.845.
The 19 features were picked among about 15 variants on the chip- and
dataset-out figures (1.8.0); the re-rendering among 4 kinds (flips and rotations, gamma, linear
stretch, both) and the ensemble among 3 (bootstrap of chips, gamma draws, both) on the same
figures, so read gains with about ±0.03; ``--seed N`` redraws the gammas to show their spread.
Every fit (held-out folds and the shipped model) also sees OpenSARShip's own 8-bit renderings of
its GRD chips (``Patch_Uint8/…_vv.tif``, read by ``sar_real.py``; never in a box-chip score): a
candidate within 30 m of the annotated bow-stern line is a ship, one 150 m or more from it
clutter, the ring between left out (other ships of busy chips are unlabelled);
``--no-opensarship`` leaves them out, ``--box-gamma-only`` does not re-render them (box chips
0.747 / 0.759 / 0.752 at 0.8, but OpenSARShip 0.896 → 0.856 in-sample: not shipped).
``--opensarship-held-out`` also scores those renderings (centred ship found, GRD chips) with each
of the four scenes left out of the fit: a check of the Sentinel-1 small-ship case that the box
chips hardly hold (13-feature model 0.864 at 0.8, 1.8.0 0.840, 1.10.0 0.832 at 0.75: the
despeckling loses a few ships of 2-3 px width). ``--write`` fits on all 16 chips (plus those)
and writes ``src/sitewatch/data/sar_render_gb.json`` (270 KB). ``--diagnose`` says, for each box
that no candidate matches, why (merged with a neighbour ship or with land, or below the hysteresis
levels; BENCHMARKS.md, "Splitting merged candidates") and stops. The last seven flags are ideas
tried for HRSID P0119's misses (4 Dec), none better (BENCHMARKS.md, "P0119's misses"):
``--anchorages N`` adds N synthetic anchorages of each training chip to its rows (:func:`anchorage`),
``--speckle N`` N noisier re-renderings of it (:func:`respeckle`),
``--self-train`` adapts each scored chip's scores to the chip (:func:`self_trained`), ``--drop``
leaves features out, ``--chip-balance`` weights the classes equally within each training chip,
``--relative`` adds features minus their median over the chip's candidates, ``--downscale N`` N half-resolution copies of each training chip (:func:`downscaled`).
``--open-water`` prints every figure also with a CFAR-like rule beside the trees (keep a candidate the
trees score at the cut OR that is on open water and clear of the sea, :func:`open_water_contrast`),
``--open-water-feature`` gives that rule to the trees as one more feature (4 Dec; BENCHMARKS.md,
"An open-water contrast rule beside the trees": both worse). ``--robust-spread`` takes candidates and
features from a block spread that hulls filling part of a block do not inflate
(:func:`robust_block_background`; 4 Dec, BENCHMARKS.md, "Why P0119's ships are missed": worse).
``--diagnose-held-out CHIP`` scores one chip with trees fitted without it and says, for each box missed
at the cut, whether it had no candidate, was merged with a neighbour or land, or had a candidate
scored below the cut, and how those candidates' features stand against the training ships.
Every split and the in-sample fit also print where their errors at the cut are (:func:`errors_at_cut`).
Tried for 1.12.0's precision (5 Dec; BENCHMARKS.md, "Precision after 1.12.0"; none better, nothing in the
package changed): ``--train-second-pass`` fits each fold's trees again with the second pass's candidates of its
training chips as rows (:func:`two_pass_ensemble`, labels by the one-to-one match, :func:`second_pass_rows`) and
a 20th input saying which pass a row comes from (``--no-pass-feature``: without it; ``--cross-fit``: each training
chip's first pass from trees fitted without its source group, and both models printed); ``--passes N`` also
prints the detector with up to N looks, ``--second-cut C`` with the second look's candidates kept at C
(:func:`detect_variant`, which gives exactly :func:`detect_rendering`'s detections with neither), ``--join-pieces``
with hull pieces that have no water between them and a larger detection dropped (:func:`joined`); since 1.13.0 these
three run on top of the typical-hull join (the shipped detector; their BENCHMARKS figures are 1.12.0's, without it).
Tried for P0119's merged ships and the fragments (5 Dec, `pairs`; BENCHMARKS.md, "Hulls abreast split and hull pieces
joined"; the join shipped in 1.13.0, the splits not): ``--pairs`` also prints the detector with a kept candidate twice
as wide as the chip's sure ships cut in two where two ridges run across it (without the join), with pieces joined when
together they are one hull of the chip's typical size (:func:`sitewatch.detect.sar_render.joined_pieces`, the shipped
detector again, by pixel moments: its line repeats the shipped one), and with both (:mod:`_sar_pairs`; constants
fixed before the first run); ``--pairs-inline`` the same split turned
by 90 degrees (hulls in line; designed after ``--diagnose-pairs CHIP``, which says for each box the detector misses on
CHIP held out whether its candidate merged ships side by side or end to end).
Tried for 1.14.0's land clutter (7 Dec, helper sarfa39; BENCHMARKS.md, "Land clutter by the shape of the core
and the texture round it"; neither shipped): ``--core-shape`` gives the trees two more inputs, the share of a
candidate's pixels at the seed level and how ragged its outline is against its moment box; ``--ring-cv`` one more,
the coefficient of variation of the pixels round it (:func:`shape_texture_columns`, computed in every fit, score
and pass of the detector).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from _sar_pairs import pixel_moments, split_pairs
from sar_real import (
    BOX_CHIPS,
    DEFAULT_DATASETS,
    OPENSARSHIP,
    Counts,
    _to_line_m,
    hrsid_chips,
    match_boxes,
    missing_datasets,
    opensarship_chips,
    ssdd_chips,
)
from sitewatch.detect.sar_render import (
    RENDER_FEATURES,
    RENDER_MODEL_FILE,
    RenderParams,
    _measured,
    _without,
    detect_rendering,
    joined_pieces,
    render_probability,
    rendering_candidates,
    typical_hull,
)

OUT = Path(__file__).resolve().parents[1] / "src" / "sitewatch" / "data" / RENDER_MODEL_FILE
TREES, RATE, MIN_LEAF, QUANTILES = 150, 0.1, 5, 33
MEMBERS, PER_CHIP = 16, 2
SEED = [0]
"""Member ``s`` draws its re-renderings with seed ``SEED[0] + s`` (``--seed``; 0 shipped)."""
"""Boosted models averaged into the shipped one; each sees every training chip once as it is and
in ``PER_CHIP`` of the :data:`GAMMAS` re-renderings, drawn with the member's own seed."""
GAMMAS = tuple(float(g) for g in np.exp(np.linspace(np.log(0.5), np.log(2.0), 9)) if abs(np.log(g)) > 1e-9)
"""Display gammas of the re-rendered training chips, ``255 (v / 255) ** gamma``: 0.5-2, log-spaced
(chosen before any figure was seen: the range of the usual amplitude / dB / power stretches)."""
CUT = 0.75
"""Shipped cut: the one the nested rule picks on all 16 chips (best F1 of :data:`NESTED_CUTS` with
every chip scored leave-one-source-out), the rule whose held-out figures ``--nested`` prints
(each fold picks its own cut on its training chips alone). 1.8.0 shipped 0.8, picked among
0.5-0.9 on the held-out figures of the 13-feature model."""


def source(chip: str, dataset: str) -> str:
    """The chip's sensor or source group, for the leave-one-source-out split: SAR-Ship-Dataset's
    Gaofen-3 and Sentinel-1 chips and its others (named otherwise, SSDD's too); HRSID's crowded
    anchorage P0119 and the rest. By ``dataset`` first: a chip of a name not seen before stays in its
    own dataset's group."""
    if dataset == "hrsid":
        return "hrsid P0119" if chip.startswith("P0119") else "hrsid other"
    for prefix, group in (("Gao_", "gaofen-3"), ("Sen_", "sentinel-1")):
        if chip.startswith(prefix):
            return group
    return "sar-ship-dataset other"


def regamma(img: np.ndarray, gamma: float) -> np.ndarray:
    """The 8-bit chip re-rendered with another display gamma (0 and 255 stay put)."""
    return np.clip(np.round(255.0 * (img / 255.0) ** gamma), 0, 255).astype(np.uint8)


DROP: list[str] = []
"""``--drop``: features left out (their columns set to 0, so no tree splits on them; not shipped)."""


RELATIVE: list[str] = []
"""``--relative``: features also given relative to the chip (minus the median over its candidates; not shipped)."""


def _with_relative(feats: np.ndarray) -> np.ndarray:
    """``feats`` with a column per :data:`RELATIVE` feature: its value minus the chip's median."""
    if not RELATIVE or not len(feats):
        return feats if not RELATIVE else np.zeros((0, feats.shape[1] + len(RELATIVE)))
    cols = [feats[:, RENDER_FEATURES.index(n)] - np.median(feats[:, RENDER_FEATURES.index(n)]) for n in RELATIVE]
    return np.column_stack([feats, *cols])


@dataclass(frozen=True)
class OpenWater:
    """Thresholds of the open-water contrast rule (:func:`open_water_contrast`; 4 Dec, not shipped),
    fixed from the noise model before any figure was seen. Sea-noise units are the chip's sea noise
    of :mod:`sitewatch.detect.sar_render` (90th percentile less the median of the darkest fifth of
    its 8-px blocks, about 1.3 standard deviations of Gaussian noise)."""

    land_over_water: float = 2.0
    """A block is land when its median grey level, candidates' pixels and 2 px round them left out,
    lies this many sea-noise units over the water level (speckle moves an 8 × 8 block's median of
    open sea by about a tenth of a unit; the synthetic anchorages' land test, :func:`anchorage`)."""
    reach_px: float = 32.0
    """Open water: no land block within this many pixels of the candidate's centroid..."""
    reach_lengths: float = 2.0
    """...nor within this many of its lengths."""
    ring_over_water: float = 2.0
    """Open water: the median of the candidate's ring (``ring_median_over_water``) at most this many units over the water..."""
    ring_occupied: float = 0.5
    """...and at most this share of the ring other candidates (``ring_occupied``)."""
    contrast: float = 3.0
    """Kept: the candidate's mean over its ring's median (``mean_over_ring``) at least this many units
    (candidates grow down to 1.5 units, so speckle alone gives a mean of about 2)."""


def land_distance(img: np.ndarray, lab: np.ndarray, rule: OpenWater) -> np.ndarray:
    """Distance (px) from each pixel's block to the nearest land block (:attr:`OpenWater.land_over_water`;
    a block with under a quarter of its pixels left is not land: a large hull fills it); ``inf`` without land."""
    from scipy import ndimage

    from sitewatch.detect.sar_render import RenderParams, _block_background

    v = img.astype(np.float32)
    b = RenderParams().block_px
    _, _, water, _, noise = _block_background(v, RenderParams())
    h, w = v.shape
    hb, wb = -(-h // b), -(-w // b)
    x = np.where(ndimage.binary_dilation(lab > 0, np.ones((5, 5), bool)), np.nan, v)
    pad = np.pad(x, ((0, hb * b - h), (0, wb * b - w)), mode="constant", constant_values=np.nan)
    blocks = pad.reshape(hb, b, wb, b).transpose(0, 2, 1, 3).reshape(hb, wb, b * b)
    filled = np.isfinite(blocks).sum(axis=2) >= b * b / 4
    med = np.full((hb, wb), -np.inf)
    med[filled] = np.nanmedian(blocks[filled], axis=1)
    land = med > water + rule.land_over_water * noise
    if not land.any():
        return np.full(v.shape, np.inf)
    dist = ndimage.distance_transform_edt(~land) * b
    return np.repeat(np.repeat(dist, b, 0), b, 1)[:h, :w]


def open_water_contrast(img: np.ndarray, lab: np.ndarray, feats: np.ndarray, extra: dict[str, np.ndarray], rule: OpenWater | None = None) -> np.ndarray:
    """Per candidate of :func:`rendering_candidates`: on open water and clear of the sea, so a ship on
    contrast alone, as a CFAR would keep it. Open water: no land block within ``max(reach_px,
    reach_lengths · length)`` px of its centroid, its ring's median near the water level and its ring
    mostly free of other candidates; contrast: its mean over the ring's median (:class:`OpenWater`)."""
    r = rule or OpenWater()
    if len(feats) == 0:
        return np.zeros(0, bool)
    f = {name: feats[:, j] for j, name in enumerate(RENDER_FEATURES)}
    rows, cols = (np.clip(extra[k].astype(int), 0, n - 1) for k, n in (("row", img.shape[0]), ("col", img.shape[1])))
    reach = np.maximum(r.reach_px, r.reach_lengths * np.exp(f["log_length_px"]))
    # A candidate with too small a ring (its ring columns all 0) has nothing to stand against.
    ring = np.any(feats[:, RENDER_FEATURES.index("ring_low_over_water") : RENDER_FEATURES.index("peak_over_ring_spread") + 1] != 0, axis=1)
    return np.asarray(
        (land_distance(img, lab, r)[rows, cols] > reach)
        & ring
        & (f["ring_median_over_water"] <= r.ring_over_water)
        & (f["ring_occupied"] <= r.ring_occupied)
        & (f["mean_over_ring"] >= r.contrast)
    )


ROBUST_SPREAD = [False]
"""``--robust-spread``: candidates and features from :func:`robust_block_background` (4 Dec, P0119)."""


def robust_block_background(v: np.ndarray, p: object) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, float]:
    """:func:`sitewatch.detect.sar_render._block_background` with a block spread that ships filling part
    of a block do not inflate (``--robust-spread``; 4 Dec). A block's spread is ``hi = q90 - q50``; in a
    crowded anchorage most 8-px blocks hold some hull pixels, which lift their q90 but not their q10 or
    median, so the smoothed spread (and the seed and grow levels with it) rises to ship level and the
    anchorage's ships come out as small low-contrast fragments (HRSID P0119 held out: local spread
    3.8 sea-noise units at the ships the trees miss, 1.5 at those they keep). Here a block's spread is
    ``min(hi, max(k · lo, noise))`` with ``lo = q50 - q10`` and ``k`` the median ``hi / lo`` of the chip's
    darkest fifth of blocks (those that give the sea noise; the rendering's own skew, so stretch-adaptive;
    none with ``lo > 0``: spread as before). Land texture was expected to widen both halves of a block and
    keep its spread (urban land does not: bright points on darker ground are skewed like hulls on water,
    and P0094's land fell apart into candidates; BENCHMARKS.md); the floor at the sea noise keeps a
    clipped sea (``lo`` 0) at its noise. Nothing fitted. Chip-out F1 0.756 -> 0.635: not shipped."""
    from scipy import ndimage

    b = p.block_px  # type: ignore[attr-defined]
    h, w = v.shape
    hb, wb = -(-h // b), -(-w // b)
    pad = np.pad(v, ((0, hb * b - h), (0, wb * b - w)), mode="reflect")
    blocks = pad.reshape(hb, b, wb, b).transpose(0, 2, 1, 3).reshape(hb, wb, b * b)
    q10, med, q90 = np.percentile(blocks, [10, 50, 90], axis=2)
    water = float(np.percentile(med, 10))
    dark = med <= np.percentile(med, 20)
    hi, lo = q90 - med, med - q10
    noise = max(float(np.median(hi[dark])), 2.0)
    ok = dark & (lo > 0)
    if ok.any():
        k = float(np.median(hi[ok] / lo[ok]))
        hi = np.minimum(hi, np.maximum(k * lo, noise))
    meds = ndimage.median_filter(med, p.smooth_blocks, mode="reflect")  # type: ignore[attr-defined]
    q90s = ndimage.median_filter(med + hi, p.smooth_blocks, mode="reflect")  # type: ignore[attr-defined]

    def up(a: np.ndarray) -> np.ndarray:
        return np.repeat(np.repeat(a.astype(np.float32), b, 0), b, 1)[:h, :w]

    return up(meds), up(q90s), water, up(med), noise


SHAPE_TEXTURE: list[str] = []
"""``--core-shape``, ``--ring-cv`` (7 Dec, helper sarfa39; not shipped): columns :func:`shape_texture_columns`
appends to every candidate's features, in fits and scores and in the detector's own passes
(:func:`use_shape_texture`)."""
SHAPE_TEXTURE_NAMES = {"core-shape": ("core_share", "ragged"), "ring-cv": ("ring_cv",)}


def shape_texture_columns(img: np.ndarray, lab: np.ndarray, feats: np.ndarray, which: list[str] | tuple[str, ...]) -> np.ndarray:
    """Extra columns per candidate of ``lab`` (labels 1..n, as :func:`rendering_candidates` numbers them):

    * ``core-shape``: the share of its pixels at the detector's seed level (a hull is bright through;
      land clutter grows from a few seeds through bright textured ground), and the log of its boundary
      pixels (a 4-neighbour outside it) over the perimeter of its moment box, ``2 (length + width) - 4``
      (a hull's outline follows its box, a bank line's or a built-up block's wanders);
    * ``ring-cv``: the coefficient of variation (standard deviation over mean, the mean at least one grey
      level) of the pixels 3 to ``max(8, 1.5 length)`` px from it that belong to no candidate: speckle over
      water or a uniform field has a fixed ratio, bright points and lines on darker ground (built-up land,
      a quay) a larger one, whatever the display stretch's scale.
    Designed on 7 Dec after looking at 1.14.0's held-out false alarms (most of them on land next to water)."""
    from scipy import ndimage

    from sitewatch.detect.sar_render import _block_background

    n = int(lab.max())
    cols: list[np.ndarray] = []
    if n == 0:
        return np.zeros((0, sum(len(SHAPE_TEXTURE_NAMES[w]) for w in which)))
    p = RenderParams()
    v = np.asarray(img, dtype=np.float32)
    length = np.exp(feats[:, RENDER_FEATURES.index("log_length_px")])
    width = length / feats[:, RENDER_FEATURES.index("elongation")]
    on = lab > 0
    k = lab[on].astype(np.int64) - 1
    cnt = np.bincount(k, minlength=n).astype(np.float64)
    if "core-shape" in which:
        med, q90, _, _, _ = _block_background(v, p)
        spread = np.maximum(q90 - med, 1.0)
        vs = ndimage.median_filter(v, p.despeckle_px, mode="reflect")
        seed = vs >= med + np.maximum(p.k_seed * spread, p.seed_min)
        inner = ndimage.binary_erosion(on, np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], bool), border_value=0)
        edge = np.bincount(k, (~inner[on]).astype(np.float64), n)
        cols += [np.bincount(k, seed[on].astype(np.float64), n) / cnt, np.log(np.maximum(edge, 1.0) / np.maximum(2 * (length + width) - 4, 1.0))]
    if "ring-cv" in which:
        cv = np.zeros(n)
        h, w = v.shape
        for i, sl in enumerate(ndimage.find_objects(lab)):
            if sl is None:
                continue
            reach = int(max(8.0, 1.5 * length[i]))
            r1, r2 = max(sl[0].start - reach, 0), min(sl[0].stop + reach, h)
            c1, c2 = max(sl[1].start - reach, 0), min(sl[1].stop + reach, w)
            dist = ndimage.distance_transform_edt(lab[r1:r2, c1:c2] != i + 1)
            ring = (dist > 2) & (dist <= reach) & ~on[r1:r2, c1:c2]
            if ring.sum() >= 5:
                px = v[r1:r2, c1:c2][ring]
                cv[i] = float(px.std()) / max(float(px.mean()), 1.0)
        cols.append(cv)
    return np.column_stack(cols)


def use_shape_texture(which: list[str]) -> None:
    """Make every candidate search of this script and of the detector (its passes) append
    :func:`shape_texture_columns` ``which``."""
    import sitewatch.detect.sar_render as sar_render

    SHAPE_TEXTURE[:] = which
    plain = sar_render.rendering_candidates

    def wider(image: np.ndarray, params: RenderParams | None = None) -> tuple:
        lab, feats, extra = plain(image, params)
        return lab, np.column_stack([feats, shape_texture_columns(image, lab, feats, which)]), extra

    sar_render.rendering_candidates = wider
    globals()["rendering_candidates"] = wider


def n_features() -> int:
    """Columns of a candidate's row as this run computes them."""
    return len(RENDER_FEATURES) + len(RELATIVE) + int(OPEN_FEATURE[0]) + sum(len(SHAPE_TEXTURE_NAMES[w]) for w in SHAPE_TEXTURE)


OPEN_FEATURE = [False]
"""``--open-water-feature``: the open-water contrast rule (:func:`open_water_contrast`) given to the
trees as one more (binary) feature, in every fit and score (not shipped)."""
OPEN: dict[str, np.ndarray] = {}
"""Per scored chip (and OpenSARShip key), which candidates the open-water contrast rule keeps."""


def _features(img: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """A chip's candidate features (with the experiment's extra columns), their extra arrays and
    the open-water contrast rule's verdict."""
    lab, feats, extra = rendering_candidates(img)
    rule = open_water_contrast(img, lab, feats, extra) if OPEN_RULE[0] or OPEN_FEATURE[0] else np.zeros(len(feats), bool)
    feats = _with_relative(feats)
    if OPEN_FEATURE[0]:
        feats = np.column_stack([feats, rule.astype(float)]) if len(feats) else np.zeros((0, feats.shape[1] + 1))
    return feats, extra, rule


def _candidates(img: np.ndarray, boxes: list, key: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centroids, features and is_ship (centroid inside a box) of a chip's candidates; with ``key``,
    the open-water rule's verdicts go to :data:`OPEN` under it."""
    feats, extra, rule = _features(img)
    if key is not None:
        OPEN[key] = rule
    for name in DROP:
        feats[:, RENDER_FEATURES.index(name)] = 0.0
    pos = np.column_stack([extra["row"], extra["col"]])
    y = np.zeros(len(pos))
    for x0, y0, x1, y1 in boxes:
        y[(pos[:, 1] >= x0 - 0.5) & (pos[:, 1] <= x1 + 0.5) & (pos[:, 0] >= y0 - 0.5) & (pos[:, 0] <= y1 + 0.5)] = 1
    return pos, feats, y


def anchorage(img: np.ndarray, boxes: list, rng: np.random.Generator) -> tuple[np.ndarray, list] | None:
    """The chip with copies of its own ships pasted close together on its open water: an
    anchorage. Each copy is a labelled box (2 px of margin) turned by a multiple of 90° or
    mirrored, laid by the brighter pixel (``max``) so its water blends with the sea, its centre
    drawn round a random point of open water at a spacing of 1-2 ship sizes, never over a
    candidate, another copy or land (blocks whose median is over the water level by more than
    2 sea-noise units). ``None`` when the chip has too little open water. Training only."""
    from scipy import ndimage

    from sitewatch.detect.sar_render import RenderParams, _block_background

    v = img.astype(np.float32)
    _, _, water, bmed, noise = _block_background(v, RenderParams())
    lab, _, extra = rendering_candidates(img)
    free = (bmed <= water + 2 * noise) & (lab == 0)
    for x0, y0, x1, y1 in boxes:
        free[max(int(y0) - 3, 0) : int(y1) + 4, max(int(x0) - 3, 0) : int(x1) + 4] = False
    h, w = v.shape
    patches = []
    for x0, y0, x1, y1 in boxes:
        r0, r1, c0, c1 = max(int(y0) - 2, 0), min(int(y1) + 3, h), max(int(x0) - 2, 0), min(int(x1) + 3, w)
        inside = np.nonzero((extra["col"] >= x0 - 0.5) & (extra["col"] <= x1 + 0.5) & (extra["row"] >= y0 - 0.5) & (extra["row"] <= y1 + 0.5))[0]
        if not len(inside) or (r1 - r0) * (c1 - c0) > 0.05 * h * w:
            continue
        # Only the ship's own candidate pixels (and one pixel round them) travel: a ship at a
        # quay would otherwise carry a rectangle of land into the sea.
        own = ndimage.binary_dilation(np.isin(lab[r0:r1, c0:c1], inside + 1), np.ones((3, 3), bool))
        patches.append(np.where(own, img[r0:r1, c0:c1], 0).astype(img.dtype))
    cells = np.argwhere(free)
    if not patches or len(cells) < 0.05 * h * w:
        return None
    out, new = img.copy(), list(boxes)
    size = float(np.median([max(p.shape) for p in patches]))
    centre = cells[rng.integers(len(cells))].astype(float)
    angle = rng.uniform(0, np.pi)
    axis = np.array([np.cos(angle), np.sin(angle)])
    placed = 0
    want = int(rng.integers(10, 41))
    for _ in range(40 * want):
        if placed >= want:
            break
        p = patches[int(rng.integers(len(patches)))]
        p = np.rot90(p, int(rng.integers(4)))
        if rng.random() < 0.5:
            p = p[:, ::-1]
        spread = size * (1.0 + rng.random()) * np.sqrt(want) / 2
        at = centre + axis * rng.normal(0, 2 * spread) + axis[::-1] * np.array([1, -1]) * rng.normal(0, spread / 2)
        r, c = int(at[0]) - p.shape[0] // 2, int(at[1]) - p.shape[1] // 2
        if r < 0 or c < 0 or r + p.shape[0] > h or c + p.shape[1] > w or not free[r : r + p.shape[0], c : c + p.shape[1]].all():
            continue
        out[r : r + p.shape[0], c : c + p.shape[1]] = np.maximum(out[r : r + p.shape[0], c : c + p.shape[1]], p)
        free[max(r - 2, 0) : r + p.shape[0] + 2, max(c - 2, 0) : c + p.shape[1] + 2] = False
        new.append((float(c + 2), float(r + 2), float(c + p.shape[1] - 3), float(r + p.shape[0] - 3)))
        placed += 1
    return (out, new) if placed >= 5 else None


def respeckle(img: np.ndarray, looks: float, rng: np.random.Generator) -> np.ndarray:
    """The 8-bit chip as a noisier rendering: its intensity (grey level squared) times unit-mean
    gamma speckle of ``looks`` looks, back to grey levels (0 and 255 stay put). Training only."""
    intensity = (img.astype(np.float64) / 255.0) ** 2 * rng.gamma(looks, 1.0 / looks, img.shape)
    return np.clip(np.round(255.0 * np.sqrt(intensity)), 0, 255).astype(np.uint8)


SPECKLE = [0]
"""Noisier re-renderings of each chip for training (``--speckle``; 0: none)."""

DOWNSCALE = [0]
"""Half-resolution copies of each chip for training (``--downscale``; 0: none)."""


def downscaled(img: np.ndarray, boxes: list) -> tuple[np.ndarray, list]:
    """The 8-bit chip at half its resolution (mean of each 2 × 2 block of grey levels) and its
    boxes halved: the same ships, smaller in pixels, as a coarser sensor shows them. Training only."""
    h, w = img.shape[0] // 2 * 2, img.shape[1] // 2 * 2
    small = img[:h, :w].astype(np.float32).reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    return np.round(small).astype(np.uint8), [tuple(v / 2 for v in b) for b in boxes]


SYNTH: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
"""Per chip, the candidates (features, is_ship) of its synthetic anchorages (:func:`anchorage`;
training only, and only in folds that train on that chip)."""
ANCHORAGES = [0]
"""Synthetic anchorages made of each chip (``--anchorages``; 0: none)."""


def rows(root: Path, gammas: tuple[float, ...] = ()) -> list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray, list, str]]:
    """(dataset, chip, centroids (n, 2), features (n, k), is_ship (n,), boxes, source) per chip;
    with ``gammas``, also each chip's re-renderings ``(features, is_ship)`` in :data:`VARIANTS`;
    with :data:`ANCHORAGES`, its synthetic anchorages in :data:`SYNTH`."""
    out = []
    for group, chips in (("sar-ship-dataset", ssdd_chips(root)), ("hrsid", hrsid_chips(root))):
        for name, img, boxes in chips:
            pos, feats, y = _candidates(img, boxes, name)
            IMAGES[name] = img
            out.append((group, name, pos, feats, y, boxes, source(name, group)))
            VARIANTS[name] = [_candidates(regamma(img, g), boxes)[1:] for g in gammas]
            rng = np.random.default_rng(sum(map(ord, name)))
            SYNTH[name] = []
            for _ in range(SPECKLE[0]):
                looks = float(rng.choice((1.0, 2.0, 4.0)))
                SYNTH[name].append(_candidates(respeckle(img, looks, rng), boxes)[1:])
            for _ in range(DOWNSCALE[0]):
                small, small_boxes = downscaled(img, boxes)
                g = float(rng.choice((1.0,) + GAMMAS))
                SYNTH[name].append(_candidates(regamma(small, g) if g != 1.0 else small, small_boxes)[1:])
            for _ in range(ANCHORAGES[0]):
                made = anchorage(img, boxes, rng)
                if made is not None:
                    g = float(rng.choice((1.0,) + GAMMAS))
                    SYNTH[name].append(_candidates(regamma(made[0], g) if g != 1.0 else made[0], made[1])[1:])
    return out


IMAGES: dict[str, np.ndarray] = {}
ALT_MODELS: dict[str, dict[str, object]] = {}
"""Per chip, its fold's model without the pass input (``--cross-fit``)."""
"""Each box chip's rendering, for :func:`second_pass_rows`."""

PASSES: list[int] = [2]
"""``--passes N``: also the detector with up to N passes (each without everything kept so far); a line of its own."""
SECOND_CUT: list[float | None] = [None]
"""``--second-cut C``: also the detector (two passes) keeping the second pass's candidates at C, not at the cut; a line of its own."""

JOIN = [False]
"""``--join-pieces``: also the detector with hull pieces joined (:func:`joined`); a line of its own."""

PAIRS = [False]
"""``--pairs``: also the detector with hulls abreast split, with pieces joined by the chip's typical hull, and with
both (the last is the one gated for shipping; :mod:`_sar_pairs`, 5 Dec); a line each."""

PAIRS_INLINE = [False]
"""``--pairs-inline``: also the detector with hulls in line split (the pair split turned by 90 degrees, same
constants; designed after ``--diagnose-pairs`` showed P0119's held-out misses merged end to end, so its
figures are not clean held-out ones), alone, with the join, and with both splits and the join."""

TRAIN_SECOND = [False]
CROSS_FIT = [False]
"""``--cross-fit``: with ``--train-second-pass``, each training chip's first pass from trees fitted without its
source group (:data:`INNER_MEMBERS` members); the same rows also fit a model without the pass input (:data:`ALT`)."""
INNER_MEMBERS = 4
ALT: list[dict[str, object] | None] = [None]
"""The last :func:`two_pass_ensemble` model without the pass input (``--cross-fit``)."""
NO_PASS_FEATURE = [False]
"""``--no-pass-feature``: with ``--train-second-pass``, the second pass's rows join the training rows without a feature saying so."""
"""``--train-second-pass``: the trees also trained on the second pass's candidates (:func:`two_pass_ensemble`)."""


PASS_FEATURE = "second_pass"
"""The 20th input of ``--train-second-pass``'s trees: 0 on the first pass's candidates, 1 on the later passes'."""


def pass_rows(feats: np.ndarray, model: dict[str, object], second: bool) -> np.ndarray:
    """``feats`` as ``model`` reads them: with :data:`PASS_FEATURE` appended when the model has it."""
    if list(model.get("features", ()))[-1:] != [PASS_FEATURE]:  # type: ignore[call-overload]
        return feats
    return np.column_stack([feats, np.full(len(feats), float(second))])


def _scored_pass(img: np.ndarray, p: RenderParams, model: dict[str, object], cut: float, second: bool = False) -> tuple:
    """One pass of the detector: candidate labels, features, extra arrays, probabilities, indices kept."""
    lab, feats, extra = rendering_candidates(img, p)
    prob = render_probability(pass_rows(feats, model, second), model) if len(feats) else np.zeros(0)
    return lab, feats, extra, prob, np.flatnonzero(prob >= cut)


@dataclass(frozen=True)
class Variant:
    """A variant of the detector's later looks (5 Dec, not shipped): at most ``passes`` passes in all, each on
    the previous pass's image with what it kept replaced by water, stopping at the first that keeps nothing
    new; the later passes' candidates kept at ``second_cut`` (``None``: the cut)."""

    passes: int = 2
    second_cut: float | None = None
    join: bool = False
    """Drop a detection that is a piece of a larger one with no water between them (:func:`joined`)."""
    split_pairs: bool = False
    """Cut a kept candidate twice as wide as the chip's sure ships, with two ridges across it, in two
    (:func:`_sar_pairs.split_pairs`; 5 Dec)."""
    split_inline: bool = False
    """Cut a kept candidate twice as long as the chip's sure ships, with two ridges along it, in two
    (:func:`_sar_pairs.split_pairs` with ``inline``; 5 Dec, designed after ``--diagnose-pairs``)."""
    join_typical: bool = True
    """Drop a piece of a larger kept detection when the two together are one hull of the chip's typical size
    (:func:`sitewatch.detect.sar_render.joined_pieces`: tried 5 Dec in `pairs`, shipped in sar-cfar 1.13.0;
    ``False``: 1.12.0's detector)."""


def detect_variant(
    img: np.ndarray,
    model: dict[str, object],
    variant: Variant,
    passes: list[int] | None = None,
    typical: tuple[float, float] | None = None,
    detail: dict[str, list] | None = None,
) -> list[tuple[float, float, float]]:
    """(row, col, score) of the detections of :func:`detect_rendering` changed as ``variant`` says, with the
    pass input for a ``--train-second-pass`` model; ``Variant()`` and a model without that input give exactly
    :func:`detect_rendering`'s (same steps: the 2 px rule, against everything kept so far). ``passes``, if
    given, receives the pass (1, 2, ...) of each detection. ``typical``, if given, replaces the chip's own
    typical ship (``benchmarks/sar_inline_harm.py``'s stress setting); ``detail``, if given, receives the
    detections (``"found"``, :class:`PixelDetection`, pixel units), the index pairs of the two parts of
    each split that both remain (``"parts"``), the typical ship used (``"typical"``, one item) and, with the
    join, each detection's pixel moments (``"moments"``, as :func:`_sar_pairs.pixel_moments`)."""
    from scipy import ndimage

    p = RenderParams()
    cut = float(model["cut"])  # type: ignore[arg-type]
    lab, feats, extra, prob, keep = _scored_pass(img, p, model, cut)
    typ = typical_hull(feats, prob, p) if variant.split_pairs or variant.split_inline or variant.join_typical else None
    if typical is not None:
        typ = typical
    pixels: list[tuple[np.ndarray, np.ndarray]] = []
    siblings: set[frozenset[int]] = set()

    def measured(pass_img: np.ndarray, lab: np.ndarray, feats: np.ndarray, extra: dict, prob: np.ndarray, keep: np.ndarray) -> list:
        for on, inline in ((variant.split_pairs, False), (variant.split_inline, True)):
            if not on:
                continue
            lab, splits = split_pairs(pass_img, lab, keep, typ, p, inline=inline)
            if splits:
                feats = np.vstack([feats, feats[[i for i, _ in splits]]])
                prob = np.concatenate([prob, prob[[i for i, _ in splits]]])
                keep = np.concatenate([keep, np.array([n - 1 for _, n in splits], np.int64)])
                at = {int(j): len(found_so_far[0]) + q for q, j in enumerate(keep)}
                siblings.update(frozenset((at[i], at[n - 1])) for i, n in splits)
        out = _measured(lab, feats, extra, prob, keep, (1.0, 1.0), None)
        if variant.join_typical:
            objs = ndimage.find_objects(lab)
            for j in keep:
                sl = objs[int(j)]
                rr, cc = np.nonzero(lab[sl] == j + 1)
                pixels.append((rr + sl[0].start, cc + sl[1].start))
        return out

    found_so_far: list[list] = [[]]
    found = measured(img, lab, feats, extra, prob, keep)
    found_so_far[0] = found
    if passes is not None:
        passes += [1] * len(found)
    kept = np.isin(lab, keep + 1)
    v = img.astype(np.float32)
    for k in range(variant.passes - 1):
        if not keep.size:
            break
        v = _without(v, lab, keep + 1, p).astype(np.float32)
        later = cut if variant.second_cut is None else variant.second_cut
        lab, feats, extra, prob, keep = _scored_pass(v, p, model, later, second=True)
        near = ndimage.binary_dilation(kept, np.ones((5, 5), bool))
        keep = keep[~np.isin(keep + 1, lab[near])]
        more = measured(v, lab, feats, extra, prob, keep)
        found += more
        found_so_far[0] = found
        if passes is not None:
            passes += [k + 2] * len(more)
        kept |= np.isin(lab, keep + 1)
    left = list(range(len(found)))
    if variant.join_typical and len(found) > 1:
        moments = np.array([pixel_moments(rr, cc) for rr, cc in pixels])
        keep_i = joined_pieces([d for d, _ in found], moments, typ, (1.0, 1.0), p, siblings)
        found = [found[i] for i in keep_i]
        left = [left[i] for i in keep_i]
        if passes is not None:
            passes[:] = [passes[i] for i in keep_i]
    if variant.join and len(found) > 1:
        keep_i = joined(img, [d for d, _ in found], p)
        found = [found[i] for i in keep_i]
        left = [left[i] for i in keep_i]
        if passes is not None:
            passes[:] = [passes[i] for i in keep_i]
    if detail is not None:
        at = {j: q for q, j in enumerate(left)}
        detail["found"] = [d for d, _ in found]
        detail["parts"] = [tuple(sorted(at[j] for j in pair)) for pair in siblings if all(j in at for j in pair)]
        detail["typical"] = [typ]
        if pixels:
            detail["moments"] = [pixel_moments(*pixels[j]) for j in left]
    return [(d.row, d.col, d.score) for d, _ in found]


def joined(img: np.ndarray, dets: list, p: RenderParams) -> list[int]:
    """Indices of ``dets`` (pixel units) left after dropping hull pieces (``--join-pieces``, 5 Dec, not shipped):
    in order of area, a smaller detection goes when its centroid lies within a larger kept one's box lengthened by
    both half-lengths plus 4 px, across within the wider half-width plus 1 px, and the despeckled grey level along
    the segment between their centroids never falls below the block median plus ``max(0.75 spread, 10)`` (half
    the hysteresis' grow margin: no water between them)."""
    from scipy import ndimage

    from sitewatch.detect.sar_render import _block_background

    v = img.astype(np.float32)
    med, q90, _, _, _ = _block_background(v, p)
    level = med + np.maximum(0.5 * p.k_grow * np.maximum(q90 - med, 1.0), 0.5 * p.grow_min)
    vs = ndimage.median_filter(v, p.despeckle_px, mode="reflect")
    h, w = v.shape
    order = sorted(range(len(dets)), key=lambda i: -(dets[i].area_px or dets[i].length_m * dets[i].width_m))
    kept: list[int] = []
    for i in order:
        b = dets[i]
        piece = False
        for j in kept:
            a = dets[j]
            t = np.radians(a.heading_deg)
            # heading clockwise from up: along = (-drow cos t + dcol sin t), across the other component
            dr, dc = b.row - a.row, b.col - a.col
            along = -dr * np.cos(t) + dc * np.sin(t)
            across = dr * np.sin(t) + dc * np.cos(t)
            if abs(along) > a.length_m / 2 + b.length_m / 2 + 4 or abs(across) > max(a.width_m, b.width_m) / 2 + 1:
                continue
            n = max(int(np.ceil(2 * np.hypot(dr, dc))), 2)
            rr = np.clip(np.round(np.linspace(a.row, b.row, n + 1)).astype(int), 0, h - 1)
            cc = np.clip(np.round(np.linspace(a.col, b.col, n + 1)).astype(int), 0, w - 1)
            if (vs[rr, cc] >= level[rr, cc]).all():
                piece = True
                break
        if not piece:
            kept.append(i)
    return sorted(kept)


def shipped_errors(root: Path, models: dict[str, dict[str, object]]) -> str:
    """Where the shipped detector's false alarms are, by pass: a second detection in a box another one took
    (one-to-one match, best score first) or outside every box; with each chip's model in ``models``."""
    tally: dict[str, dict[str, int]] = {}
    for name, img, boxes in ssdd_chips(root) + hrsid_chips(root):
        passes: list[int] = []
        found = detect_variant(img, models[name], Variant(), passes)
        if not found:
            continue
        pos = np.array([(r, c) for r, c, _ in found])
        taken = set(_assigned(pos, np.array([s for _, _, s in found]), boxes, -np.inf).values())
        for i, (r, c) in enumerate(pos):
            if i in taken:
                continue
            inside = any(x0 - 0.5 <= c <= x1 + 0.5 and y0 - 0.5 <= r <= y1 + 0.5 for x0, y0, x1, y1 in boxes)
            kind = f"pass {passes[i]} {'in a matched box' if inside else 'outside every box'}"
            chip = name.split("_")[0] if name.startswith("P0") else name
            tally.setdefault(kind, {})
            tally[kind][chip] = tally[kind].get(chip, 0) + 1
    return "; ".join(
        f"{kind} {sum(d.values())} ({', '.join(f'{c} {n}' for c, n in sorted(d.items(), key=lambda t: -t[1]))})" for kind, d in sorted(tally.items())
    )


def second_pass_rows(img: np.ndarray, boxes: list, model: dict[str, object]) -> tuple[np.ndarray, np.ndarray]:
    """(features, is_ship) of the candidates the shipped detector's second pass scores on one chip when
    its first pass uses ``model`` (those within 2 px of a kept candidate left out, as the detector drops
    them). Labels by the one-to-one match: the first pass's kept candidates take their boxes first (best
    score first, as :func:`match_boxes`), then the second pass's candidates, largest first, the boxes left;
    a candidate that takes a box is a ship, any other (a second piece of a matched hull) clutter."""
    from scipy import ndimage

    p = RenderParams()
    lab, _, extra, prob, keep = _scored_pass(img, p, model, CUT)
    none = (np.zeros((0, n_features())), np.zeros(0))
    if not keep.size:
        return none
    lab2, feats2, extra2 = rendering_candidates(_without(img.astype(np.float32), lab, keep + 1, p), p)
    if not len(feats2):
        return none
    near = ndimage.binary_dilation(np.isin(lab, keep + 1), np.ones((5, 5), bool))
    ok = np.flatnonzero(~np.isin(np.arange(len(feats2)) + 1, lab2[near]))
    pos1 = np.column_stack([extra["row"], extra["col"]])[keep]
    taken = set(_assigned(pos1, prob[keep], boxes, 0.0))
    free = [b for j, b in enumerate(boxes) if j not in taken]
    area = feats2[ok, RENDER_FEATURES.index("log_area_px")]
    pos2 = np.column_stack([extra2["row"], extra2["col"]])[ok]
    y = np.zeros(len(ok))
    for i in _assigned(pos2, area, free, -np.inf).values():
        y[i] = 1.0
    return feats2[ok], y


def two_pass_ensemble(train: list, extra: tuple[np.ndarray, np.ndarray], members: int, extra_keys: list[str] | tuple[str, ...] = ()) -> dict[str, object]:
    """Trees that also saw the second pass (``--train-second-pass``): an ensemble fitted as shipped runs the
    first pass on each training chip (as it is; in-sample, as the shipped model does on new chips it was not
    fitted on only approximately), :func:`second_pass_rows` gives that chip's second-pass candidates, and the
    ensemble is fitted again on every row as before (:data:`PASS_FEATURE` 0) plus those (1)."""
    if CROSS_FIT[0]:
        got = []
        for g in sorted({r[6] for r in train}):
            inner = fit_ensemble([r for r in train if r[6] != g], extra, INNER_MEMBERS, extra_keys)
            got += [second_pass_rows(IMAGES[r[1]], r[5], inner) for r in train if r[6] == g]
    else:
        first = fit_ensemble(train, extra, members, extra_keys)
        got = [second_pass_rows(IMAGES[r[1]], r[5], first) for r in train]
    second = (np.vstack([f for f, _ in got]), np.concatenate([t for _, t in got]))
    print(f"    second-pass training rows {len(second[1])} (ships {int(second[1].sum())})", flush=True)
    if CROSS_FIT[0]:
        NO_PASS_FEATURE[0] = True
        ALT[0] = fit_ensemble(train, extra, members, extra_keys, second)
        NO_PASS_FEATURE[0] = False
    return fit_ensemble(train, extra, members, extra_keys, second)


def _ensemble(train: list, extra: tuple[np.ndarray, np.ndarray], members: int, extra_keys: list[str] | tuple[str, ...] = ()) -> dict[str, object]:
    """The model of one fold: :func:`two_pass_ensemble` with ``--train-second-pass``, :func:`fit_ensemble` otherwise."""
    return (two_pass_ensemble if TRAIN_SECOND[0] else fit_ensemble)(train, extra, members, extra_keys)


VARIANTS: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
"""Per chip, the candidates (features, is_ship) of its re-renderings at each of :data:`GAMMAS`
(training only: every score is on the chip as it is)."""


def opensarship_rows(root: Path, gammas: tuple[float, ...] = ()) -> list[tuple[str, bool, np.ndarray, np.ndarray, str]]:
    """(scene, is GRD, features, distance (m) of each candidate from the annotated bow-stern line, key)
    per OpenSARShip chip with an 8-bit VV rendering and a bow-stern line; with ``gammas``, its
    re-renderings' training rows (:func:`opensarship_training`'s rule) in :data:`VARIANTS` under ``key``."""
    out = []
    for c in opensarship_chips(root):
        if c.rendering is None or c.rendering.dtype != np.uint8 or not all(np.isfinite(c.head_tail)):
            continue
        key = f"opensarship {c.scene} {c.name}"
        variants = []
        for g in (1.0,) + gammas:
            feats, extra, rule = _features(c.rendering if g == 1.0 else regamma(c.rendering, g))
            if g == 1.0:
                OPEN[key] = rule
            d = np.array([_to_line_m(c, r, cc) for r, cc in zip(extra["row"], extra["col"], strict=True)])
            if g == 1.0:
                out.append((c.scene, c.kind == "GRD", feats, d, key))
            else:
                keep = (d <= 30) | (d >= 150) if len(d) else np.zeros(0, bool)
                variants.append((feats[keep], (d[keep] <= 30).astype(float)))
        VARIANTS[key] = variants
    return out


def opensarship_keys(osr: list, skip_scene: str | None = None) -> list[str]:
    """Keys of the OpenSARShip chips in training (all but ``skip_scene``'s) for their re-renderings."""
    return [r[4] for r in osr if r[0] != skip_scene and VARIANTS.get(r[4])]


def opensarship_training(osr: list, skip_scene: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Training-only (features, is_ship): a candidate within 30 m of the line is a ship, one 150 m
    or more from it clutter, the ring between left out (other ships of busy chips are unlabelled)."""
    xs = [r[2][(r[3] <= 30) | (r[3] >= 150)] for r in osr if r[0] != skip_scene and len(r[3])]
    ys = [(r[3][(r[3] <= 30) | (r[3] >= 150)] <= 30).astype(float) for r in osr if r[0] != skip_scene and len(r[3])]
    if not xs:
        return np.zeros((0, n_features())), np.zeros(0)
    return np.vstack(xs), np.concatenate(ys)


def opensarship_held_out(data: list, osr: list, members: int) -> None:
    """Centred ship found (a kept candidate within 30 m of the line) on the GRD renderings, each
    scene scored by trees fitted on the 16 box chips and the other scenes' renderings."""
    prob: list[tuple[np.ndarray, np.ndarray]] = []
    for scene in sorted({r[0] for r in osr}):
        m = fit_ensemble(data, opensarship_training(osr, skip_scene=scene), members, opensarship_keys(osr, skip_scene=scene))
        prob += [(render_probability(f, m) if len(d) else np.zeros(0), d) for sc, grd, f, d, _ in osr if sc == scene and grd]
    keys = [key for sc in sorted({r[0] for r in osr}) for _, grd, _, _, key in (r for r in osr if r[0] == sc) if grd]
    for cut in (0.7, CUT):
        for rule in (False, True) if OPEN_RULE[0] else (False,):
            kept = [(q >= cut) | (OPEN[key] if rule else False) for (q, _), key in zip(prob, keys, strict=True)]
            found = sum(bool((k & (d <= 30)).any()) for k, (_, d) in zip(kept, prob, strict=True))
            dets = sum(int(k.sum()) for k in kept)
            label = " + open-water rule" if rule else ""
            print(f"OpenSARShip 8-bit GRD renderings, leave-one-scene-out, cut {cut}{label}: centred ship found {found} = {found / len(prob):.3f} of {len(prob)} chips, {dets / len(prob):.2f} detections a chip")


def _best_split(bins: np.ndarray, nb: list[int], idx: np.ndarray, g: np.ndarray, h: np.ndarray) -> tuple[int, int] | None:
    """(feature, threshold index) of the best split of the rows ``idx`` (at least ``MIN_LEAF`` a side).

    ``bins[:, j]`` is each row's rank among feature ``j``'s thresholds (``x <= t[i]`` iff
    ``bins <= i``), so every threshold's left sums are one cumulative sum of a histogram."""
    best, arg = 0.0, None
    gs, hs, n = g[idx].sum(), h[idx].sum(), len(idx)
    for j, nbj in enumerate(nb):
        b = bins[idx, j]
        gl = np.cumsum(np.bincount(b, g[idx], nbj))[:-1]
        hl = np.cumsum(np.bincount(b, h[idx], nbj))[:-1]
        nl = np.cumsum(np.bincount(b, None, nbj))[:-1]
        gain = gl * gl / (hl + 1) + (gs - gl) ** 2 / (hs - hl + 1) - gs * gs / (hs + 1)
        gain = np.where((nl >= MIN_LEAF) & (n - nl >= MIN_LEAF), gain, -1.0)
        i = int(np.argmax(gain)) if len(gain) else 0
        if len(gain) and gain[i] > best:
            best, arg = float(gain[i]), (j, i)
    return arg


def fit(x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None) -> dict[str, object]:
    """Boosted depth-2 trees (Newton leaves, L2 1 on the leaf values) in the shipped JSON form.
    Classes weighted to equal totals, over all rows or (``groups``) within each group."""
    sw = np.ones(len(y))
    for gi in np.unique(groups) if groups is not None else [None]:
        m = np.ones(len(y), bool) if gi is None else groups == gi
        pos = float(y[m].sum())
        if pos == 0 or pos == m.sum():
            continue
        sw[m] = np.where(y[m] > 0, 0.5 * m.sum() / pos, 0.5 * m.sum() / (m.sum() - pos))
    qs = [np.unique(np.quantile(x[:, j], np.linspace(0.02, 0.98, QUANTILES))) for j in range(x.shape[1])]
    bins = np.column_stack([np.searchsorted(q, x[:, j], side="left") for j, q in enumerate(qs)])
    nb = [len(q) + 1 for q in qs]
    everyone = np.arange(len(y))
    raw = np.zeros(len(y))
    trees: list = []
    for _ in range(TREES):
        p = 1.0 / (1.0 + np.exp(-raw))
        g, h = sw * (p - y), sw * p * (1 - p)
        top = _best_split(bins, nb, everyone, g, h)
        if top is None:
            break
        j, i = top
        sides = []
        for part in (everyone[bins[:, j] <= i], everyone[bins[:, j] > i]):
            sub = _best_split(bins, nb, part, g, h)
            if sub is None:
                val = float(-g[part].sum() / (h[part].sum() + 1))
                sides.append([-1, 0.0, val, val])
                raw[part] += RATE * val
            else:
                j2, i2 = sub
                lo, hi = part[bins[part, j2] <= i2], part[bins[part, j2] > i2]
                a, b = float(-g[lo].sum() / (h[lo].sum() + 1)), float(-g[hi].sum() / (h[hi].sum() + 1))
                sides.append([j2, float(qs[j2][i2]), a, b])
                raw[lo] += RATE * a
                raw[hi] += RATE * b
        trees.append([j, float(qs[j][i]), sides])
    return {"features": list(RENDER_FEATURES), "rate": RATE, "base": 0.0, "cut": CUT, "trees": trees}


def fit_ensemble(
    train: list,
    extra: tuple[np.ndarray, np.ndarray],
    members: int,
    extra_keys: list[str] | tuple[str, ...] = (),
    second: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, object]:
    """``members`` boosted models, member ``s`` fitted on the chips ``train`` as they are, ``PER_CHIP``
    re-renderings of each drawn with seed ``s`` from its :data:`VARIANTS`, and ``extra``; averaged
    (mean raw score: one model of all their trees with the leaf values divided by ``members``).
    ``members`` 1: one model on the chips as they are (1.8.0's recipe). With ``second`` (second-pass
    rows, :func:`two_pass_ensemble`), every row gets :data:`PASS_FEATURE`: 0, those rows 1."""
    if second is not None:
        models = []
        for seed in range(SEED[0], SEED[0] + members):
            rng = np.random.default_rng(seed)
            xs, ys = [r[3] for r in train] + [extra[0]], [r[4] for r in train] + [extra[1]]
            for key in [r[1] for r in train] + list(extra_keys) if members > 1 else []:
                for i in rng.choice(len(VARIANTS[key]), PER_CHIP, replace=False):
                    xs.append(VARIANTS[key][i][0])
                    ys.append(VARIANTS[key][i][1])
            x = np.vstack([np.vstack(xs), second[0]])
            if not NO_PASS_FEATURE[0]:
                x = np.column_stack([x, np.r_[np.zeros(len(x) - len(second[0])), np.ones(len(second[0]))]])
            models.append(fit(x, np.concatenate(ys + [second[1]])))
        trees = [[j, t, [[j2, t2, a / members, b / members] for j2, t2, a, b in sides]] for m in models for j, t, sides in m["trees"]]  # type: ignore[attr-defined]
        return models[0] | {"trees": trees, "features": [*RENDER_FEATURES] + ([] if NO_PASS_FEATURE[0] else [PASS_FEATURE])}
    if members == 1:
        return fit(np.vstack([r[3] for r in train] + [extra[0]]), np.concatenate([r[4] for r in train] + [extra[1]]))
    models = []
    for seed in range(SEED[0], SEED[0] + members):
        rng = np.random.default_rng(seed)
        xs, ys = [r[3] for r in train] + [extra[0]], [r[4] for r in train] + [extra[1]]
        for r in train:
            xs += [f for f, _ in SYNTH.get(r[1], [])]
            ys += [t for _, t in SYNTH.get(r[1], [])]
        for key in [r[1] for r in train] + list(extra_keys):
            for i in rng.choice(len(VARIANTS[key]), PER_CHIP, replace=False):
                xs.append(VARIANTS[key][i][0])
                ys.append(VARIANTS[key][i][1])
        groups = np.concatenate([np.full(len(t), i) for i, t in enumerate(ys)]) if CHIP_BALANCE[0] else None
        models.append(fit(np.vstack(xs), np.concatenate(ys), groups))
    trees = [[j, t, [[j2, t2, a / members, b / members] for j2, t2, a, b in sides]] for m in models for j, t, sides in m["trees"]]  # type: ignore[attr-defined]
    return models[0] | {"trees": trees}


def score(data: list, prob: dict[str, np.ndarray], cut: float | dict[str, float], open_water: bool = False) -> Counts:
    """Box counts of the candidates scoring at least ``cut`` (one value, or one per chip); with
    ``open_water``, also those the open-water contrast rule keeps (:data:`OPEN`)."""
    c = Counts()
    for _, name, pos, _, _, boxes, _ in data:
        q, k = prob[name], cut[name] if isinstance(cut, dict) else cut
        kept = (q >= k) | (OPEN[name] if open_water else False)
        c.add(match_boxes([(float(r), float(cc), float(s)) for (r, cc), s, on in zip(pos, q, kept, strict=True) if on], boxes))
    return c


NESTED_CUTS = tuple(np.round(np.arange(0.5, 0.91, 0.05), 2))


def nested_cuts(data: list, key: int, extra: tuple[np.ndarray, np.ndarray], members: int, extra_keys: list[str] | tuple[str, ...] = ()) -> dict[str, float]:
    """Per chip, the cut its fold (``key`` as in :func:`held_out`) would choose without it: the best of
    :data:`NESTED_CUTS` by F1 over the fold's training chips, each scored leave-one-source-out within them."""
    cuts: dict[str, float] = {}
    for g in sorted({r[key] for r in data}):
        tr = [r for r in data if r[key] != g]
        inner = held_out(tr, 6, extra, members, extra_keys)
        best = max(NESTED_CUTS, key=lambda c: score(tr, inner, float(c)).prf()[2])
        cuts |= {r[1]: float(best) for r in data if r[key] == g}
    return cuts


def _compact(model: dict[str, object]) -> dict[str, object]:
    """The model with leaf values rounded to 6 significant digits (a smaller file; scores change < 1e-5)."""
    trees = [[j, t, [[j2, t2, float(f"{a:.6g}"), float(f"{b:.6g}")] for j2, t2, a, b in sides]] for j, t, sides in model["trees"]]  # type: ignore[attr-defined]
    return model | {"trees": trees}


OPEN_RULE = [False]
"""``--open-water``: also print every figure with the open-water contrast rule (keep a candidate the
trees score at the cut OR that :func:`open_water_contrast` keeps)."""
CHIP_BALANCE = [False]
"""``--chip-balance``: classes weighted to equal totals within each training chip (and each
re-rendering of it), not over all rows (not shipped)."""
SELF_TRAIN = [False]
"""``--self-train``: each scored chip's scores adapted to the chip (:func:`self_trained`)."""


def self_trained(x: np.ndarray, s: np.ndarray, hi: float = 0.9, lo: float = 0.2, ridge: float = 1.0) -> np.ndarray:
    """Scores adapted to one chip without its labels (self-training): the chip's own candidates
    the trees are sure of (score at least ``hi``: ships; at most ``lo``: clutter), at least 5 of
    each, fit a ridge logistic regression on the features standardised over the chip (classes
    weighted equally, Newton steps); the result is the mean of the trees' score and its score.
    Otherwise the trees' scores as they are. Rules fixed before any figure was seen."""
    pos, neg = s >= hi, s <= lo
    if pos.sum() < 5 or neg.sum() < 5:
        return s
    z = (x - x.mean(axis=0)) / np.maximum(x.std(axis=0), 1e-9)
    a = np.column_stack([np.ones(len(z)), z])
    sel = pos | neg
    xa, y = a[sel], pos[sel].astype(float)
    w = np.where(y > 0, 0.5 / y.sum(), 0.5 / (1 - y).sum()) * len(y)
    beta = np.zeros(a.shape[1])
    pen = np.full(a.shape[1], ridge)
    pen[0] = 0.0
    for _ in range(25):
        p = 1.0 / (1.0 + np.exp(-(xa @ beta)))
        g = xa.T @ (w * (p - y)) + pen * beta
        h = (xa * (w * p * (1 - p))[:, None]).T @ xa + np.diag(pen + 1e-9)
        step = np.linalg.solve(h, g)
        beta -= step
        if np.abs(step).max() < 1e-6:
            break
    local = 1.0 / (1.0 + np.exp(-(a @ beta)))
    return (s + local) / 2


def held_out(
    data: list,
    key: int,
    extra: tuple[np.ndarray, np.ndarray],
    members: int = 1,
    extra_keys: list[str] | tuple[str, ...] = (),
    models: dict[str, dict[str, object]] | None = None,
) -> dict[str, np.ndarray]:
    """Probabilities of every chip's candidates from trees fitted without its group (``key``: 1 chip, 0 dataset, 6 source)
    on the other chips (and their re-renderings) plus the training-only rows ``extra``; ``models``, if given,
    receives each chip's held-out model (for :func:`shipped_counts`)."""
    prob: dict[str, np.ndarray] = {}
    for g in sorted({r[key] for r in data}):
        tr = [r for r in data if r[key] != g]
        m = _ensemble(tr, extra, members, extra_keys)
        for r in data:
            if r[key] == g:
                if models is not None:
                    models[r[1]] = m
                    if ALT[0] is not None:
                        ALT_MODELS[r[1]] = ALT[0]
                prob[r[1]] = render_probability(pass_rows(r[3], m, False), m) if len(r[3]) else np.zeros(0)
                if SELF_TRAIN[0] and len(r[3]):
                    prob[r[1]] = self_trained(r[3], prob[r[1]])
    return prob


def shipped_counts(root: Path, models: dict[str, dict[str, object]], how: RenderParams | Variant | None = None) -> dict[str, tuple[int, int, int]]:
    """Per chip, (tp, fp, fn) of what the shipped detector (:func:`detect_rendering`: candidates, trees, cut
    and, unless ``how`` says otherwise, the second look without the kept ships) finds with the chip's model in
    ``models`` (held out or in-sample, as they were fitted); with a :class:`Variant` (or a model with the pass
    input), what :func:`detect_variant` finds."""
    how = how or RenderParams()
    out = {}
    for name, img, boxes in ssdd_chips(root) + hrsid_chips(root):
        m = models[name]
        if isinstance(how, Variant) or list(m["features"])[-1:] == [PASS_FEATURE]:  # type: ignore[call-overload]
            variant = how if isinstance(how, Variant) else Variant(passes=2 if how.second_pass else 1, join_typical=how.join_pieces)
            found = detect_variant(img, m, variant)
        else:
            found = [(d.row, d.col, d.score) for d, _ in detect_rendering(img, (1.0, 1.0), how, m)]
        out[name] = match_boxes(found, boxes)
    return out


def print_shipped(root: Path, label: str, models: dict[str, dict[str, object]]) -> None:
    """The shipped detector's box figures (first pass only without the join, which scores as the candidates do;
    1.12.0's two passes without the join; and as shipped, sar-cfar 1.13.0, two passes and the typical-hull join;
    then the variants the flags ask for, each on top of the shipped detector unless it says otherwise) and the
    per-chip counts of all but the first, each chip with its model in ``models``."""
    runs: list[tuple[str, RenderParams | Variant]] = [
        ("first pass only (no join)", RenderParams(second_pass=False, join_pieces=False)),
        ("1.12.0 (second pass, no join)", RenderParams(join_pieces=False)),
        ("shipped detector (2 passes + join)", RenderParams()),
    ]
    if PASSES[0] != 2:
        runs.append((f"variant: up to {PASSES[0]} passes", Variant(passes=PASSES[0])))
    if SECOND_CUT[0] is not None:
        runs.append((f"variant: second pass at {SECOND_CUT[0]}", Variant(second_cut=SECOND_CUT[0])))
    if JOIN[0]:
        runs.append(("variant: hull pieces joined", Variant(join=True)))
    if PAIRS[0]:
        runs.append(("variant: pairs split", Variant(split_pairs=True, join_typical=False)))
        # The shipped detector again, through detect_variant's pixel moments: the same figures as its line.
        runs.append(("variant: typical-hull join", Variant(join_typical=True)))
        runs.append(("variant: split + join (gated)", Variant(split_pairs=True, join_typical=True)))
    if PAIRS_INLINE[0]:
        runs.append(("variant: in-line split", Variant(split_inline=True, join_typical=False)))
        runs.append(("variant: in-line split + join", Variant(split_inline=True, join_typical=True)))
        runs.append(("variant: both splits + join", Variant(split_pairs=True, split_inline=True, join_typical=True)))
    for what, how in runs:
        per_chip = shipped_counts(root, models, how)
        total = Counts()
        for t in per_chip.values():
            total.add(t)
        print(f"{label:<22} {what:<34} cut {CUT:.2f}  P %.3f  R %.3f  F1 %.3f" % total.prf(), flush=True)
        if what != runs[0][0]:
            for name, (tp, fp, fn) in per_chip.items():
                print(f"      {name:<34} tp {tp:3d} fp {fp:3d} fn {fn:3d}")
    print("    shipped detector's false alarms: " + shipped_errors(root, models), flush=True)


def _box_slices(box: tuple[float, float, float, float], shape: tuple[int, ...]) -> tuple[slice, slice]:
    """Rows and columns of a box ``(xmin, ymin, xmax, ymax)`` inside an image of ``shape``."""
    x0, y0, x1, y1 = (int(round(t)) for t in box)
    return slice(max(y0, 0), min(y1 + 1, shape[0])), slice(max(x0, 0), min(x1 + 1, shape[1]))


def _matched(pos: np.ndarray, boxes: list) -> list[bool]:
    """The boxes a one-to-one match of every candidate takes (:func:`match_boxes`, all scores equal)."""
    used = [False] * len(boxes)
    for r, c in pos:
        best, bestd = -1, np.inf
        for i, (x0, y0, x1, y1) in enumerate(boxes):
            if not used[i] and x0 - 0.5 <= c <= x1 + 0.5 and y0 - 0.5 <= r <= y1 + 0.5:
                d = (c - (x0 + x1) / 2) ** 2 + (r - (y0 + y1) / 2) ** 2
                if d < bestd:
                    best, bestd = i, d
        if best >= 0:
            used[best] = True
    return used


def _no_candidate_reason(lab: np.ndarray, b: tuple[float, float, float, float], boxes: list, inside: np.ndarray) -> str:
    """Why no candidate matches box ``b`` (:func:`diagnose`): the component covering most of it lies
    mostly outside every box (``inside``), covers another box too, or no component touches it."""
    sl = _box_slices(b, lab.shape)
    ids = np.unique(lab[sl][lab[sl] > 0])
    if ids.size == 0:
        return "below the hysteresis levels"
    comp = lab == int(max(ids, key=lambda t: int((lab[sl] == t).sum())))
    if int((comp & ~inside).sum()) >= comp.sum() / 2:
        return "merged with land or clutter"
    if sum(int(comp[_box_slices(bb, lab.shape)].sum()) >= 10 for bb in boxes) >= 2:
        return "merged with a neighbour ship"
    return "one component, centroid outside the box"


def _assigned(pos: np.ndarray, s: np.ndarray, boxes: list, cut: float) -> dict[int, int]:
    """Box index -> candidate index of a one-to-one match of the candidates scoring at least ``cut``
    (:func:`match_boxes`'s order: best score first, each to the free box holding its centroid whose
    centre is nearest)."""
    used: dict[int, int] = {}
    for i in np.argsort(-s, kind="stable"):
        if s[i] < cut:
            continue
        r, c = pos[i]
        best, bestd = -1, np.inf
        for j, (x0, y0, x1, y1) in enumerate(boxes):
            if j not in used and x0 - 0.5 <= c <= x1 + 0.5 and y0 - 0.5 <= r <= y1 + 0.5:
                d = (c - (x0 + x1) / 2) ** 2 + (r - (y0 + y1) / 2) ** 2
                if d < bestd:
                    best, bestd = j, d
        if best >= 0:
            used[best] = int(i)
    return used


def errors_at_cut(data: list, prob: dict[str, np.ndarray]) -> str:
    """Where the errors at :data:`CUT` are (held out or in-sample, as ``prob`` was scored): false
    alarms inside a box another candidate already matched (hull fragments) or outside every box, and misses with no candidate at all (every candidate kept,
    one-to-one) or with a candidate scored below the cut; the busiest chips of each."""
    frag, out, none, below = {}, {}, {}, {}
    for _, name, pos, _, y, boxes, _ in data:
        q = prob[name]
        at, every = _assigned(pos, q, boxes, CUT), _assigned(pos, np.ones(len(q)), boxes, 0.0)
        taken = set(at.values())
        for i in np.flatnonzero(q >= CUT):
            if int(i) not in taken:
                (frag if y[i] > 0 else out)[name] = (frag if y[i] > 0 else out).get(name, 0) + 1
        for j in range(len(boxes)):
            if j not in at:
                (below if j in every else none)[name] = (below if j in every else none).get(name, 0) + 1

    def said(d: dict[str, int]) -> str:
        top = sorted(d.items(), key=lambda t: -t[1])[:3]
        names = ", ".join(f"{n[:5] if n.startswith('P0') else n} {k}" for n, k in top)
        return f"{sum(d.values())} ({names})"

    return (
        f"false alarms in a box already matched (fragments) {said(frag)}, outside every box {said(out)}; "
        f"misses without a candidate {said(none)}, with one below the cut {said(below)}"
    )


def diagnose_held_out(root: Path, data: list, extra: tuple[np.ndarray, np.ndarray], members: int, extra_keys: list[str], chip: str) -> None:
    """Why the held-out trees miss ``chip``'s ships (``--diagnose-held-out CHIP``; 4 Dec): the chip
    scored by trees fitted without it (as leave-one-chip-out), each box missed at :data:`CUT` put in
    one of (i) no candidate pixel on it, (ii) merged with a neighbour ship or with land (as
    :func:`diagnose`), (iii) its candidate scored below the cut. For (iii), each feature's median
    against the kept ships of the chip and the training positives and negatives (box chips of the
    fold), with the percentile of the (iii) candidates among the training positives, and the
    local block spread at them in the chip's sea-noise units."""
    from sitewatch.detect.sar_render import RenderParams, _block_background

    tr = [r for r in data if r[1] != chip]
    row = next(r for r in data if r[1] == chip)
    img = next(im for n, im, _ in ssdd_chips(root) + hrsid_chips(root) if n == chip)
    pos, x, boxes = row[2], row[3], row[5]
    q = render_probability(x, fit_ensemble(tr, extra, members, extra_keys))
    at, every = _assigned(pos, q, boxes, CUT), _assigned(pos, np.ones(len(q)), boxes, 0.0)
    lab, _, _ = rendering_candidates(img)
    inside = np.zeros(lab.shape, bool)
    for b in boxes:
        inside[_box_slices(b, lab.shape)] = True
    kept = np.flatnonzero(q >= CUT)
    print(f"{chip} held out, cut {CUT}: tp {len(at)} fp {len(kept) - len(at)} fn {len(boxes) - len(at)}")
    below, reasons = [], {}
    for j, b in enumerate(boxes):
        if j in at:
            continue
        if j in every:
            below.append(every[j])
            why = "(iii) a candidate, scored below the cut"
        else:
            why = "(i) no candidate: " + _no_candidate_reason(lab, b, boxes, inside) if not (lab[_box_slices(b, lab.shape)] > 0).any() else "(ii) " + _no_candidate_reason(lab, b, boxes, inside)
        reasons[why] = reasons.get(why, 0) + 1
    for why, k in sorted(reasons.items()):
        print(f"  {why}: {k}")
    miss, tp = np.array(below, int), np.array(sorted(at.values()), int)
    if not len(miss):
        return
    print(f"  (iii) scores {np.round(np.sort(q[miss]), 2).tolist()}")
    v = img.astype(np.float32)
    med, q90, _, _, noise = _block_background(v, RenderParams())
    for label, idx in (("(iii) candidates", miss), ("kept ships", tp)):
        r, c = pos[idx, 0].astype(int), pos[idx, 1].astype(int)
        area = np.bincount(lab.ravel())[idx + 1]
        print(f"  {label}: local spread median {np.median((q90 - med)[r, c]) / noise:.1f} sea-noise units, area median {np.median(area):.0f} px")
    xp = np.vstack([r[3][r[4] > 0] for r in tr])
    xn = np.vstack([r[3][r[4] == 0] for r in tr])
    print(f"  {'feature':<24}{'(iii)':>8}{'kept':>8}{'train +':>9}{'train -':>9}  (iii) percentile among train +")
    for j, name in enumerate(RENDER_FEATURES):
        pct = np.median([100 * (xp[:, j] < t).mean() for t in x[miss, j]])
        print(f"  {name:<24}{np.median(x[miss, j]):8.2f}{np.median(x[tp, j]):8.2f}{np.median(xp[:, j]):9.2f}{np.median(xn[:, j]):9.2f}  {pct:5.0f}")


def diagnose_pairs(root: Path, data: list, extra: tuple[np.ndarray, np.ndarray], members: int, extra_keys: list[str], chip: str) -> None:
    """Why :mod:`_sar_pairs`' split does not recover ``chip``'s merged ships (``--diagnose-pairs CHIP``; 5 Dec):
    the chip's two passes with trees fitted without it (as leave-one-chip-out); for each box the shipped detector
    misses, the kept candidate (either pass) covering most of it; when that one covers 10 px or more of another
    box too (merged), whether the two boxes lie side by side (their centres' offset more across the candidate's
    long axis than along it) or end to end, and what the split rule says of it (:func:`_sar_pairs.split_verdict`).
    Also the splits the rule makes and the boxes their parts fall in."""
    from scipy import ndimage

    from _sar_pairs import split_verdict

    tr = [r for r in data if r[1] != chip]
    model = _ensemble(tr, extra, members, extra_keys)
    img = next(im for n, im, _ in ssdd_chips(root) + hrsid_chips(root) if n == chip)
    boxes = next(b for n, _, b in ssdd_chips(root) + hrsid_chips(root) if n == chip)
    p = RenderParams()
    found = detect_variant(img, model, Variant())
    pos = np.array([(r, c) for r, c, _ in found])
    taken = _assigned(pos, np.array([s for _, _, s in found]), boxes, -np.inf)
    print(f"{chip} held out: tp {len(taken)} fp {len(found) - len(taken)} fn {len(boxes) - len(taken)}")
    lab1, feats1, _, prob1, keep1 = _scored_pass(img, p, model, CUT)
    typ = typical_hull(feats1, prob1)
    print(f"  typical width / length {typ[0]:.1f} / {typ[1]:.1f} px" if typ else "  no typical size")
    lab2, _, _, _, keep2 = _scored_pass(_without(img.astype(np.float32), lab1, keep1 + 1, p), p, model, CUT, second=True)
    near = ndimage.binary_dilation(np.isin(lab1, keep1 + 1), np.ones((5, 5), bool))
    keep2 = keep2[~np.isin(keep2 + 1, lab2[near])]
    passes = [(1, lab1, keep1, img), (2, lab2, keep2, _without(img.astype(np.float32), lab1, keep1 + 1, p))]
    centre = [((y0 + y1) / 2, (x0 + x1) / 2) for x0, y0, x1, y1 in boxes]
    tally: dict[str, int] = {}
    for j, b in enumerate(boxes):
        if j in taken:
            continue
        sl = _box_slices(b, img.shape)
        best = max(((int((lb[sl] == k + 1).sum()), n, lb, k, im) for n, lb, kp, im in passes for k in kp), default=None, key=lambda t: t[0])
        if best is None or best[0] == 0:
            kind = "no kept candidate on it"
            print(f"  box {j}: {kind}")
            tally[kind] = tally.get(kind, 0) + 1
            continue
        _, n, lb, k, im = best
        comp = lb == k + 1
        others = [o for o, bb in enumerate(boxes) if o != j and int(comp[_box_slices(bb, img.shape)].sum()) >= 10]
        if not others:
            kind = "kept candidate covers no other box"
            print(f"  box {j}: {kind} (pass {n})")
            tally[kind] = tally.get(kind, 0) + 1
            continue
        o = max(others, key=lambda t: int(comp[_box_slices(boxes[t], img.shape)].sum()))
        rr, cc = np.nonzero(comp)
        ev = np.linalg.eigh(np.cov(np.vstack([rr, cc]).astype(float), bias=True))[1][:, 1]
        off = np.subtract(centre[o], centre[j])
        along = abs(off @ ev)
        across = abs(off[0] * ev[1] - off[1] * ev[0])
        kind = "merged, side by side" if across > along else "merged, end to end"
        tally[kind] = tally.get(kind, 0) + 1
        verdict = split_verdict(im, lb, k, typ, p) if typ else "no typical size"
        print(f"  box {j}: {kind} with box {o} (pass {n}, {len(others) + 1} boxes, centres {along:.0f} px along, {across:.0f} across); {verdict}")
    print("  misses: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
    for n, lb, kp, im in passes:
        new, splits = split_pairs(im, lb, kp, typ, p)
        for i, m in splits:
            inside = []
            for part in (i + 1, m):
                r, c = np.argwhere(new == part).mean(axis=0)
                inside.append(next((q for q, (x0, y0, x1, y1) in enumerate(boxes) if x0 - 0.5 <= c <= x1 + 0.5 and y0 - 0.5 <= r <= y1 + 0.5), None))
            print(f"  split (pass {n}) candidate {i}: parts in boxes {inside}; {split_verdict(im, lb, i, typ, p)}")


def diagnose(root: Path) -> None:
    """Each box no candidate matches (every candidate kept, one-to-one as :func:`score`), and why:
    the component covering most of it lies mostly outside every box (merged with land or clutter),
    or covers another box too (merged with a neighbour ship; its centroid may lie in this box but
    be taken by an overlapping one), or no component touches it (below the hysteresis levels: grey
    levels above the grow level but no seed pixel, or fewer than ``min_area_px``). For the merged
    ones, whether a piece of the component above the seed level (at least ``min_area_px``) has
    its centroid in the box: what a split at the seed level could give."""
    from collections import Counter

    from scipy import ndimage

    from sitewatch.detect.sar_render import RenderParams, _block_background

    p = RenderParams()
    tally: Counter[str] = Counter()
    piece_in_box: Counter[str] = Counter()
    total = 0
    for name, img, boxes in ssdd_chips(root) + hrsid_chips(root):
        total += len(boxes)
        lab, _, extra = rendering_candidates(img)
        used = _matched(np.column_stack([extra["row"], extra["col"]]), boxes)
        v = img.astype(np.float32)
        med, q90, *_ = _block_background(v, p)
        vs = ndimage.median_filter(v, p.despeckle_px, mode="reflect")
        seed = vs >= med + np.maximum(p.k_seed * np.maximum(q90 - med, 1.0), p.seed_min)
        inside = np.zeros(lab.shape, bool)
        for b in boxes:
            inside[_box_slices(b, lab.shape)] = True
        for i, b in enumerate(boxes):
            if used[i]:
                continue
            sl = _box_slices(b, lab.shape)
            ids = np.unique(lab[sl][lab[sl] > 0])
            piece = False
            why = _no_candidate_reason(lab, b, boxes, inside)
            if ids.size:
                j = int(max(ids, key=lambda t: int((lab[sl] == t).sum())))
                comp = lab == j
                pieces, m = ndimage.label(seed & comp, np.ones((3, 3), bool))
                for k in range(1, m + 1):
                    rr, cc = np.nonzero(pieces == k)
                    if rr.size >= p.min_area_px and b[0] - 0.5 <= cc.mean() <= b[2] + 0.5 and b[1] - 0.5 <= rr.mean() <= b[3] + 0.5:
                        piece = True
            tally[why] += 1
            piece_in_box[why] += piece
            print(f"  {name:<32} box {i:3d} ({b[2] - b[0] + 1:.0f} x {b[3] - b[1] + 1:.0f} px): {why}{'; a seed-level piece in it' if piece else ''}")
    print(f"{sum(tally.values())} of {total} boxes without a candidate:")
    for why, k in tally.most_common():
        print(f"  {why}: {k} (a seed-level piece of the component has its centroid in {piece_in_box[why]})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--no-opensarship", action="store_true", help="train on the 16 box chips only")
    ap.add_argument("--opensarship-held-out", action="store_true", help="also score OpenSARShip's renderings leave-one-scene-out")
    ap.add_argument("--members", type=int, default=MEMBERS, help=f"models averaged (default {MEMBERS}; 1: one model, no re-rendered chips)")
    ap.add_argument("--quick", action="store_true", help="leave-one-chip-out only")
    ap.add_argument("--seed", type=int, default=0, help="first member's seed (others than 0: the spread of the figures over the draws)")
    ap.add_argument("--box-gamma-only", action="store_true", help="re-render the box chips only, not OpenSARShip's (not shipped)")
    ap.add_argument("--nested", action="store_true", help="also the cut chosen in each fold by an inner leave-one-source-out (slow)")
    ap.add_argument("--anchorages", type=int, default=0, help="synthetic anchorages made of each chip's own ships, for training (default 0)")
    ap.add_argument("--self-train", action="store_true", help="adapt each scored chip's scores to the chip (self-training; not shipped)")
    ap.add_argument("--drop", nargs="*", default=[], choices=RENDER_FEATURES, help="features left out (not shipped)")
    ap.add_argument("--chip-balance", action="store_true", help="weight the classes equally within each training chip (not shipped)")
    ap.add_argument("--speckle", type=int, default=0, help="noisier re-renderings (multiplicative speckle) of each chip, for training (not shipped)")
    ap.add_argument("--downscale", type=int, default=0, help="half-resolution copies of each chip, for training (not shipped)")
    ap.add_argument("--relative", nargs="*", default=[], choices=RENDER_FEATURES, help="features also given relative to the chip's median candidate (not shipped)")
    ap.add_argument("--diagnose", action="store_true", help="say why each box without a candidate has none, and stop")
    ap.add_argument("--open-water", action="store_true", help="also every figure with the open-water contrast rule (keep at the cut OR by the rule)")
    ap.add_argument("--open-water-feature", action="store_true", help="the open-water contrast rule as one more feature of the trees (not shipped)")
    ap.add_argument("--diagnose-held-out", metavar="CHIP", help="why the held-out trees miss CHIP's ships (i/ii/iii, features), and stop")
    ap.add_argument("--train-second-pass", action="store_true", help="trees also trained on the second pass's candidates, with a pass feature (two_pass_ensemble)")
    ap.add_argument("--passes", type=int, default=2, help="also the detector with up to this many passes (a third look and more)")
    ap.add_argument("--second-cut", type=float, default=None, help="also the detector with this cut for the later passes' candidates")
    ap.add_argument("--join-pieces", action="store_true", help="also the detector with pieces of a larger detection and no water between them dropped (joined)")
    ap.add_argument("--pairs", action="store_true", help="also the detector with hulls abreast split and pieces joined by the chip's typical ship size (_sar_pairs)")
    ap.add_argument("--pairs-inline", action="store_true", help="also the detector with hulls in line split by the chip's typical length (_sar_pairs; designed after --diagnose-pairs)")
    ap.add_argument("--diagnose-pairs", metavar="CHIP", help="why the pair split misses CHIP's merged ships (held out), and stop")
    ap.add_argument("--cross-fit", action="store_true", help="with --train-second-pass: training chips' first pass from trees that did not see their source group")
    ap.add_argument("--no-pass-feature", action="store_true", help="with --train-second-pass: no feature saying which pass a row comes from")
    ap.add_argument("--core-shape", action="store_true", help="two more features, the share of a candidate at the seed level and how ragged its outline is (not shipped)")
    ap.add_argument("--ring-cv", action="store_true", help="one more feature, the coefficient of variation of the ring round a candidate (not shipped)")
    ap.add_argument("--robust-spread", action="store_true", help="block spreads that ships filling part of a block do not inflate (robust_block_background)")
    args = ap.parse_args(argv)
    needed = BOX_CHIPS if args.no_opensarship or args.diagnose else (*BOX_CHIPS, OPENSARSHIP)
    if message := missing_datasets(args.datasets, needed):
        print(message, file=sys.stderr)
        return 2
    if args.robust_spread:
        import sitewatch.detect.sar_render as sar_render

        ROBUST_SPREAD[0] = True
        sar_render._block_background = robust_block_background  # type: ignore[assignment]
    if args.core_shape or args.ring_cv:
        use_shape_texture([w for w, on in (("core-shape", args.core_shape), ("ring-cv", args.ring_cv)) if on])
    if args.diagnose:
        diagnose(args.datasets)
        return 0
    SEED[0] = args.seed
    TRAIN_SECOND[0] = args.train_second_pass
    PASSES[0] = args.passes
    SECOND_CUT[0] = args.second_cut
    JOIN[0] = args.join_pieces
    PAIRS[0] = args.pairs
    PAIRS_INLINE[0] = args.pairs_inline
    NO_PASS_FEATURE[0] = args.no_pass_feature
    CROSS_FIT[0] = args.cross_fit
    ANCHORAGES[0] = args.anchorages
    SPECKLE[0] = args.speckle
    DOWNSCALE[0] = args.downscale
    SELF_TRAIN[0] = args.self_train
    DROP[:] = args.drop
    RELATIVE[:] = args.relative
    CHIP_BALANCE[0] = args.chip_balance
    OPEN_RULE[0] = args.open_water
    OPEN_FEATURE[0] = args.open_water_feature
    data = rows(args.datasets, GAMMAS if args.members > 1 else ())
    osr = [] if args.no_opensarship else opensarship_rows(args.datasets, GAMMAS if args.members > 1 and not args.box_gamma_only else ())
    extra, extra_keys = opensarship_training(osr), opensarship_keys(osr) if args.members > 1 else []
    if args.diagnose_pairs:
        diagnose_pairs(args.datasets, data, extra, args.members, extra_keys, args.diagnose_pairs)
        return 0
    if args.diagnose_held_out:
        diagnose_held_out(args.datasets, data, extra, args.members, extra_keys, args.diagnose_held_out)
        return 0
    print(f"OpenSARShip rendering candidates in training: {len(extra[1])} (ships {int(extra[1].sum())})")
    n = sum(len(r[4]) for r in data)
    ships = int(sum(r[4].sum() for r in data))
    boxes = sum(len(r[5]) for r in data)
    every = score(data, {r[1]: np.ones(len(r[4])) for r in data}, 0.5)
    print(f"candidates {n} (in a box {ships}) on {len(data)} chips, {boxes} boxes; boxes with a candidate {every.tp} ({every.tp / boxes:.2f})")
    # The candidate figures above score the first pass's candidates; the shipped detector also looks a
    # second time without the ships kept, so each split also runs it with the same held-out trees
    # (not with features the shipped detector does not compute).
    shipped = not (DROP or RELATIVE or OPEN_FEATURE[0])
    splits = (("leave-one-chip-out", 1), ("leave-one-dataset-out", 0), ("leave-one-source-out", 6))
    for label, key in splits[:1] if args.quick else splits:
        models: dict[str, dict[str, object]] = {}
        prob = held_out(data, key, extra, args.members, extra_keys, models)
        rules = (False, True) if OPEN_RULE[0] else (False,)
        for cut in sorted({0.5, 0.6, 0.7, 0.8, 0.9, CUT}):
            mark = "  <- shipped cut" if cut == CUT else ""
            for rule in rules:
                plus = " + open water" if rule else ""
                print(f"{label:<22} cut {cut:.2f}{plus}  P %.3f  R %.3f  F1 %.3f{mark}" % score(data, prob, cut, rule).prf())
        for g in ("sar-ship-dataset", "hrsid"):
            sub = [r for r in data if r[0] == g]
            for rule in rules:
                print(f"    {g:<18} at cut {CUT}{' + open water' if rule else ''}: P %.3f  R %.3f  F1 %.3f" % score(sub, prob, CUT, rule).prf())
        for r in data:
            c = score([r], prob, CUT)
            line = f"      {r[1]:<34} tp {c.tp:3d} fp {c.fp:3d} fn {c.fn:3d}"
            if OPEN_RULE[0]:
                o = score([r], prob, CUT, True)
                extra_kept = OPEN[r[1]] & (prob[r[1]] < CUT)
                line += f"   + open water: tp {o.tp:3d} fp {o.fp:3d} fn {o.fn:3d}  (rule keeps {int(OPEN[r[1]].sum())}, {int(extra_kept.sum())} below the cut, {int((extra_kept & (r[4] > 0)).sum())} of them in a box)"
            print(line)
        print("    errors: " + errors_at_cut(data, prob))
        if shipped:
            print_shipped(args.datasets, label, models)
            if ALT_MODELS:
                print_shipped(args.datasets, label + " (no pass input)", ALT_MODELS)
        if args.nested:
            cuts = nested_cuts(data, key, extra, args.members, extra_keys)
            print(f"{label:<22} nested cut (chosen {', '.join(sorted({f'{c:.2f}' for c in cuts.values()}))})  P %.3f  R %.3f  F1 %.3f" % score(data, prob, cuts).prf(), flush=True)
        if key == 6:
            best = max(NESTED_CUTS, key=lambda c: score(data, prob, float(c)).prf()[2])
            print(f"    the nested rule's cut on all 16 chips (best of {NESTED_CUTS[0]}-{NESTED_CUTS[-1]} leave-one-source-out): {best:.2f}  (shipped: {CUT})")
    model = _ensemble(data, extra, args.members, extra_keys)
    insample = {r[1]: render_probability(pass_rows(r[3], model, False), model) for r in data}
    print(f"in-sample (all 16 chips in training)  cut {CUT}  P %.3f  R %.3f  F1 %.3f" % score(data, insample, CUT).prf())
    print("    errors: " + errors_at_cut(data, insample))
    if shipped:
        print_shipped(args.datasets, "in-sample", {r[1]: model for r in data})
        if ALT[0] is not None:
            print_shipped(args.datasets, "in-sample (no pass input)", {r[1]: ALT[0] for r in data})
    if args.open_water:
        print(f"in-sample (all 16 chips in training)  cut {CUT} + open water  P %.3f  R %.3f  F1 %.3f" % score(data, insample, CUT, True).prf())
    if args.opensarship_held_out and osr:
        opensarship_held_out(data, osr, args.members)
    if args.write:
        OUT.write_text(json.dumps(_compact(model), separators=(",", ":")) + "\n")
        print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
