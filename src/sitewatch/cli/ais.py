"""``sitewatch ais SITE... --ais FILE``: AIS positions against the detections; dark and unseen vessels."""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import click

from ..analysis.ais import (
    DARK_CAVEAT,
    AisParams,
    AisResult,
    UnplacedAis,
    ais_to_dict,
    ais_to_geojson,
    match_workspace,
    period_times,
)
from ..files import write_text_atomic
from ..report.ais_exports import (
    AIS_OUT_SUFFIXES,
    ais_point_features,
    ais_points_to_csv,
    ais_points_to_kml,
)
from ..workspace import open_workspace
from .completers import complete_site_ids
from .options import (
    DateOrTime,
    FiniteFloatRange,
    OnceCommand,
    ais_coverage_options,
    ais_files_option,
    ais_max_gap_option,
    check_date_order,
    handle_errors,
    json_option,
    named_out,
    refuse_input_as_out,
    stated_ais_coverage,
    workspace_option,
)
from .output import echo_json, echo_wrapped, json_text


def _m(value: float | None) -> str:
    return "not given" if value is None else f"{value:.0f} m"


def _at(lon: float, lat: float) -> str:
    # Named: "at 132.33968, 42.87969" is lon, lat, the order GeoJSON keeps, where `sites list` and a map search
    # box take lat, lon; pasted there, the point lands in another ocean.
    return f"at lat {lat:.5f}, lon {lon:.5f}"


def _min(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds >= 600 else f"{seconds / 60:.1f}".removesuffix(".0") + " min"


def _unplaced(u: UnplacedAis, params: AisParams) -> str:
    """Why an MMSI reporting near the site was not placed at the image's time, and what would place it."""
    gap, reach = _min(params.max_gap_s), _min(params.max_extrapolation_s)
    nearest = min(s for s in (u.before_s, u.after_s) if s is not None)
    # A report within reach that was not carried to the image's time had no speed (or, moving, no course): said so,
    # not "none within 3 min of it" of a report 2 min from it (a file without a SOG column).
    reached = (f"its report {_min(nearest)} from the image gives no speed or course (SOG, COG) to carry it to the image's time"
               if nearest <= params.max_extrapolation_s else "")  # fmt: skip
    if u.before_s is not None and u.after_s is not None:
        apart = u.before_s + u.after_s
        return (f"reports {_min(u.before_s)} before and {_min(u.after_s)} after the image, {_min(apart)} apart (over "
                f"--max-gap-min {params.max_gap_s / 60:g}) and {reached or f'none within {reach} of it'}: not placed, "
                f"so not matched; --max-gap-min {math.ceil(apart / 60)} would place it")  # fmt: skip
    side = f"last report {_min(u.before_s)} before" if u.before_s is not None else f"first report {_min(u.after_s or 0)} after"
    return f"{side} the image, none on the other side within {gap} {f'and {reached}' if reached else f'nor any within {reach} of it'}: not placed, so not matched"


def print_ais(result: AisResult, site_ids: tuple[str, ...] = ()) -> None:
    """The result as lines for people: files read, each observation, a line per site."""
    if result.simulated:
        echo_wrapped("Simulated imagery.")
    for f in result.files:
        bad = ", ".join(f"{why} {n}" for why, n in sorted(f.bad.items()))
        echo_wrapped(
            f"read {f.path} ({f.format}{', SIMULATED AIS' if f.simulated else ''}"
            f"{f', times without a zone at {f.time_zone} as its header says' if f.time_zone else ''}): {f.rows} rows, "
            f"{f.kept} near the sites at the images' times, "
            f"{f.outside} elsewhere, {f.skipped} skipped{f' ({bad})' if bad else ''}"
            + (f", {f.not_ships} from stations that are no ship (coast, aids to navigation, aircraft)" if f.not_ships else "")
            + (f", {f.duplicates} duplicate(s) dropped (same MMSI and time, within 10 m)" if f.duplicates else "")
            + (f", {f.conflicting} dropped as another position of an MMSI at a time already read" if f.conflicting else "")
        )
    if result.coverage is not None:
        stated = result.coverage
        said = [f"area {stated.area_source}" if stated.area is not None else "",
                f"period {stated.start:%Y-%m-%dT%H:%M:%SZ} to {stated.end:%Y-%m-%dT%H:%M:%SZ}"
                if stated.start and stated.end else ""]  # fmt: skip
        echo_wrapped(f"AIS coverage as stated: {'; '.join(x for x in said if x)}")
    for o in result.observations:
        # The time is UTC, said so as the other commands' tables do; an image known only by its date has none.
        when = f"{o.acquired[:10]} (time unknown)" if o.status == "date only" else f"{o.acquired[:16].replace('T', ' ')} UTC"
        head = f"{when} {o.sensor:<7} {o.observation_id}"
        if o.status != "matched":
            echo_wrapped(f"{head}: not matched: {o.note}")
            continue
        echo_wrapped(f"{head}: {len(o.matched)} matched, {len(o.dark)} dark, {len(o.unseen)} unseen"
                   + (f", {len(o.hidden)} hidden" if o.hidden else "")
                   + (f", {len(o.unplaced)} AIS vessel(s) not placed" if o.unplaced else ""))  # fmt: skip
        for m in o.matched:
            echo_wrapped(f"  matched {m.detection_id} = MMSI {m.mmsi} {m.name or '(no name)'}: {m.distance_m:.0f} m apart "
                       f"({m.method}), AIS length {_m(m.ais_length_m)}, measured {'≥ ' if m.truncated else ''}{_m(m.length_m)}")  # fmt: skip
        for d in o.dark:
            near = f"; nearest AIS {d.nearest_mmsi} {_m(d.nearest_m)} away" if d.nearest_mmsi else "; no AIS position near"
            echo_wrapped(f"  dark    {d.detection_id}: {_m(d.length_m)} {_at(d.lon, d.lat)}{near}")
        for u in o.unseen:
            echo_wrapped(f"  unseen  MMSI {u.mmsi} {u.name or '(no name)'} ({u.method}, AIS length {_m(u.length_m)}) "
                       f"{_at(u.lon, u.lat)}")  # fmt: skip
        for u, why in o.hidden:
            echo_wrapped(f"  hidden  MMSI {u.mmsi} {u.name or '(no name)'}: {why} {_at(u.lon, u.lat)}")
        for n in o.unplaced:
            echo_wrapped(f"  unplaced MMSI {n.mmsi} {n.name or '(no name)'} {_at(n.lon, n.lat)}: {_unplaced(n, result.params)}")
    counts = result.site_counts()
    for site in site_ids:
        if site not in counts:
            echo_wrapped(f"{site}: no observation to match (in the dates asked for)")
    for site, c in counts.items():
        refused = f"; {c['date_only']} known only by date, not matched" if c["date_only"] else ""
        undetected = f"; {c['not_detected']} not detected yet" if c["not_detected"] else ""
        uncovered = f"; {c['not_covered']} outside the AIS files' times or area" if c["not_covered"] else ""
        unplaced = (f"; {c['unplaced']} time(s) an AIS vessel reporting near the site could not be placed at the "
                    "image's time (its reports too far apart: a thinned file? see --max-gap-min), so a detection of it "
                    "is counted dark") if c["unplaced"] else ""  # fmt: skip
        echo_wrapped(
            f"{site}: AIS: {c['matched']} matched, {c['dark']} dark, {c['unseen']} unseen "
            f"over {c['observations']} observation(s){refused}{undetected}{uncovered}{unplaced}"
        )
    echo_wrapped(f"note: {DARK_CAVEAT}")


@click.command("ais", cls=OnceCommand, short_help="Match AIS positions with detections: dark and unseen vessels.")
@click.argument("site_ids", nargs=-1, required=True, shell_complete=complete_site_ids)
@ais_files_option("AIS CSV file (MarineCadastre, Danish Maritime Authority or mmsi,time,lat,lon; also gzipped, or a zip of one CSV); repeat for more.",
                  required=True)
@ais_coverage_options
@click.option("--from", "start", type=DateOrTime("date"), metavar="DATE", help="First UTC date of images kept.")
@click.option("--to", "end", type=DateOrTime("date"), metavar="DATE", help="Last UTC date of images kept.")
@ais_max_gap_option
@click.option("--max-distance", type=FiniteFloatRange(min=0, min_open=True), default=None, metavar="METRES",
              help="Fixed distance gate between an AIS position and a detection (default: per pair, from the "
                   "pixel size, AIS error, the AIS length and speed).")  # fmt: skip
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              callback=named_out("GeoJSON, CSV or KML", AIS_OUT_SUFFIXES),
              help="Write matched, dark and unseen as points into a file: GeoJSON (.geojson or .json), KML (.kml, "
                   "Google Earth; a colour per status) or, for a spreadsheet, CSV (.csv: a row each, lon and lat).")  # fmt: skip
