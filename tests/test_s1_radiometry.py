"""Sentinel-1 GRD radiometry: sigma0 = DN² / A² by default (the noise kept, setting
``sar_thermal_noise = keep``), (DN² − N) / A² with ``subtract``; A and N bilinear from the product's LUTs.

The product below has a calibration LUT that varies across range and along azimuth, and noise
LUTs in the format of IPF ≥ 2.9 (range × azimuth blocks) or of older products (range only); the
expected values are worked out by hand from the LUTs' numbers, pixel by pixel.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.errors import InputError
from sitewatch.sources.s1_radiometry import (
    KEPT_BY_SETTING,
    NOISE_FLOOR_DN2,
    parse_calibration,
    parse_noise,
)
from sitewatch.sources.safe import NoiseNotRemovedWarning, open_s1_grd
from sitewatch.testing import site_utm_origin, tiny_site, write_tiff
from sitewatch.testing.safe import NoiseAzimuthBlock, write_s1_grd_safe
from sitewatch.workspace import init_workspace

SITE = tiny_site()
H, W = 301, 241  # lines 0..300, samples 0..240: covers the site with its margin

CALIBRATION = [  # sigmaNought: a kink at pixel 120 across range, at line 150 along azimuth
    (0, [0, 120, 240], [400.0, 520.0, 600.0]),
    (150, [0, 120, 240], [420.0, 546.0, 630.0]),  # line 0's values × 1.05
    (300, [0, 120, 240], [432.0, 561.6, 648.0]),  # × 1.08
]
NOISE_RANGE = [  # the two vectors with different pixel lists, as in real products
    (0, [0, 100, 240], [1000.0, 1600.0, 2200.0]),
    (300, [0, 120, 240], [2000.0, 2600.0, 3200.0]),
]
NOISE_AZIMUTH = [  # IW1 over samples 0-99, IW2 over 100-240 in two blocks of lines, one with a single line
    NoiseAzimuthBlock("IW1", 0, 300, 0, 99, [0, 300], [1.0, 1.3]),
    NoiseAzimuthBlock("IW2", 0, 149, 100, 240, [0, 75, 149], [0.5, 0.5, 0.5]),
    NoiseAzimuthBlock("IW2", 150, 300, 100, 240, [225], [0.8]),
]
PIXELS = {(100, 60): 100, (120, 130): 50, (200, 150): 60, (200, 160): 20, (60, 40): 0}
"""(row, col) → DN of the pixels checked; every other pixel has DN 100."""


def a_by_hand(r: int, c: int) -> float:
    """sigmaNought at (r, c): across range on line 0, then the lines' factor 1 → 1.05 → 1.08."""
    across = 400 + c * 120 / 120 if c <= 120 else 520 + (c - 120) * 80 / 120
    along = 1 + 0.05 * r / 150 if r <= 150 else 1.05 + 0.03 * (r - 150) / 150
    return across * along


def noise_range_by_hand(r: int, c: int) -> float:
    on_0 = 1000 + c * 600 / 100 if c <= 100 else 1600 + (c - 100) * 600 / 140
    on_300 = 2000 + c * 600 / 120 if c <= 120 else 2600 + (c - 120) * 600 / 120
    return on_0 + (on_300 - on_0) * r / 300


def noise_azimuth_by_hand(r: int, c: int) -> float:
    if c <= 99:
        return 1.0 + 0.3 * r / 300
    return 0.5 if r <= 149 else 0.8


def sigma0_by_hand(r: int, c: int, dn: int, noise: str = "range-azimuth") -> float:
    """What SNAP's ThermalNoiseRemoval → Calibration gives, from the LUT numbers above."""
    if dn == 0:
        return 0.0
    n = {"none": 0.0, "range": noise_range_by_hand(r, c),
         "range-azimuth": noise_range_by_hand(r, c) * noise_azimuth_by_hand(r, c)}[noise]  # fmt: skip
    power = dn * dn - n
    return (power if power > 0 else NOISE_FLOOR_DN2) / a_by_hand(r, c) ** 2


