"""``sitewatch score``: detect-image output against labelled boxes (VOC, HRSC2016, COCO, DOTA, YOLO, LabelMe, GeoJSON, xView, masks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import click

from .options import (
    FiniteFloatRange,
    OnceCommand,
    bom_option,
    handle_errors,
    json_option,
    named_out,
)
from .output import echo_json, echo_utf8

SCORE_CSV_COLUMNS = (
    "image", "detections", "labels", "detector", "tp", "fp", "fn", "precision", "recall", "f1",
    "length_n", "length_error_median_m", "length_error_median_abs_m", "length_error_mean_abs_m",
)  # fmt: skip
"""Columns of ``score --csv``: one row per image, then ``(all images)`` with the sums."""
ALL_IMAGES = "(all images)"


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


@click.command("score", cls=OnceCommand, short_help="Score detect-image's output against labelled boxes.")
@click.argument("detections", type=click.Path(exists=True, path_type=Path))
@click.argument("labels", type=click.Path(exists=True, path_type=Path))
@click.option("--class", "classes", multiple=True, metavar="NAME",
              help="Count only labelled objects of this class, in any case (VOC <name>, HRSC2016 Class_ID, COCO category or its id, DOTA class, YOLO class number or classes.txt name, LabelMe label, GeoJSON --class-key, xView type_id); repeat. Default: all.")  # fmt: skip
@click.option("--class-key", default="class", show_default=True, help="GeoJSON labels: the property that holds the class.")
@click.option("--kind", "kinds", multiple=True, default=("vessel",), show_default=True, type=click.Choice(["vessel", "crane"]),
              help="Detected kinds scored (detect-image writes vessel, and crane at 5 m or finer); repeat.")  # fmt: skip
@click.option("--min-score", type=FiniteFloatRange(0, 1), default=0.0, show_default=True,
              help="Leave out detections scoring below this.")  # fmt: skip
@click.option("--difficult", type=click.Choice(["ignore", "count"]), default="ignore", show_default=True,
              help="Objects the labels flag difficult (VOC <difficult>, DOTA's last column): ignore them as VOC and DOTA score "
                   "(neither missed nor a false alarm when detected), or count them as any other.")  # fmt: skip
@click.option("--per-image", is_flag=True, help="Also print each image's counts.")
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, allow_dash=True), callback=named_out("CSV", (".csv",)),
              help="Write a CSV of each image's counts, P, R, F1 and length error, then a row of the sums ('-': standard output).")  # fmt: skip
@bom_option
@json_option
@handle_errors
def command(
    detections: Path, labels: Path, classes: tuple[str, ...], class_key: str, kinds: tuple[str, ...],
    min_score: float, difficult: Literal["ignore", "count"], per_image: bool, csv_path: str | None, bom: bool, as_json: bool,
) -> None:  # fmt: skip
    """Score DETECTIONS (a `detect-image --out` GeoJSON, or a folder of them) against LABELS.

    LABELS is a Pascal VOC or HRSC2016 .xml, a COCO or LabelMe .json, a DOTA or YOLO .txt, a GeoJSON of
    boxes (or xView's, of many images) or an instance mask .png (one colour per object on black), or a
    folder of label files named after the images (masks NAME_instance_id_RGB.png). Matching is one-to-one per
    image: a detection counts when its centroid falls inside a labelled box,
    best score first, as the benchmarks count. Prints precision, recall and F1, and
    the length error (detected minus labelled) where the labels give lengths (rotated boxes, polygons, masks).

    --json states the matching rule and the settings beside the figures, and
    with --per-image each image's row; --csv writes those rows for a table.

    Exit code 0 when every label file (every image of a COCO file, when
    DETECTIONS is a folder) was scored, 3 when some had no detections file
    or, in a folder of detections, an unreadable one (each is named; the
    others are scored).
    """
    from .. import __version__
    from ..boxscore import (
        image_name,
        matching_rule,
        pair_files,
        score_files,
        unscored_coco_images,
        unscored_labels,
    )
    from ..files import write_text_atomic
    from ..masklabels import mask_image_stem
    from ..report.csv_types import with_bom

    if as_json and csv_path == "-":
        raise click.UsageError("--json and --csv - both want standard output; send the CSV to a file")
    if bom and csv_path is None:
        raise click.UsageError("--bom marks the CSV as UTF-8 for Excel: add --csv FILE")
    pairs = pair_files(detections, labels)
    # A folder of detections: one file detect-image left unreadable is named and left out, as a label
    # file without detections is; the others are scored (exit 3). A single file is an error.
    unreadable: list[tuple[Path, str]] | None = [] if detections.is_dir() else None
    counts = score_files(
        pairs, classes=classes, kinds=kinds, min_score=min_score, class_key=class_key, difficult=difficult,
        unreadable=unreadable,
    )  # fmt: skip
    if labels.is_file() and labels.suffix.lower() in (".xml", ".txt", ".png") and detections.is_file():
        # A VOC, DOTA or mask file is one image's: a tab-completed neighbour would give figures of the wrong image.
        image = image_name(detections)
        if mask_image_stem(labels).lower() not in (image.lower(), detections.stem.lower()):
            click.echo(f"note: {detections.name} (image {image!r}) is scored against {labels.name}", err=True)
    unscored = unscored_labels(labels, pairs)
    images = unscored_coco_images(labels, pairs) if detections.is_dir() else []
    # Each one named (README's exit code 3), not the first few: a script re-runs detect-image on them.
    for warning in counts.warnings:
        click.echo(f"warning: {warning}", err=True)
    if unreadable:
        click.echo(f"note: {len(unreadable)} detections file(s) cannot be read and are not scored:", err=True)
        for _, why in unreadable:
            click.echo(f"  {why}", err=True)
    if unscored:
        click.echo(
            f"note: {len(unscored)} label file(s) have no detections and are not scored: "
            f"{', '.join(p.name for p in unscored)}", err=True,
        )  # fmt: skip
    if images:
        click.echo(
            f"note: {len(images)} image(s) of {labels.name} have no detections and are not scored: "
            f"{', '.join(images)}", err=True,
        )  # fmt: skip
    rows = counts.image_rows()
    if csv_path is not None:
        text = with_bom(_csv_text(rows, counts), bom)
        if csv_path == "-":
            echo_utf8(text, nl=False)  # the file's bytes, --bom's mark with them, on any output's encoding
        else:
            click.echo(f"wrote {write_text_atomic(Path(csv_path), text)}", err=True)
    if as_json:
        out = {
            "images": counts.images, "tp": counts.tp, "fp": counts.fp, "fn": counts.fn,
            "precision": counts.precision, "recall": counts.recall, "f1": counts.f1,
            "average_precision": counts.average_precision,
            "length_error_m": counts.length_summary(),
            # What a table in a paper states beside the figures.
            "detectors": sorted(set(counts.per_image_detector.values())),
            "sitewatch": __version__,
            "rule": matching_rule(difficult),
            "warnings": counts.warnings,
            # Labels wholly off their image (a chip's, cut from a bigger scene's labels): in no count above.
            "off_image_labels": sum(counts.off_image.values()),
            # Labels of no area (xView's empty or zero-width bounds_imcoords): in no count above.
            "no_area_labels": sum(counts.no_area.values()),
            # What exit code 3 is about, for a script: left out of the figures above.
            "not_scored": {"label_files": [str(p) for p in unscored], "coco_images": images,
                           "detections_files": [str(path) for path, _ in unreadable or []]},
            "settings": {"classes": list(classes) or None, "kinds": list(kinds), "min_score": min_score, "difficult": difficult},
        } | ({"per_image": {r["image"]: {k: v for k, v in r.items() if k != "image"} for r in rows}} if per_image else {})  # fmt: skip
        echo_json(out, indent=1)
    elif csv_path != "-":
        if per_image:
            for name, (tp, fp, fn) in counts.per_image.items():
                click.echo(f"{name:<40} TP {tp:>4}  FP {fp:>4}  FN {fn:>4}")
        click.echo(
            f"{counts.images} image(s): TP {counts.tp}  FP {counts.fp}  FN {counts.fn}  "
            f"P {_ratio(counts.precision)}  R {_ratio(counts.recall)}  F1 {_ratio(counts.f1)}"
        )
        if (ap := counts.average_precision) is not None:
            click.echo(f"average precision over every score threshold (this rule, not COCO's IoU): {ap:.3f}")
        if (lengths := counts.length_summary()) is not None:
            click.echo(
                f"length, detected - labelled, over {lengths['n']} matched object(s) with an oriented label: "
                f"median {lengths['median']:+.1f} m, median |error| {lengths['median_abs']:.1f} m, mean |error| {lengths['mean_abs']:.1f} m"
            )
    if unscored or images or unreadable:
        # As ingest, eval and detect: labelled images without detections (detect-image failed on them)
        # are inputs left out, and figures over the others alone must not pass for the whole set's.
        raise SystemExit(3)


def _csv_text(rows: list[dict[str, Any]], counts: Any) -> str:
    """``score --csv``: a row per image (:meth:`~sitewatch.boxscore.Counts.image_rows`), then the sums."""
    import csv
    import io

    from ..report.exports import csv_cell

    total = {"image": ALL_IMAGES, "detections": None, "labels": None, "detector": None, "tp": counts.tp, "fp": counts.fp, "fn": counts.fn,
             "precision": counts.precision, "recall": counts.recall, "f1": counts.f1, "length_error_m": counts.length_summary()}  # fmt: skip
    buf = io.StringIO()
    w = csv.writer(buf)  # lines end CRLF (RFC 4180), as the other CSVs
    w.writerow(SCORE_CSV_COLUMNS)
    for r in [*rows, total]:
        lengths = r["length_error_m"] or {}
        values = [r["image"], r["detections"], r["labels"], r["detector"], r["tp"], r["fp"], r["fn"], r["precision"], r["recall"], r["f1"],
                  lengths.get("n", 0), lengths.get("median"), lengths.get("median_abs"), lengths.get("mean_abs")]  # fmt: skip
        w.writerow(["" if v is None else f"{v:.6g}" if isinstance(v, float) else csv_cell(v) for v in values])
    return buf.getvalue()
