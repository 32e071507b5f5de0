"""Band files found in a folder by their Sentinel-2 band codes (:mod:`sitewatch.detect.band_folder`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitewatch.detect.band_folder import band_files_in
from sitewatch.errors import InputError


@pytest.mark.parametrize(
    ("names", "found"),
    [
        (["B01.tif", "B02.tif", "B03.tif", "B04.tif", "B08.tif", "B8A.tif", "B12.tif"], {"blue": "B02.tif", "green": "B03.tif", "red": "B04.tif", "nir": "B08.tif"}),
        (["T33TUL_20230715T100031_B02_10m.jp2", "T33TUL_20230715T100031_B03_10m.jp2", "T33TUL_20230715T100031_TCI_10m.jp2"],
         {"blue": "T33TUL_20230715T100031_B02_10m.jp2", "green": "T33TUL_20230715T100031_B03_10m.jp2"}),
        (["2023-07-10-00_00_2023-07-10-23_59_Sentinel-2_L2A_B04_(Raw).tiff", "notes.txt", "B02.tif.aux.xml"],
         {"red": "2023-07-10-00_00_2023-07-10-23_59_Sentinel-2_L2A_B04_(Raw).tiff"}),
    ],
)
def test_band_files_are_found_by_their_sentinel2_codes(tmp_path: Path, names: list[str], found: dict[str, str]) -> None:
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert {k: p.name for k, p in band_files_in(tmp_path).items()} == found


def test_landsat_band_numbers_and_two_files_of_one_band_are_not_read_as_sentinel2_bands(tmp_path: Path) -> None:
    """Landsat's ``…_SR_B2.TIF`` is blue but its ``B8`` panchromatic: one-digit codes are not looked for."""
    for n in (2, 3, 4, 5, 8):
        (tmp_path / f"LC09_L2SP_118038_20240101_20240102_02_T1_SR_B{n}.TIF").write_bytes(b"")
    with pytest.raises(InputError, match="no Sentinel-2 band files in it"):
        band_files_in(tmp_path)
    (tmp_path / "a_B02.tif").write_bytes(b"")
    (tmp_path / "b_B02.jp2").write_bytes(b"")
    with pytest.raises(InputError, match=r"2 files of band blue \(a_B02.tif, b_B02.jp2\)"):
        band_files_in(tmp_path)
