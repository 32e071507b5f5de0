"""A workspace is a folder: ``sitewatch.toml``, ``sitewatch.gpkg`` and the ``archive/`` of COGs.

With the ``store`` setting a ``postgresql://`` URL, the database is a PostGIS team store instead of
``sitewatch.gpkg``; the folder still holds the settings and the archive, whose COGs the store records
by their path relative to the folder (``archive/SITE/….tif``), so every member of the team and every
Dask worker that sees the folder (at any mount point) finds them.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import CONFIG_FILE, SETTINGS, load_settings, setting_origin, workspace_setting
from .errors import StoreError
from .files import partial_path, remove_stale_partials
from .store import Store, is_store_url, mask_url, open_store

__all__ = ["Workspace", "init_workspace", "open_workspace", "set_store_setting", "DB_FILE", "ARCHIVE_DIR"]

DB_FILE = "sitewatch.gpkg"
ARCHIVE_DIR = "archive"


def _default_toml() -> str:
    lines = [
        "# sitewatch workspace settings. Precedence: command-line flag > SITEWATCH_* env > this file > default.",
        "[settings]",
    ]
    for s in SETTINGS:
        lines.append(f"# {s.help}")
        if s.default is None:
            lines.append(f"# {s.name} = ...")
            continue
        value = f'"{s.default}"' if isinstance(s.default, str) else repr(s.default)
        lines.append(f"# {s.name} = {value}")
    lines += [
        "",
        "# STAC catalogues beyond the built-in ones (earth-search, planetary-computer, cdse):",
        "# [catalogs.mine]",
        '# url = "https://example.org/stac/v1"',
        "",
    ]
    return "\n".join(lines)


@dataclass(frozen=True)
class Workspace:
    """Paths of one workspace and access to its store and settings."""

    root: Path
    store_setting: str | None = None
    """The database: a ``postgresql://`` URL, or empty for the folder's ``sitewatch.gpkg``; None (the
    default) reads the ``store`` setting (``SITEWATCH_STORE`` > sitewatch.toml)."""
    store_origin: str = ""
    """Where ``store_setting`` came from (``--store``), for an error reaching it; the setting's own place
    (``SITEWATCH_STORE``, the store setting in sitewatch.toml) when it is read."""

    def __post_init__(self) -> None:
        # Workspace("ws") from a script: every path below is built with "/", which a str does not have. A "~"
        # the shell left alone (SITEWATCH_WORKSPACE="~/ws" quoted in a script or an env file) is the home folder,
        # not a folder named "~" in the current one (which `init` made, and every other command then missed).
        object.__setattr__(self, "root", Path(self.root).expanduser())

    @property
    def store_url(self) -> str:
        """The PostGIS store's URL, or "" when the database is the folder's GeoPackage."""
        value = self.store_setting if self.store_setting is not None else workspace_setting("store", self.root)
        return str(value).strip()

    @property
    def store_label(self) -> str:
        """Where the database is, for messages: the GeoPackage's name or the URL with its password masked."""
        url = self.store_url
        return mask_url(url) if url else DB_FILE

    @property
    def db_path(self) -> Path:
        """The folder's GeoPackage, ``sitewatch.gpkg`` (used when no PostGIS ``store`` is set)."""
        return self.root / DB_FILE

    @property
    def archive(self) -> Path:
        """The archive folder, ``archive/``: a subfolder per site of its observations' COGs."""
        return self.root / ARCHIVE_DIR

    @property
    def config_path(self) -> Path:
        """The workspace's ``sitewatch.toml``."""
        return self.root / CONFIG_FILE

    def archive_link_broken(self) -> str | None:
        """Why ``archive/`` cannot be written when it is a symlink that leads nowhere (the disk holding the
        imagery not mounted, or moved), in words to act on; None otherwise. Writing into it said only
        "File exists: archive"."""
        if not self.archive.is_symlink() or self.archive.exists():
            return None
        return (
            f"{self.archive} is a symlink to {os.readlink(self.archive)}, which does not exist (the disk holding the "
            "archive not mounted, or moved?): mount it, or point the link at the archive's place"
        )

    @property
    def store_url_origin(self) -> str:
        """Where :attr:`store_url` came from, in words for a message: ``SITEWATCH_STORE``, ``the store setting in
        FILE`` or :attr:`store_origin`; "" when none is known."""
        if self.store_setting is not None:
            return self.store_origin
        where = setting_origin("store", self.root)
        if where.endswith("[settings] store"):
            return f"the store setting in {self.config_path}"
        return where if where != "store" else ""

    def store(self, *, read_only: bool = False, create: bool = False) -> Store:
        """Open the workspace database (migrating it if an older sitewatch made it). A PostGIS database without
        sitewatch's tables is refused unless ``create`` (``init``'s). An error reaching a PostGIS store names where
        its URL came from."""
        url = self.store_url
        if not url:
            return open_store(self.db_path, read_only=read_only, create=create)
        return open_store(url, read_only=read_only, create=create, origin=self.store_url_origin)

    def settings(self, flags: dict[str, Any] | None = None, names: Iterable[str] | None = None) -> dict[str, Any]:
        """The settings ``names`` (None: every one) for this workspace: ``flags`` (a None value: unset) > env >
        sitewatch.toml > default. Only their ``SITEWATCH_*`` variables are read: a command names the settings it
        uses, so that a bad value of another one does not stop it."""
        return load_settings(self.root, flags, names=names)


