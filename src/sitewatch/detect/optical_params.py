"""Parameters of the optical detector, and the weight files it runs on by default."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..errors import InputError

__all__ = ["MODEL_FILE", "RGB_MODEL_FILE", "OpticalParams"]

MODEL_FILE = "optical_vessel_mlp.npz"
RGB_MODEL_FILE = "optical_vessel_mlp_rgb.npz"


@dataclass(frozen=True)
class OpticalParams:
    """Parameters of :func:`~sitewatch.detect.optical.detect_optical`; one set serves every port and resolution."""

    pixel_thresholds: tuple[float, ...] = (0.8, 0.9, 0.97)
    """Pixel scores at which components are cut. Each level proposes candidates (a low
    level keeps whole hulls, a high one splits ships moored side by side or against a
    quay); the object model scores them all and overlapping candidates keep the best."""
    object_threshold: float = 0.85
    """Object-model score a candidate needs to be reported as a vessel (the best pooled F1
    of the leave-one-port-out sweep in BENCHMARKS.md)."""
    min_length_m: float = 20.0
    """Shortest object reported as a vessel (metres)."""
    max_length_m: float = 450.0
    """Longest object reported as a vessel (metres)."""
    max_width_m: float = 90.0
    """Widest object reported as a vessel; wider blobs are quays or roofs."""
    near_water_m: float = 150.0
    """Only pixels this close to water are searched (ships are on water, berthed ones beside it)."""
    water_body_m: float = 450.0
    """Image-only mode: water counts (for ``near_water_m`` and ships at anchor) only in a connected body
    of water that holds a circle this wide, the longest vessel's length (``max_length_m``): room for
    the largest ship to lie at any heading; dark roofs and shadows never are that wide
    (:func:`~sitewatch.detect.optical_water.water_bodies`; specks of non-water shorter than
    ``min_length_m`` are no shore). Narrower rivers and canals need a site's
    water polygon; 0 searches near any water."""
    crane_max_pixel_m: float = 5.0
    """Cranes are looked for only when pixels are this fine or finer."""
    crane_min_length_m: float = 20.0
    """Shortest boom or gantry reported as a crane."""
    crane_max_width_m: float = 10.0
    """A crane is narrower than this; a ship as long is wider."""
    crane_min_elongation: float = 3.5
    """Length / width of a crane."""
    crane_contrast: float = 0.05
    """Reflectance step (top-hat) a crane needs against the quay around it."""
    crane_min_saturation: float = 0.5
    """(brightest - darkest visible band) / brightest band of a painted crane."""
    contrast_max_pixel_m: float = 5.0
    """Image-only mode at pixels this fine or finer also looks for vessels on open water by contrast
    alone, and keeps what the learned stages find on open water only where it stands out there
    (:mod:`~sitewatch.detect.optical_contrast`), since the learned stages were trained at 10 m;
    0 turns that stage off."""
    hull_max_pixel_m: float = 5.0
    """Image-only mode at pixels this fine or finer measures each vessel of the learned stages again on
    its hull, the pixels of its box that are not water (:mod:`~sitewatch.detect.optical_hulls`): the pixel
    score, trained at 10 m, stays high 15 m around a hull, a 15 m border of water on every candidate
    at 0.5 m; 0 keeps the candidates' boxes."""
    fine_max_pixel_m: float = 1.5
    """Image-only mode at pixels this fine or finer also looks for boats and ships in harbours, marinas
    and at anchor by their contrast to the water beside them (:mod:`~sitewatch.detect.optical_fine`):
    at 1.5 m a 3 m beam is two pixels, the least a hull's width and heading can be measured on; coarser
    pixels are left to the stages above (the 3 m ShipsNet scenes and Sentinel-2 do not change); 0 turns
    that stage off."""
    fine_texture_m: float = 2.0
    """Window of the local brightness spread that tells calm water (smooth) from hulls and quays (textured)."""
    fine_smooth_z: float = 4.0
    """Water is smooth: its local spread below this many times the scene's texture floor."""
    fine_open_m: float = 0.75
    """Radius of the disk that opens the water and the hull pixels: a mooring line, a pontoon's edge
    or a mixed pixel is thinner than twice this."""
    fine_water_area_m2: float = 2000.0
    """Smallest body of smooth water searched beside (a basin a few boat lengths across, 45 m x 45 m)."""
    fine_water_grow: bool = True
    """The water bodies take in the calm surface connected to them, beyond NDWI's brightness ceiling
    (:mod:`~sitewatch.detect.optical_fine`, step 1); False keeps them to NDWI water."""
    fine_background_m: float = 30.0
    """Window of the water's mean that hulls are contrasted against."""
    fine_grow_z: float = 6.0
    """Contrast (noise units of the water) that makes a pixel part of a hull."""
    fine_seed_z: float = 12.0
    """Contrast a hull needs somewhere."""
    fine_split_m: float = 2.5
    """A beam and the gap to the next hull: a hull's core is taken against the highest contrast within
    twice this (:mod:`~sitewatch.detect.optical_fine`, step 4)."""
    fine_core_share: float = 0.4
    """A hull's core: contrast at least this share of the highest within two beams (``fine_split_m``);
    the darker seam between hulls moored side by side falls below it."""
    fine_join_width: float = 1.25
    """Two touching pieces of hull are one hull when together they are at most this many times as wide as
    the wider and more elongated than either (a bow and a stern cut apart by a cabin; a pontoon's pieces)."""
    fine_min_width_m: float = 1.5
    """Narrowest hull (beam) reported."""
    fine_min_length_m: float = 4.0
    """Shortest hull reported by the sub-metre stage (a car is 4.5 m long, but not by water)."""
    fine_min_elongation: float = 1.4
    """Shortest length / width of a sub-metre hull: squatter blobs are several hulls or a roof."""
    fine_near_water_m: float = 6.0
    """A sub-metre hull lies within this distance of a body of water (its shadow and the texture window
    keep the calm water a few metres off a moored hull), and the ring this wide around it is not mostly land."""
    fine_max_land: float = 0.6
    """Largest share of that ring that may be land (not water, not hull)."""
    contrast_background_m: float = 240.0
    """Window of the water's median background the contrast is taken against."""
    contrast_seed_z: float = 24.0
    """Contrast (noise units) an object needs somewhere to be a candidate."""
    contrast_local_z: float = 8.0
    """Contrast (noise units) a candidate's core needs against the water ring right around it."""
    contrast_grow_z: float = 4.0
    """Contrast that joins pixels to a candidate (and that the water ring must stay below)."""
    contrast_ring_m: float = 20.0
    """Width of the ring of water around a candidate that must be open, quiet water."""
    contrast_ring_fraction: float = 0.8
    """Share of that ring that must be NDWI water, and share that must be quiet."""
    contrast_max_elongation: float = 12.0
    """Longest length / width of a contrast candidate: longer, thinner ones are wakes."""
    opaque_nir: float = 0.03
    """With a known water mask: NIR above the nearby water that makes a pixel opaque (an object)."""
    cloud_margin_m: float = 100.0
    """Objects this close to cloud, shadow or no-data are not reported (cloud edges are soft; no data
    alone with ``nodata_cut``)."""
    nodata_cut: bool = False
    """Experimental (not the default: on sen2ships with a synthetic no-data collar it found no cut ship
    and made false alarms along the collar, BENCHMARKS.md, ``benchmarks/optical_collar.py``): an object
    beside no data alone (not within ``cloud_margin_m`` of cloud or shadow) is reported ``truncated``,
    as one on the image's edge, instead of dropped, and the cloud margin keeps to cloud and shadow."""
    cloud_bright: float = 0.25
    """Spectral cloud test (no SCL): mean visible reflectance above which white pixels may be cloud.
    8-bit display renderings use :data:`~sitewatch.detect.optical_reflectance.RENDERING_CLOUD_BRIGHT` instead."""
    deep_radii_m: tuple[float, ...] = ()
    """Experimental (issue 4, not used by the shipped weights): for each radius, four object
    features of the land around a candidate are appended to :data:`OBJECT_FEATURE_NAMES`
    (:func:`~sitewatch.detect.optical_objects.deep_feature_names`): "deep" land and water are
    the NDWI land and water opened by a disk of this radius on the ground."""
    deep_distance_cap_m: float = 300.0
    """Distance to deep land (a ``deep_radii_m`` feature) is cut at this many metres."""
    texture_features: bool = False
    """Experimental (issue 4, not used by the shipped weights): append six object features of what
    lies inside a candidate and how sharp its edge is
    (:data:`~sitewatch.detect.optical_texture.TEXTURE_FEATURE_NAMES`) after the others."""
    model: str = MODEL_FILE
    """Weights file in ``sitewatch/data`` (or a path)."""
    rgb_model: str = RGB_MODEL_FILE
    """Weights used instead of ``model`` when the input has no NIR band (RGB only, e.g. an
    8-bit preview): trained on the same ports with NIR removed, see :func:`~sitewatch.detect.optical_model.model_for`."""

    def __post_init__(self) -> None:
        if not all(0.0 < t < 1.0 for t in self.pixel_thresholds) or not 0.0 < self.object_threshold <= 1.0:
            raise InputError("optical thresholds must lie in (0, 1)")
        if not 0 < self.min_length_m < self.max_length_m:
            raise InputError("optical min_length_m must be positive and below max_length_m")


def params_for_dn_scale(params: OpticalParams, dn_scale: float | None) -> OpticalParams:
    """``params`` for bands that were turned into reflectance by dividing by ``dn_scale``.

    Values divided by 255 were an 8-bit display rendering: its clouds saturate the stretch
    and its harbour water sits near reflectance's cloud level, so the spectral cloud test
    takes :data:`~sitewatch.detect.optical_reflectance.RENDERING_CLOUD_BRIGHT`.
    """
    from .optical_reflectance import RENDERING_CLOUD_BRIGHT

    if dn_scale is not None and math.isclose(dn_scale, 255.0):
        return replace(params, cloud_bright=RENDERING_CLOUD_BRIGHT)
    return params
