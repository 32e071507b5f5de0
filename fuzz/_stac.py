"""What ``sitewatch fetch`` does with each item a STAC search gives, for the harnesses of a STAC API's answers and
of a catalogue on disk: one body, so both fuzz the same reading."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def read_as_fetch(items: Iterable[dict[str, Any]], catalog: Any) -> None:
    """Each item made a scene, and the scaling of each of its bands read, as fetch reads them."""
    # Imported when called: each harness has imported these under atheris's instrumentation by then.
    from sitewatch.sources.stac import asset_scaling, item_to_scene, profile_for

    for item in items:
        try:
            scene = item_to_scene(item, catalog)
        except KeyError:
            continue  # fetch leaves such an item out, naming it (find_scenes)
        profile = profile_for(scene.collection, item.get("properties") or {})
        assets = item.get("assets") or {}
        for band, keys in profile.bands.items():
            key = next((k for k in keys if k in assets), None)
            if key is not None:
                asset_scaling(profile, band, item.get("properties") or {}, assets[key])
