"""A workspace is a folder: ``sitewatch.toml``, ``sitewatch.gpkg`` and the ``archive/`` of COGs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import CONFIG_FILE, SETTINGS, load_settings
from .errors import StoreError
from .store import Store

__all__ = ["Workspace", "init_workspace", "open_workspace", "DB_FILE", "ARCHIVE_DIR"]

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

    @property
    def db_path(self) -> Path:
        return self.root / DB_FILE

    @property
    def archive(self) -> Path:
        return self.root / ARCHIVE_DIR

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    def store(self) -> Store:
        """Open the workspace database (migrating it if an older sitewatch made it)."""
        return Store(self.db_path)

    def settings(self, flags: dict[str, Any] | None = None) -> dict[str, Any]:
        return load_settings(self.root, flags)


def init_workspace(root: Path) -> Workspace:
    """Make ``root`` a workspace; an existing one is left as it is (its database is migrated)."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise StoreError(f"{root}: exists and is not a folder")
    if (root / CONFIG_FILE).exists():
        # A sitewatch.toml already there is checked before anything is made: a typo in it
        # would fail every later command of a workspace that init had called ready.
        check_toml(root)
    ws = Workspace(root)
    if ws.db_path.exists():
        # So is a database already there (not SQLite, a folder, from a newer sitewatch).
        ws.store().close()
    try:
        root.mkdir(parents=True, exist_ok=True)
        if not ws.config_path.exists():
            tmp = ws.config_path.with_suffix(".toml.tmp")
            tmp.write_text(_default_toml())
            tmp.replace(ws.config_path)
        ws.archive.mkdir(exist_ok=True)
    except OSError as exc:  # a file where a folder goes, a read-only or missing place
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(root) else ""
        raise StoreError(f"{root}: cannot make a workspace there: {exc.strerror or exc}{where}") from exc
    ws.store().close()
    return ws


def open_workspace(root: Path) -> Workspace:
    """An existing workspace, or a StoreError telling how to make one."""
    ws = Workspace(Path(root))
    if not ws.root.exists():  # a mistyped -w or SITEWATCH_WORKSPACE: not a folder to run init in
        raise StoreError(
            f"workspace folder {ws.root.resolve()} does not exist; check --workspace / SITEWATCH_WORKSPACE, "
            "or make one with `sitewatch init DIR`"
        )
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
