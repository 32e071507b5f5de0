"""What a site's stored detections were made from, so that a rerun of ``detect`` can skip
the observations whose inputs have not changed.

An observation's detections depend on its archived COG (its sha256), its row (grid,
sensor, resolution, acquisition time, provenance but for when it came in: ingest's divisor
picks the optical parameters), the site (polygon, water, berths), the vessel length limits and the code
(detectors, their models, the conversion to footprints and classes), and for optical
observations the optical mode. The site, limits, mode and code go into one key per site and
sensor (so a new optical mode leaves SAR observations alone); each observation gets a
fingerprint of its row. Both are kept in ``sitewatch_meta`` under ``detect:<site id>:<sensor>``
after a complete run, and an
observation is skipped only when the key and its fingerprint match, detection has run on
its current COG (``detected_at`` set) and the archived file still has its sha256.

That last check reads the file whole only when it may have changed: the state keeps, for each
observation, the archived file's size, modification and status-change times (:func:`file_stat`)
as they were when its sha256 was last found right, and a file that still has them is not read
again. A daily ``detect`` read every image of the site's history each day (a year of daily 3 m
scenes: gigabytes), to find the one new image. No program writes into a file without changing
its status-change time (``ctime``, which no tool can set back, unlike the modification time), so
a changed file is still read and found out; ``detect --force`` reads every file again.

The code part of the key hashes every source and data file of the installed package, so
any change to sitewatch (a release or an edit) makes the next run detect everything again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from . import __version__
from .model import Observation, Site
from .store import Store

__all__ = [
    "older_detector_notes", "warn_older_detections", "DetectState", "FileStat", "detect_key", "file_stat", "load_state", "load_states", "observation_fingerprint",
    "save_state", "row_digest",
]  # fmt: skip

_CODE_SUFFIXES = (".py", ".npz", ".json", ".csv")
"""The package files detection can depend on: code, model weights, tables."""


@cache
def _code_hash() -> str:
    root = Path(__file__).parent
    h = hashlib.sha256(__version__.encode())
    for path in sorted(p for p in root.rglob("*") if p.suffix in _CODE_SUFFIXES and p.is_file()):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _wkb(geom: Any) -> str:
    return "" if geom is None else str(geom.wkb_hex)


def detect_key(site: Site, limits: Mapping[str, Any]) -> str:
    """The site's part of what its detections depend on: polygon, water, berths, limits and mode, code."""
    site_part = [site.id, _wkb(site.geometry), _wkb(site.water), [[b.id, _wkb(b.geometry)] for b in site.berths]]
    text = json.dumps({"code": _code_hash(), "site": site_part, "limits": dict(limits)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


_BOOKKEEPING = ("ingested_at", "retrieved_at", "berths_hidden", "source_mtime_ns")
"""Provenance that says when a file came in (or was last written), not what it holds: ingesting or fetching the
same files again (a folder with one new file in it) must not make detect run on them all;
and what detect itself recorded there (the berths' hidden fractions), which must not make
the next run take the observation for a new one."""


def observation_fingerprint(obs: Observation) -> str:
    """The observation's part: its COG's sha256 and every field of its row that detection reads or copies."""
    scene = obs.scene
    provenance = {k: v for k, v in obs.provenance.items() if k not in _BOOKKEEPING}
    fields = [
        obs.id, obs.site_id, obs.path, obs.sha256, obs.grid.crs, list(obs.grid.transform), obs.grid.width,
        obs.grid.height, scene.id, scene.sensor, scene.resolution_m, scene.acquired.isoformat(), scene.simulated,
        provenance,
    ]  # fmt: skip
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


_FINGERPRINT_COLUMNS = (
    "observation_id", "site_id", "path", "sha256", "crs", "transform", "width", "height", "sensor", "acquired", "provenance",
    "scene_provider", "scene_collection", "scene_item_id", "scene_sensor", "scene_resolution_m", "scene_acquired",
    "scene_simulated",
)  # fmt: skip
"""The columns of a row of observations joined to its scene (``Store._observations_where``) that
:func:`observation_fingerprint` is made from, as stored."""


def row_digest(row: Any) -> str:
    """A digest of the stored columns an observation's fingerprint is made from: the same digest, the same
    fingerprint, so a run need not build the observation from its row (JSON, geometry, times) to know it is
    the one the last run detected in. A daily ``detect`` built every observation of the site's history (years
    of daily images: tens of thousands) to find the day's new one."""
    text = repr(tuple(row[c] for c in _FINGERPRINT_COLUMNS))
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


DetectState = dict[str, str]
"""Observation id → fingerprint of the observations whose stored detections are current."""

FileStat = tuple[int, int, int]
"""An archived file's size, modification time and status-change time (ns), as :func:`file_stat` reads them."""


def file_stat(path: str | Path) -> FileStat | None:
    """What tells, without reading it, that a file may have changed; None when it cannot be read."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _meta_key(site_id: str, sensor: str) -> str:
    return f"detect:{site_id}:{sensor}"


def _stored(store: Store, site_id: str, key: str, sensor: str) -> dict[str, Any] | None:
    """The state the last complete run under ``key`` kept for ``sensor``, parsed once; None when there is none
    under that key (one under another key is forgotten: a run it leaves half done cannot be mistaken for a
    complete run under the old key)."""
    raw = store.meta(_meta_key(site_id, sensor))
    if raw is None:
        return None
    try:
        state = json.loads(raw)
    except json.JSONDecodeError:
        state = {}
    if not isinstance(state, dict) or state.get("key") != key:
        store.set_meta(_meta_key(site_id, sensor), None)
        return None
    return state


def load_state(store: Store, site_id: str, key: str, sensor: str) -> DetectState:
    """The ``sensor`` observations detected under ``key`` by the last complete run; empty (and
    forgotten) otherwise."""
    return load_states(store, site_id, key, sensor)[0]


def load_states(store: Store, site_id: str, key: str, sensor: str) -> tuple[DetectState, dict[str, FileStat], dict[str, str]]:
    """What the last complete run under ``key`` kept for ``sensor``, its stored state read and parsed once
    (years of daily images make it tens of thousands of entries):

    - the observations it detected in (id → fingerprint), as :func:`load_state`;
    - id → :data:`FileStat` of each archived file whose sha256 it found right (empty for a state kept before
      sitewatch recorded them: each file is read once more);
    - id → :func:`row_digest` of the row each fingerprint was made from (empty for a state kept before
      sitewatch recorded them).
    """
    state = _stored(store, site_id, key, sensor)
    if state is None:
        return {}, {}, {}
    observations = state.get("observations")
    files = state.get("files")
    rows = state.get("rows")
    detected = {str(k): str(v) for k, v in observations.items()} if isinstance(observations, dict) else {}
    verified = {
        str(k): (int(v[0]), int(v[1]), int(v[2]))
        for k, v in files.items()
        if isinstance(v, list) and len(v) == 3 and all(isinstance(x, int) for x in v)
    } if isinstance(files, dict) else {}  # fmt: skip
    digests = {str(k): str(v) for k, v in rows.items()} if isinstance(rows, dict) else {}
    return detected, verified, digests


def save_state(
    store: Store, site_id: str, key: str, state: DetectState, sensor: str, files: Mapping[str, FileStat] | None = None,
    rows: Mapping[str, str] | None = None,
) -> None:
    """Keep the ``sensor`` observations whose detections are now current under ``key``, (``files``) the
    :data:`FileStat` of each one's archived file taken before its sha256 was found right, and (``rows``) the
    :func:`row_digest` of the row each fingerprint was made from."""
    doc: dict[str, Any] = {"key": key, "observations": state}
    if files:
        doc["files"] = {oid: list(st) for oid, st in files.items() if oid in state}
    if rows:
        doc["rows"] = {oid: d for oid, d in rows.items() if oid in state}
    store.set_meta(_meta_key(site_id, sensor), json.dumps(doc, sort_keys=True))


def older_detector_notes(store: Store, site_ids: Iterable[str] | None = None) -> list[str]:
    """A line for each site (of ``site_ids``; None: every site) some of whose stored detections were made by
    a detector version this sitewatch does not run (an earlier sitewatch's, before an upgrade, or a `detect`
    after the upgrade stopped midway): what the timeline, report, alerts, claims and evaluation rest on until
    ``sitewatch detect`` runs again, which the commands that read them did not say."""
    from .detect.versions import CURRENT_DETECTORS

    # Counted of the sites asked for only (`timeline SITE` in a port list's workspace reads one site's rows).
    wanted = None if site_ids is None else sorted(set(site_ids))
    if wanted == []:
        return []
    where = "" if wanted is None else f" WHERE site_id IN ({', '.join('?' * len(wanted))})"
    by_site: dict[str, dict[str, int]] = {}
    for row in store.execute(
        f"SELECT site_id, detector, detector_version, count(*) FROM detections{where} GROUP BY site_id, detector, detector_version",
        wanted or (),
    ):
        site, detector, version, n = str(row[0]), str(row[1]), str(row[2]), int(row[3])
        by_site.setdefault(site, {})[f"{detector} {version}"] = n
    current = {f"{d} {v}" for d, v in CURRENT_DETECTORS.items()}
    notes = []
    for site, made in sorted(by_site.items()):
        older = {k: n for k, n in made.items() if k not in current}
        if not older:
            continue
        total = sum(made.values())
        n_older = sum(older.values())
        which = "all" if n_older == total else f"{n_older} of the {total}"
        notes.append(
            f"{site}: {which} stored detections were made by a detector this sitewatch no longer runs "
            f"({', '.join(sorted(older))}; this one has {', '.join(sorted(current))}): what this command reads rests "
            f"on them until `sitewatch detect {site}` runs again (it detects in every observation after an upgrade)"
        )
    return notes


def warn_older_detections(store: Store, site_ids: Iterable[str] | None = None) -> None:
    """Log each of :func:`older_detector_notes` as a warning (on standard error; not under ``-q``)."""
    for note in older_detector_notes(store, site_ids):
        logging.getLogger("sitewatch.detection").warning("%s", note)
