"""The built-in scenario, end to end: simulate → ingest → detect → timeline → eval → report.

``sitewatch demo`` is the ordinary stages run in order on a workspace, with
the simulator as the imagery source — not a separate code path. Everything it
shows is simulated and says so.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import load_settings, settings_used_by
from .detection import detect_site
from .errors import InputError
from .files import remove_stale_partials, write_text_atomic
from .ingest import ingest_paths
from .model import direction_counts
from .sites import builtin_sites, read_sites_file
from .sources.scenario import Scenario
from .sources.simulate import load_scenario, simulate
from .store import mask_url
from .workspace import Workspace, init_workspace

if TYPE_CHECKING:
    from .analysis.ais import AisResult

__all__ = ["DemoResult", "run_demo"]

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int, str], None]


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its outputs and how long each stage took."""

    out: Path
    report: Path
    database: Path
    archive: Path
    sites: tuple[str, ...]
    timings_s: dict[str, float] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    presence: dict[str, Any] = field(default_factory=dict)
    scenario: str = ""
    """The name of the scenario that ran."""
    exports: tuple[Path, ...] = ()
    """The detections of every site as GeoJSON and KML (``exports/``), as ``sitewatch export`` writes them,
    and the stored change regions so (``sitewatch export --layer changes``) when change was run."""
    links: tuple[str, ...] = ()
    """One line per candidate link between the sites (``sitewatch links``), or why there is none."""
    ais: dict[str, Any] = field(default_factory=dict)
    """Simulated AIS matched with the detections (:func:`_run_ais`): the file, per-site counts, dark scores."""
    claims: tuple[str, ...] = ()
    """One line per claim of the scenario's built-in claims file (``sitewatch claims check``): id, verdict, reason."""
    changes: tuple[str, ...] = ()
    """One line per site compared for change (``sitewatch change``): the sites the scenario digs or parks on."""
    story_files: tuple[Path, ...] = ()
    """The scenario's packaged claims file and alert rules, copied into the folder as ``claims.yaml`` and
    ``alerts.yaml`` (where the scenario has them), so that ``sitewatch claims check claims.yaml`` and
    ``sitewatch alerts check`` run there as written."""


_DEMO_NOTE = "Berths and water: SIMULATED layout from the demo scenario."
"""Ends the note of every site the demo writes: how a demo folder is told from an analyst's."""


def _import_layouts(ws: Workspace, simulated: Path) -> list[str]:
    """Put each simulated site (its built-in record with the simulated berths and water) in the store."""
    builtin = builtin_sites()
    site_ids = []
    with ws.store() as store, store.transaction():
        for layout in sorted(simulated.glob("*/layout.geojson")):
            for site in read_sites_file(layout):
                # Keep the gazetteer's record (name, coordinates source) and add the simulated layout;
                # a scenario's own site is taken as it is. Either way the note marks it as the demo's.
                base = builtin.get(site.id, site)
                site = replace(base, berths=site.berths, water=site.water, note=(base.note + " " + _DEMO_NOTE).strip())
                store.put_site(site)
                site_ids.append(site.id)
    return site_ids


_COMPLETE = ".complete.json"
"""Written into the simulated folder only after every scene of the scenario is on disk."""


def _scenario_matches(simulated: Path, scenario_json: dict[str, Any]) -> bool:
    # scenario.json is written by the simulator before it renders anything, so it
    # says nothing about completeness; the demo's own marker does.
    marker = simulated / _COMPLETE
    if not marker.exists():
        return False
    written = simulated / "scenario.json"
    if written.exists() and written.stat().st_mtime_ns > marker.stat().st_mtime_ns:
        return False  # `sitewatch simulate` ran in the folder after the demo finished it
    try:
        return bool(json.loads(marker.read_text(encoding="utf-8")) == json.loads(json.dumps(scenario_json, default=str)))
    except json.JSONDecodeError:
        return False


def _mark_complete(simulated: Path, scenario_json: dict[str, Any]) -> None:
    write_text_atomic(simulated / _COMPLETE, json.dumps(scenario_json, default=str, sort_keys=True))


def _demo_scenario_name(out: Path) -> str | None:
    """The name of the scenario the demo folder ``out`` was last simulated for, if it says."""
    try:
        name = json.loads((out / "simulated" / "scenario.json").read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) and name else None


