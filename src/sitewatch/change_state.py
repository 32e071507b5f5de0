"""What a stored change pair was compared from, so that ``change`` run again skips the pairs whose inputs
have not changed.

A pair's regions depend on

- both observations: their rows as :func:`~sitewatch.detection_state.observation_fingerprint` reads them (id,
  archived path and its sha256, grid, scene, sensor, resolution, acquisition time, provenance but for when it came
  in), and their archived files still holding that sha256;
- the site's polygon (the comparison's area; its water polygon and berths are not read by ``change``);
- the settings: ``min_area_m2``, ``cover_classes``, ``learned``, ``with_detections``, and ``shadow_twins`` for a
  pair the shadow-twin test reads (an optical pair without a cloud mask whose dates share a visible band:
  ``change_stage._twins_apply``; False for another);
- unless ``with_detections``, the footprints of the vessels and cranes stored for either observation (their
  pixels are left out: a ``detect`` that finds other ones changes the pair);
- the code: every source and data file of the package, as ``detect``'s key hashes them (the change methods and
  their versions, the learned models' weights, the cloud masks), so a new sitewatch compares every pair again.

:func:`pair_inputs` makes one digest of them, which :func:`~sitewatch.store.changes.replace_changes` stores with
the pair's regions (``change_pairs.inputs``) in the same transaction: the record cannot say a pair rests on
inputs other than those its regions were found from, and a pair removed (its site, an observation) takes its
record with it. A pair is skipped only when its stored digest is the one its inputs give now and both archived
files still have their sha256.

That check reads a file whole only when it may have changed, as ``detect``'s does: the size, modification and
status-change times (:func:`~sitewatch.detection_state.file_stat`) each file had when its sha256 was last found
right are kept in ``sitewatch_meta`` under ``change-files:<site id>``, and a file that still has them (with the
same sha256 on record) is not read again. A lost or stale entry only makes the file read once more.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from shapely.geometry.base import BaseGeometry

from .detection_state import FileStat, _code_hash, file_stat, observation_fingerprint
from .ingest.identity import sha256_file
from .model import Observation, Site
from .store import Store

__all__ = ["FileCheck", "pair_inputs", "stored_inputs"]


def pair_inputs(
    site: Site, before: Observation, after: Observation, settings: Mapping[str, Any],
    masked: Iterable[BaseGeometry] | None,
) -> str:  # fmt: skip
    """The digest of what the pair's regions rest on (module docstring); ``masked``: the footprints left out
    (None: none are, ``with_detections``)."""
    footprints = None if masked is None else sorted(g.wkb_hex for g in masked)
    doc = {
        "code": _code_hash(),
        "site": site.require_geometry().wkb_hex,
        "before": observation_fingerprint(before),
        "after": observation_fingerprint(after),
        "settings": dict(settings),
        "masked": footprints,
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def stored_inputs(store: Store, site_id: str) -> dict[tuple[str, str], str]:
    """(before id, after id) → the inputs digest stored with each of the site's pairs that has one (a pair stored
    by a sitewatch before schema 15 has none)."""
    rows = store.execute("SELECT before_id, after_id, inputs FROM change_pairs WHERE site_id = ? AND inputs IS NOT NULL",
                         (site_id,))  # fmt: skip
    return {(str(r[0]), str(r[1])): str(r[2]) for r in rows}


def _meta_key(site_id: str) -> str:
    return f"change-files:{site_id}"


class FileCheck:
    """Whether archived files still hold the sha256 on record, each read whole only when its size or times are
    not those it had when last found right (kept per site in ``sitewatch_meta``: :meth:`save`)."""

    def __init__(self, store: Store, site_id: str, root: Path, *, forget: bool = False) -> None:
        """The entries the last run kept for ``site_id`` (none with ``forget``: every file is read)."""
        self._store, self._site_id, self._root = store, site_id, root
        self._known: dict[str, tuple[FileStat, str]] = {} if forget else self._load()
        self._seen: dict[str, bool] = {}
        self._changed = False

    def _load(self) -> dict[str, tuple[FileStat, str]]:
        raw = self._store.meta(_meta_key(self._site_id))
        try:
            doc = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            doc = {}
        known: dict[str, tuple[FileStat, str]] = {}
        for oid, v in doc.items() if isinstance(doc, dict) else ():
            if isinstance(v, list) and len(v) == 4 and all(isinstance(x, int) for x in v[:3]) and isinstance(v[3], str):
                known[str(oid)] = ((v[0], v[1], v[2]), v[3])
        return known

    def unchanged(self, obs: Observation) -> bool:
        """Whether ``obs``'s archived file is there with the sha256 on record."""
        if obs.id in self._seen:
            return self._seen[obs.id]
        path = self._root / obs.path
        stat = file_stat(path)  # taken before the file is read: a file written after that has other times
        ok = stat is not None and self._known.get(obs.id) == (stat, obs.sha256)
        if stat is not None and not ok:
            try:
                ok = sha256_file(path) == obs.sha256
            except OSError:
                ok = False
            if ok:
                self._known[obs.id] = (stat, obs.sha256)
                self._changed = True
        self._seen[obs.id] = ok
        return ok

    def save(self, keep: Iterable[str]) -> None:
        """Keep the entries of the observations ``keep`` (those of the site now) for the next run."""
        wanted = set(keep)
        doc = {oid: [*st, sha] for oid, (st, sha) in sorted(self._known.items()) if oid in wanted}
        if self._changed or len(doc) != len(self._known):
            self._store.set_meta(_meta_key(self._site_id), json.dumps(doc, sort_keys=True) if doc else None)