def test_the_hand_values_are_the_ones_meant() -> None:
    """The hand formulas above, checked at a few knots against the LUTs' own numbers."""
    assert a_by_hand(0, 120) == 520 and a_by_hand(150, 240) == pytest.approx(630) and a_by_hand(300, 0) == pytest.approx(432)
    assert noise_range_by_hand(0, 100) == 1600 and noise_range_by_hand(300, 120) == 2600
    assert sigma0_by_hand(200, 160, 20) == pytest.approx(NOISE_FLOOR_DN2 / a_by_hand(200, 160) ** 2)  # 400 < N


def grd_product(folder: Path, *, ipf: str = "003.71", noise_file: bool = True, pols: tuple[str, ...] = ("VV",)) -> Path:
    """The product over the test site, its pixel centres on the site grid's (10 m, north up)."""
    crs, x0, y0 = site_utm_origin(SITE)
    dn = np.full((H, W), 100, np.uint16)
    for (r, c), v in PIXELS.items():
        dn[r, c] = v
    folder.mkdir(parents=True, exist_ok=True)
    return write_s1_grd_safe(
        folder, {p: dn for p in pols}, crs=crs, west=math.floor(x0 / 10) * 10, north=math.ceil(y0 / 10) * 10,
        calibration=CALIBRATION, noise_range=NOISE_RANGE, noise_azimuth=NOISE_AZIMUTH, ipf=ipf, noise_file=noise_file,
    )  # fmt: skip


def values_at_product_pixels(cog: Path, band: int = 1) -> dict[tuple[int, int], float]:
    """The archived COG's value (of ``band``) at the centre of each checked pixel of the product (by its coordinates)."""
    crs, x0, y0 = site_utm_origin(SITE)
    west, north = math.floor(x0 / 10) * 10, math.ceil(y0 / 10) * 10
    out = {}
    with rasterio.open(cog) as src:
        assert src.crs.to_string() == crs
        data = src.read(band)
        for r, c in PIXELS:
            col, row = ~src.transform @ (west + (c + 0.5) * 10, north - (r + 0.5) * 10)
            out[(r, c)] = float(data[int(math.floor(row)), int(math.floor(col))])
    return out


@pytest.mark.parametrize(("ipf", "noise"), [("003.71", "range-azimuth"), ("002.84", "range")], ids=["ipf-3.71", "ipf-2.84"])
def test_sigma0_at_chosen_pixels_is_the_lut_value_worked_out_by_hand(tmp_path: Path, ipf: str, noise: str) -> None:
    """Was DN² / A², A the LUT's median, the noise not subtracted: 5 to 40 % off at these pixels.
    With ``sar_thermal_noise = subtract`` (in sitewatch.toml for ingest, through its jobs)."""
    product = grd_product(tmp_path / "p", ipf=ipf)
    s1 = open_s1_grd(product, thermal_noise="subtract")
    band = s1.bands["VV"]
    for (r, c), dn in PIXELS.items():
        window = band.read((r - 1, r + 2, c - 2, c + 1))  # the pixel at (1, 2) of a window off the grid of tiles
        assert float(window[1, 2]) == pytest.approx(sigma0_by_hand(r, c, dn, noise), rel=1e-6), (r, c)
    whole = band.read((0, H, 0, W))
    assert whole[60, 40] == 0 and np.count_nonzero(whole == 0) == 1  # DN 0 is no data, and only DN 0
    assert float(whole[200, 160]) > 0  # below the noise: floored, not 0 (no data) nor negative (dB)
    text = s1.provenance()["calibration"]["VV"]
    assert "sigma0 = (DN² − N) / A², A and N bilinear from the product's calibration and noise LUTs" in text
    assert ("noiseAzimuthLut" in text) == (noise == "range-azimuth") and f"{NOISE_FLOOR_DN2} DN²" in text

    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    ws.config_path.write_text('[settings]\nsar_thermal_noise = "subtract"\n', encoding="utf-8")
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(product), "-w", str(ws.root)])
    assert r.exit_code == 0, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    got = values_at_product_pixels(ws.root / obs.path)
    for (r, c), dn in PIXELS.items():
        want = sigma0_by_hand(r, c, dn, noise)
        assert (math.isnan(got[(r, c)]) if dn == 0 else got[(r, c)] == pytest.approx(want, rel=1e-6)), (r, c, got[(r, c)], want)
    assert obs.provenance["safe"]["calibration"]["VV"] == text


