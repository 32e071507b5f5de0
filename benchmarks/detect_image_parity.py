"""``sitewatch detect-image`` on two source trees, case by case: do they give the same outputs?

    python benchmarks/detect_image_parity.py BASELINE_SRC [CANDIDATE_SRC] [--work DIR] [--only NAME]
    python benchmarks/detect_image_parity.py BASELINE_SRC CANDIDATE_SRC --from-tests

A check for a refactor that must not change behaviour (the input routing moved from the command
into ``sitewatch.detect.inputs``). Builds a set of inputs once into ``--work`` (default: a
temporary folder): the real Sentinel-2 band exports of sen2ships (Genoa, Algiers) given by
``--band``, a 4-band GeoTIFF stacked from them (with and without band descriptions), one band
alone, Qingdao's true-colour JPEG, HRSID and SAR-Ship-Dataset chips (with ``--pixel-size``), and
the synthetic deliveries the tests build (PlanetScope, SkySat, Maxar, Pleiades names and sidecars,
Planet UDM2 and radiance with its metadata XML, Sentinel-2 L2A and Sentinel-1 GRD SAFE products,
Landsat Collection 2 Level-2 folders), plus bad inputs and conflicting options. Then runs every
case in one process per source tree (``PYTHONPATH=SRC``, the command through click's
``CliRunner``) and records the exit code, standard output, standard error and the GeoJSON written
(detect-image writes no run timestamps). With two trees it prints, per case, whether the records
match, and the count; the exit status is 1 when any differs. It is a script, not a test: it needs
two versions of the code side by side, and reads ../shared/datasets.

``--from-tests`` compares instead every ``detect-image`` run the test files make (those that invoke
the command and do not import :mod:`sitewatch.detect.inputs`), recorded by the pytest plugin
``_detect_image_recorder.py`` while the tests of this checkout run on each source tree.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
if not DATASETS.is_dir():
    DATASETS = Path("/work/shared/datasets")


def _build(work: Path) -> list[dict[str, Any]]:
    """Write the synthetic inputs into ``work``; return the cases (name, args)."""
    import numpy as np
    import rasterio
    from affine import Affine

    sys.path.insert(0, str(ROOT / "tests"))  # the tests' own delivery builders, not written a third time
    import test_landsat_l2 as landsat
    import test_planet_radiance as radiance
    import test_provider_names as providers
    import test_safe as safe
    from sitewatch.testing import write_tiff
    from sitewatch.testing.planet import udm2_of_classes, write_planet_scene

    for sub in ("s2", "l1c", "s1dual", "s1zip", "s1single"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    cases: list[dict[str, Any]] = []

    def case(name: str, *args: object) -> None:
        cases.append({"name": name, "args": ["detect-image", *map(str, args)]})

    # -- real data ----------------------------------------------------------------------------
    s2 = DATASETS / "sen2ships" / "sen2ships"
    for port in ("genoa", "algiers"):
        files = {b: next((s2 / port).glob(f"*_{b}_(Raw).tiff")) for b in ("B02", "B03", "B04", "B08")}
        named = dict(zip(("blue", "green", "red", "nir"), files.values(), strict=True))
        case(f"{port}-bands", *[a for k, p in named.items() for a in ("--band", f"{k}={p}")])
        if port == "genoa":
            case(f"{port}-bands-codes", *[a for k, p in files.items() for a in ("--band", f"{k}={p}")])
            case(f"{port}-bands-json", *[a for k, p in named.items() for a in ("--band", f"{k}={p}")], "--json")
            case(f"{port}-bands-sensor-sar", *[a for k, p in named.items() for a in ("--band", f"{k}={p}")], "--sensor", "sar")
            case(f"{port}-b08-alone", files["B08"])
            case(f"{port}-b08-alone-sar", files["B08"], "--sensor", "sar")
            case(f"{port}-b08-band-udm2-alone", "--band", f"udm2={files['B08']}")
            case(f"{port}-bands-unknown-name", "--band", f"blue={files['B02']}", "--band", f"teal={files['B03']}")
            case(f"{port}-bands-missing-nir", *[a for k, p in list(named.items())[:3] for a in ("--band", f"{k}={p}")])
            case(f"{port}-image-and-bands", files["B02"], "--band", f"blue={files['B02']}")
            case(f"{port}-bands-dn-offset", *[a for k, p in named.items() for a in ("--band", f"{k}={p}")], "--dn-offset", "1000", "--dn-scale", "10000")
            with rasterio.open(files["B02"]) as ds:
                profile = ds.profile | {"count": 4, "driver": "GTiff"}
                stack = [rasterio.open(p).read(1) for p in files.values()]
            for desc in (True, False):
                stacked = work / f"genoa_stack{'' if desc else '_nodesc'}.tif"
                with rasterio.open(stacked, "w", **profile) as dst:
                    for i, a in enumerate(stack, 1):
                        dst.write(a, i)
                        if desc:
                            dst.set_band_description(i, ("blue", "green", "red", "nir")[i - 1])
                case(f"genoa-stack{'' if desc else '-nodesc'}-optical", stacked, "--sensor", "optical")
                if desc:
                    case("genoa-stack", stacked)
                    case("genoa-stack-resolution", stacked, "--resolution", "10")
                    case("genoa-stack-pixel-size", stacked, "--pixel-size", "12")
                    case("genoa-stack-dn-scale", stacked, "--dn-scale", "10000", "--dn-offset", "0")
                    case("genoa-stack-out-stdout", stacked, "--out", "-")
                    case("genoa-stack-out-stdout-json", stacked, "--out", "-", "--json")
                    case("genoa-stack-out-is-input", stacked, "--out", stacked)
                    case("genoa-stack-thermal-noise", stacked, "--thermal-noise", "subtract")
            two = work / "genoa_two_bands.tif"
            with rasterio.open(two, "w", **(profile | {"count": 2})) as dst:
                dst.write(stack[0], 1)
                dst.write(stack[1], 2)
            case("two-bands-optical", two, "--sensor", "optical")
    qingdao = next((s2 / "qingdao").glob("*True_color.jpg"))
    case("qingdao-jpg", qingdao)
    case("qingdao-jpg-optical", qingdao, "--sensor", "optical")
    case("qingdao-jpg-optical-10m", qingdao, "--sensor", "optical", "--pixel-size", "10")
    case("qingdao-jpg-sar-10m", qingdao, "--sensor", "sar", "--pixel-size", "10")
    hrsid = sorted(p for p in (DATASETS / "hrsid-samples" / "data").glob("*.png") if "instance" not in p.name)[:3]
    for p in hrsid:
        case(f"hrsid-{p.stem[:5]}", p, "--pixel-size", "1")
    case("hrsid-no-pixel-size", hrsid[0])
    case("hrsid-dn-scale", hrsid[0], "--pixel-size", "1", "--dn-scale", "255")
    case("hrsid-vv-vh", "--band", f"vv={hrsid[0]}", "--band", f"vh={hrsid[1]}", "--pixel-size", "1")
    case("hrsid-hh-only", "--band", f"hh={hrsid[0]}", "--pixel-size", "1")
    case("hrsid-udm2-sar", hrsid[0], "--band", f"udm2={hrsid[1]}", "--pixel-size", "1")
    ssdd = sorted((DATASETS / "sar-ship-dataset-samples" / "Raw images").glob("*.jpg"))[:3]
    for p in ssdd:
        case(f"ssdd-{p.stem}", p, "--pixel-size", "3", "--resolution", "0")
    case("ssdd-sensor-sar", ssdd[0], "--pixel-size", "3", "--sensor", "sar")

    # -- synthetic deliveries -------------------------------------------------------------------
    prov = work / "providers"
    prov.mkdir(exist_ok=True)
    for name, count in (
        (providers.PLANET, 4),
        ("20151027_145652_1_0b0d_3B_Visual.tif", 3),
        ("20241017_012345_22_2470_3B_AnalyticMS_SR_8b_clip.tif", 8),
        ("20200101_123456_ssc1d1_0001_ortho_visual.tif", 3),
        ("24OCT17093005-M1BS-012345678010_01_P001.TIF", 4),
        ("unknown_scene.tif", 4),
    ):
        case(f"provider-{name}", providers._image(prov / name, count))
    sar_named = providers._image(prov / "20241018_012345_22_2470_3B_AnalyticMS_SR_clip.tif", 4)
    case("provider-planet-sensor-sar", sar_named, "--sensor", "sar")
    maxar8 = prov / "maxar8"
    maxar8.mkdir(exist_ok=True)
    case("provider-maxar8-no-imd", providers._image(maxar8 / "24OCT17093005-M1BS-012345678010_01_P001.TIF", 8))
    imd = prov / "imd"
    imd.mkdir(exist_ok=True)
    scene = providers._image(imd / "scene.tif", 8)
    scene.with_suffix(".IMD").write_text(providers.WORLDVIEW_IMD)
    case("provider-maxar-imd-sidecar", scene)
    dim = prov / "dim"
    dim.mkdir(exist_ok=True)
    pleiades = providers._image(dim / "IMG_PHR1A_MS_001.TIF", 4)
    (dim / "DIM_PHR1A_MS_001.XML").write_text(providers.PLEIADES_DIM)
    case("provider-pleiades-dim", pleiades)
    nodim = prov / "nodim"
    nodim.mkdir(exist_ok=True)
    case("provider-pleiades-no-dim", providers._image(nodim / "IMG_PHR1A_MS_001.TIF", 4))
    case("provider-panchromatic", providers._image(prov / "IMG_PHR1A_P_001.TIF", 1))

    rng = np.random.default_rng(3)
    refl = np.full((4, 90, 80), 0.04) + rng.normal(0, 0.003, (4, 90, 80))
    refl[:, 30:34, 20:50] = 0.25
    classes = np.ones((90, 80), np.uint8)
    classes[60:80, 50:70] = 6
    planet = write_planet_scene(work / "planet", refl, udm2_of_classes(classes), crs="EPSG:32652", west=600000.0, north=4750000.0)
    case("planet-udm2-beside", planet)
    case("planet-udm2-beside-json", planet, "--json")
    apart = work / "planet_apart"
    apart.mkdir(exist_ok=True)
    img2 = apart / "scene.tif"
    img2.write_bytes(planet.read_bytes())
    udm2 = next((work / "planet").glob("*udm2*"))
    case("planet-band-udm2", img2, "--band", f"udm2={udm2}")
    case("planet-band-udm2-twice", img2, "--band", f"udm2={udm2}", "--band", f"udm2={udm2}")
    case("planet-band-udm2-sensor-sar", img2, "--band", f"udm2={udm2}", "--sensor", "sar")
    case("planet-band-udm2-as-image", udm2)
    case("planet-bands-with-udm2", "--band", f"blue={planet}", "--band", f"udm2={udm2}")
    rad = radiance._radiance(work / "radiance")
    case("planet-radiance-xml", rad)
    case("planet-radiance-dn-scale", rad, "--dn-scale", "10000")
    case("planet-radiance-no-xml", radiance._radiance(work / "radiance_noxml", xml=False))
    case("skysat-header", radiance._skysat(work / "skysat", header=radiance.HEADER))
    case("skysat-no-header", radiance._skysat(work / "skysat_plain"))

    s2_folder = safe._product(work / "s2", as_zip=False)
    s2_zip = safe._product(work / "s2", as_zip=True)
    case("s2-safe-folder", s2_folder)
    case("s2-safe-zip", s2_zip)
    case("s2-safe-vsizip", f"/vsizip/{s2_zip}/{s2_zip.stem}")
    case("s2-safe-dn", s2_folder, "--dn-scale", "5000", "--dn-offset", "0")
    case("s2-safe-sensor-sar", s2_folder, "--sensor", "sar")
    case("s2-safe-band-udm2", s2_folder, "--band", f"udm2={udm2}")
    case("s2-safe-resolution", s2_folder, "--resolution", "5")
    case("s2-safe-thermal-noise", s2_folder, "--thermal-noise", "keep")
    jp2 = sorted(s2_folder.rglob("*_B02_10m.jp2"))[0]
    case("s2-safe-band-file", jp2)
    case("s2-safe-band-file-offset", "--band", f"blue={jp2}", "--band", f"green={jp2}", "--dn-offset", "1000")
    case("s2-l1c", safe._product(work / "l1c", as_zip=False, level="L1C"))
    s1 = safe._s1_product(work / "s1dual", as_zip=False)
    case("s1-dual", s1)
    case("s1-dual-json", s1, "--json")
    case("s1-dual-zip", safe._s1_product(work / "s1zip", as_zip=True))
    case("s1-thermal-subtract", s1, "--thermal-noise", "subtract")
    case("s1-sensor-optical", s1, "--sensor", "optical")
    case("s1-dn-scale", s1, "--dn-scale", "100")
    case("s1-measurement", sorted(s1.rglob("measurement/*.tif*"))[0])
    s1single = safe._s1_product(work / "s1single", as_zip=False, pols=("VV",))
    case("s1-single", s1single)
    case("s1-single-resolution", s1single, "--resolution", "0")

    ls = landsat._product(work / "landsat" / landsat.NAME)
    case("landsat-mtl", ls)
    case("landsat-folder", ls.parent)
    case("landsat-parent-folder", ls.parent.parent)
    case("landsat-sensor-sar", ls, "--sensor", "sar")
    case("landsat-dn-scale", ls, "--dn-scale", "40000")
    b2 = ls.parent / f"{landsat.NAME}_SR_B2.TIF"
    case("landsat-band-file", b2)
    case("landsat-bands-scaled", *[a for n, k in ((2, "blue"), (3, "green"), (4, "red"), (5, "nir")) for a in ("--band", f"{k}={ls.parent / f'{landsat.NAME}_SR_B{n}.TIF'}")], "--dn-scale", "36363.6", "--dn-offset", "-7272.7")
    case("landsat-bands-unscaled", *[a for n, k in ((2, "blue"), (3, "green"), (4, "red"), (5, "nir")) for a in ("--band", f"{k}={ls.parent / f'{landsat.NAME}_SR_B{n}.TIF'}")])
    case("landsat-band-udm2", ls, "--band", f"udm2={udm2}")
    two = work / "landsat2"
    landsat._product(two / landsat.NAME)
    landsat._product(two / landsat.NAME.replace("20241017", "20241102"))
    case("landsat-two-products", two)
    noqa = landsat._product(work / "landsat_noqa" / landsat.NAME, qa=False)
    case("landsat-no-qa", noqa)

    # -- small synthetic SAR -------------------------------------------------------------------
    sar = rng.gamma(4.0, 0.005, (2, 120, 120)).astype(np.float32)
    sar[:, 50:54, 40:80] = 1.0
    t = Affine(10, 0, 600000.0, 0, -10, 4750000.0)
    tif = write_tiff(work / "sar_dual.tif", sar, crs="EPSG:32652", transform=t, descriptions=["VV", "VH"])
    case("sar-dual-tif", tif)
    case("sar-dual-tif-workers", tif, "--workers", "2")
    one = write_tiff(work / "sar_one.tif", sar[:1], crs="EPSG:32652", transform=t)
    case("sar-one-tif", one)
    case("sar-one-tif-resolution", one, "--resolution", "15")
    case("sar-one-tif-pixel-size", one, "--pixel-size", "8")
    case("sar-one-dn-offset", one, "--dn-offset", "1")
    vv = write_tiff(work / "sar_vv.tif", sar[:1], crs="EPSG:32652", transform=t)
    vh = write_tiff(work / "sar_vh.tif", sar[1:], crs="EPSG:32652", transform=t)
    case("sar-vv-vh-bands", "--band", f"vv={vv}", "--band", f"vh={vh}")
    case("sar-vv-vh-bands-optical", "--band", f"vv={vv}", "--band", f"vh={vh}", "--sensor", "optical")
    case("sar-vv-blue-mixed", "--band", f"vv={vv}", "--band", f"blue={vh}")
    case("sar-bad-band-item", "--band", "vv")
    case("sar-same-file-twice", "--band", f"vv={vv}", "--band", f"vh={vv}")

    # -- bad inputs ----------------------------------------------------------------------------
    case("missing-file", work / "no_such.tif")
    case("missing-band-file", "--band", f"blue={work / 'no_blue.tif'}", "--band", f"green={vv}", "--band", f"red={vh}", "--band", f"nir={one}")
    case("neither", "--sensor", "sar")
    (work / "not_an_image.tif").write_text("hello")
    case("not-an-image", work / "not_an_image.tif")
    case("folder-of-nothing", work / "providers" / "imd" / "..")
    return cases


def _worker(cases_file: Path, out_file: Path, work: Path) -> None:
    """Run each case in this process (whose ``sitewatch`` is the tree on PYTHONPATH); record it."""
    from click.testing import CliRunner

    import sitewatch
    from sitewatch.cli import main

    records = {}
    for c in json.loads(cases_file.read_text(encoding="utf-8")):
        if os.environ.get("PARITY_ONLY") and os.environ["PARITY_ONLY"] not in c["name"]:
            continue
        out = work / "out" / f"{c['name']}.geojson"
        out.parent.mkdir(exist_ok=True)
        out.unlink(missing_ok=True)
        args = c["args"] if "--out" in c["args"] else [*c["args"], "--out", str(out)]
        r = CliRunner().invoke(main, args)
        exc = None if r.exception is None or isinstance(r.exception, SystemExit) else f"{type(r.exception).__name__}: {r.exception}"
        records[c["name"]] = {
            "exit_code": r.exit_code,
            "stdout": r.stdout,
            "stderr": r.stderr,
            "exception": exc,
            "geojson": json.loads(out.read_text()) if out.is_file() else None,
        }
        print(f"{c['name']}: exit {r.exit_code}", file=sys.stderr, flush=True)
    out_file.write_text(json.dumps({"sitewatch": str(Path(sitewatch.__file__).parent), "records": records}, indent=1), encoding="utf-8")


def _from_tests(trees: list[Path], work: Path) -> int:
    """Record the tests' detect-image runs on each tree (``--from-tests``); compare the first two."""
    files = [
        str(f) for f in sorted((ROOT / "tests").glob("test_*.py"))
        if '"detect-image"' in (text := f.read_text()) and "sitewatch.detect.inputs" not in text
    ]  # fmt: skip
    work.mkdir(parents=True, exist_ok=True)
    records = []
    for i, tree in enumerate(trees):
        record = work / f"tests-record-{i}.json"
        env = os.environ | {"PYTHONPATH": f"{tree.resolve()}{os.pathsep}{ROOT / 'benchmarks'}", "DETECT_IMAGE_RECORD": str(record)}
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "_detect_image_recorder", f"--basetemp={work / f'tests-{i}'}", *files]
        done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, encoding="locale")
        print(f"{tree}: {done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-500:]}")
        records.append(json.loads(record.read_text()))
        print(f"{tree}: {len(records[-1])} detect-image runs recorded from {len(files)} test files")
    if len(records) < 2:
        return 0
    base, cand = records
    differ = sorted(n for n in base.keys() | cand.keys() if base.get(n) != cand.get(n))
    for n in differ:
        print(f"DIFFERS {n}")
    refused = sum(1 for r in base.values() if r["exit_code"] != 0)
    print(f"{len(base) - len(differ)} of {len(base)} detect-image runs of the tests identical ({refused} refused); {len(differ)} differ")
    return 1 if differ else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trees", nargs="+", type=Path, help="src folders (baseline first)")
    ap.add_argument("--work", type=Path, default=None, help="folder for the inputs and records (default: temporary)")
    ap.add_argument("--only", default="", help="run only the cases whose name holds this")
    ap.add_argument("--from-tests", action="store_true", help="compare the detect-image runs the tests make")
    ap.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    work = (a.work or Path(tempfile.mkdtemp(prefix="detect-image-parity-"))).resolve()
    if a.worker:
        _worker(a.worker[0], a.worker[1], work)
        return 0
    if a.from_tests:
        return _from_tests(a.trees, work)
    cases_file = work / "cases.json"
    if not cases_file.is_file():
        cases_file.parent.mkdir(parents=True, exist_ok=True)
        cases_file.write_text(json.dumps(_build(work / "inputs"), indent=1))
    results = []
    for i, tree in enumerate(a.trees):
        record = work / f"record-{i}.json"
        env = os.environ | {"PYTHONPATH": str(tree.resolve()), "PARITY_ONLY": a.only, "COLUMNS": "100"}
        subprocess.run([sys.executable, __file__, str(tree), "--work", str(work), "--worker", str(cases_file), str(record)], env=env, check=True)
        results.append(json.loads(record.read_text()))
        print(f"{tree}: {len(results[-1]['records'])} cases run, sitewatch from {results[-1]['sitewatch']}")
    if len(results) < 2:
        return 0
    base, cand = results[0]["records"], results[1]["records"]
    differ = [n for n in base if base[n] != cand.get(n)]
    for n in base:
        r = base[n]
        print(f"{'same' if n not in differ else 'DIFFERS':8} {n}: exit {r['exit_code']}, {len((r['geojson'] or {}).get('features', []))} features")
    refused = sum(1 for r in base.values() if r["exit_code"] != 0)
    print(f"{len(base) - len(differ)} of {len(base)} cases identical ({refused} refused, {len(base) - refused} ran); {len(differ)} differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
