"""Which of this process's file descriptors are open on a file (Linux's /proc), for tests that a refused
input is left closed: an open file cannot be renamed over or removed on Windows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc/self/fd (Linux)")


def open_files() -> dict[str, str]:
    """This process's open descriptors and what each is open on (an unnamed temporary file ends " (deleted)")."""
    found = {}
    for fd in os.listdir("/proc/self/fd"):
        try:
            found[fd] = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed while listed (the listing's own descriptor)
            continue
    return found


def open_on(path: Path) -> list[str]:
    """The descriptors of this process open on ``path`` (SQLite's journal files beside it included)."""
    target = str(path.resolve())
    return [fd for fd, link in open_files().items() if link.startswith(target)]