@json_option
@workspace_option
@handle_errors
def command(
    site_ids: tuple[str, ...],
    ais_files: tuple[Path, ...],
    ais_coverage: Path | None,
    ais_period: tuple[datetime, datetime] | None,
    start: date | None,
    end: date | None,
    max_gap_min: float,
    max_distance: float | None,
    out: Path | None,
    as_json: bool,
    workspace: Path,
) -> None:
    """Match the AIS positions at each image's time with the vessels detected at SITE_IDS.

    A detection with no AIS position near it is a candidate dark vessel; an AIS
    position inside the site, where the image has data and no cloud, with no
    detection is unseen. Images known only by their date are not matched.
    Nothing is stored: the matching is computed on each run.
    """
    check_date_order(start, end)
    refuse_input_as_out(out, [*ais_files, *([ais_coverage] if ais_coverage else [])])
    coverage = stated_ais_coverage(ais_coverage, ais_period, ais_files)
    params = AisParams(max_gap_s=max_gap_min * 60, max_distance_m=max_distance)
    ws = open_workspace(workspace)
    with ws.store() as store:
        result = match_workspace(store, ws.root, site_ids, ais_files, params, start=start, end=end, coverage=coverage)
        if out is not None:
            since, until = period_times(start, end)  # (the detections of the images matched)
            dets = {d.id: d for sid in dict.fromkeys(site_ids) for d in store.detections(site_id=sid, since=since, until=until)}
            fc = ais_to_geojson(result, dets)
            if out.suffix.lower() == ".csv":
                text = ais_points_to_csv(fc)
            elif out.suffix.lower() == ".kml":
                text = ais_points_to_kml(fc)
            else:
                text = json_text({**fc, "features": ais_point_features(fc)}, indent=1)
            write_text_atomic(out, text, make_folder=False)
    if as_json:
        echo_json(ais_to_dict(result), indent=1)
    else:
        print_ais(result, site_ids)
    if out is not None:
        click.echo(f"wrote {out}", err=as_json)
