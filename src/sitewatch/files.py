"""Writing output files whole or not at all."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError, OutputError

__all__ = ["partial_path", "write_text_atomic"]


def partial_path(final: Path) -> Path:
    """Where a file is written before it is renamed into place: a hidden name beside its final one,
    with the id of the process writing it, so that two commands writing the same file at once each
    write their own, and neither removes the other's (:func:`sitewatch.ingest.remove_partials`)."""
    return final.with_name(f".{final.name}.{os.getpid()}.partial")


def write_text_atomic(path: Path | str, text: str | bytes, *, make_folder: bool = True) -> Path:
    """Write ``text`` (UTF-8) or bytes to ``path`` whole or not at all: a temporary file renamed into place.

    A device or pipe (``/dev/stdout``, a FIFO) is written into instead: renaming a file over
    it would replace it. ``make_folder`` makes missing parent folders; without it a missing
    folder is an :class:`InputError`. A file that cannot be written (read-only folder, full
    disk) is an :class:`OutputError` naming it, and leaves nothing behind.
    """
    path = Path(path)
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    folder = path.parent
    if not make_folder and not folder.is_dir():
        raise InputError(f"{path}: folder {folder} does not exist")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if path.exists() and not path.is_file() and not path.is_dir():
            with path.open("wb") as f:
                f.write(data)
            return path
        tmp = partial_path(path)
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk or Ctrl-C leaves no half file behind
            raise
    except OSError as exc:
        raise OutputError(f"{path}: cannot write it ({exc.strerror or exc})") from exc
    return path