def init_workspace(root: Path, store: str | None = None, *, replace: bool = False) -> Workspace:
    """Make ``root`` a workspace; an existing one is left as it is (its database is migrated).

    ``store``: a ``postgresql://`` URL of the PostGIS team store, written to sitewatch.toml without any
    password in it; None keeps the ``store`` setting there is (default: the folder's sitewatch.gpkg).
    A workspace whose database is another one is refused unless ``replace`` (see :func:`_refuse_switch`).
    """
    root = Path(root).expanduser()
    if store is not None and store.strip() and not is_store_url(store):
        raise StoreError(f"--store must be a postgresql://user@host/dbname URL, got {mask_url(store)!r}")
    if root.exists() and not root.is_dir():
        raise StoreError(f"{root}: exists and is not a folder")
    if (root / CONFIG_FILE).exists():
        # A sitewatch.toml already there is checked before anything is made: a typo in it
        # would fail every later command of a workspace that init had called ready.
        check_toml(root)
        if store is not None and not replace:
            _refuse_switch(root, store)
    ws = Workspace(root, store_setting=store, store_origin="--store")
    given_store = bool(store and store.strip())
    if given_store:
        # The PostGIS store given is reached (and its tables made) before the folder is touched: a
        # server down or a wrong password leaves nothing made, as an error's exit code 1 says.
        ws.store(create=True).close()
    elif ws.db_path.exists() and not ws.store_url:
        # So is a database already there (not SQLite, a folder, from a newer sitewatch).
        ws.store().close()
    try:
        root.mkdir(parents=True, exist_ok=True)
        if not ws.config_path.exists():
            _write_whole(ws.config_path, _default_toml())
        else:  # the settings' partial file of a command killed as it wrote them (before they were there, or since)
            remove_stale_partials(ws.config_path)
        if store is not None:
            set_store_setting(root, store.strip())
        ws.archive.mkdir(exist_ok=True)
    except OSError as exc:  # a file where a folder goes, a read-only or missing place
        if (broken := ws.archive_link_broken()) is not None:
            raise StoreError(f"{root}: cannot make a workspace there: {broken}") from exc
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(root) else ""
        raise StoreError(f"{root}: cannot make a workspace there: {exc.strerror or exc}{where}") from exc
    if not given_store:
        new_db = not ws.store_url and not ws.db_path.exists()
        try:
            ws.store(create=True).close()  # the folder's GeoPackage (or SITEWATCH_STORE's store), the folder now there
        except StoreError:
            if new_db:
                # A disk that filled while the GeoPackage was made (its tables, a migration at a time): no database
                # half made stays behind for a later command to take for a workspace; init again makes it whole.
                for made in (ws.db_path, ws.db_path.with_name(f"{DB_FILE}-journal")):
                    made.unlink(missing_ok=True)
            raise
    return ws


def _refuse_switch(root: Path, store: str) -> None:
    """Refuse to point a workspace at ``store`` while its sitewatch.toml names another PostGIS store, or its
    sitewatch.gpkg holds rows: the COGs the new database records could overwrite files the old one names."""
    from .store.postgis import same_database, url_without_password

    def same(url: str) -> str:
        return url_without_password(url) if url else ""

    current = str(load_settings(root, env={})["store"] or "").strip()  # the file's: SITEWATCH_STORE is not init's
    if same(current) == same(store.strip()):
        return
    if current and store.strip() and same_database(current, store):
        _refuse_another_role(root, current, store.strip())
        return
    ws = Workspace(root, store_setting=current, store_origin=f"the store setting in {root / CONFIG_FILE}")
    if not current:
        if not ws.db_path.exists():
            return
        with open_store(ws.db_path) as old:
            if not any(old.counts().values()):
                return  # a new, empty GeoPackage: nothing of it to lose sight of
    new = mask_url(store.strip()) if store.strip() else DB_FILE
    # (a command to copy, never with ***, its ? and & quoted for the shell)
    target = shlex.quote(url_without_password(store.strip())) if store.strip() else DB_FILE
    raise StoreError(
        f"{root}: this workspace's database is {ws.store_label}, not {new}; switching it would have the new database's "
        f"COGs written into {ws.archive.name}/ beside (and over) those {ws.store_label} still names. To move the "
        f"database there, run `sitewatch store copy --to {target} --use`; to switch anyway (nothing copied or deleted), "
        "pass --replace"
    )


