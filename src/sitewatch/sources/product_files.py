"""Refusing a band file taken out of a Sentinel-2/Sentinel-1 SAFE or a Landsat Level-2 product.

Read alone, such a file goes without its product's scaling: a Sentinel-2 band from baseline 04.00
reads 0.1 too bright without BOA_ADD_OFFSET; a Sentinel-1 measurement is uncalibrated DN, its GCPs
half a pixel off; a Landsat surface reflectance band divided by 10,000 puts water at reflectance
0.8. ``ingest`` and ``detect-image`` refuse the same files and differ only in what they advise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from ..errors import InputError
from .landsat import landsat_band_refusal, landsat_product_id, landsat_product_of
from .safe import product_holding

__all__ = ["refuse_files_of_a_product"]


def refuse_files_of_a_product(
    files: Mapping[str, Path | str],
    *,
    landsat_file: str,
    landsat_advice: Callable[[Path], str],
    safe_advice: Callable[[Path], str],
    landsat_alone_advice: str = "",
    check_landsat: bool = True,
    check_safe: bool = True,
) -> None:
    """Raise :class:`InputError` for the first of ``files`` (band name → path; key ``""``: a file
    given alone, named without ``--band``) that is a file of a Landsat Level-2 or SAFE product.

    The messages, each after the file (``--band NAME PATH``):

    - a Landsat file with its MTL beside it: ``{landsat_file} of the Landsat product ID;
      {landsat_advice(mtl)}``;
    - a Landsat file without its MTL: :func:`~sitewatch.sources.landsat.landsat_band_refusal`'s
      reason followed by ``landsat_alone_advice``;
    - a file inside a SAFE folder: ``a file of the SAFE product ROOT; {safe_advice(root)}``.

    ``check_landsat`` / ``check_safe`` False let those files through (the caller was given the
    scaling they need). A GDAL ``/vsi…`` path is never a file of a product folder here.
    """
    for name, path in files.items():
        said = f"--band {name} " if name else ""
        if check_landsat:
            mtl = landsat_product_of(path)
            if mtl is None and (why := landsat_band_refusal(path, f"--band {name}" if name else "")):
                raise InputError(f"{why}{landsat_alone_advice}")
            if mtl is not None:
                raise InputError(
                    f"{said}{path}: {landsat_file} of the Landsat product {landsat_product_id(mtl)}; {landsat_advice(mtl)}"
                )
        root = None if not check_safe or str(path).startswith("/vsi") else product_holding(Path(path))
        if root is not None:
            raise InputError(f"{said}{path}: a file of the SAFE product {root}; {safe_advice(root)}")
