"""Tiny fake Sentinel SAFE products that GDAL's SENTINEL2 and SAFE drivers open, for tests.

A Sentinel-2 product holds what the driver reads and nothing more: ``MTD_MSIL2A.xml`` (or
``MTD_MSIL1C.xml``) listing the band files, the granule's ``MTD_TL.xml`` with its grid,
and one small lossless JPEG 2000 file per band. A Sentinel-1 GRD product holds its manifest,
annotation, calibration and noise LUTs and one GeoTIFF per polarisation.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from numpy.typing import NDArray

__all__ = ["write_s2_safe", "write_s1_grd_safe", "LutVector", "NoiseAzimuthBlock", "calibration_xml", "noise_xml"]

_CODES = {"blue": "B02", "green": "B03", "red": "B04", "nir": "B08"}
_ALL_BANDS = ("B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12")


def write_s2_safe(
    folder: Path,
    bands: Mapping[str, NDArray[np.uint16]],
    *,
    crs: str,
    west: float,
    north: float,
    scl: NDArray[np.uint8] | None = None,
    acquired: str = "2024-10-17T09:30:05.024Z",
    baseline: str = "05.11",
    level: str = "L2A",
    as_zip: bool = False,
    tile: str = "T52TGN",
    sensed: str | None = None,
) -> Path:
    """Write a fake Sentinel-2 SAFE product (10 m ``bands`` blue/green/red/nir, 20 m ``scl``).

    ``acquired`` is the datatake's start (``PRODUCT_START_TIME``, the time in the product's
    name); ``sensed`` the granule's ``SENSING_TIME`` in ``MTD_TL.xml`` (default: ``acquired``),
    which in real products is minutes later, as far as the tile lies along the datatake.

    ``baseline`` ≥ 04.00 writes BOA_ADD_OFFSET −1000 for every band, as real products
    carry. Returns the ``.SAFE`` folder, or its ``.zip`` (the folder removed) with ``as_zip``.
    """
    day = acquired[:10].replace("-", "")
    stamp = day + "T093005"
    name = f"S2B_MSI{level}_{stamp}_N{baseline.replace('.', '')}_R136_{tile}_{day}T120000.SAFE"
    root = Path(folder) / name
    granule = f"GRANULE/{level}_{tile}_A039000_{stamp}"
    epsg = crs.split(":")[-1]
    files: list[str] = []
    first = next(iter(bands.values()))
    h10, w10 = first.shape
    for res, px, arrays in (("10m", 10, {_CODES[k]: v for k, v in bands.items()}), ("20m", 20, {"SCL": scl})):
        for code, arr in arrays.items():
            if arr is None:
                continue
            sub = f"{granule}/IMG_DATA/R{res}" if level == "L2A" else f"{granule}/IMG_DATA"
            stem = f"{sub}/{tile}_{stamp}_{code}" + (f"_{res}" if level == "L2A" else "")
            (root / sub).mkdir(parents=True, exist_ok=True)
            with rasterio.open(
                root / f"{stem}.jp2", "w", driver="JP2OpenJPEG", width=arr.shape[1], height=arr.shape[0], count=1,
                dtype=arr.dtype, crs=crs, transform=Affine(px, 0, west, 0, -px, north), QUALITY=100, REVERSIBLE="YES",
            ) as dst:  # fmt: skip
                dst.write(arr, 1)
            files.append(stem)
    offsets = ""
    if float(baseline) >= 4.0:
        offsets = "<BOA_ADD_OFFSET_VALUES_LIST>" + "".join(
            f'<BOA_ADD_OFFSET band_id="{i}">-1000</BOA_ADD_OFFSET>' for i in range(len(_ALL_BANDS))
        ) + "</BOA_ADD_OFFSET_VALUES_LIST>"
    quant = "BOA_QUANTIFICATION_VALUE" if level == "L2A" else "QUANTIFICATION_VALUE"
    quant_xml = f'<{quant} unit="none">10000</{quant}>'
    images = "".join(f"<IMAGE_FILE>{f}</IMAGE_FILE>" for f in files)
    mtd = f"""<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-{level[1:]}_User_Product xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-{level[1:]}.xsd">
