"""Removing observations from a workspace: their rows (and what rests on them), then their archived files."""

from __future__ import annotations

import os
import posixpath
import stat
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..model import Observation
from ..store import Store
from ..workspace import ARCHIVE_DIR, Workspace

__all__ = [
    "UNRECORDED_MIN_AGE_S", "Removal", "observation_files", "plan_removal", "remove_observations", "remove_unrecorded",
    "unrecorded_marker",
]  # fmt: skip

UNRECORDED_MIN_AGE_S = 600.0
"""Seconds since a file in a site's archive folder last changed (written, or renamed into place) before
:func:`remove_unrecorded` takes it for one no command will record: beside the site lock it is taken under, a margin
for a file a command is putting there by another way than :func:`~sitewatch.ingest.archive.commit_archived`."""


_MARKER_SUFFIX = ".unrecorded"


def unrecorded_marker(path: Path) -> Path:
    """The hidden file beside an archive file that says a command is between moving it into place and committing its
    row (:func:`~sitewatch.ingest.archive.commit_archived`), or between committing its row's removal and deleting it
    (:func:`remove_observations`). A command killed in between leaves it, and :func:`remove_unrecorded` deletes only
    the files such a marker names: a file no row names and none marks is another database's (a workspace switched
    with ``init --store URL --replace``, or ``SITEWATCH_STORE``, whose COGs share the archive folder), and stays."""
    return path.with_name(f".{path.name}{_MARKER_SUFFIX}")


def _unmark(markers: Sequence[Path]) -> None:
    for marker in markers:
        try:
            marker.unlink(missing_ok=True)
        except OSError:
            pass  # (a read-only archive: the marker stays, harmless)


@dataclass(frozen=True)
class Removal:
    """What removing some observations takes away (or took away)."""

    observations: tuple[Observation, ...]
    """The observations, oldest first."""
    detections: int
    """Their detections."""
    change_pairs: int
    """The pairs ``sitewatch change`` compared of which one of them is the before or the after image."""
    changes: int
    """The change regions of those pairs."""
    files: tuple[Path, ...]
    """Their archived files (the COGs and the sidecars beside them) that no other observation names."""


def observation_files(ws: Workspace, obs: Observation) -> list[Path]:
    """The files in the archive that are an observation's: its COG and the sidecars archived beside it (a
    simulated scene's truth, a provider's metadata, a fetched item's STAC JSON, named after the COG)."""
    cog = ws.root / obs.path
    files = [cog]
    for value in obs.provenance.values():
        # Sidecars are recorded by their path in the workspace; the input's own path (absolute) is never one.
        if isinstance(value, str) and value and not Path(value).is_absolute():
            path = ws.root / value
            if path.parent == cog.parent and path.name.startswith(cog.stem + ".") and path not in files:
                files.append(path)
    return files


def _cogs_kept(store: Store, gone: Sequence[Observation]) -> set[str]:
    """The COG paths of ``gone`` that another observation names too (one file recorded under two ids): those
    stay, with the sidecars beside them, which are named after the COG. Only the ``path`` column of those rows is
    read, not a site's years of observations."""
    ids, paths = {o.id for o in gone}, sorted({o.path for o in gone})
    kept: set[str] = set()
    for start in range(0, len(paths), 500):
        part = paths[start:start + 500]
        rows = store.execute(f"SELECT observation_id, path FROM observations WHERE path IN ({', '.join('?' * len(part))})", part)
        kept |= {r[1] for r in rows if r[0] not in ids}
    return kept


def _files(ws: Workspace, gone: Sequence[Observation], kept: set[str]) -> tuple[Path, ...]:
    """The files of ``gone`` to delete: those of each whose COG is not in ``kept``."""
    return tuple(dict.fromkeys(f for o in gone if o.path not in kept for f in observation_files(ws, o)))


def plan_removal(ws: Workspace, store: Store, observation_ids: Sequence[str]) -> Removal:
    """What :func:`remove_observations` would remove, nothing removed; a StoreError naming the ids unknown."""
    from ..errors import StoreError

    ids = list(dict.fromkeys(observation_ids))
    held = store.observations_by_id(ids)
    if missing := [i for i in ids if i not in {o.id for o in held}]:
        raise StoreError(
            f"no observation {', '.join(repr(i) for i in missing)} in this workspace; nothing removed "
            "(list them with `sitewatch observations [SITE]`)"
        )
    counts = store.observation_dependents(ids)
    files = _files(ws, held, _cogs_kept(store, held))
    return Removal(tuple(held), counts["detections"], counts["change_pairs"], counts["changes"], files)


def remove_observations(ws: Workspace, store: Store, observation_ids: Sequence[str]) -> tuple[Removal, list[tuple[Path, str]]]:
    """Remove observations, their detections, the change pairs and regions resting on them and the scenes only they
    named (one transaction), then their archived files no other observation names; return what went and the
    files that could not be deleted (each with the reason).

    The files go after the commit: a run stopped between the two leaves a file no row names, never a row naming
    a missing file. Nothing is removed when an id is unknown (a StoreError names it)."""
    plan = plan_removal(ws, store, observation_ids)
    marked = [unrecorded_marker(f) for f in plan.files]
    for marker in marked:  # before the commit: a kill after it leaves the files marked for the next sweep
        try:
            marker.touch()
        except OSError:
            pass
    with store.transaction():
        removed = store.delete_observations([o.id for o in plan.observations])
        # Looked at again in the transaction: an observation recorded meanwhile may name a file too.
        files = _files(ws, removed, _cogs_kept(store, removed))
    failed = []
    for path in files:
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            failed.append((path, exc.strerror or str(exc)))
    _unmark([m for m in marked if m not in {unrecorded_marker(p) for p, _ in failed}])
    return Removal(tuple(removed), plan.detections, plan.change_pairs, plan.changes, files), failed


