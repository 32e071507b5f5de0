"""A date alone in a GeoTIFF tag or a sidecar, and in the archive's own tag: 12:00 UTC, flagged.

A ``SITEWATCH_ACQUIRED=2023-08-21`` tag or a STAC item's ``"datetime": "2023-08-21"`` was read as
midnight UTC with nothing saying the time was not given, a day early on the timeline of a site west
of Greenwich; an archived COG of an image known by its date carried the assumed noon as a time, so
importing it elsewhere made it a timed 12:00 UTC acquisition.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from sitewatch.analysis import TimelineParams, load_timeline
from sitewatch.cli import main
from sitewatch.ingest import _acquired_from, acquired_from_xml
from sitewatch.model import DATE_ONLY_NOTE, NoonOfDate
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff

NOON = datetime(2023, 8, 21, 12, tzinfo=UTC)
SITE = tiny_site()


def _chip(path: Path, tags: dict[str, str] | None = None) -> Path:
    """A one-band SAR chip covering ``SITE``."""
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.random.default_rng(3).gamma(4.0, 0.01, (1, 280, 240)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_tiff(path, data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"], tags=tags)


# -- reading ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "value"), [
    ("SITEWATCH_ACQUIRED", "2023-08-21"),
    ("ACQUISITION_DATETIME", "2023-08-21"),
    ("acquired", "20230821"),
    ("datetime", " 2023-08-21 "),
    ("TIFFTAG_DATETIME", "2023:08:21"),
])  # fmt: skip
def test_a_date_alone_in_a_tag_is_noon_and_says_so(key: str, value: str) -> None:
    when, how = _acquired_from({key: value}, Path("scene.tif"))  # type: ignore[misc]
    assert (when, how) == (NOON, f"tag {key}, date only ({DATE_ONLY_NOTE})")


@pytest.mark.parametrize(("key", "value", "when"), [
    ("SITEWATCH_ACQUIRED", "2023-08-21T00:00:00Z", datetime(2023, 8, 21, tzinfo=UTC)),
    ("ACQUISITION_DATETIME", "2023-08-21T12:00:00Z", NOON),
    ("datetime", "2023-08-21T09:30:00+09:00", datetime(2023, 8, 21, 0, 30, tzinfo=UTC)),
    ("TIFFTAG_DATETIME", "2023:08:21 00:00:00", datetime(2023, 8, 21, tzinfo=UTC)),
])  # fmt: skip
def test_a_full_time_in_a_tag_is_read_as_before(key: str, value: str, when: datetime) -> None:
    found = _acquired_from({key: value}, Path("scene.tif"))
    assert found == (when, f"tag {key}") and not isinstance(found[0], NoonOfDate)  # type: ignore[index]


@pytest.mark.parametrize("meta", [
    {"type": "Feature", "properties": {"datetime": "2023-08-21"}},  # a STAC item
    {"acquired": "2023-08-21"},
    {"acquisition_time": "2023-08-21"},
])  # fmt: skip
def test_a_date_alone_in_a_json_sidecar_is_noon_and_says_so(tmp_path: Path, meta: dict[str, object]) -> None:
    (tmp_path / "scene.json").write_text(json.dumps(meta), encoding="utf-8")
    assert _acquired_from({}, tmp_path / "scene.tif") == (NOON, f"sidecar scene.json, date only ({DATE_ONLY_NOTE})")
    (tmp_path / "scene.json").write_text(json.dumps({"properties": {"datetime": "2023-08-21T00:00:00Z"}}), encoding="utf-8")
    assert _acquired_from({}, tmp_path / "scene.tif") == (datetime(2023, 8, 21, tzinfo=UTC), "sidecar scene.json")


def test_a_date_alone_in_an_xml_sidecar_is_noon_unless_another_element_gives_the_time(tmp_path: Path) -> None:
    xml = tmp_path / "scene.xml"
    xml.write_text("<m><acquisitionDate>2023-08-21</acquisitionDate></m>", encoding="utf-8")
    assert isinstance(acquired_from_xml(xml), NoonOfDate) and acquired_from_xml(xml) == NOON
    assert _acquired_from({}, tmp_path / "scene.tif") == (NOON, f"sidecar scene.xml, date only ({DATE_ONLY_NOTE})")
    xml.write_text("<m><acquisitionDate>2023-08-21Z</acquisitionDate></m>", encoding="utf-8")  # an xs:date with its zone
    assert acquired_from_xml(xml) == NOON
    xml.write_text("<m><acquisitionDate>2023-08-21</acquisitionDate><DATETIME>2023-08-21T01:02:03Z</DATETIME></m>", encoding="utf-8")
    timed = acquired_from_xml(xml)
    assert timed == datetime(2023, 8, 21, 1, 2, 3, tzinfo=UTC) and not isinstance(timed, NoonOfDate)


def test_a_date_alone_gives_way_to_a_time_of_that_date_from_a_later_source(tmp_path: Path) -> None:
    tags = {"SITEWATCH_ACQUIRED": "2023-08-21"}
    assert _acquired_from(tags, Path("scene_20230821T093000.tif")) == (datetime(2023, 8, 21, 9, 30, tzinfo=UTC), "file name")
    # A time of another date does not: the first source says the date.
    assert _acquired_from(tags, Path("scene_20230822T093000.tif")) == (NOON, f"tag SITEWATCH_ACQUIRED, date only ({DATE_ONLY_NOTE})")
    assert _acquired_from(tags, Path("scene_20230822.tif"))[1].startswith("tag SITEWATCH_ACQUIRED")  # type: ignore[index]
    # Nor does a later source that cannot be read stop the date from being used.
    assert _acquired_from(tags | {"ACQUISITION_DATETIME": "21/08/2023"}, Path("scene.tif")) == (
        NOON, f"tag SITEWATCH_ACQUIRED, date only ({DATE_ONLY_NOTE})")  # fmt: skip


def test_ingest_of_a_file_tagged_with_a_date_alone_records_it_as_date_only(tmp_path: Path) -> None:
    ws = workspace_with_sites(tmp_path / "ws", SITE)
    chip = _chip(tmp_path / "in" / "chip.tif", {"SITEWATCH_ACQUIRED": "2023-08-21", "SITEWATCH_SENSOR": "sar"})
    res = CliRunner().invoke(main, ["ingest", SITE.id, str(chip), "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    with ws.store() as st:
        (o,) = st.observations(SITE.id)
    assert (o.scene.acquired, o.acquired_date_only) == (NOON, True)
    assert o.provenance["acquired_from"] == f"tag SITEWATCH_ACQUIRED, date only ({DATE_ONLY_NOTE})"


# -- the archive's tag ------------------------------------------------------------------------------


def _acquired_tag(path: Path) -> str:
    with rasterio.open(path) as src:
        return str(src.tags()["SITEWATCH_ACQUIRED"])


@pytest.mark.parametrize(("name", "tag", "date_only"), [
    ("chip_20230821.tif", "2023-08-21", True),
    ("chip_20230821T120000.tif", "2023-08-21T12:00:00Z", False),
])  # fmt: skip
def test_an_archived_cog_keeps_date_only_into_another_workspace(tmp_path: Path, name: str, tag: str, date_only: bool) -> None:
    first = workspace_with_sites(tmp_path / "first", SITE)
    res = CliRunner().invoke(main, ["ingest", SITE.id, str(_chip(tmp_path / "in" / name)), "--sensor", "sar", "-w", str(first.root)])
    assert res.exit_code == 0, res.output
    with first.store() as st:
        (o,) = st.observations(SITE.id)
    assert o.acquired_date_only is date_only
    archived = first.root / o.path
    assert _acquired_tag(archived) == tag  # what gdalinfo shows: the date alone when only the date is known

    second = workspace_with_sites(tmp_path / "second", SITE)
    res = CliRunner().invoke(main, ["import", str(archived), "-w", str(second.root), "--json"])
    assert res.exit_code == 0, res.output
    (row,) = json.loads(res.stdout)["imported"]
    assert (row["acquired"], row["acquired_date_only"]) == ("2023-08-21T12:00:00Z", date_only)
    res = CliRunner().invoke(main, ["detect", SITE.id, "-w", str(second.root)])  # the timeline's rows are of detected looks
    assert res.exit_code == 0, res.output
    with second.store() as st:
        (again,) = st.observations(SITE.id)
        assert again.acquired_date_only is date_only
        days = {h: [r.date for r in load_timeline(st, SITE.id, TimelineParams(utc_offset_hours=h)).rows] for h in (13, -11)}
    # Known by its date, it is that date anywhere; at 12:00 UTC exactly, it is the local date of that time.
    assert days == ({13: [date(2023, 8, 21)], -11: [date(2023, 8, 21)]} if date_only
                    else {13: [date(2023, 8, 22)], -11: [date(2023, 8, 21)]})  # fmt: skip
    assert _acquired_tag(second.root / again.path) == tag  # and so on into a third


def test_an_archived_cog_imported_elsewhere_keeps_its_name_and_scene(tmp_path: Path) -> None:
    """The archive tags each COG with its scene's whole id (``local:local-geotiff:chip_…``): read back as
    the item id, an import made the observation ``SITE/local:local-geotiff:chip_…`` of a scene
    ``local:local-geotiff:local:local-geotiff:chip_…``, a scene no other workspace knew."""
    first = workspace_with_sites(tmp_path / "first", SITE)
    chip = _chip(tmp_path / "in" / "chip_20230821T093000.tif")
    res = CliRunner().invoke(main, ["ingest", SITE.id, str(chip), "--sensor", "sar", "-w", str(first.root)])
    assert res.exit_code == 0, res.output
    with first.store() as st:
        (o,) = st.observations(SITE.id)
    second = workspace_with_sites(tmp_path / "second", SITE)
    res = CliRunner().invoke(main, ["import", str(first.root / o.path), "-w", str(second.root)])
    assert res.exit_code == 0, res.output
    with second.store() as st:
        (again,) = st.observations(SITE.id)
    assert (again.id, again.scene.id) == (o.id, o.scene.id) == (f"{SITE.id}/chip_20230821T093000", "local:local-geotiff:chip_20230821T093000")


def test_an_archived_cog_of_an_image_the_site_holds_is_that_observation_again(tmp_path: Path) -> None:
    """A colleague's archived COG (or this workspace's own, `import archive/`) of an image the site already
    holds from its delivered file went in as a second observation, ``chip_…_20230821T093000``, of the same
    scene at the same second: each of its vessels counted twice by `ais` (dark twice) and the alerts."""
    first = workspace_with_sites(tmp_path / "first", SITE)
    second = workspace_with_sites(tmp_path / "second", SITE)
    chip = _chip(tmp_path / "in" / "chip_20230821T093000.tif")
    for ws in (first, second):
        res = CliRunner().invoke(main, ["ingest", SITE.id, str(chip), "--sensor", "sar", "-w", str(ws.root)])
        assert res.exit_code == 0, res.output
    with first.store() as st:
        (o,) = st.observations(SITE.id)
    for ws in (second, first):  # a colleague's copy, and the workspace's own archive
        res = CliRunner().invoke(main, ["import", str(first.root / o.path), "-w", str(ws.root), "--json"])
        assert res.exit_code == 0, res.output
        assert [(i["id"], i["replaced"]) for i in json.loads(res.stdout)["imported"]] == [(o.id, True)]
        with ws.store() as st:
            assert [x.id for x in st.observations(SITE.id)] == [o.id]


def test_an_archived_cog_imported_elsewhere_keeps_its_platform(tmp_path: Path) -> None:
    """The archive's COG carried its acquisition and scene but not its platform: a Maxar file's (read from its
    .XML, archived beside the COG as NAME.metadata.XML) came back blank in a colleague's workspace."""
    first = workspace_with_sites(tmp_path / "first", SITE)
    chip = _chip(tmp_path / "in" / "chip_20230821T093000.tif", tags={"SITEWATCH_PLATFORM": "iceye-x14"})
    res = CliRunner().invoke(main, ["ingest", SITE.id, str(chip), "--sensor", "sar", "-w", str(first.root)])
    assert res.exit_code == 0, res.output
    with first.store() as st:
        (o,) = st.observations(SITE.id)
    assert o.scene.platform == "iceye-x14"
    with rasterio.open(first.root / o.path) as src:
        assert src.tags()["SITEWATCH_PLATFORM"] == "iceye-x14"
    second = workspace_with_sites(tmp_path / "second", SITE)
    chip.unlink()  # nothing of the delivery but the archived COG
    res = CliRunner().invoke(main, ["import", str(first.root / o.path), "-w", str(second.root)])
    assert res.exit_code == 0, res.output
    with second.store() as st:
        (again,) = st.observations(SITE.id)
    assert again.scene.platform == "iceye-x14"