<n1:General_Info><Product_Info>
<PRODUCT_START_TIME>{acquired}</PRODUCT_START_TIME><PRODUCT_STOP_TIME>{acquired}</PRODUCT_STOP_TIME>
<PRODUCT_URI>{name}</PRODUCT_URI><PROCESSING_LEVEL>Level-{level[1:]}</PROCESSING_LEVEL>
<PRODUCT_TYPE>S2MSI{level[1:]}</PRODUCT_TYPE><PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
<Datatake datatakeIdentifier="GS2B_{stamp}_039000_N{baseline}"><SPACECRAFT_NAME>Sentinel-2B</SPACECRAFT_NAME>
<DATATAKE_SENSING_START>{acquired}</DATATAKE_SENSING_START></Datatake>
<Query_Options completeSingleTile="true"><PRODUCT_FORMAT>SAFE_COMPACT</PRODUCT_FORMAT></Query_Options>
<Product_Organisation><Granule_List><Granule granuleIdentifier="G" imageFormat="JPEG2000">{images}</Granule>
</Granule_List></Product_Organisation>
</Product_Info>
<Product_Image_Characteristics><QUANTIFICATION_VALUES_LIST>{quant_xml}</QUANTIFICATION_VALUES_LIST>{offsets}
</Product_Image_Characteristics>
</n1:General_Info>
</n1:Level-{level[1:]}_User_Product>
"""
    root.mkdir(parents=True, exist_ok=True)
    (root / f"MTD_MSI{level}.xml").write_text(mtd, encoding="utf-8")
    sizes = "".join(
        f'<Size resolution="{r}"><NROWS>{h10 * 10 // r}</NROWS><NCOLS>{w10 * 10 // r}</NCOLS></Size>' for r in (10, 20, 60)
    )
    geopos = "".join(
        f'<Geoposition resolution="{r}"><ULX>{west}</ULX><ULY>{north}</ULY><XDIM>{r}</XDIM><YDIM>-{r}</YDIM></Geoposition>'
        for r in (10, 20, 60)
    )
    tl = f"""<?xml version="1.0" encoding="UTF-8"?>
<n1:Level-{level[1:]}_Tile_ID xmlns:n1="https://psd-14.sentinel2.eo.esa.int/PSD/S2_PDI_Level-{level[1:]}_Tile_Metadata.xsd">
<n1:General_Info><SENSING_TIME metadataLevel="Standard">{sensed or acquired}</SENSING_TIME></n1:General_Info>
<n1:Geometric_Info><Tile_Geocoding><HORIZONTAL_CS_NAME>WGS84 / UTM</HORIZONTAL_CS_NAME>
<HORIZONTAL_CS_CODE>EPSG:{epsg}</HORIZONTAL_CS_CODE>{sizes}{geopos}</Tile_Geocoding></n1:Geometric_Info>
</n1:Level-{level[1:]}_Tile_ID>
"""
    (root / granule).mkdir(parents=True, exist_ok=True)
    (root / granule / "MTD_TL.xml").write_text(tl, encoding="utf-8")
    return _zipped(root, root.with_name(root.name + ".zip")) if as_zip else root


LutVector = tuple[int, Sequence[int], Sequence[float]]
"""One vector of a Sentinel-1 LUT: (line, pixel positions, values at them)."""


@dataclass(frozen=True)
class NoiseAzimuthBlock:
    """One ``noiseAzimuthVector`` of an IPF ≥ 2.9 noise file: lines and samples inclusive."""

    swath: str
    first_line: int
    last_line: int
    first_sample: int
    last_sample: int
    lines: Sequence[int]
    values: Sequence[float]


def _zipped(root: Path, archive: Path) -> Path:
    """The product folder ``root`` as the zip ``archive``, the folder inside it as ESA's zips hold it; the
    folder removed."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(root.rglob("*")):
            zf.write(f, f.relative_to(root.parent).as_posix())
    shutil.rmtree(root)
    return archive


def _vector_xml(tag: str, line: int, pixels: Sequence[int], lut: str, values: Sequence[float], extra: str = "") -> str:
    return (
        f"<{tag}><azimuthTime>2024-10-17T09:30:05.123456</azimuthTime><line>{line}</line>"
        f'<pixel count="{len(pixels)}">{" ".join(str(p) for p in pixels)}</pixel>'
        f'<{lut} count="{len(values)}">{" ".join(repr(float(v)) for v in values)}</{lut}>{extra}</{tag}>'
    )