def _recorded_stems(store: Store, site_id: str) -> set[str]:
    """The stems of the COGs in a site's archive folder that an observation names (the site's, or another's whose
    path lies there: one file under two ids), in lower case. Only the ``path`` column is read, not a site's years of
    provenance. A row is taken to name a file of the folder whenever its path ends in ``SITE/NAME``, however it is
    written: relative (``archive/SITE/NAME.tif``, the usual), with ``./`` or ``//``, absolute (this workspace's folder
    or its link's target, or another's it was moved from), with ``\\`` or in other case (a Windows or macOS member's,
    on a disk that ignores case): the file is kept, the safe side."""
    # (lower(path) LIKE: a row of another site naming a file here in other case or by an absolute path is read too;
    # the '_' of an id matches any character, more rows read, none missed)
    rows = store.execute("SELECT path FROM observations WHERE site_id = ? OR lower(path) LIKE ?", (site_id, f"%{site_id}%"))
    usual, folder = f"{ARCHIVE_DIR}/{site_id}/", site_id.casefold()
    stems: set[str] = set()
    for r in rows:
        # (plain strings: a Path a row is thousands of objects a run for a site of years)
        path = str(r[0])
        name = path[len(usual):]
        if not path.startswith(usual) or "/" in name or "\\" in name:  # (the usual form read as it is)
            parts = posixpath.normpath(path.replace("\\", "/")).casefold().split("/")
            if len(parts) < 2 or parts[-2] != folder:
                continue
            name = parts[-1]
        stems.add((name.rpartition(".")[0] or name).casefold())
    return stems


def _named(name: str, stems: set[str]) -> bool:
    """Whether the file ``name`` is a recorded COG (``STEM.tif``) or a sidecar archived beside one, named after it
    (``STEM.stac.json``, ``STEM.truth.geojson``: :func:`observation_files`), in any case; a sidecar of a recorded COG
    that its row does not name is kept too, which is the safe side."""
    name = name.casefold()
    return name in stems or any(name[:i] in stems for i, c in enumerate(name) if c == ".")


def _in_workspace(ws: Workspace, folder: Path) -> bool:
    """Whether ``folder``, every link followed, lies inside the workspace's folder (every link followed too: a
    workspace opened through a link is its own still)."""
    return Path(os.path.realpath(folder)).is_relative_to(os.path.realpath(ws.root))


def _left_alone_since(path: Path, now: float, min_age_s: float) -> bool:
    """Whether ``path`` is a regular file (not a link) unchanged for ``min_age_s``: its content (mtime) and its
    name (ctime: a rename into place changes it, while the COG keeps the mtime of its writing)."""
    try:
        st = path.lstat()
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and now - max(st.st_mtime, st.st_ctime) >= min_age_s


def remove_unrecorded(ws: Workspace, store: Store, site_id: str, *, min_age_s: float | None = None) -> list[Path]:
    """Delete the files in a site's archive folder that a killed command left and no observation names; return
    those deleted.

    A command killed (SIGKILL, out of memory) between a COG's rename into place and the commit of its row
    (:func:`~sitewatch.ingest.archive.commit_archived`), or between ``observations remove``'s commit and its deletes,
    leaves a COG (or sidecar) no row names, and its :func:`unrecorded_marker`: the next fetch or ingest of that item
    writes over it, but one never fetched again stayed. Such a file goes once it has been left alone for
    ``min_age_s`` (:data:`UNRECORDED_MIN_AGE_S`), and only under the site's lock, in a write transaction: a COG
    another command is moving into place is renamed under that lock and recorded before it is let go, so no file is
    between its rename and its row then. A file no marker names is never deleted, even when no row names it: it is
    another database's (a workspace switched with ``init --store URL --replace``, whose COGs stay beside the new
    one's). A marker whose file a row names, or which names no file, is removed once as old. The folder is listed
    first, outside any transaction: with no marker (the usual case) no row is read and no lock is taken. Nothing is
    removed when the folder is reached through a symlink out of the workspace (``archive/`` or the site's folder on
    another disk): a copy of the workspace (``cp -a`` copies the link) writes into the same folder, its COGs recorded
    in its own database, under its own lock, and on a network disk whose clock runs behind a file it is committing
    would look 10 minutes old."""
    min_age_s = UNRECORDED_MIN_AGE_S if min_age_s is None else min_age_s
    folder = ws.archive / site_id
    try:
        with os.scandir(folder) as entries:
            markers = [e.name for e in entries if e.name.startswith(".") and e.name.endswith(_MARKER_SUFFIX)]
    except (FileNotFoundError, NotADirectoryError):
        return []
    if not markers or not _in_workspace(ws, folder):
        return []
    marked = {folder / m[1 : -len(_MARKER_SUFFIX)]: folder / m for m in markers}
    removed: list[Path] = []
    with store.transaction() as db:
        store._lock(db, f"site {site_id}")  # as commit_archived takes it: no other command's COG is mid-commit now
        stems = _recorded_stems(store, site_id)
        done: list[Path] = []
        for path, marker in marked.items():
            now = time.time()
            if not _named(path.name, stems) and _left_alone_since(path, now, min_age_s):
                try:
                    path.unlink()
                except OSError:
                    continue  # (a read-only archive: the fetch or ingest that follows names the problem)
                removed.append(path)
                done.append(marker)
            elif (_named(path.name, stems) or not path.exists()) and _left_alone_since(marker, now, min_age_s):
                done.append(marker)  # its command was done, or its file never came
        _unmark(done)
    return removed