def _refuse_own_workspace(out: Path, demo_sites: set[str], scenario: str = "") -> None:
    """Refuse to write the demo into a workspace that holds an analyst's own sites or imagery.

    The demo puts the scenario's sites (replacing any of the same id), simulated imagery and
    a report into its folder; a folder it made itself may be run again, and a new or empty
    one is made a workspace. A folder of other files (no workspace) is refused: its own
    ``report.html`` would be overwritten. So is the demo folder of another scenario (``scenario`` is
    this one's name), saying so: its sites would stay beside this scenario's.
    """
    ws = Workspace(out, store_setting="")  # the demo's database is always its own GeoPackage
    if ws.config_path.exists() and (team := str(load_settings(out, env={})["store"] or "").strip()):
        # Pointing it at its own GeoPackage would have the demo's simulated COGs written into the archive/ the
        # team store names (and init refuses that switch, offering a --replace the demo does not have).
        raise InputError(
            f"{out} is a workspace of the team store {mask_url(team)}; the demo writes its own sitewatch.gpkg and "
            "simulated imagery into its folder, so give it another --out"
        )
    if not ws.db_path.exists():
        # A demo (or init) killed as it wrote the settings left their partial file, the folder's only one.
        remove_stale_partials(ws.config_path)
        if out.is_dir() and any(out.iterdir()) and not ws.config_path.exists():  # (a demo stopped while making it)
            raise InputError(
                f"{out} holds files and is not a sitewatch workspace; the demo writes a workspace "
                "(sitewatch.gpkg, archive/, report.html …) into its folder, so give it another --out"
            )
        return
    with ws.store() as store:
        sites = store.sites()
        own_sites = sorted(s.id for s in sites if _DEMO_NOTE not in s.note)
        # Sites the demo wrote, of another scenario (the seed story's demo folder given to `--scenario departures`):
        # the demo's, not the analyst's, but they would stay beside this scenario's, timelines and eval and all.
        other_demo = sorted(s.id for s in sites if _DEMO_NOTE in s.note and s.id not in demo_sites)
        real = int(store.execute("SELECT count(*) FROM observations WHERE NOT simulated")[0][0])
    if other_demo and not own_sites and not real:
        shown = ", ".join(other_demo[:3]) + (", …" if len(other_demo) > 3 else "")
        before = _demo_scenario_name(out)
        what = (f"the demo's sites {shown}, which the scenario {scenario!r} no longer has" if before == scenario else
                f"the demo of {f'the scenario {before!r}' if before else 'another scenario'} (its sites {shown})")  # fmt: skip
        raise InputError(f"{out} holds {what}; the demo does not mix two scenarios' sites in one workspace, so give it another --out")
    if own_sites or real:
        what = ", ".join(
            part
            for part in (
                f"{len(own_sites)} site(s) of its own ({', '.join(own_sites[:3])}{', …' if len(own_sites) > 3 else ''})" if own_sites else "",
                f"{real} observation(s) of real imagery" if real else "",
            )
            if part
        )
        raise InputError(
            f"{out} is a workspace with {what}; the demo writes simulated imagery and its own sites "
            "into its folder, so give it another --out"
        )


def _write_exports(ws: Workspace, site_ids: Sequence[str]) -> tuple[Path, ...]:
    """The sites' detections as ``exports/detections.geojson`` and ``.kml`` (for QGIS and Google Earth), and
    their stored change regions as ``exports/changes.geojson`` and ``.kml`` when change was run on one."""
    from .report.change_exports import changes_to_kml, stored_changes_to_geojson
    from .report.detection_exports import detections_to_kml
    from .report.exports import detections_to_geojson, with_sitewatch_version
    from .store.changes import change_pairs

    with ws.store() as store:
        fc = detections_to_geojson(store, list(site_ids))
        changed = sorted({p.site_id for p in change_pairs(store)} & set(site_ids))
        changes = stored_changes_to_geojson(store, changed) if changed else None
    folder = ws.root / "exports"
    folder.mkdir(exist_ok=True)
    texts = {"detections.geojson": json.dumps(with_sitewatch_version(fc), indent=1),
             "detections.kml": detections_to_kml(fc, title="sitewatch demo detections")}  # fmt: skip
    if changes is not None:
        texts["changes.geojson"] = json.dumps(with_sitewatch_version(changes), indent=1)
        texts["changes.kml"] = changes_to_kml(changes, title="sitewatch demo changes")
    return tuple(write_text_atomic(folder / name, text) for name, text in texts.items())


def _run_ais(ws: Workspace, scen: Scenario, seed: int | None, site_ids: Sequence[str]) -> tuple[dict[str, Any], AisResult]:
    """The scenario's simulated AIS (``ais/simulated-ais.csv``) matched as ``sitewatch ais`` matches it,
    and scored against the truth as ``sitewatch eval --ais`` scores it; with the match (for the links)."""
    from .analysis.ais import match_workspace
    from .analysis.ais_eval import evaluate_dark
    from .sources.sim_ais import write_simulated_ais

    (ws.root / "ais").mkdir(exist_ok=True)
    path, _ = write_simulated_ais(scen, ws.root / "ais" / "simulated-ais.csv", seed=seed)
    with ws.store() as store:
        result = match_workspace(store, ws.root, site_ids, [path])
    return {"file": path, "sites": result.site_counts(), "dark": evaluate_dark(ws, result, [path]).to_dict()}, result


