"""An operating-system lock on a file: a turn that other processes wait for, released when its holder ends.

What a SQLite store takes for a long step that must not overlap itself but must not keep the database's other
writers out either (:meth:`sitewatch.store.Store.turn`): SQLite's own lock is the whole file's.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["held_file_lock"]


@contextmanager
def held_file_lock(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (made when missing, and left there: removing it would let a third
    process lock a new file while a second waits on the old one) for the block, waiting as long as another
    process holds it; ``on_wait()`` is called once when it has to wait. The lock goes with its process, so a
    command killed in the block never leaves it held. An :class:`OSError` when the file cannot be opened."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        if not _try_lock(fd):
            if on_wait is not None:
                on_wait()
            _lock(fd)
        try:
            yield
        finally:
            _unlock(fd)
    finally:
        os.close(fd)


if sys.platform == "win32":  # pragma: no cover (not run: see README, Set up)
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _lock(fd: int) -> None:
        while not _try_lock(fd):  # LK_LOCK gives up after 10 s; this waits as the POSIX flock does
            time.sleep(0.1)

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _lock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