@pytest.mark.parametrize("noise_file", ["readable", "missing", "unreadable"])
def test_by_default_the_noise_stays_in_and_its_lut_is_not_read(tmp_path: Path, noise_file: str) -> None:
    """sigma0 = DN² / A² (A bilinear) by default, as OpenSARShip's calibrated chips, on which the SAR
    detector was validated, have it; the noise file is not read, so its absence is not warned about.
    Was (DN² − N) / A² whatever the setting, with a warning when the noise file was missing."""
    product = grd_product(tmp_path / "p", ipf="003.71", noise_file=noise_file != "missing")
    if noise_file == "unreadable":
        (noise,) = product.rglob("noise-*.xml")
        noise.write_text("not xml", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not a word about the noise
        s1 = open_s1_grd(product)
    band = s1.bands["VV"]
    for (r, c), dn in PIXELS.items():
        assert float(band.read((r, r + 1, c, c + 1))[0, 0]) == pytest.approx(dn * dn / a_by_hand(r, c) ** 2, rel=1e-6), (r, c)
    assert float(band.read((200, 201, 160, 161))[0, 0]) > 100 * NOISE_FLOOR_DN2 / a_by_hand(200, 160) ** 2  # not floored
    text = s1.provenance()["calibration"]["VV"]
    assert text.startswith("sigma0 = DN² / A², A bilinear from the product's calibration LUT (calibration-s1a-iw-grd-vv-")
    assert KEPT_BY_SETTING in text and "noise-" not in text and "NOT subtracted" not in text

    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(product), "-w", str(ws.root)], env={"SITEWATCH_SAR_THERMAL_NOISE": None})
    assert r.exit_code == 0 and "warning" not in r.output, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    got = values_at_product_pixels(ws.root / obs.path)
    for (r_, c), dn in PIXELS.items():
        assert math.isnan(got[(r_, c)]) if dn == 0 else got[(r_, c)] == pytest.approx(dn * dn / a_by_hand(r_, c) ** 2, rel=1e-6)
    assert obs.provenance["safe"]["calibration"]["VV"] == text


def test_import_reads_the_setting_as_ingest_does(tmp_path: Path) -> None:
    product = grd_product(tmp_path / "p")
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    for setting, noise in (("keep", "none"), ("subtract", "range-azimuth")):
        ws.config_path.write_text(f'[settings]\nsar_thermal_noise = "{setting}"\n', encoding="utf-8")
        r = CliRunner().invoke(main, ["-q", "import", str(product), "--site", SITE.id, "-w", str(ws.root)], env={"SITEWATCH_SAR_THERMAL_NOISE": None})
        assert r.exit_code == 0, r.output
        with ws.store() as store:
            (obs,) = store.observations(SITE.id)  # the second import replaces the first
        got = values_at_product_pixels(ws.root / obs.path)
        assert got[(100, 60)] == pytest.approx(sigma0_by_hand(100, 60, 100, noise), rel=1e-6), setting


def test_a_thermal_noise_value_other_than_keep_or_subtract_is_refused(tmp_path: Path) -> None:
    product = grd_product(tmp_path / "p")
    with pytest.raises(ValueError, match="thermal_noise must be 'keep' or 'subtract', got 'off'"):
        open_s1_grd(product, thermal_noise="off")  # type: ignore[arg-type]
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(product), "-w", str(ws.root)], env={"SITEWATCH_SAR_THERMAL_NOISE": "off"})
    assert r.exit_code == 1 and "environment variable SITEWATCH_SAR_THERMAL_NOISE (the sar_thermal_noise setting) must be one of keep, subtract, got 'off'" in r.output, r.output
    with ws.store() as store:
        assert not store.observations(SITE.id)