def _run_changes(ws: Workspace, site_ids: Sequence[str]) -> tuple[str, ...]:
    """``sitewatch change`` on each site: every usable observation against the previous one of its sensor and grid.

    Consecutive pairs, not only those around the scenario's events: the pairs in which nothing was dug or
    parked are where the false alarms (the season, the sun, cloud edges) show, and ``sitewatch eval`` counts them.
    """
    from .change_dating import ends_text, stored_dating
    from .change_stage import choose_pairs, run_changes

    lines = []
    with ws.store() as store:
        for sid in site_ids:
            pairs, _ = choose_pairs(store.observations(sid), sid)
            outcomes, errors = run_changes(store, ws.root, store.get_site(sid), pairs)
            regions = [r for o in outcomes for r in o.changes]
            counts = ", ".join(f"{n} {d}" for d, n in direction_counts(r.direction for r in regions).items())
            dated, obs, _ = stored_dating(store, sid)
            first = f"; the first change on the ground: {ends_text(dated[0], obs)} (of {len(dated)} dated)" if dated else ""
            lines.append(f"{sid}: {len(outcomes)} pairs compared, {len(regions)} regions ({counts}){first}"
                         + (f"; {len(errors)} pair(s) failed: {errors[0]}" if errors else ""))  # fmt: skip
    return tuple(lines)


def _check_builtin_claims(ws: Workspace, scenario_name: str) -> tuple[list[Path], tuple[str, ...]]:
    """The scenario's packaged claims file (``data/claims/NAME.yaml``), if it has one, and a line per verdict."""
    from .claims_file import builtin_claims_path
    from .evidence import check_claims_file

    try:
        path = builtin_claims_path(scenario_name)
    except InputError:
        return [], ()
    with ws.store() as store:
        check = check_claims_file(store, path)
    # The verdict as `claims check` and the report write it: "supported (on the dates tested)" when some
    # dates of the claim had no usable image (the demo printed a bare "supported" for the same claim).
    lines = [f"{r.claim.id}: {r.verdict}{' (on the dates tested)' if r.partial else ''}: {r.reason}" for r in check.results]
    lines += [f"{p.claim}: refused: {p.field}: {p.message}" for p in check.problems]
    return [path], tuple(lines)


def _copy_story_files(ws: Workspace, scenario_name: str) -> tuple[Path, ...]:
    """Copy the scenario's packaged claims file and alert rules into the workspace, where the commands look.

    ``claims.yaml`` for ``sitewatch claims check claims.yaml`` and ``alerts.yaml``, the rules ``sitewatch
    alerts check`` reads by default. A file already there is kept: a rerun never overwrites one the analyst
    edited. Each is written whole or not at all.
    """
    from importlib.resources import files

    from .alert_rules import RULES_FILE

    kept = []
    for folder, name in (("claims", "claims.yaml"), ("alerts", RULES_FILE)):
        packaged = Path(str(files("sitewatch").joinpath(f"data/{folder}/{scenario_name}.yaml")))
        if not packaged.is_file():
            continue
        target = ws.root / name
        if not target.exists():
            write_text_atomic(target, packaged.read_bytes())
        else:  # a run killed as it renamed the copy into place left its partial file beside it
            remove_stale_partials(target)
        kept.append(target)
    return tuple(kept)


