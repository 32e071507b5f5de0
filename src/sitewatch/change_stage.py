"""The change stage: pick pairs of a site's observations, read them, compare them, store the regions.

Observations of one site are cut to the site's grid (one grid per resolution), so two of them line
up pixel for pixel when they share sensor and resolution. Pairs are chosen by :func:`choose_pairs`;
each is read by :func:`read_change_image` (its no-data, the site polygon and, for optical images,
cloud and cloud shadow as the detection stage masks them: the SCL band, a UDM2 or QA_PIXEL put into
SCL's classes, when the observation has one, else the spectral test; with ``shadow_twins``, a pair of which
neither has one by the shadow-twin test on the two dates together, :mod:`sitewatch.change.cloud_twins`), compared by
:func:`sitewatch.change.detect_changes` and recorded by
:func:`sitewatch.store.changes.replace_changes`, which replaces what an earlier run recorded for
the same pair, with a digest of what the pair rests on (:mod:`sitewatch.change_state`): a pair whose
stored digest is that of its inputs now is not read nor compared again, its stored regions stand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from shapely.geometry.base import BaseGeometry

from .change.compare import detect_changes, to_changes
from .change.optical import COVER_CLASSES
from .change.pair import RESAMPLE_HINT, ChangeImage, ChangeResult, check_same_grid
from .errors import InputError, ObservationGoneError
from .model import Change, Grid, Observation, Site, iso_utc, parse_date_or_time
from .store import Store, now_utc
from .store.changes import ChangePair, replace_changes
from .units import count_noun, share_text

__all__ = [
    "PairOutcome", "changes_to_geojson", "choose_pairs", "find_observation", "outcome_summary", "read_change_image",
    "run_changes",
]  # fmt: skip


CLOUD_MARGIN_M = 100.0
"""Optical: cloud and shadow masks are widened by this before comparing (soft edges, thin haze)."""


@dataclass(frozen=True)
class PairOutcome:
    """One pair compared (or kept as stored): what is stored and the regions found."""

    pair: ChangePair
    before: Observation
    after: Observation
    result: ChangeResult | None
    """The comparison; None for a pair kept (``kept``)."""
    changes: tuple[Change, ...]
    masked_objects: int = 0
    """Stored detections (vessels, cranes) of both observations whose pixels were left out."""
    notes: tuple[str, ...] = ()
    kept: bool = False
    """Not compared again: its inputs are those its stored regions were found from (:mod:`sitewatch.change_state`)."""


def _grid_key(obs: Observation) -> tuple[str, tuple[float, ...], int, int]:
    g = obs.grid
    return g.crs, tuple(round(v, 6) for v in g.transform), g.width, g.height


def _best(candidates: Sequence[Observation]) -> Observation:
    """Of several observations of one date: the one that shows most of the site (valid fraction,
    then least cloud, then the latest acquisition, then id)."""
    return sorted(
        candidates,
        key=lambda o: (-_shown(o)[0], _shown(o)[1], -o.scene.acquired.timestamp(), o.id),
    )[0]  # fmt: skip


def _shown(o: Observation) -> tuple[float, float]:
    """How much of the site an observation shows, as :func:`_best` ranks it."""
    return o.valid_fraction, o.cloud_fraction if o.cloud_fraction is not None else 0.0


def find_observation(observations: Sequence[Observation], site_id: str, ref: str, option: str) -> Observation:
    """An observation of the site named by id (``SITE/NAME`` or ``NAME``) or by its UTC date
    (``2024-10-17``; several that day: :func:`_best`). InputError naming ``option`` otherwise."""
    return _best(_candidates(observations, site_id, ref, option))


def _candidates(observations: Sequence[Observation], site_id: str, ref: str, option: str) -> list[Observation]:
    """The observation an id names, or those of the date (or time) given."""
    by_id = {o.id: o for o in observations}
    for key in (ref, f"{site_id}/{ref}"):
        if key in by_id:
            return [by_id[key]]
    try:
        when, date_only = parse_date_or_time(ref)
    except InputError:
        raise InputError(
            f"{option} {ref!r}: no observation of {site_id!r} has that id and it is not a date; "
            f"list them with `sitewatch observations {site_id}`"
        ) from None
    day: date = when.date()
    same = [o for o in observations if o.scene.acquired.date() == day]
    if not date_only:
        exact = [o for o in same if o.scene.acquired == when]
        same = exact or same
    if not same:
        raise InputError(f"{option} {ref}: no observation of {site_id!r} on {day.isoformat()}; "
                         f"list them with `sitewatch observations {site_id}`")  # fmt: skip
    return same


def choose_pairs(
    observations: Sequence[Observation], site_id: str, before: str | None = None, after: str | None = None
) -> tuple[list[tuple[Observation, Observation]], list[str]]:
    """The pairs to compare and notes on what was left out.

    With ``before`` and ``after`` (ids or dates) that one pair (of several observations on a date given,
    those of one sensor and grid with the other), refused (InputError) when the two are of different
    sensors or grids. With one of them, it and its neighbour (the previous observation for
    ``after``, the next for ``before``) of the same sensor and grid. With neither, each usable
    observation (valid fraction above 0) and the previous one of the same sensor and grid; of several
    on one UTC date, the one that shows most of the site (:func:`_best`) stands for the date.
    """
    usable = [o for o in observations if o.valid_fraction > 0]
    notes: list[str] = []
    if before is not None and after is not None:
        # Of the observations each names (a date may name several: a SAR and an optical image of one day),
        # the two of one sensor and grid that show most of the site; none such: the best of each, refused.
        bs = _candidates(observations, site_id, before, "--before")
        as_ = _candidates(observations, site_id, after, "--after")
        fits = [(b, a) for b in bs for a in as_ if b.id != a.id and b.scene.sensor == a.scene.sensor and _grid_key(b) == _grid_key(a)]
        if fits:
            b, a = min(fits, key=lambda p: (-(p[0].valid_fraction + p[1].valid_fraction), p[0].id, p[1].id))
        else:
            b, a = _best(bs), _best(as_)
        _check_pair(b, a)
        return [(b, a)], notes
    series: dict[tuple[str, tuple[str, tuple[float, ...], int, int]], list[Observation]] = {}
    for o in usable:
        series.setdefault((o.scene.sensor, _grid_key(o)), []).append(o)
    chains: dict[tuple[str, tuple[str, tuple[float, ...], int, int]], list[Observation]] = {}
    for key, obs in series.items():
        days: dict[date, list[Observation]] = {}
        for o in obs:
            days.setdefault(o.scene.acquired.date(), []).append(o)
        chain = []
        for day in sorted(days):
            pick = _best(days[day])
            chain.append(pick)
            for other in days[day]:
                if other is not pick:
                    # Two looks of one image (its band files and a stack of them) show the site alike.
                    shows = "shows more of the site" if _shown(pick) != _shown(other) else "shows as much of the site"
                    notes.append(f"{other.id}: {day.isoformat()} is compared through {pick.id}, which {shows}")
        chains[key] = chain
    if before is None and after is None:
        pairs = [(c[i - 1], c[i]) for c in chains.values() for i in range(1, len(c))]
        for (sensor, grid_key), chain in chains.items():
            if len(chain) == 1:
                own = grid_key[1][0]
                sizes = sorted({g[1][0] for kind, g in chains if kind == sensor and g[1][0] != own})
                hint = (
                    f" (others are at {', '.join(f'{x:g}' for x in sizes)} m against its {own:g} m: {RESAMPLE_HINT})"
                    if sizes else ""
                )
                notes.append(f"{chain[0].id}: the only usable {sensor} observation on its grid; nothing to compare it with{hint}")
        return sorted(pairs, key=lambda p: (p[1].scene.acquired, p[0].scene.acquired, p[1].id)), notes
    ref = before if before is not None else after
    option = "--before" if before is not None else "--after"
    assert ref is not None
    one = find_observation(observations, site_id, ref, option)
    chain = chains.get((one.scene.sensor, _grid_key(one)), [])
    others = sorted((o for o in chain if o.id != one.id), key=lambda o: o.scene.acquired)
    if before is not None:
        later = [o for o in others if o.scene.acquired > one.scene.acquired]
        if not later:
            raise InputError(f"--before {ref}: no later usable {one.scene.sensor} observation of {site_id!r} on its grid to compare it with")
        return [(one, later[0])], notes
    earlier = [o for o in others if o.scene.acquired < one.scene.acquired]
    if not earlier:
        raise InputError(f"--after {ref}: no earlier usable {one.scene.sensor} observation of {site_id!r} on its grid to compare it with")
    return [(earlier[-1], one)], notes


def _check_pair(before: Observation, after: Observation) -> None:
    if before.id == after.id:
        raise InputError(f"--before and --after both name {before.id}: give two observations")
    # An image known by its date alone has an assumed 12:00: on that date either may be the earlier.
    untimed_same_day = (before.acquired_date_only or after.acquired_date_only) and (
        before.scene.acquired.date() == after.scene.acquired.date()
    )
    if before.scene.acquired > after.scene.acquired and not untimed_same_day:
        # Compared the other way round, everything that appeared would be stored as disappeared.
        raise InputError(
            f"--before {before.id} ({iso_utc(before.scene.acquired)}) was acquired after --after {after.id} "
            f"({iso_utc(after.scene.acquired)}): swap them (--before is the earlier image)"
        )
    if before.scene.sensor != after.scene.sensor:
        raise InputError(
            f"{before.id} is {before.scene.sensor} and {after.id} is {after.scene.sensor}: change compares two "
            "observations of one sensor (SAR backscatter and optical reflectance measure different things); "
            "pick two of the same sensor"
        )
    check_same_grid(before.grid, after.grid, before.id, after.id)


def read_change_image(site: Site, obs: Observation, path: Path, *, spectral: bool = True) -> ChangeImage:
    """An archived observation as :func:`~sitewatch.change.detect_changes` takes it: its bands, and as
    valid the pixels inside the site with data and, optical, not under cloud or shadow nor marked no
    data by its SCL (the masks of the detection stage). Without ``spectral``, an optical observation
    without an SCL band has no cloud left out here (``change`` finds it on the pair: :func:`_read_pair`)."""
    from .detect.clouds import cloud_mask, scl_no_data
    from .detection_read import observation_bands, read_observation
    from .geo import ground_pixel_size
    from .ingest.grid import site_mask

    names = observation_bands(str(path), obs)
    data = read_observation(str(path))
    has_data = np.all(np.isfinite(data), axis=0)
    valid = site_mask(site, obs.grid) & has_data
    if obs.scene.sensor == "sar":
        from .detect.sar import to_intensity
        from .detect.sar_dual import polarisation_of

        pols = [polarisation_of(n) for n in names]
        k = next((pols.index(p) for p in ("vv", "hh") if p in pols), 0)
        # A GeoTIFF in dB is archived as it came; read as `detect` reads it (its negative values
        # taken for no backscatter, every pixel went untested and the pair "compared" without change).
        band = to_intensity(data[k], "auto")[None]
        return ChangeImage(band, obs.grid, "sar", (names[k],), valid, obs.id)
    bands = {n.lower(): data[i] for i, n in enumerate(names) if n.lower() in ("blue", "green", "red", "nir")}
    scl = data[names.index("SCL")] if "SCL" in names else None
    if scl is not None:
        ok_scl = np.isfinite(scl)
        valid &= ok_scl & ~scl_no_data(np.where(ok_scl, scl, 0).astype(np.int16))
        hidden = cloud_mask(bands, np.where(ok_scl, scl, 0).astype(np.int16), valid=valid)
    elif bands and spectral:
        # The spectral test sees every pixel with data, not only the site's: a cloud the site's outline
        # cuts keeps its width (the test drops bright white patches narrower than 120 m, which the
        # site's edge made of a cloud's rim) and its shadow's search reaches it.
        pixel = float(np.mean(ground_pixel_size(obs.grid.crs, obs.grid.affine, obs.grid.width, obs.grid.height)))
        hidden = cloud_mask(bands, pixel_size=pixel, valid=has_data)
    else:
        hidden = np.zeros_like(valid)
    if hidden.any():
        # Cloud edges and thin haze around what the mask holds would read as change: widened by CLOUD_MARGIN_M.
        from scipy import ndimage

        step = max(1.0, float(min(obs.grid.pixel_size)))
        hidden = ndimage.binary_dilation(hidden, iterations=max(1, round(CLOUD_MARGIN_M / step)))
    keep = [i for i, n in enumerate(names) if n.lower() in bands]
    return ChangeImage(data[keep], obs.grid, "optical", tuple(names[i].lower() for i in keep), valid & ~hidden, obs.id)


def _margin_unread(store: Store, site_id: str) -> set[tuple[str, str]]:
    """The site's stored pairs (before id, after id) whose shadow-twin test could not read their source files
    around the grid, one of them gone or changed (:func:`_clouds_beyond_grid`'s ``unread`` and ``source_away``)."""
    out: set[tuple[str, str]] = set()
    for before_id, after_id, value in store.execute(
        "SELECT before_id, after_id, parameters FROM change_pairs WHERE site_id = ?", (site_id,)
    ):
        params = json.loads(value) if isinstance(value, str | bytes) else value
        left = params.get("cloud_left_out") if isinstance(params, Mapping) else None
        wide = left.get("beyond_grid") if isinstance(left, Mapping) else None
        if isinstance(wide, Mapping) and wide.get("unread") and wide.get("source_away"):
            out.add((str(before_id), str(after_id)))
    return out


def _sources_readable(before: Observation, after: Observation) -> bool:
    """Whether both observations' source files can be read again around their grid now (present, unchanged)."""
    from .change_margin import source_unchanged

    return all(source_unchanged(o) for o in (before, after))


def _twins_apply(before: Observation, after: Observation, root: Path) -> bool:
    """Whether the shadow-twin test reads this pair (:func:`_read_pair`): an optical pair neither of which has a
    cloud mask of its product (an SCL band, or a UDM2 or QA_PIXEL put into SCL's classes) and whose dates share a
    visible band (the test needs one); their archived files' band names only are read."""
    from .detection_read import observation_bands

    if before.scene.sensor == "sar":
        return False
    names = [{n.lower() for n in observation_bands(str(root / o.path), o)} for o in (before, after)]
    return all("scl" not in n for n in names) and bool({"blue", "green", "red"} & names[0] & names[1])


def _read_pair(
    site: Site, before: Observation, after: Observation, root: Path, twins: bool,
) -> tuple[ChangeImage, ChangeImage, dict[str, Any] | None]:  # fmt: skip
    """Both observations of a pair read (:func:`read_change_image`), and, with ``twins`` (``shadow_twins`` for a
    pair :func:`_twins_apply` to), the cloud and shadow :func:`~sitewatch.change.cloud_twins.cloud_twins` finds on
    the two dates left out of both instead of each image's brightness test, with what it found (None for another
    pair). The brightness test takes bright desert and new white roofs for cloud (BENCHMARKS.md); a cloud, unlike
    a roof, throws a shadow of its shape beside it on its own date, but on a site's grid (the site's bounds) a
    shadow farther than the grid reaches is not seen, and its cloud is compared: hence not the default."""
    b = read_change_image(site, before, root / before.path, spectral=not twins)
    a = read_change_image(site, after, root / after.path, spectral=not twins)
    if not twins:
        return b, a, None
    return _without_cloud_twins(b, a, (before, after))


def _without_cloud_twins(
    b: ChangeImage, a: ChangeImage, observations: tuple[Observation, Observation] | None = None,
) -> tuple[ChangeImage, ChangeImage, dict[str, Any] | None]:  # fmt: skip
    """The pair with the cloud and shadow of either date left out of both (widened by :data:`CLOUD_MARGIN_M`), and
    what was found: clouds, their m² and their shadows', the share of the site's compared pixels left out, and the
    bright patches new on one date without a shadow twin, compared (``refused``). When the test refused a patch and
    ``observations`` (the pair's) are given, the test looks again around the grid, on their source files read
    coarse (:func:`_clouds_beyond_grid`): a refused patch it takes for cloud is left out (``beyond_grid``)."""
    from dataclasses import replace

    from scipy import ndimage

    from .change.cloud_twins import cloud_twins
    from .geo import ground_pixel_size

    names = [n for n in b.bands if n in a.bands]
    if not {"blue", "green", "red"} & set(names):
        return b, a, None
    bd = np.asarray(b.data)[[b.bands.index(n) for n in names]]
    ad = np.asarray(a.data)[[a.bands.index(n) for n in names]]
    # As the spectral test did, every pixel with data is looked at, not only the site's: a cloud the site's
    # outline cuts keeps its size and its shadow's search reaches it.
    held = np.all(np.isfinite(bd), axis=0) & np.all(np.isfinite(ad), axis=0)
    g = b.grid
    pixel = float(np.mean(ground_pixel_size(g.crs, g.affine, g.width, g.height)))
    tw = cloud_twins(bd, ad, names, pixel, valid=held, margin_m=CLOUD_MARGIN_M)
    hidden, clouds, cloud_px, refused = tw.hidden, tw.clouds, tw.cloud_px, tw.refused
    beyond: dict[str, Any] | None = None
    if tw.refused and observations is not None:
        found, beyond = _clouds_beyond_grid(tw.refused_patches, observations, (bd, ad), tuple(names), g)
        if beyond.get("clouds"):
            step = max(1.0, float(min(g.pixel_size)))
            hidden = hidden | (ndimage.binary_dilation(found, iterations=max(1, round(CLOUD_MARGIN_M / step))) & held)
            clouds, cloud_px, refused = clouds + beyond["clouds"], cloud_px + int(found.sum()), refused - beyond["clouds"]
    site = np.ones(g.shape, bool) if b.valid is None else b.valid
    if a.valid is not None:
        site = site & a.valid
    share = float((hidden & site).sum()) / float(site.sum()) if site.any() else 0.0
    summary: dict[str, Any] = {
        "test": "shadow twins", "clouds": clouds, "cloud_m2": round(cloud_px * pixel * pixel, 1),
        "shadow_m2": round(tw.shadow_px * pixel * pixel, 1), "left_out_fraction": round(share, 4), "refused": refused,
    }  # fmt: skip
    if beyond is not None:
        summary["beyond_grid"] = beyond
    if hidden.any():
        b = replace(b, valid=~hidden if b.valid is None else b.valid & ~hidden)
        a = replace(a, valid=~hidden if a.valid is None else a.valid & ~hidden)
    return b, a, summary


def _clouds_beyond_grid(
    refused: NDArray[np.bool_], observations: tuple[Observation, Observation], data: tuple[Any, Any],
    names: tuple[str, ...], grid: Grid,
) -> tuple[NDArray[np.bool_], dict[str, Any]]:  # fmt: skip
    """The patches of ``refused`` that the shadow-twin test, run on the pair's source files read around ``grid``
    (:mod:`sitewatch.change_margin`), takes for cloud, and what that look was: ``margin_m`` and ``pixel_m`` read,
    ``clouds`` found so; or, when a source could not be read, ``unread`` (why) and nothing found."""
    from .change.cloud_twins import CloudTwinParams, cloud_twins, clouds_beyond
    from .change_margin import read_wide, source_away, wide_grid

    margin = CloudTwinParams().max_shift_m
    wide = wide_grid(grid, margin)
    read = [read_wide(o, d, names, wide) for o, d in zip(observations, data, strict=True)]
    nothing = np.zeros(refused.shape, bool)
    for values, why in read:
        if values is None:
            # (a source gone or changed: the next run with both back compares the pair again, :func:`_margin_unread`)
            away = any(source_away(o) for o in observations)
            return nothing, {"unread": why, "source_away": True} if away else {"unread": why}
    before, after = (r[0] for r in read)
    assert before is not None and after is not None
    px = float(min(wide.grid.pixel_size))
    tw = cloud_twins(before, after, names, px, margin_m=CLOUD_MARGIN_M)
    found, count = clouds_beyond(refused, tw, wide.factor, wide.corner)
    return found, {"margin_m": margin, "pixel_m": round(px, 3), "clouds": count}


def _cloud_note(before: Observation, after: Observation, parameters: Mapping[str, Any]) -> list[str]:
    """A note for a pair whose cloud the shadow-twin test looked for (its stored ``cloud_left_out``), when it found
    a cloud or a bright patch without a shadow; none otherwise."""
    s = parameters.get("cloud_left_out")
    if not isinstance(s, Mapping) or s.get("test") != "shadow twins" or not (s.get("clouds") or s.get("refused")):
        return []
    n, m = int(s.get("clouds") or 0), int(s.get("refused") or 0)
    found = (f"{count_noun(n, 'cloud')} found by {'its' if n == 1 else 'their'} shadow (bright on one date only, a darkened twin of its shape beside "
             f"it): {float(s['cloud_m2']):,.0f} m² of cloud and {float(s['shadow_m2']):,.0f} m² of shadow, widened by "
             f"{CLOUD_MARGIN_M:g} m, not compared ({share_text(float(s['left_out_fraction']))} of the site)"
             if s.get("clouds") else "no cloud found by its shadow")  # fmt: skip
    refused = (f"; {count_noun(m, 'bright patch', 'bright patches')} new on one date without a shadow twin "
               f"{'is' if m == 1 else 'are'} compared (a new roof, bright ground, or a cloud whose shadow was not seen)"
               if m else "")  # fmt: skip
    wide = s.get("beyond_grid")
    if isinstance(wide, Mapping) and wide.get("unread"):
        refused += f"; the image around the site was not looked at for {'its shadow' if m == 1 else 'their shadows'}: {wide['unread']}"
    elif isinstance(wide, Mapping):
        where = (f"(its source files read {float(wide.get('margin_m', 0)) / 1000:g} km around it at "
                 f"{float(wide.get('pixel_m', 0)):g} m)")  # fmt: skip
        refused += (f"; {count_noun(int(wide['clouds']), 'cloud')} found by a shadow outside the site's image {where}" if wide.get("clouds")
                    else f"; nor {'was its shadow' if m == 1 else 'were their shadows'} found outside the site's image {where}")  # fmt: skip
    return [f"{before.id} -> {after.id}: neither has a cloud mask (SCL, UDM2, QA_PIXEL); {found}{refused}"]


def _masked_footprints(store: Store, obs: Observation, cache: dict[str, list[BaseGeometry]]) -> list[BaseGeometry]:
    """The footprints of the observation's stored vessels and cranes (:mod:`sitewatch.change_objects`), read once a run."""
    from .change_objects import masked_detections

    if obs.id not in cache:
        cache[obs.id] = [d.footprint for d in masked_detections(store.detections(observation_id=obs.id))]
    return cache[obs.id]


def _undetected_notes(undetected: set[str], before: Observation, after: Observation) -> list[str]:
    """A note for each observation of the pair detection has not run on."""
    return [f"{o.id}: detection has not run on it, so its vessels are compared as ground (run `sitewatch detect`)"
            for o in (before, after) if o.id in undetected]  # fmt: skip


def run_changes(
    store: Store, root: Path, site: Site, pairs: Sequence[tuple[Observation, Observation]], *, min_area_m2: float = 200.0,
    with_detections: bool = False, cover_classes: int = COVER_CLASSES, learned: bool = True,
    selection: Mapping[str, Any] | None = None, force: bool = False, shadow_twins: bool = False,
) -> tuple[list[PairOutcome], list[str]]:  # fmt: skip
    """Compare each pair and record it (replacing an earlier run's rows for that pair), and the run in the store's
    ``runs`` table (its parameters, with ``selection``, how the pairs were chosen, how many pairs it compared and
    kept, and how many regions they hold).

    ``cover_classes``: the spectral classes the optical test centres each pixel's change on
    (:func:`sitewatch.change.detect_changes`' ``classes``; 0: none); ``learned``: its ``learned``.

    The pixels of the vessels and cranes stored for either observation are left out of the comparison
    (a ship that came or went is reported by detection, not as a change of the ground), unless
    ``with_detections``; the parameters stored with the pair say how much area that was.

    With ``shadow_twins``, an optical pair neither of which has a cloud mask (SCL, UDM2, QA_PIXEL) has the cloud
    found by its shadow left out instead of each image's brightness test (:func:`_read_pair`); the parameters
    stored with the pair say what was found (``cloud_left_out``) and a note says it.

    A pair whose stored regions were found from the inputs it has now (both observations and their archived
    files, the site's polygon, these settings, the detections left out, the sitewatch code:
    :mod:`sitewatch.change_state`) is not read nor compared again, unless ``force``: its outcome is the stored
    pair and regions, ``kept``.

    Returns the pairs compared or kept, in the order given, and, for each pair that could not be compared (an
    archived image missing or unreadable, too few pixels to compare), a line naming it and why; the other pairs
    proceed, and a pair that failed keeps what an earlier run stored for it.
    """
    from .change_state import FileCheck, pair_inputs, stored_inputs
    from .errors import SitewatchError
    from .ingest.grid import site_mask

    started = now_utc()
    settings = {"min_area_m2": min_area_m2, "cover_classes": cover_classes, "learned": learned,
                "with_detections": with_detections, "shadow_twins": shadow_twins}  # fmt: skip
    held = {} if force else stored_inputs(store, site.id)
    # A pair whose sources could not be read around its grid is compared again once they can (the files back).
    unread = _margin_unread(store, site.id) if shadow_twins and held else set()
    files = FileCheck(store, site.id, root, forget=force)
    undetected = set() if with_detections else store.undetected(site.id)
    footprints: dict[str, list[BaseGeometry]] = {}
    slots: list[PairOutcome | _Kept] = []
    errors: list[str] = []
    for before, after in pairs:
        _check_pair(before, after)
        missing = [o for o in (before, after) if not (root / o.path).is_file()]
        if missing:  # as `detect` says it: the OS's "No such file or directory" does not say what to do
            errors.append(f"{before.id} -> {after.id}: the archived image of {missing[0].id}, {root / missing[0].path}, "
                          "is missing; ingest its source again")  # fmt: skip
            continue
        masked = None if with_detections else [*_masked_footprints(store, before, footprints),
                                               *_masked_footprints(store, after, footprints)]  # fmt: skip
        notes = tuple(_undetected_notes(undetected, before, after))
        try:
            # The flag enters a pair's inputs only where the test reads it: a SAR pair or one with an SCL band
            # compared with it is compared as without it, and was compared again when the flag came or went.
            twins = shadow_twins and _twins_apply(before, after, root)
        except SitewatchError as exc:
            errors.append(f"{before.id} -> {after.id}: {exc}")
            continue
        inputs = pair_inputs(site, before, after, settings | {"shadow_twins": twins}, masked)
        if (held.get((before.id, after.id)) == inputs and files.unchanged(before) and files.unchanged(after)
                and not (twins and (before.id, after.id) in unread and _sources_readable(before, after))):  # fmt: skip
            slots.append(_Kept(before, after, len(masked or ()), notes, inputs))
            continue
        try:
            b, a, cloud = _read_pair(site, before, after, root, twins)
            exclude = None if masked is None else _objects_mask(masked, before)
            result = detect_changes(b, a, area=site_mask(site, before.grid), min_area_m2=min_area_m2, exclude=exclude,
                                    classes=cover_classes, learned=learned)  # fmt: skip
        except SitewatchError as exc:
            errors.append(f"{before.id} -> {after.id}: {exc}")
            continue
        n_objects = len(masked or ())
        params = result.parameters | {"detections_masked": n_objects, "masked_m2": result.excluded_m2,
                                      "with_detections": with_detections}  # fmt: skip
        if cloud is not None:
            params["cloud_left_out"] = cloud
            notes += tuple(_cloud_note(before, after, params))
        changes = tuple(to_changes(result, site.id, before.id, after.id))
        try:
            pair = replace_changes(
                store, before, after, compared_fraction=result.compared_fraction, method=result.method,
                method_version=result.method_version, parameters=params, changes=changes, inputs=inputs, stored_only=True,
            )  # fmt: skip
        except ObservationGoneError as exc:
            errors.append(str(exc))
            continue
        slots.append(PairOutcome(pair, before, after, result, changes, n_objects, notes))
    out = _with_kept(store, site.id, slots, errors)
    files.save(str(r[0]) for r in store.execute("SELECT observation_id FROM observations WHERE site_id = ?", (site.id,)))
    parameters = {**(selection or {}), **settings, "force": force}
    kept = sum(o.kept for o in out)
    store.record_run("change", site.id, parameters,
                     {"pairs": len(out), "compared": len(out) - kept, "kept": kept,
                      "regions": sum(len(o.changes) for o in out), "errors": errors}, started)  # fmt: skip
    return out, errors


def _objects_mask(footprints: Sequence[BaseGeometry], obs: Observation) -> NDArray[np.bool_]:
    """The pixels of ``footprints`` on the observation's grid, grown (:func:`sitewatch.change_objects.objects_mask`)."""
    from .change_objects import objects_mask

    return objects_mask(footprints, obs.grid)


@dataclass(frozen=True)
class _Kept:
    """A pair whose stored regions stand, until they are read (:func:`_with_kept`)."""

    before: Observation
    after: Observation
    masked_objects: int
    notes: tuple[str, ...]
    inputs: str


def _with_kept(store: Store, site_id: str, slots: Sequence[PairOutcome | _Kept], errors: list[str]) -> list[PairOutcome]:
    """The outcomes in order, each pair kept read from the store with its regions (the site's in two queries, only
    when some were kept); one another command has removed or compared from other inputs since is an error."""
    if all(isinstance(s, PairOutcome) for s in slots):
        return [s for s in slots if isinstance(s, PairOutcome)]
    from .store.changes import pairs_with_regions

    stored = {(p.before_id, p.after_id): (p, regions) for p, regions in pairs_with_regions(store, site_id)}
    out = []
    for slot in slots:
        if isinstance(slot, PairOutcome):
            out.append(slot)
            continue
        before, after = slot.before, slot.after
        pair, regions = stored.get((before.id, after.id), (None, []))
        if pair is None or pair.inputs != slot.inputs:  # another command's, since its inputs were read
            errors.append(f"{before.id} -> {after.id}: its stored pair was {'removed' if pair is None else 'replaced'} "
                          "by another command meanwhile; run change again")  # fmt: skip
            continue
        notes = (*slot.notes, *_cloud_note(before, after, pair.parameters))
        out.append(PairOutcome(pair, before, after, None, tuple(regions), slot.masked_objects, notes, kept=True))
    return out


def outcome_summary(o: PairOutcome) -> dict[str, object]:
    """One pair as ``--json`` prints it, from what is stored of it (compared now or ``kept``)."""
    p = o.pair
    regions = sorted(o.changes, key=lambda c: (-c.area_m2, c.id))

    def count(direction: str) -> int:
        return sum(1 for c in o.changes if c.direction == direction)

    return {
        "site": o.pair.site_id,
        "before": o.before.id,
        "after": o.after.id,
        "before_acquired": iso_utc(o.before.scene.acquired),
        "after_acquired": iso_utc(o.after.scene.acquired),
        "sensor": o.pair.sensor,
        "resolution_m": o.after.scene.resolution_m,
        "simulated": o.pair.simulated,
        "method": f"{p.method} {p.method_version}",
        "compared_fraction": p.compared_fraction,
        "appeared": count("appeared"),
        "disappeared": count("disappeared"),
        "altered": count("altered"),
        "area_m2": round(float(sum(c.area_m2 for c in regions)), 1),
        "detections_masked": o.masked_objects,
        "masked_m2": round(float(p.parameters.get("masked_m2", 0.0)), 1),
        "cloud_left_out": p.parameters.get("cloud_left_out"),
        "kept": o.kept,
    }


def changes_to_geojson(outcomes: Sequence[PairOutcome], ends: Mapping[str, Mapping[str, Mapping[str, object]]] | None = None) -> str:
    """The regions of every pair as one GeoJSON FeatureCollection (WGS84): each region with the properties
    ``sitewatch export --layer changes`` gives it (:func:`~sitewatch.report.change_exports.change_feature`:
    both observations with their times, archived images and sha256, method, ``simulated``...), its change dated
    by ``ends`` (region id -> :func:`~sitewatch.change_dating.ends_json`); the file names the sitewatch version
    that wrote it, as ``export``'s does (:func:`~sitewatch.report.exports.with_sitewatch_version`)."""
    import json

    from .report.change_exports import change_feature
    from .report.exports import with_sitewatch_version

    features = [change_feature(o.pair, o.before, o.after, c, (ends or {}).get(c.id)) for o in outcomes for c in o.changes]
    return json.dumps(with_sitewatch_version({"type": "FeatureCollection", "features": features}), indent=1) + "\n"
