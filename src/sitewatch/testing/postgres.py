"""A throwaway PostgreSQL cluster for the PostGIS store's tests (and a developer's try-out).

``python -m sitewatch.testing.postgres start DIR`` makes a cluster in DIR with ``initdb`` (run as the
``postgres`` user when this is root, as PostgreSQL refuses to run as root), starts it listening on a
unix socket in DIR only (no TCP port: nothing else on the machine can reach it) and prints its URL;
``… stop DIR`` stops it. The tests' fixture does the same in a temporary folder when
``SITEWATCH_TEST_POSTGRES=auto``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..config import TEST_POSTGRES_ENV

__all__ = ["PG_BIN_DIRS", "find_pg_bin", "start_cluster", "stop_cluster", "restart_cluster", "TEST_ENV"]

TEST_ENV = TEST_POSTGRES_ENV
"""The variable the PostGIS tests read: a ``postgresql://`` URL of a server whose user may create
databases, or ``auto`` for a throwaway cluster made by :func:`start_cluster`."""

PG_BIN_DIRS = tuple(f"/usr/lib/postgresql/{v}/bin" for v in (17, 16, 15, 14))
"""Where Debian and Ubuntu install the server's programs (``initdb``, ``pg_ctl``)."""

PASSWORD_ROLE = "sitewatch_pw"
"""The role the throwaway cluster asks a password of (all others are trusted on its socket)."""

PORT = 54329
"""The socket's number (its file is ``.s.PGSQL.54329`` in the cluster's folder); no TCP port is opened."""


def find_pg_bin() -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl``: PATH first, then Debian's places."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    for d in PG_BIN_DIRS:
        if (Path(d) / "initdb").exists():
            return Path(d)
    return None


def _run(args: list[str], folder: Path) -> None:
    """Run a server program, as ``postgres`` when this is root."""
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        args = ["runuser", "-u", "postgres", "--", *args]
    done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, encoding="locale")
    if done.returncode:
        # initdb as postgres fails when a folder above this one is closed to it (mode 0700, as mkdtemp makes)
        raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")


def start_cluster(folder: Path, *, durable: bool = False) -> str:
    """Make and start a cluster in ``folder`` (which must be empty or missing); its URL.

    Not ``durable`` (the tests'): fsync off, a commit does not wait for the disk. ``durable`` (the
    benchmark's): PostgreSQL's defaults, every commit flushed as a real server's is."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise FileNotFoundError("no initdb: install PostgreSQL (Debian: apt-get install postgresql postgresql-15-postgis-3)")
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "data"
    _run([str(pg_bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"], folder)
    # One role signs in with a password (the wrong-password test's); everyone else is trusted on the socket.
    hba = data / "pg_hba.conf"
    hba.write_text(f"local all {PASSWORD_ROLE} scram-sha-256\n" + hba.read_text(encoding="utf-8"), encoding="utf-8")
    return restart_cluster(folder, durable=durable)


def restart_cluster(folder: Path, *, durable: bool = False) -> str:
    """Start again the cluster :func:`start_cluster` made in ``folder`` and :func:`stop_cluster` stopped (its
    databases as they were: a server back after a restart); its URL."""
    pg_bin = find_pg_bin()
    if pg_bin is None:
        raise FileNotFoundError("no pg_ctl: install PostgreSQL (Debian: apt-get install postgresql postgresql-15-postgis-3)")
    folder = Path(folder).resolve()
    options = f"-c listen_addresses='' -k {folder} -p {PORT}" + ("" if durable else " -c fsync=off -c full_page_writes=off")
    _run([str(pg_bin / "pg_ctl"), "-D", str(folder / "data"), "-o", options, "-l", str(folder / "log"), "-w", "start"], folder)
    return f"postgresql://postgres@/postgres?host={folder}&port={PORT}"


def stop_cluster(folder: Path) -> None:
    """Stop the cluster :func:`start_cluster` started in ``folder`` (its files stay, for the caller to remove)."""
    pg_bin = find_pg_bin()
    data = Path(folder).resolve() / "data"
    if pg_bin is not None and (data / "postmaster.pid").exists():
        _run([str(pg_bin / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], Path(folder).resolve())


def main(argv: list[str]) -> int:
    """``start DIR`` (prints the URL) or ``stop DIR``."""
    if len(argv) != 2 or argv[0] not in {"start", "stop"}:
        print("usage: python -m sitewatch.testing.postgres start|stop DIR", file=sys.stderr)
        return 2
    try:
        if argv[0] == "start":
            print(start_cluster(Path(argv[1])))
        else:
            stop_cluster(Path(argv[1]))
    except (OSError, RuntimeError) as exc:  # no initdb, a cluster already in DIR, a folder closed to postgres
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