def run_demo(
    out: Path,
    *,
    scenario: str | Path | Scenario = "seed-story",
    seed: int | None = None,
    workers: int | None = None,
    progress: Progress | None = None,
) -> DemoResult:
    """Run a scenario (by default the seed story) end to end into the workspace ``out``.

    Rerunning into the same folder reuses simulated scenes that are already
    there for the same scenario and reruns every stage idempotently. ``workers``
    overrides the ``workers`` setting, as ``--workers`` does; the other settings
    (``cog_compress``, ``context_m``, ``sar_thermal_noise``, vessel length limits, ``optical_mode``) apply as in
    the stage commands.
    """
    from .analysis.occupancy import timeline_for_site, write_timeline_files
    from .evaluate import evaluate_workspace
    from .report.html import write_report
    from .sources.scenario import scenario_to_json

    def tick(stage: str) -> Callable[[int, int, str], None]:
        return lambda done, total, what: progress(stage, done, total, what) if progress else None

    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    _refuse_own_workspace(Path(out), {s.id for s in scen.sites}, scen.name)
    # Its own sitewatch.gpkg, whatever SITEWATCH_STORE says: the demo's simulated sites stay out of a team's store.
    ws = init_workspace(out, store="")
    simulated = ws.root / "simulated"
    scen_json = scenario_to_json(scen) | {"seed_override": seed}
    if not _scenario_matches(simulated, scen_json):
        (simulated / _COMPLETE).unlink(missing_ok=True)
        sim_tick = tick("simulate")
        # The demo's simulated/ folder is its own: another scenario's scenes there are replaced.
        simulate(scen, simulated, seed=seed, replace=True, progress=lambda done, total: sim_tick(done, total, ""))
        _mark_complete(simulated, scen_json)
    timings["simulate"] = time.perf_counter() - t0

    t = time.perf_counter()
    # As `sitewatch ingest` and `detect` do: the workspace's settings (sitewatch.toml, SITEWATCH_*) apply.
    settings = ws.settings(
        {"workers": workers},
        names=settings_used_by("demo"),
    )
    site_ids = _import_layouts(ws, simulated)
    with ws.store() as store:
        for sid in site_ids:
            ingest_paths(
                ws, store, store.get_site(sid), [simulated / sid], progress=tick(f"ingest {sid}"),
                workers=settings["workers"], compress=settings["cog_compress"],
                context_m=settings["context_m"], thermal_noise=settings["sar_thermal_noise"],
            )  # fmt: skip
    timings["ingest"] = time.perf_counter() - t

    t = time.perf_counter()
    for sid in site_ids:
        detect_site(
            ws, sid, workers=settings["workers"], progress=tick(f"detect {sid}"),
            min_length_m=settings["min_vessel_length_m"], max_length_m=settings["max_vessel_length_m"],
            optical_mode=settings["optical_mode"],
        )  # fmt: skip
    timings["detect"] = time.perf_counter() - t

    t = time.perf_counter()
    # Change detection where the scenario digs or parks something (the training ground); the ports' long
    # daily series would double the demo's time, and their changes are ships, which detection reports.
    change_lines = _run_changes(ws, [sid for sid in site_ids if any(g.site == sid for g in scen.ground)])
    timings["change"] = time.perf_counter() - t

    t = time.perf_counter()
    from .analysis.links import INLAND_KINDS, ais_ids, load_links

    presence: dict[str, Any] = {}
    with ws.store() as store:
        # Vessel timelines and AIS where vessels can be: not at the training ground (0 presence days and
        # "0 matched, 0 dark" there said nothing, and read as if a vessel had been looked for inland).
        waterside = [sid for sid in site_ids if store.get_site(sid).kind not in INLAND_KINDS]
        for sid in waterside:
            tl = timeline_for_site(store, sid)
            write_timeline_files(tl, ws.root / "timelines", sid)
            presence[sid] = [
                {"start": p.start.isoformat(), "end": p.end.isoformat(), "presence_days": p.presence_days}
                for p in tl.periods
            ]
    timings["timeline"] = time.perf_counter() - t

    t = time.perf_counter()
    evaluation = evaluate_workspace(ws, site_ids).to_dict()
    evaluation.pop("observations", None)
    timings["eval"] = time.perf_counter() - t

    t = time.perf_counter()
    ais, ais_result = _run_ais(ws, scen, seed, waterside)
    timings["ais"] = time.perf_counter() - t

    # Vessels that may have gone from one site to another (sitewatch links --ais): computed, not stored.
    with ws.store() as store:
        links = tuple(load_links(store, site_ids, ais=ais_ids(ais_result)).summary_lines()) if len(site_ids) > 1 else ()

    # The seed story's published claims checked against the imagery (sitewatch claims check): computed, not stored.
    claims_files, claims = _check_builtin_claims(ws, scen.name)
    story_files = _copy_story_files(ws, scen.name)

    t = time.perf_counter()
    report = write_report(ws, site_ids, ws.root / "report.html", ais_files=[ais["file"]], claims_files=claims_files)
    exports = _write_exports(ws, site_ids)
    timings["report"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0
    return DemoResult(
        out=ws.root,
        report=Path(report),
        exports=exports,
        database=ws.db_path,
        archive=ws.archive,
        sites=tuple(site_ids),
        timings_s={k: round(v, 2) for k, v in timings.items()},
        evaluation=evaluation,
        presence=presence,
        scenario=scen.name,
        links=links,
        ais=ais,
        claims=claims,
        changes=change_lines,
        story_files=story_files,
    )
