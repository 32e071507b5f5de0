"""``sitewatch score`` on the same labels written in each format a researcher may hold them in.

The datasets' own labels are the baseline, scored as they were published: the twelve SAR-Ship-Dataset
chips' Pascal VOC boxes, DOTA's P0706 quadrilaterals, sen2ships' Genoa COCO masks. Each is written
again, into a temporary folder (nothing is written beside the datasets or into the repository), as the
other formats carry it: COCO, YOLO, DOTA quadrilaterals, LabelMe rectangles, GeoJSON in pixels, HRSC2016's box_* and one
xView GeoJSON for the chips; GeoJSON polygons in pixels, YOLO's oriented boxes, COCO polygons and HRSC2016's rotated
mbox_* for P0706 (the smallest rectangle around each quadrilateral, which HRSC2016 can hold: a hand-drawn
quadrilateral is seldom a rectangle, so it may differ by a ship or two); the port's instance mask and
GeoJSON in EPSG:3857, in lon/lat and in UTM 32N for Genoa. Every format that holds the same objects
must give the baseline's TP, FP and FN; COCO's axis-aligned ``bbox`` of P0706's diagonal hulls is shown
as the one that does not (a box also holds the water beside a diagonal hull).

Detections are detect-image's (``--sensor sar --pixel-size 10`` on the chips, ``--sensor optical
--pixel-size 0.2556`` on P0706, the four 10 m bands with ``--dn-scale 65535`` on Genoa), run once.

    python benchmarks/score_formats.py [--datasets DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SRC = Path(__file__).parents[1] / "src"
sys.path.insert(0, str(SRC))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _datasets_root import datasets_root  # noqa: E402


def _run(*args: str) -> Any:
    """A sitewatch command in this process; its ``--json`` output for ``score``."""
    from click.testing import CliRunner

    from sitewatch.cli import main

    r = CliRunner().invoke(main, list(args))
    if r.exit_code not in (0, 3):
        raise SystemExit(f"sitewatch {' '.join(args)}: exit {r.exit_code}\n{r.output}")
    return json.loads(r.stdout) if "--json" in args else None


def _score(dets: Path, labels: Path, *extra: str) -> tuple[int, int, int, float | None]:
    out = _run("score", str(dets), str(labels), "--json", *extra)
    lengths = out["length_error_m"]
    return out["tp"], out["fp"], out["fn"], None if lengths is None else lengths["median"]


def _feature(ring: list[tuple[float, float]], cls: str = "ship") -> dict[str, Any]:
    return {"type": "Feature", "properties": {"class": cls}, "geometry": {"type": "Polygon", "coordinates": [[*map(list, ring), list(ring[0])]]}}


def _fc(features: list[dict[str, Any]], crs: str | None = None) -> str:
    return json.dumps({"type": "FeatureCollection", "features": features} | ({"crs": {"type": "name", "properties": {"name": crs}}} if crs else {}))


def _hrsc_object(box: str, difficult: str = "0") -> str:
    return f"<HRSC_Object><Class_ID>100000001</Class_ID><difficult>{difficult}</difficult>{box}</HRSC_Object>"


def _hrsc_image(stem: str, w: int, h: int, objects: list[str]) -> str:
    return (f"<HRSC_Image><Img_FileName>{stem}</Img_FileName><Img_SizeWidth>{w}</Img_SizeWidth><Img_SizeHeight>{h}</Img_SizeHeight>"
            f"<HRSC_Objects>{''.join(objects)}</HRSC_Objects></HRSC_Image>")  # fmt: skip


def _mbox(quad: list[tuple[float, float]]) -> str:
    """HRSC2016's ``mbox_*`` (centre, sides, angle in radians turning the w side clockwise on the image) of the
    smallest rectangle around a quadrilateral: a hand-drawn DOTA quadrilateral is seldom an exact rectangle."""
    from shapely.geometry import MultiPoint

    (xa, ya), (xb, yb), (xc, yc) = list(MultiPoint(quad).minimum_rotated_rectangle.exterior.coords)[:3]
    w, h, ang = math.hypot(xb - xa, yb - ya), math.hypot(xc - xb, yc - yb), math.atan2(yb - ya, xb - xa)
    return f"<mbox_cx>{(xa + xc) / 2!r}</mbox_cx><mbox_cy>{(ya + yc) / 2!r}</mbox_cy><mbox_w>{w!r}</mbox_w><mbox_h>{h!r}</mbox_h><mbox_ang>{ang!r}</mbox_ang>"


def chips(root: Path, work: Path) -> list[tuple[str, tuple[int, int, int, float | None]]]:
    """The SAR-Ship-Dataset chips: VOC against COCO, YOLO, DOTA and GeoJSON of the same boxes."""
    src = root / "sar-ship-dataset-samples" / "Raw images"
    out = work / "chips"
    for d in ("out", "yolo", "dota", "geojson", "labelme", "hrsc"):
        (out / d).mkdir(parents=True)
    _run("-q", "detect-image", str(src), "--sensor", "sar", "--pixel-size", "10", "--out", str(out / "out"))
    images, anns, xview = [], [], []
    for k, xml in enumerate(sorted(src.glob("*.xml")), 1):
        text = xml.read_text(encoding="utf-8")
        w, h = (int(re.search(f"<{t}>(\\d+)<", text)[1]) for t in ("width", "height"))  # type: ignore[index]
        images.append({"id": k, "file_name": f"JPEGImages/{xml.stem}.jpg", "width": w, "height": h})
        yolo, dota, feats, shapes, hrsc = [], [], [], [], []
        for box in re.findall(r"<bndbox>.*?</bndbox>", text, re.S):
            x0, y0, x1, y1 = (int(v) for v in re.findall(r">(\d+)<", box))
            # VOC's inclusive pixels xmin..xmax are the positions xmin..xmax + 1 from the image's corner.
            e0, e1, f0, f1 = x0, x1 + 1, y0, y1 + 1
            anns.append({"id": len(anns) + 1, "image_id": k, "category_id": 1, "bbox": [e0, f0, e1 - e0, f1 - f0]})
            yolo.append(f"0 {(e0 + e1) / 2 / w} {(f0 + f1) / 2 / h} {(e1 - e0) / w} {(f1 - f0) / h}")
            dota.append(f"{e0} {f0} {e1} {f0} {e1} {f1} {e0} {f1} ship 0")
            shapes.append({"label": "ship", "points": [[e0, f0], [e1, f1]], "shape_type": "rectangle", "flags": {}})
            # HRSC2016's box_* are inclusive pixels as VOC's; xView's bounds_imcoords pixel edges as COCO's.
            hrsc.append(_hrsc_object(f"<box_xmin>{x0}</box_xmin><box_ymin>{y0}</box_ymin><box_xmax>{x1}</box_xmax><box_ymax>{y1}</box_ymax>"))
            xview.append({"type": "Feature", "properties": {"image_id": f"{xml.stem}.jpg", "bounds_imcoords": f"{e0},{f0},{e1},{f1}", "type_id": 40},
                          "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}})  # fmt: skip
            # detect-image's pixel coordinates have pixel centres at integers: positions less half a pixel.
            feats.append(_feature([(e0 - 0.5, f0 - 0.5), (e1 - 0.5, f0 - 0.5), (e1 - 0.5, f1 - 0.5), (e0 - 0.5, f1 - 0.5)]))
        (out / "yolo" / f"{xml.stem}.txt").write_text("\n".join(yolo) + "\n", encoding="utf-8")
        (out / "dota" / f"{xml.stem}.txt").write_text("\n".join(dota) + "\n", encoding="utf-8")
        (out / "geojson" / f"{xml.stem}.geojson").write_text(_fc(feats), encoding="utf-8")
        labelme = {"version": "5.5.0", "flags": {}, "shapes": shapes, "imagePath": f"{xml.stem}.jpg", "imageWidth": w, "imageHeight": h}
        (out / "labelme" / f"{xml.stem}.json").write_text(json.dumps(labelme), encoding="utf-8")
        (out / "hrsc" / f"{xml.stem}.xml").write_text(_hrsc_image(xml.stem, w, h, hrsc), encoding="utf-8")
    (out / "coco.json").write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "ship"}]}), encoding="utf-8")
    (out / "yolo" / "classes.txt").write_text("ship\n", encoding="utf-8")
    (out / "xview.geojson").write_text(_fc(xview), encoding="utf-8")
    rows = [("Pascal VOC (as published)", _score(out / "out", src)), ("COCO json", _score(out / "out", out / "coco.json")),
            ("YOLO txt + classes.txt", _score(out / "out", out / "yolo", "--class", "ship")),
            ("DOTA txt", _score(out / "out", out / "dota")), ("LabelMe json", _score(out / "out", out / "labelme")),
            ("HRSC2016 xml, box_*", _score(out / "out", out / "hrsc")), ("xView GeoJSON, one file", _score(out / "out", out / "xview.geojson"))]  # fmt: skip
    # GeoJSON is one file per image, scored against its detections file one by one.
    geo = [_score(d, out / "geojson" / d.name) for d in sorted((out / "out").glob("*.geojson"))]
    rows.append(("GeoJSON, pixels", (sum(g[0] for g in geo), sum(g[1] for g in geo), sum(g[2] for g in geo), None)))
    return rows


def p0706(root: Path, work: Path) -> list[tuple[str, tuple[int, int, int, float | None]]]:
    """DOTA's P0706 (531 ships, 0.2556 m): DOTA quadrilaterals against GeoJSON, YOLO OBB and COCO."""
    ex = root / "dota-devkit-examples" / "example"
    out = work / "p0706"
    out.mkdir()
    dets = out / "P0706.geojson"
    _run("-q", "detect-image", str(ex / "images" / "P0706.png"), "--sensor", "optical", "--pixel-size", "0.2556", "--out", str(dets))
    from PIL import Image

    with Image.open(ex / "images" / "P0706.png") as im:
        w, h = im.size
    quads = []
    for line in (ex / "labelTxt" / "P0706.txt").read_text(encoding="utf-8").splitlines():
        p = line.split()
        if len(p) >= 9 and p[8] == "ship":
            v = [float(a) for a in p[:8]]
            quads.append(([(v[k], v[k + 1]) for k in range(0, 8, 2)], p[9] if len(p) > 9 else "0"))
    geojson = out / "P0706_labels.geojson"
    geojson.write_text(_fc([_feature([(x - 0.5, y - 0.5) for x, y in q]) for q, _ in quads]), encoding="utf-8")
    (out / "P0706.txt").write_text("".join("0 " + " ".join(f"{x / w:.6f} {y / h:.6f}" for x, y in q) + "\n" for q, _ in quads), encoding="utf-8")
    anns = []
    for q, _ in quads:
        xs, ys = [x for x, _ in q], [y for _, y in q]
        anns.append({"id": len(anns) + 1, "image_id": 1, "category_id": 1, "segmentation": [[c for pt in q for c in pt]],
                     "bbox": [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]})  # fmt: skip
    coco = {"images": [{"id": 1, "file_name": "P0706.png", "width": w, "height": h}], "annotations": anns, "categories": [{"id": 1, "name": "ship"}]}
    (out / "coco.json").write_text(json.dumps(coco), encoding="utf-8")
    (out / "hrsc").mkdir()
    (out / "hrsc" / "P0706.xml").write_text(_hrsc_image("P0706", w, h, [_hrsc_object(_mbox(q), d) for q, d in quads]), encoding="utf-8")
    count = ("--class", "ship", "--difficult", "count")  # YOLO, GeoJSON and COCO carry no difficult flag
    return [("DOTA txt (as published)", _score(dets, ex / "labelTxt" / "P0706.txt", *count)),
            ("GeoJSON polygons, pixels", _score(dets, geojson, *count)),
            ("YOLO oriented boxes", _score(dets, out / "P0706.txt", "--difficult", "count")),
            ("COCO bbox (axis-aligned: differs)", _score(dets, out / "coco.json", *count)),
            ("HRSC2016 mbox_* (rectangles round)", _score(dets, out / "hrsc" / "P0706.xml", "--difficult", "count"))]  # fmt: skip