def calibration_xml(pol: str, vectors: Sequence[LutVector]) -> str:
    """A calibration file (``annotation/calibration/calibration-*.xml``) whose sigmaNought LUT is ``vectors``."""
    body = "".join(
        _vector_xml("calibrationVector", line, px, "sigmaNought", v, f'<betaNought count="{len(v)}">{" ".join(map(str, v))}</betaNought>')
        for line, px, v in vectors
    )
    return (
        f"<calibration><adsHeader><missionId>S1A</missionId><productType>GRD</productType>"
        f"<polarisation>{pol.upper()}</polarisation></adsHeader><calibrationInformation>"
        f"<absoluteCalibrationConstant>1.0</absoluteCalibrationConstant></calibrationInformation>"
        f'<calibrationVectorList count="{len(vectors)}">{body}</calibrationVectorList></calibration>'
    )


def noise_xml(pol: str, range_vectors: Sequence[LutVector], azimuth: Sequence[NoiseAzimuthBlock] | None) -> str:
    """A noise file (``annotation/calibration/noise-*.xml``): IPF ≥ 2.9's ``noiseRangeVectorList`` and
    ``noiseAzimuthVectorList``, or with ``azimuth`` None the older ``noiseVectorList`` alone."""
    head = (f"<noise><adsHeader><missionId>S1A</missionId><productType>GRD</productType>"
            f"<polarisation>{pol.upper()}</polarisation></adsHeader>")  # fmt: skip
    if azimuth is None:
        body = "".join(_vector_xml("noiseVector", line, px, "noiseLut", v) for line, px, v in range_vectors)
        return f'{head}<noiseVectorList count="{len(range_vectors)}">{body}</noiseVectorList></noise>'
    rng = "".join(_vector_xml("noiseRangeVector", line, px, "noiseRangeLut", v) for line, px, v in range_vectors)
    az = "".join(
        f"<noiseAzimuthVector><swath>{b.swath}</swath><firstAzimuthLine>{b.first_line}</firstAzimuthLine>"
        f"<firstRangeSample>{b.first_sample}</firstRangeSample><lastAzimuthLine>{b.last_line}</lastAzimuthLine>"
        f"<lastRangeSample>{b.last_sample}</lastRangeSample>"
        f'<line count="{len(b.lines)}">{" ".join(str(v) for v in b.lines)}</line>'
        f'<noiseAzimuthLut count="{len(b.values)}">{" ".join(repr(float(v)) for v in b.values)}</noiseAzimuthLut>'
        f"</noiseAzimuthVector>"
        for b in azimuth
    )
    return (f'{head}<noiseRangeVectorList count="{len(range_vectors)}">{rng}</noiseRangeVectorList>'
            f'<noiseAzimuthVectorList count="{len(azimuth)}">{az}</noiseAzimuthVectorList></noise>')  # fmt: skip


