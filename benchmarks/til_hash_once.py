"""``sitewatch import`` of a tiled Maxar product (its ``.TIL``) into two sites it covers: its tiles hashed once, against
hashed by the parent and again by each site's worker (as before 8 Dec 2026), in the same run.

Writes a synthetic WorldView-3 multispectral order (its ``.IMD``, its ``.TIL`` and ``--tiles`` tiles side by side, each
4 bands of ``--rows`` x ``--cols`` uint16 counts) and a workspace of two small sites at its west edge, then imports the
``.TIL`` into a fresh workspace ``--rounds`` times each way, alternately (``--workers 1``, in this process), and prints
the median wall and CPU seconds and the megabytes the sha256 of the tiles read, and the ratios. The baseline withholds the
tiles' digests the parent read (``SourceDigest.tiles``) from the workers, so each hashes them again, as before.

    python benchmarks/til_hash_once.py --out DIR
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import main
from sitewatch.ingest import identity
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff

SITES = (tiny_site("dunai", half_deg=0.003), tiny_site("dunai-pier", half_deg=0.002))
PIXEL = 2.0
STEM = "24OCT19011107-M2AS-012345678010_01_P001"


def _imd(west: float, north: float, rows: int, cols: int) -> str:
    """A WorldView-3 multispectral product's .IMD (SYNTHETIC figures of real size) with its map grid."""
    bands = "".join(
        f"BEGIN_GROUP = BAND_{b}\n\tabsCalFactor = 1.0e-02;\n\teffectiveBandwidth = 6.0e-02;\nEND_GROUP = BAND_{b}\n" for b in "BGRN"
    )
    return (
        f'version = "28.4";\nproductOrderId = "012345678010_01_P001";\nbandId = "Multi";\nproductLevel = "LV2A";\n'
        f"bitsPerPixel = 16;\nnumRows = {rows};\nnumColumns = {cols};\n{bands}"
        "BEGIN_GROUP = MAP_PROJECTED_PRODUCT\n\tearliestAcqTime = 2024-10-19T01:11:07.512345Z;\n\tmapProjName = \"UTM\";\n"
        f"\tmapZone = 53;\n\tmapHemi = \"N\";\n\tproductGSD = {PIXEL};\n\tULX = {west + PIXEL / 2};\n\tULY = {north - PIXEL / 2};\n"
        f"\tcolStepSize = {PIXEL};\n\trowStepSize = {PIXEL};\nEND_GROUP = MAP_PROJECTED_PRODUCT\n"
        'BEGIN_GROUP = IMAGE_1\n\tsatId = "WV03";\n\tfirstLineTime = 2024-10-19T01:11:07.512345Z;\n\tmeanSunEl = 31.7;\n'
        "END_GROUP = IMAGE_1\nEND;\n"
    )