def genoa(root: Path, work: Path) -> list[tuple[str, tuple[int, int, int, float | None]]]:
    """sen2ships' Genoa (EPSG:3857, 10 m): COCO masks against its instance mask and GeoJSON in three CRSs."""
    import numpy as np
    import rasterio
    from PIL import Image
    from pyproj import Transformer
    from rasterio import features
    from shapely.geometry import shape

    port = root / "sen2ships" / "sen2ships"
    out = work / "genoa"
    out.mkdir()
    dets = out / "genoa_rgb.geojson"
    bands = {k: next((port / "genoa").glob(f"*_{b}_*.tiff")) for k, b in (("blue", "B02"), ("green", "B03"), ("red", "B04"), ("nir", "B08"))}
    _run("-q", "detect-image", "--sensor", "optical", "--dn-scale", "65535", *[a for k, p in bands.items() for a in ("--band", f"{k}={p}")], "--out", str(dets))
    mask_png = port / "genoa" / "genoa_segmentation_masks" / "SegmentationObject" / "genoa_rgb.png"
    with rasterio.open(bands["green"]) as ds:
        transform, crs = ds.transform, ds.crs.to_string()
    rgb = np.asarray(Image.open(mask_png).convert("RGB")).astype(np.int64)
    code = (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]
    rings = []
    for c in np.unique(code[code > 0]):
        parts = [shape(g) for g, v in features.shapes((code == c).astype(np.uint8), mask=code == c, transform=transform) if v == 1]
        # Each ship's oriented box, drawn in the image's CRS, as one would draw it in QGIS.
        rings.append(list(max(parts, key=lambda g: g.area).minimum_rotated_rectangle.exterior.coords)[:-1])
    rows = [("COCO RLE masks (as published)", _score(dets, port / "coco_annotations.json")), ("instance mask png", _score(dets, mask_png))]
    for target, name in ((crs, f"GeoJSON, {crs}"), ("EPSG:4326", "GeoJSON, lon/lat (no crs member)"), ("EPSG:32632", "GeoJSON, EPSG:32632")):
        to = Transformer.from_crs(crs, target, always_xy=True)
        feats = [_feature([to.transform(x, y) for x, y in ring]) for ring in rings]
        labels = out / f"labels_{target.replace(':', '_')}.geojson"
        labels.write_text(_fc(feats, None if target == "EPSG:4326" else target), encoding="utf-8")
        rows.append((name, _score(dets, labels)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=Path, default=None, help="the datasets folder (default $SITEWATCH_DATASETS, else ../shared/datasets)")
    args = ap.parse_args()
    root = args.datasets or datasets_root()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="score-formats-") as tmp:
        for title, fn, need in (("SAR-Ship-Dataset, 12 chips", chips, "sar-ship-dataset-samples"),
                                ("DOTA P0706, ships", p0706, "dota-devkit-examples"),
                                ("sen2ships Genoa", genoa, "sen2ships")):  # fmt: skip
            if not (root / need).is_dir():
                print(f"note: no {need} under {root}; {title} not scored", file=sys.stderr)
                continue
            rows = fn(root, Path(tmp))
            base = rows[0][1][:3]
            print(title)
            for name, (tp, fp, fn_, med) in rows:
                same = "same" if (tp, fp, fn_) == base else "DIFFERS"
                length = "" if med is None or (isinstance(med, float) and math.isnan(med)) else f"  length error median {med:+.1f} m"
                print(f"  {name:<36} TP {tp:>4}  FP {fp:>4}  FN {fn_:>4}  {same}{length}")
    print(f"({time.perf_counter() - t0:.1f} s)")


if __name__ == "__main__":
    main()
