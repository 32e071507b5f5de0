"""Whether each archived image is still the file that came in: its sha256 read now against the one recorded at
ingest (the observation's ``sha256``), for the chain of custody of evidence that cites it.

Reads the files and nothing else: no row is written, no detection dropped (``detect`` drops those of an image
that changed; this says so first, and leaves the workspace as it found it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .files import sha256_file
from .model import Observation, iso_utc

__all__ = ["ImageCheck", "ImageStatus", "check_archive", "check_image"]

ImageStatus = Literal["unchanged", "altered", "missing", "unreadable"]
"""What became of an archived image since ingest: the same bytes, other bytes, no file there, or a file that
cannot be read (a folder in its place, no permission)."""


@dataclass(frozen=True)
class ImageCheck:
    """One observation's archived image checked against the sha256 recorded when it came in."""

    observation_id: str
    """The observation (``SITE/ITEM``) whose image this is."""
    site_id: str
    """Its site."""
    acquired: str
    """When the image was taken (ISO 8601, UTC, ``Z``)."""
    image: str
    """The archived file as recorded (relative to the workspace folder)."""
    recorded_sha256: str
    """The sha256 recorded at ingest."""
    sha256: str | None
    """The sha256 read now; None when the file is missing or unreadable."""
    status: ImageStatus
    """``unchanged`` when the two digests are one, else what is wrong."""
    ingested_at: str | None
    """When it came in, as its provenance says (None when it does not)."""
    reason: str = ""
    """Why an unreadable file could not be read (the system's words); for a missing file whose folder is not
    there either, that it is not (the archive not mounted, rather than an image deleted); empty otherwise."""
    acquired_date_only: bool = False
    """Only the image's date is known: :attr:`acquired` is its 12:00 UTC, assumed (as ``observations --json`` says)."""
    simulated: bool = False
    """The simulator's imagery (as every other file of an evidence package says)."""

    def __post_init__(self) -> None:
        if (self.status == "unchanged") != (self.sha256 == self.recorded_sha256):
            raise ValueError(f"{self.observation_id}: status {self.status!r} does not fit the digests")

    def as_json(self) -> dict[str, Any]:
        """The check as ``sitewatch verify --json`` prints it."""
        return {
            "observation_id": self.observation_id,
            "site_id": self.site_id,
            "acquired": self.acquired,
            "acquired_date_only": self.acquired_date_only,
            "simulated": self.simulated,
            "image": self.image,
            "status": self.status,
            "recorded_sha256": self.recorded_sha256,
            "sha256": self.sha256,
            "ingested_at": self.ingested_at,
            "reason": self.reason,
        }

    def line(self) -> str:
        """One line saying what is wrong (for an image not unchanged)."""
        when = f" at ingest on {self.ingested_at}" if self.ingested_at else " at ingest"
        if self.status == "altered":
            return (f"{self.observation_id}: ALTERED: {self.image} has sha256 {self.sha256}, not the "
                    f"{self.recorded_sha256} recorded{when}")  # fmt: skip
        if self.status == "missing":
            why = f"; {self.reason}" if self.reason else ""
            return (f"{self.observation_id}: MISSING: {self.image} is not there{why} (its sha256{when}: "
                    f"{self.recorded_sha256})")  # fmt: skip
        if self.status == "unreadable":
            return f"{self.observation_id}: UNREADABLE: {self.image} cannot be read ({self.reason})"
        return f"{self.observation_id}: unchanged: {self.image} sha256 {self.sha256}"


def _ingested_at(provenance: Mapping[str, Any]) -> str | None:
    value = provenance.get("ingested_at")
    return str(value) if value else None


def check_image(root: Path, obs: Observation) -> ImageCheck:
    """``obs``'s archived image (its ``path`` under the workspace folder ``root``) read whole and checked
    against the sha256 recorded for it."""
    def done(status: ImageStatus, sha256: str | None, reason: str = "") -> ImageCheck:
        return ImageCheck(obs.id, obs.site_id, iso_utc(obs.scene.acquired), obs.path, obs.sha256, sha256, status,
                          _ingested_at(obs.provenance), reason, obs.acquired_date_only, obs.scene.simulated)  # fmt: skip

    path = Path(root) / obs.path
    if not path.exists() and not path.is_symlink():
        # No folder either: an archive on a disk not mounted, not an image deleted (detect refuses to run so).
        folder = Path(obs.path).parent
        return done("missing", None, "" if path.parent.is_dir() else f"its folder {folder.as_posix()} is not there either")
    if not path.is_file():  # a folder, a device, a dangling link in its place: no image file
        return done("unreadable", None, "not a file" if path.exists() else "a link to nothing")
    try:
        digest = sha256_file(path)
    except OSError as exc:
        return done("unreadable", None, exc.strerror or type(exc).__name__)
    return done("unchanged" if digest == obs.sha256 else "altered", digest)


def check_archive(root: Path, observations: Iterable[Observation],
                  progress: Callable[[int, int, str], None] | None = None) -> list[ImageCheck]:  # fmt: skip
    """Each observation's archived image checked (:func:`check_image`), in the order given."""
    todo = list(observations)
    checks = []
    for i, obs in enumerate(todo, 1):
        checks.append(check_image(root, obs))
        if progress:
            progress(i, len(todo), obs.id)
    return checks
