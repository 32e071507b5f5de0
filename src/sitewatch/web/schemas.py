"""What each JSON answer of the dashboard's API holds, for its OpenAPI doc: pydantic models, documentation only.

The routes return the dicts :mod:`sitewatch.web.data` makes; these models describe them (``responses`` of
each route, ``response_model=None``), so an answer is never re-validated or cut to the model on its way
out. The tests hold the doc to the answers (schemathesis checks each body against its model). Geometries
are GeoJSON objects (WGS84); a timeline and the links keep the shape their CLI's ``--json`` gives them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "SiteSummary",
    "Period",
    "Link",
    "SitesPage",
    "Berth",
    "ObservationRow",
    "SiteDetail",
    "Grid",
    "ObservationDetail",
    "FeatureCollection",
    "Region",
    "ChangePairSummary",
    "ChangePairDetail",
    "AlertEvent",
]

GeoJSON = dict[str, Any]


class SiteSummary(BaseModel):
    """A site as the sites page lists it."""

    id: str
    name: str
    kind: str
    resolved: bool = Field(description="False when the place could not be located")
    observations: int
    detections: int
    first_date: str | None = Field(description="The first acquisition's date (YYYY-MM-DD); null without observations")
    last_date: str | None
    simulated: bool = Field(description="True when any of its images is simulated")


class Link(BaseModel):
    """A link of a paged answer, as OGC API Features and STAC API give them."""

    rel: str = Field(description="self, next (the following page; absent on the last) or prev (the page before; absent on the first)")
    href: str
    type: str


class SitesPage(BaseModel):
    """A page of the sites (``/api/sites?limit=&offset=``), by id."""

    sites: list[SiteSummary]
    numberMatched: int = Field(description="Every site of the workspace")  # noqa: N815 (OGC API Features' name)
    numberReturned: int = Field(description="The sites of this page")  # noqa: N815
    links: list[Link]


class Berth(BaseModel):
    """A named mooring place of a site."""

    id: str
    name: str
    geometry: GeoJSON


class ObservationRow(BaseModel):
    """An observation as one line of its site's list."""

    id: str = Field(description="SITE/ITEM")
    date: str
    acquired: str = Field(description="UTC, ISO 8601")
    acquired_date_only: bool = Field(description="True when only the date is known (the time is a stand-in)")
    acquired_label: str
    sensor: str
    platform: str
    resolution_m: float
    cloud_fraction: float | None
    valid_fraction: float
    detections: int
    simulated: bool
    credit: str = Field(description="The credit line the image's licence asks for beside any picture of it (year: "
                        "its acquisition year); SIMULATED imagery says so; a provider sitewatch cannot tell says that")


class Period(BaseModel):
    """The dates an answer holds, as asked (`from`, `to`: each a date, or null for open)."""

    model_config = ConfigDict(populate_by_name=True)

    start: str | None = Field(alias="from")
    end: str | None = Field(alias="to")


class SiteDetail(BaseModel):
    """One site: its fields, outline, water and berths, and its observations, oldest first."""

    id: str
    name: str
    kind: str
    resolved: bool
    coord_source: str
    note: str
    tags: list[str]
    geometry: GeoJSON | None = Field(description="The site's polygon; null for a place without coordinates")
    water: GeoJSON | None
    berths: list[Berth]
    observations: list[ObservationRow]
    detections: int
    simulated: bool
    period: Period | None = Field(None, description="The dates asked with `from`/`to` (absent without them: every date)")


class Grid(BaseModel):
    """The pixel grid of an archived image."""

    crs: str
    transform: list[float] = Field(description="The affine transform's six coefficients (a, b, c, d, e, f)")
    width: int
    height: int


class ObservationDetail(ObservationRow):
    """One observation: its line of the site's list, its provenance, its grid and its detections."""

    site_id: str
    scene_id: str
    provider: str
    collection: str
    item_id: str
    image: str = Field(description="The archived file, relative to the workspace")
    sha256: str
    sitewatch_version: str | None
    grid: Grid
    provenance: dict[str, Any]
    features: list[GeoJSON] = Field(description="The detections, as GeoJSON features as `sitewatch export` writes them")


class FeatureCollection(BaseModel):
    """A site's detections, as `sitewatch export` writes them."""

    type: str = Field(description='"FeatureCollection"')
    features: list[GeoJSON]


class Region(BaseModel):
    """One changed region of a pair."""

    id: str = Field(description="BEFORE..AFTER#N")
    direction: str = Field(description="appeared, disappeared or altered")
    area_m2: float
    magnitude: float
    geometry: GeoJSON
    last_seen_without: dict[str, Any] | None = Field(default=None, description="The change it is part of, dated by every pair that saw it "
        "(as `sitewatch change` dates it): the last image without it (observation, acquired, acquired_date_only, resolution_m); "
        "null when not dated (its pair's image ingested again since)")  # fmt: skip
    first_seen: dict[str, Any] | None = Field(default=None, description="The first image with it, as last_seen_without")


class ChangePairSummary(BaseModel):
    """A pair of observations `sitewatch change` compared, with its regions, largest first."""

    id: str = Field(description="BEFORE..AFTER, its two observation ids")
    before_id: str
    after_id: str
    before_acquired: str
    after_acquired: str
    sensor: str
    method: str
    method_version: str
    compared_fraction: float
    simulated: bool
    counts: dict[str, int] = Field(description="Regions of each direction")
    area_m2: float
    regions: list[Region]


class ChangePairDetail(ChangePairSummary):
    """A pair's page: the pair, its place in its site's table, how it was computed, both images, the ground shown."""

    site_id: str
    number: int = Field(description="Its row (from 1) in its site's table of changes")
    pairs_at_site: int
    previous: str | None
    next: str | None
    parameters: dict[str, Any]
    computed_at: str
    images: dict[str, dict[str, Any]] = Field(description="before and after: the observation, its file and sha256 "
                                                          "(as compared and now), why it cannot be shown (missing)")  # fmt: skip
    view: dict[str, Any] = Field(description="The ground both quick-looks show: crs and bounds")


class AlertEvent(BaseModel):
    """An alert event `sitewatch alerts check` recorded."""

    event_id: str | None
    rule: str | None
    kind: str | None
    date: str | None
    acquired: str | None
    what: str
    observations: list[str]
    images: list[str]
    detections: list[str]
    simulated: bool
    first_reported: str
