"""``sitewatch show``: an observation and where it came from."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click

from ..model import acquired_label, iso_utc, utc
from ..untrusted import without_controls
from ..workspace import open_workspace
from .completers import complete_observation_ids
from .options import OnceCommand, handle_errors, json_option, workspace_option
from .output import echo_json, print_table

_ORDER = (
    "source", "catalog", "catalog_url", "collection", "item_id", "platform", "orbit", "acquired",
    "retrieved_at", "ingested_at", "source_path", "source_sha256", "source_size", "asset_hrefs", "conversions",
    "placement", "cloud_rule", "cloud_fraction_from", "site_valid_fraction", "site_cloud_fraction", "partial_failures",
    "sitewatch_version", "stac",
)  # fmt: skip


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return "\n".join(f"{k}: {v}" for k, v in value.items()) or "-"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "-"
    return str(value)


def _repeats(key: str, value: Any, summary: dict[str, Any], scene_id: str) -> bool:
    """Whether a provenance entry says what the summary already says."""
    if key == "scene_id":
        return bool(value == scene_id)
    if key not in summary:
        return False
    if key == "acquired":  # the database keeps milliseconds, the provenance what the source said
        try:
            return abs((utc(str(value)) - utc(str(summary[key]))).total_seconds()) < 1e-3
        except ValueError:
            return False
    return _text(value) == _text(summary[key])


@click.command("show", cls=OnceCommand, short_help="Print an observation's provenance.")
@click.argument("observation_id", shell_complete=complete_observation_ids)
@click.option("--item", "show_item", is_flag=True, help="Print the STAC item JSON (or the file's metadata) only.")
@workspace_option
@json_option
@handle_errors
def command(observation_id: str, show_item: bool, workspace: Path, as_json: bool) -> None:
    """Print OBSERVATION_ID (SITE/ITEM) with its provenance: catalogue, item, hrefs, times, hash, version."""
    ws = open_workspace(workspace)
    with ws.store() as store:
        obs = store.get_observation(observation_id)
    prov = dict(obs.provenance)
    if show_item:
        metadata = ws.root / str(prov.get("metadata") or "")
        if not prov.get("stac_item") and prov.get("metadata") and metadata.is_file():
            # An imported file's provider metadata (Planet XML/JSON, Maxar XML/IMD), archived as delivered;
            # the archived file keeps every byte, the terminal gets none of its control characters.
            click.echo(without_controls(metadata.read_text(encoding="utf-8", errors="replace")).rstrip("\n"))
            return
        echo_json(prov.get("stac_item") or prov.get("tags") or {}, indent=1)
        return
    summary = {
        "id": obs.id,
        "site": obs.site_id,
        "scene": obs.scene.id,
        "sensor": obs.scene.sensor,
        "acquired": iso_utc(obs.scene.acquired),
        # True: only the date is known, "acquired" is its 12:00 UTC (assumed), not the time of the image.
        "acquired_date_only": obs.acquired_date_only,
        "platform": obs.scene.platform,
        "resolution_m": obs.scene.resolution_m,
        "path": obs.path,
        "sha256": obs.sha256,
        "valid_fraction": obs.valid_fraction,
        "cloud_fraction": obs.cloud_fraction,
        "grid": {"crs": obs.grid.crs, "width": obs.grid.width, "height": obs.grid.height,
                 "transform": list(obs.grid.transform)},  # fmt: skip
        "simulated": obs.scene.simulated,
    }
    if as_json:
        if isinstance(prov.get("acquired"), str):
            # Observations ingested by earlier versions say +00:00; --json writes every time with Z.
            with contextlib.suppress(ValueError):
                prov["acquired"] = iso_utc(utc(prov["acquired"]))
        echo_json(summary | {"provenance": prov}, indent=1, default=str)
        return
    from rich.table import Table

    table = Table(title=f"observation {obs.id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for key, value in summary.items():
        if key == "acquired_date_only":  # the table says it in its "acquired" row
            continue
        table.add_row(key, acquired_label(obs) if key == "acquired" and obs.acquired_date_only else _text(value))
    keys = [k for k in _ORDER if k in prov] + sorted(k for k in prov if k not in _ORDER and k != "stac_item")
    # The provenance repeats some of the summary's fields (as written into the COG): print them once.
    keys = [k for k in keys if not _repeats(k, prov[k], summary, obs.scene.id)]
    for key in keys:
        table.add_row(key, _text(prov[key]))
    if "stac_item" in prov:
        table.add_row("stac_item", "(use --item or --json to print it)")
    # As wide as the terminal (it was 120 columns at least, which an 80-column terminal broke mid-id); too narrow
    # for a value's longest word (a sha256), a line "field: value" a field.
    print_table(table, id_header="value")