def test_detect_image_keeps_the_noise_unless_told_to_subtract_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """detect-image reads no workspace: --thermal-noise, else SITEWATCH_SAR_THERMAL_NOISE, else keep.
    The values checked are those of the band the detector is given."""
    import sitewatch.detect.image as image_module

    product = grd_product(tmp_path / "p")
    seen = []
    detect = image_module.detect_image

    def spy(src, *a, **k):  # type: ignore[no-untyped-def]
        seen.append(src)
        return detect(src, *a, **k)

    monkeypatch.setattr(image_module, "detect_image", spy)
    out = tmp_path / "d.geojson"
    for args, env, want in [
        ([], None, "keep"),
        (["--thermal-noise", "subtract"], None, "subtract"),
        ([], "subtract", "subtract"),
        (["--thermal-noise", "keep"], "subtract", "keep"),  # the flag over the environment
    ]:
        seen.clear()
        r = CliRunner().invoke(main, ["detect-image", str(product), "--out", str(out), *args], env={"SITEWATCH_SAR_THERMAL_NOISE": env})
        assert r.exit_code == 0 and "warning" not in r.output, (args, env, r.output)
        (band,) = seen
        for (row, col), dn in PIXELS.items():
            got = float(band.read((row, row + 1, col, col + 1))[0, 0])
            want_value = sigma0_by_hand(row, col, dn, "range-azimuth" if want == "subtract" else "none")
            assert got == pytest.approx(want_value, rel=1e-6), (args, env, row, col)
        text = json.loads(out.read_text(encoding="utf-8"))["sitewatch"]["safe"]["calibration"]["VV"]
        assert (KEPT_BY_SETTING in text) == (want == "keep"), (args, env, text)
        assert text.startswith("sigma0 = (DN² − N) / A²" if want == "subtract" else "sigma0 = DN² / A²"), (args, env, text)


def test_detect_image_names_a_thermal_noise_choice_it_cannot_apply(tmp_path: Path) -> None:
    product = grd_product(tmp_path / "p")
    tif = write_tiff(tmp_path / "sar.tif", np.full((64, 64), 0.02, np.float32))  # sigma0 as it is: no LUT
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--sensor", "sar", "--thermal-noise", "subtract", "--out", str(tmp_path / "o.geojson")])
    assert r.exit_code == 1 and f"--thermal-noise: for a Sentinel-1 GRD SAFE product given as IMAGE, whose noise LUT it keeps or subtracts; {tif} are read as they are" in r.output, r.output
    r = CliRunner().invoke(main, ["detect-image", str(product), "--out", str(tmp_path / "o.geojson")], env={"SITEWATCH_SAR_THERMAL_NOISE": "none"})
    assert r.exit_code == 1 and "environment variable SITEWATCH_SAR_THERMAL_NOISE (the sar_thermal_noise setting) must be one of keep, subtract, got 'none'" in r.output, r.output
    assert not (tmp_path / "o.geojson").exists()


@pytest.mark.parametrize("as_zip", [False, True], ids=["folder", "zip"])
def test_a_product_without_its_noise_file_is_read_without_noise_saying_so(tmp_path: Path, as_zip: bool) -> None:
    """With ``subtract`` (here from the environment, for ingest)."""
    product = grd_product(tmp_path / "p", noise_file=False)
    if as_zip:
        archive = Path(shutil.make_archive(str(product.with_suffix("")), "zip", product.parent, product.name))
        shutil.rmtree(product)
        product = archive
    missing = r"no thermal noise LUT \(annotation/calibration/noise-s1a-iw-grd-vv-.*\.xml is missing\); its sigma0 keeps the noise"
    with pytest.warns(NoiseNotRemovedWarning, match=missing):
        s1 = open_s1_grd(product, thermal_noise="subtract")
    band = s1.bands["VV"]
    for (r, c), dn in PIXELS.items():
        assert float(band.read((r, r + 1, c, c + 1))[0, 0]) == pytest.approx(sigma0_by_hand(r, c, dn, "none"), rel=1e-6)
    text = s1.provenance()["calibration"]["VV"]
    assert text.startswith("sigma0 = DN² / A², A bilinear") and "thermal noise NOT subtracted: no thermal noise LUT (" in text

    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    r = CliRunner().invoke(main, ["-q", "ingest", SITE.id, str(product), "-w", str(ws.root)], env={"SITEWATCH_SAR_THERMAL_NOISE": "subtract"})
    assert r.exit_code == 0, r.output
    assert len(re.findall(rf"^warning: {re.escape(str(product))}: {missing}", r.output, flags=re.M)) == 1, r.output
    with ws.store() as store:
        (obs,) = store.observations(SITE.id)
    assert obs.provenance["safe"]["calibration"]["VV"] == text


