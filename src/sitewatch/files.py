"""Writing output files whole or not at all."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import shutil
import socket
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .errors import InputError, OutputError

__all__ = [
    "broken_links_apart",
    "is_file",
    "owner_of",
    "owner_running",
    "partial_owner",
    "partial_path",
    "remove_stale_partials",
    "sha256_file",
    "why_not_written",
    "write_text_atomic",
    "write_texts_atomic",
    "written_whole",
]

NO_SPACE = os.strerror(errno.ENOSPC)
"""The system's words for a full disk ("No space left on device"), said for GDAL's write errors on one too."""

_FULL_BELOW = 1 << 20
"""Free bytes under which the disk a write failed on counts as full: a write that ran out of room leaves
less than one of its blocks (at most a few hundred kB: a tile, a page) unused."""


def is_file(path: Path) -> bool:
    """Whether ``path`` is a file, False too for a name no file can have: a sidecar looked for beside an
    input (``NAME_metadata.json``) is longer than its name, and past 255 bytes ``Path.is_file`` raises
    "File name too long" rather than saying no."""
    try:
        return path.is_file()
    except OSError:
        return False


def partial_path(final: Path, owner: str | None = None) -> Path:
    """Where a file is written before it is renamed into place: a hidden name beside its final one.

    The name holds its owner, the command that renames it into place or removes it
    (:func:`partial_owner`; by default this process), and a random part: two commands writing the
    same file at once each write their own, neither removes the other's
    (:func:`sitewatch.ingest.remove_partials`), and two workers that both ran one job (a Dask
    worker thought lost and its job run again elsewhere) never write into one file.
    """
    return final.with_name(f".{final.name}.{owner or partial_owner()}-{secrets.token_hex(3)}.partial")


def partial_owner() -> str:
    """This process as the owner of partial files: ``PID-HOST``, its id and a digest of its machine's
    name (six hex digits, so that a name cut to fit stays under 255 bytes), which :func:`owner_of`
    reads back. Dask workers on other machines write the files of a command under its name."""
    return f"{os.getpid()}-{_host_id(socket.gethostname())}"


def owner_of(partial: Path) -> tuple[int, bool] | None:
    """The process id of a partial file's owner, and whether it runs on this machine (only then can
    its id be looked up); None for a name that holds no process id."""
    tag = partial.name[: partial.name.rindex(".partial")].rpartition(".")[2]
    pid, _, rest = tag.partition("-")
    if not pid.isdigit():
        return None
    # A name of an earlier sitewatch holds the id alone: a worker process's, on this machine.
    host = rest.partition("-")[0] if rest else _host_id(socket.gethostname())
    return int(pid), host == _host_id(socket.gethostname())


def owner_running(partial: Path) -> bool:
    """Whether the command that owns a partial file (:func:`owner_of`) is another one, still running, or one on
    another machine, which cannot be looked up from here (its own next run removes the file once it has gone)."""
    owner = owner_of(partial)
    if owner is None:
        return False
    pid, here = owner
    if not here:
        return True
    if os.name == "nt" or pid == os.getpid():
        return False  # (Windows: os.kill would end the process, not test it)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def remove_stale_partials(final: Path) -> int:
    """Delete the partial files (:func:`partial_path`) of ``final`` that a command killed while it wrote them
    (SIGKILL, out of memory, a power cut) left beside it, and SQLite's journal of one (a GeoPackage export); those
    of a command writing ``final`` at this moment (:func:`owner_running`), or of this process, are left alone.

    Called before each write of ``final``: a rerun of the killed command leaves only the file it wrote, where
    the killed run's ``.NAME.PID-HOST-XXXXXX.partial`` otherwise stayed beside it for ever. The number removed.
    """
    pattern = re.compile(rf"\.{re.escape(final.name)}\.\d+(?:-[0-9a-f]{{6}}){{1,2}}\.partial(?:-journal|-wal|-shm)?")
    prefix = f".{final.name}."
    try:  # (names compared as strings first: a folder of 10,000 chips' outputs is listed at each write)
        with os.scandir(final.parent) as entries:
            candidates = [final.parent / e.name for e in entries if e.name.startswith(prefix) and pattern.fullmatch(e.name)]
    except OSError:  # no folder yet, or one that cannot be listed: the write that follows says so
        return 0
    n = 0
    for p in candidates:
        partial = p.with_name(p.name.partition(".partial")[0] + ".partial")
        if owner_of(partial) == (os.getpid(), True) or owner_running(partial):
            continue
        try:
            p.unlink()
            n += 1
        except OSError:  # gone meanwhile, or a read-only folder (the write that follows names it)
            continue
    return n


def _host_id(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:6]


def why_not_written(exc: BaseException, path: Path | str, size: int = 0) -> str:
    """Why writing ``path`` failed, in words to act on: the system's (``No space left on device``,
    ``Permission denied``) where the error has them. GDAL's write errors have none: a full disk is
    "TIFFAppendToStrip:Write error at scanline 1024", or a seek error, with libtiff's own line on
    standard error the only one to say why. So where the disk holding ``path`` has less room left than
    1 MiB, or than the ``size`` the file was to take (GDAL's COG driver removes its temporary files
    before it raises, giving their room back), that is the reason; GDAL's words otherwise, and for the errors a
    full disk never raises (out of memory, an option not supported) whatever the room. Call it before
    the partial file is removed, which frees the room it took."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if not _never_full_disk(exc) and _room_left(Path(path)) < max(_FULL_BELOW, size):
        return NO_SPACE
    return str(exc.__cause__ or exc)


