"""Fuzz the metadata `sitewatch ingest`/`import` read beside and inside a GeoTIFF: a provider's sidecar
(Planet's ``_metadata.xml`` and ``_metadata.json``, Maxar's ``.IMD`` and ``.XML``, Airbus's ``DIM_….XML``, a
STAC-like ``.json``) next to a small 4-band image named as that provider names it, the image's own tags
(acquisition time, sensor, scene id, resolution, band descriptions), a SkySat radiance file's header (its
reflectance coefficients) or a Landsat Level-2 product's MTL (``.txt`` or ``.json``). The input's first byte picks which;
the rest is the sidecar's text, or the tags as ``KEY=VALUE`` lines (``#N=`` lines: band N's description)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import atheris
from _harness import mutated_json, run

with atheris.instrument_imports(include=["sitewatch"]):
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    from sitewatch.ingest.scene_ref import read_scene_ref

PLANET_XML = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<ps:EarthObservation xmlns:ps="http://schemas.planet.com/ps/v1/'
    'planet_product_metadata_geocorrected_level" xmlns:eop="http://earth.esa.int/eop" xmlns:gml="http://www.opengis.net/gml">'
    "<gml:validTime><gml:TimePeriod><gml:beginPosition>2024-10-12T01:23:45+00:00</gml:beginPosition></gml:TimePeriod></gml:validTime>"
    "<gml:using><eop:EarthObservationEquipment><eop:platform><eop:Platform><eop:shortName>PlanetScope</eop:shortName>"
    "</eop:Platform></eop:platform><eop:acquisitionParameters><ps:Acquisition>"
    "<ps:acquisitionDateTime>2024-10-17T01:23:45.678912+00:00</ps:acquisitionDateTime>"
    "</ps:Acquisition></eop:acquisitionParameters></eop:EarthObservationEquipment></gml:using><gml:resultOf>"
    "<ps:EarthObservationResult>"
    + "".join(
        f"<ps:bandSpecificMetadata><ps:bandNumber>{i}</ps:bandNumber><ps:radiometricScaleFactor>0.01</ps:radiometricScaleFactor>"
        f"<ps:reflectanceCoefficient>{c}</ps:reflectanceCoefficient></ps:bandSpecificMetadata>"
        for i, c in enumerate((2.1e-5, 2.2e-5, 2.5e-5, 3.1e-5), 1)
    )
    + "</ps:EarthObservationResult></gml:resultOf></ps:EarthObservation>\n"
)
PLANET_JSON = {"id": "20241017_012345_22_2470", "type": "Feature", "properties": {
    "acquired": "2024-10-17T01:23:45.678Z", "instrument": "PSB.SD", "item_type": "PSScene", "provider": "planetscope",
    "satellite_id": "2470", "cloud_cover": 0.02, "pixel_resolution": 3}}  # fmt: skip
IMD = (
    'version = "28.3";\ngenerationTime = 2024-10-25T11:00:00.000000Z;\nproductLevel = "LV2A";\nsatId = "WV03";\n'
    + "".join(f"BEGIN_GROUP = BAND_{b}\n\tULLon = 14.1;\nEND_GROUP = BAND_{b}\n" for b in "BGRN")
    + 'BEGIN_GROUP = IMAGE_1\n\tsatId = "WV03";\n\tearliestAcqTime = 2024-10-14T02:11:09.100000Z;\n'
    "\tlatestAcqTime = 2024-10-14T02:11:12.900000Z;\nEND_GROUP = IMAGE_1\nEND;\n"
)
MAXAR_XML = (
    "<isd><IMD><GENERATIONTIME>2024-10-25T11:00:00.000000Z</GENERATIONTIME><BAND_B></BAND_B><BAND_G></BAND_G>"
    "<BAND_R></BAND_R><BAND_N></BAND_N><IMAGE><SATID>WV02</SATID><FIRSTLINETIME>2024-10-13T02:11:07.512345Z"
    "</FIRSTLINETIME></IMAGE></IMD></isd>"
)
DIM = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Dimap_Document name="DIM_PHR1A_MS.XML"><Product_Information>'
    "<Delivery_Identification><PRODUCTION_DATE>2024-10-20T08:00:00.000Z</PRODUCTION_DATE></Delivery_Identification>"
    "</Product_Information><Raster_Data><Raster_Display><Raster_Index_List>"
    + "".join(f"<Raster_Index><BAND_ID>B{b}</BAND_ID><BAND_INDEX>{i}</BAND_INDEX></Raster_Index>" for i, b in enumerate("2103", 1))
    + "</Raster_Index_List></Raster_Display></Raster_Data><Dataset_Sources><Source_Identification><SOURCE_ID>DS_PHR1A</SOURCE_ID>"
    "<Strip_Source><MISSION>PHR</MISSION><MISSION_INDEX>1A</MISSION_INDEX><IMAGING_DATE>2024-10-17</IMAGING_DATE>"
    "<IMAGING_TIME>09:30:05.1Z</IMAGING_TIME><BAND_MODE>MS</BAND_MODE></Strip_Source></Source_Identification>"
    "</Dataset_Sources></Dimap_Document>\n"
)
SKYSAT_HEADER = {"properties": {"reflectance_coefficients": [2.1e-5, 2.2e-5, 2.5e-5, 3.1e-5], "satellite_id": "SSC6"}}
LANDSAT = "LC09_L2SP_118038_20241015_20241016_02_T1"
MTL = (
    'GROUP = LANDSAT_METADATA_FILE\n  GROUP = IMAGE_ATTRIBUTES\n    SPACECRAFT_ID = "LANDSAT_9"\n'
    '    DATE_ACQUIRED = 2024-10-15\n    SCENE_CENTER_TIME = "02:30:45.1234560Z"\n  END_GROUP = IMAGE_ATTRIBUTES\n'
    "  GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS\n"
    + "".join(f"    REFLECTANCE_MULT_BAND_{n} = 2.75E-05\n    REFLECTANCE_ADD_BAND_{n} = -0.200000\n" for n in (2, 3, 4, 5))
    + "  END_GROUP = LEVEL2_SURFACE_REFLECTANCE_PARAMETERS\nEND_GROUP = LANDSAT_METADATA_FILE\nEND\n"
)
MTL_JSON = {"LANDSAT_METADATA_FILE": {
    "IMAGE_ATTRIBUTES": {"SPACECRAFT_ID": "LANDSAT_9", "DATE_ACQUIRED": "2024-10-15", "SCENE_CENTER_TIME": "02:30:45.1234560Z"},
    "LEVEL2_SURFACE_REFLECTANCE_PARAMETERS": {
        k: v for n in (2, 3, 4, 5) for k, v in ((f"REFLECTANCE_MULT_BAND_{n}", "2.75E-05"), (f"REFLECTANCE_ADD_BAND_{n}", "-0.2"))}}}  # fmt: skip
STAC_JSON = {"type": "Feature", "id": "scene", "properties": {"datetime": "2024-10-17T01:23:45Z", "platform": "sentinel-2a"}}
TAGS = (
    "SITEWATCH_ACQUIRED=2024-10-17T01:23:45Z\nSITEWATCH_SENSOR=optical\nSITEWATCH_SCENE_ID=local:col:item\n"
    "SITEWATCH_RESOLUTION_M=10\nTIFFTAG_DATETIME=2024:10:17 01:23:45\nSITEWATCH_SIMULATED=true\n"
    "#1=blue\n#2=green\n#3=red\n#4=nir\n"
)

# (image name, sidecar name, seed): the sidecar as it is, except the JSON ones (a seed with values swapped in)
CASES = [
    ("20241017_012345_22_2470_3B_AnalyticMS.tif", "20241017_012345_22_2470_3B_AnalyticMS_metadata.xml", PLANET_XML),
    ("20241017_012345_22_2470_3B_AnalyticMS_SR.tif", "20241017_012345_22_2470_metadata.json", PLANET_JSON),
    ("24OCT14021105-M2AS-012345678010_01_P001.TIF", "24OCT14021105-M2AS-012345678010_01_P001.IMD", IMD),
    ("24OCT14021105-M2AS-012345678010_01_P001.TIF", "24OCT14021105-M2AS-012345678010_01_P001.XML", MAXAR_XML),
    ("IMG_PHR1A_MS_202410170930051_ORT_ab12cd34_R1C1.TIF", "DIM_PHR1A_MS_202410170930051_ORT_ab12cd34.XML", DIM),
    ("scene.tif", "scene.json", STAC_JSON),
    ("scene.tif", "", TAGS),
    ("20230415_083012_ssc6d1_0001_analytic.tif", "", SKYSAT_HEADER),  # its header: the TIFF's ImageDescription
    (f"{LANDSAT}_MTL.txt", f"{LANDSAT}_MTL.txt", MTL),  # the product by its MTL, its band files beside it
    (f"{LANDSAT}_MTL.json", f"{LANDSAT}_MTL.json", MTL_JSON),
]
# A JSON case's body drives the swaps: 0xff bytes keep the seed nearly whole, zeros swap its root.
SEEDS = [bytes([i]) + (b"\xff" * 256 if isinstance(seed, dict) else seed.encode()) for i, (_, _, seed) in enumerate(CASES)]
SEEDS += [bytes([i]) + bytes(64) for i, (_, _, seed) in enumerate(CASES) if isinstance(seed, dict)]
ROOT = Path(tempfile.mkdtemp(prefix="sitewatch-fuzz-ingest-"))
PIXELS = np.arange(4 * 8 * 8, dtype=np.uint16).reshape(4, 8, 8) * 7


def _image(path: Path, tags: dict[str, str], descriptions: dict[int, str]) -> None:
    with rasterio.open(path, "w", driver="GTiff", width=8, height=8, count=4, dtype="uint16", crs="EPSG:32633",
                       transform=from_origin(500000, 4000000, 10, 10)) as dst:  # fmt: skip
        dst.write(PIXELS)
        dst.update_tags(**tags)
        for band, text in descriptions.items():
            dst.set_band_description(band, text)


def _tags(text: str) -> tuple[dict[str, str], dict[int, str]]:
    tags: dict[str, str] = {}
    descriptions: dict[int, str] = {}
    for line in text.split("\n"):
        key, _, value = line.partition("=")
        key, value = key.strip().replace("\x00", ""), value.replace("\x00", "")
        if key.startswith("#") and key[1:].isdigit() and 1 <= int(key[1:]) <= 4:
            descriptions[int(key[1:])] = value
        elif key.replace("_", "").isalnum() and key.isascii():
            tags[key] = value
    return tags, descriptions


def read(data: bytes) -> None:
    case = data[0] % len(CASES) if data else 0
    name, sidecar, seed = CASES[case]
    for old in ROOT.iterdir():
        old.unlink()
    body = mutated_json(data[1:], [seed]) if isinstance(seed, dict) else data[1:]
    if name.startswith(LANDSAT):
        for n in (2, 3, 4, 5):
            _image(ROOT / f"{LANDSAT}_SR_B{n}.TIF", {}, {})
        (ROOT / name).write_bytes(body)
    elif seed is SKYSAT_HEADER:
        _image(ROOT / name, {"TIFFTAG_IMAGEDESCRIPTION": body.decode("utf-8", errors="replace").replace("\x00", "")}, {})
    elif sidecar:
        _image(ROOT / name, {}, {})
        (ROOT / sidecar).write_bytes(body)
    else:
        _image(ROOT / name, *_tags(body.decode("utf-8", errors="replace")))
    read_scene_ref(ROOT / name)


if __name__ == "__main__":
    run(read, SEEDS)