def test_an_unreadable_noise_file_is_named_and_read_without_noise(tmp_path: Path) -> None:
    product = grd_product(tmp_path / "p")
    (noise,) = product.rglob("noise-*.xml")
    noise.write_text("<noise><noiseRangeVectorList><noiseRangeVector><line>0</line></noiseRangeVector></noiseRangeVectorList></noise>", encoding="utf-8")
    with pytest.warns(NoiseNotRemovedWarning, match=rf"/{noise.name}: not a readable Sentinel-1 noise LUT \(no <pixel>"):
        s1 = open_s1_grd(product, thermal_noise="subtract")
    assert "NOT subtracted" in s1.provenance()["calibration"]["VV"]


@pytest.mark.parametrize(
    ("xml", "says"),
    [
        ("<calibration/>", "no <calibrationVector>"),
        ("<calibration><calibrationVector><line>0</line><pixel>0 9</pixel><sigmaNought>5</sigmaNought></calibrationVector></calibration>", "2 pixels but 1 values"),
        ("<calibration><calibrationVector><line>0</line><pixel>0 9</pixel><sigmaNought>5 0</sigmaNought></calibrationVector></calibration>", "not positive"),
        ("<calibration><calibrationVector><line>0</line><pixel>9 0</pixel><sigmaNought>5 5</sigmaNought></calibrationVector></calibration>", "pixels do not increase"),
        ("not xml", "not a readable Sentinel-1 calibration LUT"),
        ('<?xml version="1.0" encoding="UTF-3"?><calibration/>', "declared encoding 'UTF-3' cannot be read"),  # LookupError
    ],
)  # fmt: skip
def test_a_malformed_calibration_lut_is_a_named_error(tmp_path: Path, xml: str, says: str) -> None:
    with pytest.raises(InputError, match=re.escape(says)):
        parse_calibration(xml.encode(), "calibration-x.xml")
    product = grd_product(tmp_path / "p")
    (cal,) = product.rglob("calibration-*.xml")
    cal.write_text(xml, encoding="utf-8")
    with pytest.raises(InputError, match=rf"{re.escape(product.name)}: .*{cal.name}.*{re.escape(says)}"):
        open_s1_grd(product)


def test_noise_lut_formats_are_told_apart() -> None:
    from sitewatch.testing.safe import noise_xml

    new = parse_noise(noise_xml("VV", NOISE_RANGE, NOISE_AZIMUTH).encode(), "n.xml")
    old = parse_noise(noise_xml("VV", NOISE_RANGE, None).encode(), "n.xml")
    assert new.kind == "range-azimuth" and [b.swath for b in new.azimuth] == ["IW1", "IW2", "IW2"]
    assert old.kind == "range" and not old.azimuth
    rows, cols = np.array([100, 200]), np.array([60, 150])
    assert np.allclose(new.at(rows, cols), [[noise_range_by_hand(r, c) * noise_azimuth_by_hand(r, c) for c in cols] for r in rows])
    assert np.allclose(old.at(rows, cols), [[noise_range_by_hand(r, c) for c in cols] for r in rows])
    with pytest.raises(InputError, match="neither <noiseRangeVector>"):
        parse_noise(b"<noise/>", "n.xml")


def test_a_window_evaluated_in_strips_gives_the_same_numbers() -> None:
    """A window wider than a strip (a detect-image tile across a whole GRD scene) is evaluated a few
    rows at a time, to bound memory; the numbers do not depend on the strips."""
    from sitewatch.sources import s1_radiometry as rad
    from sitewatch.testing.safe import calibration_xml, noise_xml

    cal = parse_calibration(calibration_xml("VV", CALIBRATION).encode(), "c.xml")
    noise = parse_noise(noise_xml("VV", NOISE_RANGE, NOISE_AZIMUTH).encode(), "n.xml")
    radiometry = rad.S1Radiometry(cal, "c.xml", noise, "n.xml")
    dn = np.full((5, 7), 100, np.uint16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small = radiometry.sigma0(dn, 198, 148)
    assert small[2, 2] == pytest.approx(sigma0_by_hand(200, 150, 100), rel=1e-6)
    old, rad.STRIP_PIXELS = rad.STRIP_PIXELS, 7  # one row a strip: the same numbers
    try:
        assert np.array_equal(radiometry.sigma0(dn, 198, 148), small)
    finally:
        rad.STRIP_PIXELS = old