def _refuse_another_role(root: Path, current: str, store: str) -> None:
    """Refuse to make a folder's every command sign in as the role ``store`` names when its sitewatch.toml names
    the same database as another role: in a folder the team shares (its archive), the second member's `init`
    would have the first's commands sign in as the second. A URL naming no role is taken (each member then
    signs in as their own)."""
    from .store.postgis import url_role, url_without_password, url_without_role

    new_role, old_role = url_role(store), url_role(current)
    if not new_role or new_role == old_role:
        return  # the same database, as everyone's own role or the same one: nothing changes hands
    shared = shlex.quote(url_without_role(store))  # (a URL's ? and & quoted for the shell)
    as_old = f"as role '{old_role}'" if old_role else "as each member's own role"
    raise StoreError(
        f"{root}: this workspace's sitewatch.toml names the same database {as_old} ({mask_url(current)}); "
        f"writing {mask_url(store)} would have every command run in this folder sign in as role '{new_role}'. "
        f"In a folder the team shares, name the database without a role, once: `sitewatch init {root} --store "
        f"{shared}` (each member then signs in as their own role: PGUSER, else the login name, the "
        f"password in ~/.pgpass); or keep the file as it is and set SITEWATCH_STORE={shlex.quote(url_without_password(store))} "
        "in your own environment; --replace writes it anyway"
    )


def set_store_setting(root: Path, url: str) -> None:
    """Set ``store`` in the ``[settings]`` of the workspace's sitewatch.toml (its other lines kept), without the
    URL's password; "" takes it out (the database is then the folder's sitewatch.gpkg)."""
    from .store.postgis import url_without_password

    path = Path(root) / CONFIG_FILE
    line = f"store = {json.dumps(url_without_password(url))}" if url else ""
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    kept = [x for x in lines if not re.match(r"\s*store\s*=", x)]
    at = next((i for i, x in enumerate(kept) if x.strip() == "[settings]"), None)
    if at is None:
        kept[:0] = ["[settings]"]
        at = 0
    if line:
        kept.insert(at + 1, line)
    if kept == lines:
        return  # as it was (the demo's own GeoPackage workspace, run again)
    _write_whole(path, "\n".join(kept) + "\n")


def _write_whole(path: Path, text: str) -> None:
    """Write sitewatch.toml by way of a partial file beside it of this process's own, removed when the write fails
    (a full disk): the settings are the old file or the new one, and no half-written partial file stays behind.
    The name is the process's own because two `init` of one folder at once both wrote "sitewatch.toml.tmp", and
    the second to rename it found it gone ("cannot make a workspace there: No such file or directory")."""
    remove_stale_partials(path)  # (that of a command killed as it wrote it: SIGKILL, out of memory)
    tmp = partial_path(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def open_workspace(root: Path) -> Workspace:
    """An existing workspace, or a StoreError telling how to make one."""
    ws = Workspace(Path(root))
    if not ws.root.exists():  # a mistyped -w or SITEWATCH_WORKSPACE: not a folder to run init in
        raise StoreError(
            f"workspace folder {ws.root.resolve()} does not exist; check --workspace / SITEWATCH_WORKSPACE, "
            "or make one with `sitewatch init DIR`"
        )
    if ws.store_url:  # the database is a PostGIS store: the folder (settings, archive) must be a workspace
        if not ws.config_path.exists():
            raise StoreError(
                f"{ws.root.resolve()} is not a sitewatch workspace (no {CONFIG_FILE}); run "
                f"`sitewatch init --store URL` there, or pass --workspace DIR / set SITEWATCH_WORKSPACE"
            )
        check_toml(ws.root)
        return ws
    if not ws.db_path.exists():
        raise StoreError(
            f"{ws.root.resolve()} is not a sitewatch workspace (no {DB_FILE}); "
            "run `sitewatch init` there, or pass --workspace DIR / set SITEWATCH_WORKSPACE"
        )
    # A typo in sitewatch.toml fails every command, not only some. The environment is checked
    # where a command reads its settings, with its flags: a flag overrides a bad SITEWATCH_* value.
    check_toml(ws.root)
    return ws


def check_toml(root: Path) -> None:
    """Check a workspace's sitewatch.toml whole: its ``[settings]`` and its ``[catalogs.NAME]``
    tables (which only ``search`` and ``fetch`` read), with ``catalog`` naming a catalogue."""
    from .sources.stac import check_catalogs

    settings = load_settings(root, env={})
    check_catalogs(root, settings["catalog"])
