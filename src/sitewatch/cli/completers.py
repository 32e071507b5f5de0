"""Values the shell completes from the workspace: site ids and observation ids.

Each is a click ``shell_complete`` callback. It reads the workspace the command would use
(``-w`` given before the word, else ``SITEWATCH_WORKSPACE``, else the current folder) and must
never get in the shell's way: it opens the GeoPackage read-only with plain ``sqlite3`` (no
migration, no file made, a short busy timeout), runs one query, and on anything unexpected —
no workspace, a bad sitewatch.toml, a locked or older database — completes nothing rather
than print an error or a traceback into the command line being typed. A PostGIS team store is
not asked at all: libpq waits at least 2 s for a server that does not answer, longer than a
Tab may take.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import click
from click.shell_completion import CompletionItem

from ..config import WORKSPACE_ENV, workspace_setting
from ..workspace import DB_FILE
from .options import COMPLETED_ARGS

__all__ = ["complete_site_ids", "complete_observation_ids", "workspace_ids"]

BUSY_TIMEOUT_S = 0.2
"""How long completion waits on a database another command holds locked before it completes nothing."""

_QUERIES = {
    "site": "SELECT site_id FROM sites WHERE substr(site_id, 1, ?) = ? ORDER BY site_id",
    "observation": "SELECT observation_id FROM observations WHERE substr(observation_id, 1, ?) = ? ORDER BY observation_id",
}


def _workspace(ctx: click.Context) -> Path:
    """The workspace folder the command being typed would use."""
    value = ctx.params.get("workspace")
    if value is None:
        value = os.environ.get(WORKSPACE_ENV) or "."
    return Path(value).expanduser()


def workspace_ids(root: Path, kind: str, prefix: str = "") -> list[str]:
    """The ids of ``kind`` (``site`` or ``observation``) starting with ``prefix`` in the workspace at ``root``;
    none when there is no workspace, its store is PostGIS, or its database cannot be read as it is now."""
    # Its package is imported by every command that takes an id already: no cost to a Tab.
    from ..store.schema import SCHEMA_VERSION

    try:
        if str(workspace_setting("store", root)).strip():
            return []
        db = root / DB_FILE
        if not db.is_file():
            return []
        # mode=ro: SQLite refuses any write on this connection and never creates a missing file.
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
    except Exception:  # noqa: BLE001 - a Tab must never print an error: no value to offer is the answer
        return []
    try:
        rows = conn.execute(
            f"SELECT (SELECT value FROM sitewatch_meta WHERE key = 'schema_version'), ids.* FROM ({_QUERIES[kind]}) ids",
            (len(prefix), prefix),
        ).fetchall()
    except Exception:  # noqa: BLE001 - locked, older (no such column), not a database: complete nothing
        return []
    finally:
        conn.close()
    # A database of another schema would be migrated by the command itself; completion neither migrates
    # it nor trusts what an older layout holds.
    if not rows or str(rows[0][0]) != str(SCHEMA_VERSION):
        return []
    return [str(r[1]) for r in rows]


def complete_site_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """``shell_complete`` of a SITE argument or ``--site`` option: the workspace's site ids."""
    return _items(ctx, param, "site", incomplete)


def complete_observation_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """``shell_complete`` of an OBSERVATION_ID argument or option: the workspace's observation ids (SITE/ITEM);
    after a command's SITE_ID (``change SITE --before``), that site's alone."""
    items = _items(ctx, param, "observation", incomplete)
    site = _one_site(ctx.params)
    given = ctx.meta.get(COMPLETED_ARGS)
    if site is None and given:
        # Completing an option's value (`change SITE --before <Tab>`), click's parse stopped at that option,
        # which awaits the value, before reading SITE: read the words before it alone.
        try:
            with ctx.command.make_context(ctx.info_name, given[:-1], parent=ctx.parent, resilient_parsing=True) as again:
                site = _one_site(again.params)
        except Exception:  # noqa: BLE001 - a Tab prints no error: then every site's observations
            site = None
    if isinstance(site, str) and site:
        items = [i for i in items if i.value.startswith(f"{site}/")]
    return items


def _one_site(params: dict[str, Any]) -> Any:
    """The SITE a command was given: its SITE_ID, or the one SITE of a command that takes several (``change``)."""
    several = params.get("site_ids")
    return several[0] if isinstance(several, tuple) and len(several) == 1 else params.get("site_id")


def _items(ctx: click.Context, param: click.Parameter, kind: str, incomplete: str) -> list[CompletionItem]:
    ids = workspace_ids(_workspace(ctx), kind, incomplete)
    given: Any = ctx.params.get(param.name or "") if param.multiple or param.nargs == -1 else None
    # SITE... already typed once need not be offered again.
    taken = set(given or ())
    return [CompletionItem(i) for i in ids if i not in taken]