def tiled_order(folder: Path, tiles: int, rows: int, cols: int) -> tuple[Path, int]:
    """The order's .TIL and its tiles' bytes: ``tiles`` tiles of ``rows`` x ``cols`` side by side from the sites' west."""
    folder.mkdir(parents=True, exist_ok=True)
    crs, x, y = site_utm_origin(SITES[0])
    west, north = (x // PIXEL) * PIXEL - 500.0, -(-y // PIXEL) * PIXEL + 500.0
    rng = np.random.default_rng(8)
    groups, size = [], 0
    for c in range(tiles):
        counts = rng.integers(200, 900, (4, rows, cols), dtype=np.uint16)  # pixels of their own: no two tiles alike
        tile = write_tiff(folder / f"{STEM.replace('-M2AS-', f'-M2AS_R1C{c + 1}-')}.TIF", counts, crs=crs,
                          transform=Affine(PIXEL, 0, west + c * cols * PIXEL, 0, -PIXEL, north))  # fmt: skip
        size += tile.stat().st_size
        groups.append(f'BEGIN_GROUP = TILE_{c + 1}\n\tfilename = "{tile.name}";\n\tULColOffset = {c * cols};\n\tULRowOffset = 0;\n'
                      f"\tLRColOffset = {(c + 1) * cols - 1};\n\tLRRowOffset = {rows - 1};\nEND_GROUP = TILE_{c + 1}\n")  # fmt: skip
    (folder / f"{STEM}.IMD").write_text(_imd(west, north, rows, tiles * cols), encoding="utf-8")
    til = folder / f"{STEM}.TIL"
    til.write_text(f'version = "AA";\nnumTiles = {tiles};\ntileUnits = "Pixels";\ntileOverlap = 0;\n{"".join(groups)}END;\n',
                   encoding="utf-8")  # fmt: skip
    return til, size


@contextmanager
def _counted(read: list[int], *, withheld: bool) -> Iterator[None]:
    """Bytes the sha256 of files reads added to ``read``; with ``withheld``, the tiles' digests kept from the workers."""
    real_sha256, real_value = identity.sha256_file, identity.SourceDigest.value

    def sha256_file(path: Path) -> str:
        read.append(Path(path).stat().st_size if Path(path).is_file() else 0)
        return real_sha256(path)

    def value(self: identity.SourceDigest) -> str:
        digest = real_value(self)
        self.tiles = None  # the worker reads them again, as before
        return digest

    identity.sha256_file = sha256_file
    if withheld:
        identity.SourceDigest.value = value  # type: ignore[method-assign]
    try:
        yield
    finally:
        identity.sha256_file = real_sha256
        identity.SourceDigest.value = real_value  # type: ignore[method-assign]


def _import(til: Path, root: Path, *, withheld: bool) -> tuple[float, float, int]:
    """Wall and CPU seconds of one import of ``til`` into a fresh workspace of the two sites, and the bytes hashed."""
    shutil.rmtree(root, ignore_errors=True)
    ws = workspace_with_sites(root, *SITES)
    read: list[int] = []
    with _counted(read, withheld=withheld):
        t0, c0 = time.perf_counter(), time.process_time()
        r = CliRunner().invoke(main, ["import", str(til), "-w", str(ws.root), "--workers", "1", "--json"])
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if r.exit_code != 0:
        raise SystemExit(f"import failed: {r.output}")
    return wall, cpu, sum(read)


def main_() -> None:
    """Parse the arguments, run both ways alternately, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the order and the workspaces")
    parser.add_argument("--tiles", type=int, default=2)
    parser.add_argument("--rows", type=int, default=2048)
    parser.add_argument("--cols", type=int, default=2048)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    til, size = tiled_order(args.out / "order", args.tiles, args.rows, args.cols)
    runs: dict[str, list[tuple[float, float, int]]] = {"hashed again by each worker (baseline)": [], "hashed once (this)": []}
    _import(til, args.out / "warm", withheld=False)  # imports, GDAL and the page cache warmed for both
    for _ in range(args.rounds):
        for name, withheld in zip(runs, (True, False), strict=True):
            runs[name].append(_import(til, args.out / "ws", withheld=withheld))
    print(f"{args.tiles} tiles, {size / 1e6:.0f} MB, imported into {len(SITES)} sites; median of {args.rounds} rounds\n")
    print("| tiles' digests | wall, s | ratio | CPU, s | ratio | hashed, MB | ratio |\n|---|---:|---:|---:|---:|---:|---:|")
    base = [statistics.median(v[i] for v in next(iter(runs.values()))) for i in range(3)]
    for name, values in runs.items():
        wall, cpu, read = (statistics.median(v[i] for v in values) for i in range(3))
        print(f"| {name} | {wall:.2f} | {wall / base[0]:.2f}× | {cpu:.2f} | {cpu / base[1]:.2f}× | {read / 1e6:.0f} | "
              f"{read / base[2]:.2f}× |")


if __name__ == "__main__":
    main_()
