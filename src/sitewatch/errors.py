"""One error hierarchy for sitewatch.

Every class is also a builtin exception, so callers that only know Python's
own exceptions still catch them (``InputError`` is a ``ValueError``...). The
CLI turns them into ``click.ClickException`` at its edge, nowhere else.
"""

from __future__ import annotations

import re

__all__ = [
    "STALL_LOGGER",
    "SitewatchError",
    "ConfigError",
    "InputError",
    "IdTakenError",
    "SameAcquisitionError",
    "ImageReadError",
    "OutputError",
    "SiteError",
    "StoreError",
    "StoreReadOnlyError",
    "StoreUnavailableError",
    "ObservationGoneError",
    "WorkerError",
    "SourceError",
    "CredentialError",
    "MissingExtraError",
    "LandMaskError",
    "SitewatchWarning",
    "SkippedInputWarning",
    "UncalibratedWarning",
    "RefusedFeatureWarning",
    "RenamedSiteWarning",
    "Level1CWarning",
    "read_failure",
]


class SitewatchError(Exception):
    """Base of every error sitewatch raises on purpose."""


class ConfigError(SitewatchError, ValueError):
    """A setting (flag, environment variable or sitewatch.toml) is invalid."""


class InputError(SitewatchError, ValueError):
    """A user-supplied input (file, scenario, argument) is malformed."""


class IdTakenError(InputError):
    """The id an input's observation was to get was recorded for another image by another command (a team
    member's ingest at the same moment) after it was chosen: the input is skipped, and a rerun names it apart."""


class SameAcquisitionError(InputError):
    """An input is the same acquisition as an observation its site holds from another file (another order or
    product of the scene, a COG copy): it is not recorded as a second look, which would count its vessels twice. Nor is
    a byte-identical copy of the held image's file that lacks what described it (a Maxar ``.IMD``, a UDM2) recorded in
    its place."""


class ImageReadError(SitewatchError, OSError):
    """An image file could not be read or has no usable georeference."""


class OutputError(SitewatchError, OSError):
    """A file sitewatch was asked to write cannot be written (read-only folder, full disk)."""


class SiteError(SitewatchError, KeyError):
    """A site is unknown or its geometry is invalid."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0]) if self.args else ""


class StoreError(SitewatchError, RuntimeError):
    """The workspace database is missing, locked or from a newer sitewatch."""


class ObservationGoneError(StoreError):
    """An observation a result rests on was removed (``observations remove``, ``sites remove --with-observations``)
    or replaced while the result was computed: nothing of the result is recorded."""


class StoreReadOnlyError(StoreError):
    """The workspace database may be read but not written: a read-only file, folder or disk (a team's shared
    mount, a colleague's workspace). Commands that only read work on it; one that would also record something
    says what to pass instead."""


class StoreUnavailableError(StoreError):
    """The store's server cannot be reached at the moment (stopped, restarting, refusing connections or
    with too many clients, the connection lost midway): the same request may succeed later, unlike a wrong
    password or a damaged file. ``location`` is the store (its URL, password masked), ``reason`` the
    driver's words, for callers that say what to do in their own terms (the dashboard's 503)."""

    def __init__(self, message: str, *, location: str, reason: str) -> None:
        super().__init__(message)
        self.location = location
        self.reason = reason


class WorkerError(SitewatchError, RuntimeError):
    """A worker process ended before it returned its job's result (killed, out of memory), or the Dask
    scheduler the jobs ran on went away or stopped answering."""


class SourceError(SitewatchError, OSError):
    """An imagery source (STAC API, folder) failed."""


class CredentialError(SourceError, PermissionError):
    """A catalogue refused access; the message names the missing credential."""


class LandMaskError(SitewatchError, OSError):
    """The land mask that distances by sea are routed on cannot be read (a damaged install); the message names the file."""


class MissingExtraError(SitewatchError, ImportError):
    """An optional dependency is not installed; the message says which extra to install."""


STALL_LOGGER = "sitewatch.stalled"
"""The logger of a command stalled by something outside it (a database another program holds locked, a Dask
scheduler no worker has joined): its warnings are shown even under ``-q``, where a silent wait looks like a hang."""


class SitewatchWarning(UserWarning):
    """Base of sitewatch's warnings."""


class SkippedInputWarning(SitewatchWarning):
    """One input was skipped (unreadable, empty over the site); the others proceed."""


class RefusedFeatureWarning(SitewatchWarning):
    """One feature of a sites file was refused (named, with why); the others were imported."""


class Level1CWarning(SitewatchWarning):
    """An optical file whose name says Sentinel-2 Level-1C (top-of-atmosphere): ingested, since change
    compares such pairs, but the vessel detector was trained on Level-2A."""


class UncalibratedWarning(SitewatchWarning):
    """A Maxar file of counts read without the calibration its ``.IMD`` gives (no ``.IMD`` beside it, one
    without the figures, a satellite without published solar irradiance): by its values' range, as before,
    so darker than its true reflectance."""


class RenamedSiteWarning(SitewatchWarning):
    """An imported site got a suffixed id because its name was missing or already taken."""


def require_extra(module: str, extra: str) -> None:
    """Import ``module`` or raise MissingExtraError telling which extra to install."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"this needs the optional package {module!r}: install it with "
            f"`pip install 'sitewatch[{extra}]'`"
        ) from exc


def read_failure(exc: BaseException) -> str:
    """Why GDAL could not open or read a file, and what to do when the file is damaged: rasterio's own message
    on a failed read is "Read failed. See previous exception for details.", which names neither the damage
    nor a way out, so the exception under it is given, with a word to fetch or copy the file again when it
    reads as cut short."""
    reason = str(exc.__cause__ or exc) if "previous exception" in str(exc) else str(exc)
    if not re.search(r"Read failed|IReadBlock|TIFFRead|short read|truncat|cut short|Premature end", f"{exc} {reason}", re.I):
        return reason
    return f"{reason}; the file is damaged or cut short (an unfinished download or copy?): fetch or copy it again"


NO_ROOM_TO_LOAD = re.compile(r"failed to map segment from shared object|cannot allocate memory", re.I)
"""The loader's words for a library it had no address space to map (a compiled module of scipy, pyproj…): an
ImportError that is the machine's memory, not the installation."""