def write_s1_grd_safe(
    folder: Path,
    bands: Mapping[str, NDArray[np.uint16]],
    *,
    crs: str,
    west: float,
    north: float,
    pixel: float = 10.0,
    sigma_nought: float = 500.0,
    start: str = "2024-10-17T09:30:05.123456",
    as_zip: bool = False,
    calibration: Sequence[LutVector] | None = None,
    noise_range: Sequence[LutVector] | None = None,
    noise_azimuth: Sequence[NoiseAzimuthBlock] | None = None,
    ipf: str = "003.71",
    noise_file: bool = True,
) -> Path:
    """Write a fake Sentinel-1 IW GRD SAFE product: ``manifest.safe``, annotation, calibration and
    noise XML per polarisation, and a GeoTIFF measurement per polarisation (``bands``: ``VV``/``VH``…)
    placed by a 5 × 5 lattice of GCPs (lon/lat) of a north-up grid at ``west``/``north`` in ``crs``
    (the outer corner of the first pixel).

    ``calibration`` is the sigmaNought LUT; by default one ``sigma_nought`` value everywhere, so
    sigma0 = DN² / sigma_nought². ``noise_range`` and ``noise_azimuth`` are the noise LUTs (by
    default no noise: a range LUT of zeros, one azimuth block of ones over the image); an ``ipf``
    version below ``002.90`` writes the older format (``noiseVectorList``, no azimuth part). Each
    polarisation gets the same LUTs. ``noise_file=False`` leaves the noise files out.
    """
    from pyproj import Transformer
    from rasterio.control import GroundControlPoint

    stamp = start[:19].replace("-", "").replace(":", "")
    pols = "".join(p.upper() for p in bands)
    kind = "1SDV" if len(bands) > 1 else "1SSV"
    name = f"S1A_IW_GRDH_{kind}_{stamp}_{stamp}_056000_06D000_ABCD.SAFE"
    root = Path(folder) / name
    h, w = next(iter(bands.values())).shape
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    gcps, points = [], []
    # As ESA writes them: the grid numbers samples and lines, (0, 0) naming the centre of the
    # first pixel, and the last point is at (w - 1, h - 1); the GeoTIFF's tie points repeat them.
    for r in np.linspace(0, h - 1, 5).round().astype(int):
        for c in np.linspace(0, w - 1, 5).round().astype(int):
            lon, lat = to_ll.transform(west + (c + 0.5) * pixel, north - (r + 0.5) * pixel)
            gcps.append(GroundControlPoint(row=float(r), col=float(c), x=lon, y=lat, z=0.0))
            points.append(
                f"<geolocationGridPoint><line>{r}</line><pixel>{c}</pixel>"
                f"<latitude>{lat}</latitude><longitude>{lon}</longitude><height>0</height></geolocationGridPoint>"
            )
    units, meta, data = [], [], []
    for pol, arr in bands.items():
        p = pol.lower()
        stem = f"s1a-iw-grd-{p}-{stamp.lower()}-{stamp.lower()}-056000-06d000-001"
        (root / "measurement").mkdir(parents=True, exist_ok=True)
        (root / "annotation" / "calibration").mkdir(parents=True, exist_ok=True)
        with rasterio.open(
            root / "measurement" / f"{stem}.tiff", "w", driver="GTiff", width=w, height=h, count=1, dtype="uint16",
            gcps=gcps, crs="EPSG:4326",
        ) as dst:  # fmt: skip
            dst.write(arr.astype(np.uint16), 1)
        (root / "annotation" / f"{stem}.xml").write_text(
            f"<product><adsHeader><missionId>S1A</missionId><productType>GRD</productType>"
            f"<polarisation>{pol.upper()}</polarisation><mode>IW</mode><swath>IW</swath>"
            f"<startTime>{start}</startTime><stopTime>{start}</stopTime><imageNumber>001</imageNumber></adsHeader>"
            f"<imageAnnotation><imageInformation><numberOfSamples>{w}</numberOfSamples><numberOfLines>{h}</numberOfLines>"
            f"<outputPixels>16 bit Unsigned Integer</outputPixels><rangePixelSpacing>{pixel}</rangePixelSpacing>"
            f"<azimuthPixelSpacing>{pixel}</azimuthPixelSpacing></imageInformation>"
            f"<processingInformation><ellipsoidName>WGS84</ellipsoidName><ellipsoidSemiMajorAxis>6378137</ellipsoidSemiMajorAxis>"
            f"<ellipsoidSemiMinorAxis>6356752.314245</ellipsoidSemiMinorAxis></processingInformation></imageAnnotation>"
            f'<geolocationGrid><geolocationGridPointList count="{len(points)}">{"".join(points)}'
            f"</geolocationGridPointList></geolocationGrid></product>",
            encoding="utf-8",
        )
        cal = calibration or [(line, [0, w - 1], [sigma_nought, sigma_nought]) for line in (0, h - 1)]
        (root / "annotation" / "calibration" / f"calibration-{stem}.xml").write_text(calibration_xml(pol, cal), encoding="utf-8")
        if noise_file:
            old = tuple(int(v) for v in ipf.split(".")) < (2, 90)
            blocks = noise_azimuth or [NoiseAzimuthBlock("IW", 0, h - 1, 0, w - 1, [0, h - 1], [1.0, 1.0])]
            (root / "annotation" / "calibration" / f"noise-{stem}.xml").write_text(noise_xml(
                pol, noise_range or [(line, [0, w - 1], [0.0, 0.0]) for line in (0, h - 1)], None if old else blocks,
            ), encoding="utf-8")  # fmt: skip
        units.append(
            f'<xfdu:contentUnit unitType="Measurement Data Unit" repID="s1Level1MeasurementSchema" '
            f'dmdID="s1Level1ProductSchema_{p} s1Level1CalibrationSchema_{p} s1Level1NoiseSchema_{p}">'
            f'<dataObjectPointer dataObjectID="measurement_{p}"/></xfdu:contentUnit>'
        )
        meta.append(
            f'<metadataObject ID="s1Level1ProductSchema_{p}" classification="DESCRIPTION" category="DMD">'
            f'<dataObjectPointer dataObjectID="annotation_{p}"/></metadataObject>'
            f'<metadataObject ID="s1Level1CalibrationSchema_{p}" classification="DESCRIPTION" category="DMD">'
            f'<dataObjectPointer dataObjectID="calibration_{p}"/></metadataObject>'
            f'<metadataObject ID="s1Level1NoiseSchema_{p}" classification="DESCRIPTION" category="DMD">'
            f'<dataObjectPointer dataObjectID="noise_{p}"/></metadataObject>'
        )
        for oid, rep, href in (
            (f"measurement_{p}", "s1Level1MeasurementSchema", f"./measurement/{stem}.tiff"),
            (f"annotation_{p}", "s1Level1ProductSchema", f"./annotation/{stem}.xml"),
            (f"calibration_{p}", "s1Level1CalibrationSchema", f"./annotation/calibration/calibration-{stem}.xml"),
            (f"noise_{p}", "s1Level1NoiseSchema", f"./annotation/calibration/noise-{stem}.xml"),
        ):
            data.append(
                f'<dataObject ID="{oid}" repID="{rep}"><byteStream mimeType="application/octet-stream">'
                f'<fileLocation locatorType="URL" href="{href}"/></byteStream></dataObject>'
            )
    manifest = f"""<?xml version="1.0" encoding="UTF-8"?>
<xfdu:XFDU xmlns:xfdu="urn:ccsds:schema:xfdu:1" xmlns:safe="http://www.esa.int/safe/sentinel-1.0" xmlns:s1="http://www.esa.int/safe/sentinel-1.0/sentinel-1" xmlns:s1sarl1="http://www.esa.int/safe/sentinel-1.0/sentinel-1/sar/level-1" version="esa/safe/sentinel-1.0/sentinel-1/sar/level-1/standard/iwdp">
<informationPackageMap><xfdu:contentUnit unitType="SAFE Archive Information Package" textInfo="Sentinel-1 IW GRD {pols}">
{"".join(units)}
</xfdu:contentUnit></informationPackageMap>
<metadataSection>
<metadataObject ID="acquisitionPeriod" classification="DESCRIPTION" category="DMD"><metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Acquisition Period"><xmlData><safe:acquisitionPeriod><safe:startTime>{start}</safe:startTime><safe:stopTime>{start}</safe:stopTime></safe:acquisitionPeriod></xmlData></metadataWrap></metadataObject>
<metadataObject ID="platform" classification="DESCRIPTION" category="DMD"><metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Platform Description"><xmlData><safe:platform><safe:nssdcIdentifier>2014-016A</safe:nssdcIdentifier><safe:familyName>SENTINEL-1</safe:familyName><safe:number>A</safe:number><safe:instrument><safe:familyName abbreviation="SAR">Synthetic Aperture Radar</safe:familyName><safe:extension><s1sarl1:instrumentMode><s1sarl1:mode>IW</s1sarl1:mode><s1sarl1:swath>IW</s1sarl1:swath></s1sarl1:instrumentMode></safe:extension></safe:instrument></safe:platform></xmlData></metadataWrap></metadataObject>
<metadataObject ID="processing" classification="PROVENANCE" category="PDI"><metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Processing"><xmlData><safe:processing name="SLC Processing"><safe:facility name="sitewatch test"><safe:software name="Sentinel-1 IPF" version="{ipf}"/></safe:facility></safe:processing></xmlData></metadataWrap></metadataObject>
<metadataObject ID="measurementOrbitReference" classification="DESCRIPTION" category="DMD"><metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Orbit Reference"><xmlData><safe:orbitReference><safe:orbitNumber type="start">56000</safe:orbitNumber><safe:extension><s1:orbitProperties><s1:pass>DESCENDING</s1:pass></s1:orbitProperties></safe:extension></safe:orbitReference></xmlData></metadataWrap></metadataObject>
<metadataObject ID="measurementFrameSet" classification="DESCRIPTION" category="DMD"><metadataWrap mimeType="text/xml" vocabularyName="SAFE" textInfo="Frame Set"><xmlData><safe:frameSet/></xmlData></metadataWrap></metadataObject>
{"".join(meta)}
</metadataSection>
<dataObjectSection>{"".join(data)}</dataObjectSection>
</xfdu:XFDU>
"""
    (root / "manifest.safe").write_text(manifest, encoding="utf-8")
    return _zipped(root, root.with_name(root.name.replace(".SAFE", ".zip"))) if as_zip else root