_NOT_WRITE_ERRORS = frozenset(
    {"CPLE_OutOfMemoryError", "CPLE_IllegalArgError", "CPLE_NotSupportedError", "CPLE_AssertionFailedError",
     "CPLE_UserInterruptError", "CPLE_NoWriteAccessError"}
)  # fmt: skip
"""GDAL's errors (rasterio's classes, by name) that a full disk never raises: out of memory, an option or type the
driver does not take, no right to write. Said in GDAL's words whatever room is left: with a large image the room
test alone called them a full disk, and freeing room changed nothing."""


def _never_full_disk(exc: BaseException) -> bool:
    """Whether ``exc``, or the GDAL error it was raised from, is of a kind a full disk does not raise."""
    return any(type(e).__name__ in _NOT_WRITE_ERRORS for e in (exc, exc.__cause__, exc.__context__) if e is not None)


def _room_left(path: Path) -> int:
    """Free bytes on the disk holding ``path`` (the nearest folder of it that exists); the most there
    can be when that cannot be told."""
    for folder in (path, *path.parents):
        try:
            return shutil.disk_usage(folder).free
        except OSError:
            continue
    return 1 << 62


def write_text_atomic(path: Path | str, text: str | bytes, *, make_folder: bool = True) -> Path:
    """Write ``text`` (UTF-8) or bytes to ``path`` whole or not at all: a temporary file renamed into place.

    A device or pipe (``/dev/stdout``, a FIFO) is written into instead: renaming a file over
    it would replace it. ``make_folder`` makes missing parent folders; without it a missing
    folder is an :class:`InputError`. A file that cannot be written (read-only folder, full
    disk) is an :class:`OutputError` naming it, and leaves nothing behind. A file that holds these bytes already (an
    export or a report written again with nothing new) is left as it is, its inode and times with it, so that a
    backup or ``rsync`` of the folder finds nothing to copy; one replaced keeps its permissions (``chmod 600``).
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
        remove_stale_partials(path)
        if _holds(path, data):
            return path
        tmp = partial_path(path)
        try:
            tmp.write_bytes(data)
            _keep_mode(path, tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk or Ctrl-C leaves no half file behind
            raise
    except OSError as exc:
        raise OutputError(f"{path}: cannot write it ({exc.strerror or exc})") from exc
    return path


def write_texts_atomic(files: Sequence[tuple[Path, str | bytes]]) -> list[Path]:
    """Write several files that belong together (a CSV and the ``.csvt`` of its types) as :func:`write_text_atomic`
    writes one, and all of them or none: the files there before stay as they were and no new one is left alone.

    Each is written to its partial file first, in order; then they are renamed into place last first, the old bytes
    of each one replaced kept (a hard link, else a copy) until all are in place: the first file (the CSV) is the one
    an error about its folder names, and the last renamed (a command killed between two renames leaves the old CSV
    beside its new ``.csvt``, which types the same columns). A failure at any point (a full disk,
    a folder where a file should go, Ctrl-C) puts back those already replaced, removes those that were not there
    and every partial file, and is an :class:`OutputError` naming the file that failed. A file that holds its
    bytes already is left as it is. A device or pipe among them is written into, each in turn: nothing to undo.
    """
    items = [(Path(p), t if isinstance(t, bytes) else t.encode("utf-8")) for p, t in files]
    if any(p.exists() and not p.is_file() and not p.is_dir() for p, _ in items):
        return [write_text_atomic(p, data) for p, data in items]
    partials: list[tuple[Path, Path]] = []
    replaced: list[tuple[Path, Path | None]] = []  # each file renamed into place, and its old bytes' copy (None: new)
    current = items[0][0] if items else Path()
    try:
        for path, data in items:
            current = path
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_partials(path)
            if _holds(path, data):
                continue
            tmp = partial_path(path)
            partials.append((path, tmp))
            tmp.write_bytes(data)
            _keep_mode(path, tmp)
        for path, tmp in reversed(partials):
            current = path
            old = _old_kept(path)
            try:
                os.replace(tmp, path)
            except BaseException:
                if old is not None:
                    old.unlink(missing_ok=True)
                raise
            replaced.append((path, old))
    except BaseException as exc:
        _put_back(replaced)
        for _, tmp in partials:
            tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise OutputError(f"{current}: cannot write it ({exc.strerror or exc})") from exc
        raise
    for _, old in replaced:
        if old is not None:
            old.unlink(missing_ok=True)
    return [p for p, _ in items]


def _old_kept(path: Path) -> Path | None:
    """A partial-named copy of the file at ``path`` (a hard link, else a copy), for :func:`_put_back`; None when
    there is no file there."""
    if not path.is_file():
        return None
    old = partial_path(path)
    try:
        os.link(path, old)
    except OSError:  # a filesystem without hard links (FAT, some SMB shares)
        shutil.copy2(path, old)
    return old


def _put_back(replaced: Sequence[tuple[Path, Path | None]]) -> None:
    """Undo the renames of :func:`write_texts_atomic` (last first): each old file back in place, a new one removed."""
    for path, old in reversed(replaced):
        try:
            if old is None:
                path.unlink(missing_ok=True)
            else:
                os.replace(old, path)
        except OSError:  # as much as can be put back is; the error that led here is the one to say
            continue


def _keep_mode(path: Path, tmp: Path) -> None:
    """Give ``tmp`` the permissions of the file at ``path`` it replaces: an export made private (``chmod 600``) written
    again with new rows became readable by every user (the new file's were the umask's), though written again with
    the same bytes it stayed private (left as it is). Not on Windows: its mode is the read-only flag alone (access is
    the folder's ACLs, which the new file inherits), and a read-only partial file could not be removed after a failure."""
    if os.name == "nt":
        return
    try:
        mode = path.stat().st_mode
    except OSError:  # none there yet (or a dangling link): the new file's own
        return
    if stat.S_ISREG(mode):
        os.chmod(tmp, stat.S_IMODE(mode))


def _holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a file of ``data``'s bytes (read only when its size is theirs)."""
    try:
        if not path.is_file() or path.stat().st_size != len(data):
            return False
        return path.read_bytes() == data
    except OSError:
        return False


@contextmanager
def written_whole(path: Path, failures: tuple[type[Exception], ...] = ()) -> Iterator[Path]:
    """A partial name beside ``path`` (:func:`partial_path`) for the block to write a file (a database) at,
    renamed over ``path`` when the block ends: a rerun replaces the file, and a failure leaves nothing behind.

    An :class:`OSError` (a read-only folder, a full disk), or one of ``failures`` raised in the block (a
    store's own error), is an :class:`OutputError` naming ``path``; Ctrl-C removes the partial file too.
    """
    tmp = partial_path(path)
    caught: tuple[type[Exception], ...] = (OSError, *failures)
    try:
        remove_stale_partials(path)
        tmp.unlink(missing_ok=True)
        yield tmp
        os.replace(tmp, path)
    except caught as exc:
        # Its own message would name the partial file (or "the workspace database"): the cause says why,
        # told while the partial file still takes its room on a disk that filled.
        reason = why_not_written(exc, tmp)
        tmp.unlink(missing_ok=True)
        raise OutputError(f"{path}: cannot write it ({reason})") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def broken_links_apart(files: Sequence[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """``files`` without the symlinks among them that lead to no file, and (link, reason) for each of those.

    A folder given to ingest, import or detect-image may hold links to imagery on another disk: one whose
    disk is not mounted, or whose file moved (a dangling link), or one that leads back to itself (a loop), is
    named as such and skipped, and the others go on (a loop raised a traceback from ``Path.resolve``, a
    dangling link was said to be "not found where the job ran" as if a Dask worker had missed it, and
    detect-image left both out of the folder's images without a word).
    """
    kept: list[Path] = []
    broken: list[tuple[Path, str]] = []
    for f in files:
        try:
            f.stat()
        except OSError as exc:
            if not f.is_symlink():
                kept.append(f)  # the job names what is wrong with it
            elif exc.errno == errno.ELOOP:
                broken.append((f, f"{f}: a symlink loop (it leads back to itself, through {os.readlink(f)}); nothing read"))
            else:
                broken.append((f, (
                    f"{f}: a symlink to {os.readlink(f)}, which does not exist (a disk not mounted, or the file "
                    "moved or renamed): mount the disk or point the link at the file again"
                )))  # fmt: skip
            continue
        kept.append(f)
    return kept, broken


def sha256_file(path: Path) -> str:
    """sha256 of a file; of a folder (a SAFE product), over each file's relative path and sha256."""
    if Path(path).is_dir():
        h = hashlib.sha256()
        for f in sorted(q for q in Path(path).rglob("*") if q.is_file()):
            h.update(f"{f.relative_to(path).as_posix()}\0{sha256_file(f)}\n".encode())
        return h.hexdigest()
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
