"""Maxar counts become top-of-atmosphere reflectance by the .IMD delivered with them (synthetic IMD and image)."""

from __future__ import annotations

import math
import re
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.errors import UncalibratedWarning
from sitewatch.ingest import ingest_paths
from sitewatch.sources.maxar_toa import ESUN, earth_sun_distance_au
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff
from sitewatch.workspace import Workspace

SITE = tiny_site()
NAME = "24NOV02021107-M2AS-012345678010_01_P001"
# A WorldView-3 multispectral Standard product's IMD (as Maxar writes one: ODL groups, `key = value;`), with
# figures of the size real ones carry; SYNTHETIC, made for this test.
CAL = {"C": (9.295654e-03, 4.73e-02), "B": (1.260825e-02, 5.43e-02), "G": (9.713071e-03, 6.30e-02),
       "Y": (5.829815e-03, 3.74e-02), "R": (1.103623e-02, 5.74e-02), "RE": (4.539619e-03, 3.93e-02),
       "N": (1.224380e-02, 9.89e-02), "N2": (9.042234e-03, 9.96e-02)}  # fmt: skip
SUN_EL = 31.7
WHEN = datetime(2024, 11, 2, 2, 11, 7, 512345, tzinfo=UTC)


def _imd(bands: dict[str, tuple[float, float]] = CAL, sun_el: float | None = SUN_EL, sat: str = "WV03") -> str:
    groups = "".join(
        f"BEGIN_GROUP = BAND_{b}\n\tULLon = 132.32;\n\tULLat = 42.90;\n\tULHAE = 20.0;\n"
        f"\tabsCalFactor = {k:.6e};\n\teffectiveBandwidth = {bw:.6e};\n\tTDILevel = 24;\nEND_GROUP = BAND_{b}\n"
        for b, (k, bw) in bands.items()
    )
    sun = f"\tmeanSunAz = 163.4;\n\tmeanSunEl = {sun_el};\n" if sun_el is not None else ""
    return (
        'version = "28.4";\ngenerationTime = 2024-11-03T10:12:44.000000Z;\nproductOrderId = "012345678010_01_P001";\n'
        'bandId = "Multi";\nproductLevel = "LV2A";\nradiometricLevel = "Corrected";\nbitsPerPixel = 16;\n'
        f"numRows = 250;\nnumColumns = 220;\n{groups}BEGIN_GROUP = IMAGE_1\n\tsatId = \"{sat}\";\n"
        '\tCatId = "104001009E2D6E00";\n\tfirstLineTime = 2024-11-02T02:11:07.512345Z;\n\tavgLineRate = 4800.0;\n'
        f"{sun}\tmeanSatEl = 64.2;\n\tmeanOffNadirViewAngle = 22.9;\n\tcloudCover = 0.000;\nEND_GROUP = IMAGE_1\nEND;\n"
    )


def _image(folder: Path, count: int = 8, dn: int = 300) -> Path:
    """11-bit counts in uint16: ``dn`` over water, band k + 1 apart so that the bands tell apart."""
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.stack([np.full((250, 220), dn + k, np.uint16) for k in range(count)])
    return write_tiff(folder / f"{NAME}.TIF", data, crs=crs, transform=Affine(8, 0, x0, 0, -8, y0))


@pytest.fixture()
def ws(tmp_path: Path) -> Workspace:
    return workspace_with_sites(tmp_path / "ws", SITE)


def test_earth_sun_distance_is_the_almanac_s() -> None:
    # Perihelion in early January, aphelion in early July (0.98329 and 1.01671 AU in 2024).
    assert earth_sun_distance_au(datetime(2024, 1, 3, 0, tzinfo=UTC)) == pytest.approx(0.98331, abs=2e-4)
    assert earth_sun_distance_au(datetime(2024, 7, 5, 5, tzinfo=UTC)) == pytest.approx(1.01671, abs=2e-4)


def test_a_maxar_file_with_its_imd_goes_in_as_toa_reflectance(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "delivery"
    folder.mkdir()
    tif = _image(folder)
    (folder / f"{NAME}.IMD").write_text(_imd(), encoding="utf-8")
    with ws.store() as store, warnings.catch_warnings():
        warnings.simplefilter("error", UncalibratedWarning)
        report = ingest_paths(ws, store, SITE, [folder], workers=1)
    (obs,) = report.observations
    d = 1.00014 - 0.01671 * math.cos(math.radians(357.529 + 0.98560028 * (WHEN.timestamp() / 86400 + 2440587.5 - 2451545)))
    d -= 0.00014 * math.cos(2 * math.radians(357.529 + 0.98560028 * (WHEN.timestamp() / 86400 + 2440587.5 - 2451545)))

    def toa(band: str, dn: int) -> float:
        k, bw = CAL[band]
        return dn * k / bw * d * d * math.pi / (ESUN["worldview-3"][{"B": "blue", "R": "red", "N": "nir"}[band]]
                                               * math.cos(math.radians(90 - SUN_EL)))

    with rasterio.open(ws.root / obs.path) as cog:
        values = {name: float(np.nanmedian(cog.read(i + 1))) for i, name in enumerate(cog.descriptions)}
    # Blue is the file's band 2 (DN 301), red band 5 (304), NIR1 band 7 (306).
    assert values["blue"] == pytest.approx(toa("B", 301), rel=1e-4)  # 0.205; counts / 10,000 gave 0.0301
    assert values["red"] == pytest.approx(toa("R", 304), rel=1e-4)
    assert values["nir"] == pytest.approx(toa("N", 306), rel=1e-4)
    maxar = obs.provenance["maxar"]
    assert maxar["reflectance"].startswith("TOA from the .IMD: absCalFactor x DN / effectiveBandwidth")
    assert maxar["metadata"] == str((folder / f"{NAME}.IMD").resolve()) and maxar["platform"] == "worldview-3"
    assert maxar["abs_cal_factor"]["blue"] == CAL["B"][0] and maxar["esun"]["blue"] == 2004.61
    assert maxar["mean_sun_elevation_deg"] == SUN_EL and maxar["earth_sun_distance_au"] == pytest.approx(d, abs=1e-6)
    assert obs.provenance["scale_applied"]["blue"] == pytest.approx(toa("B", 1), rel=1e-9)
    assert tif.exists()


@pytest.mark.parametrize(
    ("imd", "said"),
    [
        (None, "without the .IMD (or .XML) delivered with it"),
        (_imd({b: (0.01, 0.05) for b in "BGRN"}, sun_el=None), "gives no meanSunEl"),
        (_imd({b: (0.01, 0.05) for b in "BGRN"}, sat="WV04"), "no published solar irradiance (Esun) for worldview-4"),
        # WorldView Legion (no Esun in the 2016v0 note; its satId assumed LG01 here, an id sitewatch does not name):
        # the warning says the id as read
        (_imd({b: (0.01, 0.05) for b in "BGRN"}, sat="LG01"), "no published solar irradiance (Esun) for LG01's bands"),
    ],
    ids=["no-imd", "no-sun-elevation", "worldview-4", "legion"],
)
def test_without_the_imd_s_calibration_a_maxar_file_goes_in_as_before_with_a_warning(
    ws, tmp_path: Path, imd: str | None, said: str  # type: ignore[no-untyped-def]
) -> None:
    folder = tmp_path / "delivery"
    folder.mkdir()
    tif = _image(folder, count=4, dn=1200)  # blue, green, red, NIR without an IMD to say otherwise
    if imd is not None:
        (folder / f"{NAME}.IMD").write_text(imd, encoding="utf-8")
    with ws.store() as store, pytest.warns(UncalibratedWarning, match=rf"{re.escape(str(tif))}: .*{re.escape(said)}.*read by its values' range"):
        (obs,) = ingest_paths(ws, store, SITE, [folder], workers=1, acquired=WHEN).observations
    with rasterio.open(ws.root / obs.path) as cog:
        assert float(np.nanmedian(cog.read(1))) == pytest.approx(0.12, rel=1e-6)  # DN / 10,000, as before
    assert "maxar" not in obs.provenance
    # The command says it on standard error, naming the file; --dn-scale (how the values are scaled) says nothing.
    r = CliRunner().invoke(main, ["ingest", SITE.id, str(tif), "-w", str(ws.root), "--acquired", "2024-11-02T02:11:07Z"])
    assert r.exit_code == 0 and str(tif) in r.output and "darker than its true reflectance" in r.output, r.output
    r = CliRunner().invoke(main, ["ingest", SITE.id, str(tif), "-w", str(ws.root), "--acquired", "2024-11-02T02:11:07Z",
                                  "--dn-scale", "2047"])  # fmt: skip
    assert r.exit_code == 0 and "darker than" not in r.output, r.output


def test_the_xml_delivered_instead_of_the_imd_calibrates_too(ws, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "delivery"
    folder.mkdir()
    _image(folder, count=4, dn=500)
    bands = "".join(
        f"<BAND_{b}><ULLON>132.32</ULLON><ABSCALFACTOR>{k:.6e}</ABSCALFACTOR><EFFECTIVEBANDWIDTH>{bw:.6e}"
        f"</EFFECTIVEBANDWIDTH><TDILEVEL>8</TDILEVEL></BAND_{b}>"
        for b, (k, bw) in {"B": (1.1e-02, 6.8e-02), "G": (1.3e-02, 7.1e-02), "R": (1.0e-02, 6.5e-02), "N": (1.6e-02, 1.0e-01)}.items()
    )
    (folder / f"{NAME}.XML").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<isd><IMD><VERSION>28.4</VERSION><BANDID>MS1</BANDID>'
        f"<BITSPERPIXEL>16</BITSPERPIXEL>{bands}<IMAGE><SATID>GE01</SATID>"
        "<FIRSTLINETIME>2024-11-02T02:11:07.512345Z</FIRSTLINETIME><MEANSUNEL>44.0</MEANSUNEL></IMAGE></IMD></isd>\n",
        encoding="utf-8",
    )
    with ws.store() as store:
        (obs,) = ingest_paths(ws, store, SITE, [folder], workers=1).observations
    maxar = obs.provenance["maxar"]
    assert maxar["platform"] == "geoeye-1" and maxar["esun"] == {"blue": 1993.18, "green": 1828.83, "red": 1491.49, "nir": 1022.58}
    d = earth_sun_distance_au(WHEN)
    with rasterio.open(ws.root / obs.path) as cog:
        blue = float(np.nanmedian(cog.read(cog.descriptions.index("blue") + 1)))
    assert blue == pytest.approx(500 * 1.1e-02 / 6.8e-02 * d * d * math.pi / (1993.18 * math.sin(math.radians(44.0))), rel=1e-4)


def test_detect_image_reads_a_maxar_file_by_its_imd_too(tmp_path: Path) -> None:
    import json

    (tmp_path / "four").mkdir()
    four = _image(tmp_path / "four", count=4)  # blue, green, red, NIR: read without an IMD, by its range, said
    r = CliRunner().invoke(main, ["detect-image", str(four), "--out", str(tmp_path / "a.geojson"), "--json"])
    assert r.exit_code == 0 and f"{four}: a Maxar file without the .IMD" in r.output, r.output
    folder = tmp_path / "delivery"
    folder.mkdir()
    tif = _image(folder)
    (folder / f"{NAME}.IMD").write_text(_imd(), encoding="utf-8")
    r = CliRunner().invoke(main, ["detect-image", str(tif), "--out", str(tmp_path / "b.geojson"), "--json"])
    assert r.exit_code == 0 and "darker than" not in r.output, r.output
    said = json.loads(r.stdout)
    assert said["dn_scale_from"] == f"{NAME}.IMD" and said["maxar"]["platform"] == "worldview-3"
    # The time the Earth-Sun distance is taken at is the IMD's firstLineTime, as ingest reads it.
    assert said["maxar"]["earth_sun_distance_au"] == pytest.approx(earth_sun_distance_au(WHEN), abs=1e-6)
    assert said["maxar"]["reflectance_coefficients"]["blue"] == pytest.approx(
        CAL["B"][0] / CAL["B"][1] * earth_sun_distance_au(WHEN) ** 2 * math.pi / (2004.61 * math.sin(math.radians(SUN_EL))), rel=1e-9
    )
