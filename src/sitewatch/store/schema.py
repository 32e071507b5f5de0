"""The workspace database schema and its migrations.

The database is an OGC GeoPackage: the GeoPackage core tables plus sitewatch's
feature tables (sites, berths, site_water, scenes, observations, detections)
and attribute tables, each feature table with its R-tree spatial index (from version 6);
the detections' ``truncated`` flag from version 7; ``acquired_date_only`` on observations and detections from 8;
the ``changes`` layer and ``change_pairs`` from 9, ``alert_events`` from 10, and indexes for a long history from 11;
``input_changes`` and the triggers that note in it each change of what ``alerts check`` reads from 12
(:func:`input_log_sql`); ``change_pairs.inputs`` (what each pair rests on, so that ``change`` run again skips it) from 15.
``sitewatch_meta.schema_version`` says which migrations have run; each migration runs once,
in a transaction.
"""

from __future__ import annotations

import re

__all__ = ["MIGRATIONS", "INDEXES_V11", "INDEX_V14", "CHANGE_INPUTS_V15", "FEATURE_TABLES", "GPKG_CORE", "GPKG_TABLES",
           "GPKG_EXTENSIONS", "INPUT_TABLES", "SCHEMA_VERSION", "input_log_sql", "input_update_replace_sql", "rtree_index_sql"]

_GPKG_CORE = """
CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (
  srs_name TEXT NOT NULL,
  srs_id INTEGER PRIMARY KEY,
  organization TEXT NOT NULL,
  organization_coordsys_id INTEGER NOT NULL,
  definition TEXT NOT NULL,
  description TEXT
);
CREATE TABLE IF NOT EXISTS gpkg_contents (
  table_name TEXT NOT NULL PRIMARY KEY,
  data_type TEXT NOT NULL,
  identifier TEXT UNIQUE,
  description TEXT DEFAULT '',
  last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')),
  min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE,
  srs_id INTEGER,
  CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id)
);
CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (
  table_name TEXT NOT NULL,
  column_name TEXT NOT NULL,
  geometry_type_name TEXT NOT NULL,
  srs_id INTEGER NOT NULL,
  z TINYINT NOT NULL,
  m TINYINT NOT NULL,
  CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name),
  CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name),
  CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id)
);
INSERT OR IGNORE INTO gpkg_spatial_ref_sys VALUES
  ('Undefined cartesian SRS', -1, 'NONE', -1, 'undefined', 'undefined cartesian coordinate reference system'),
  ('Undefined geographic SRS', 0, 'NONE', 0, 'undefined', 'undefined geographic coordinate reference system'),
  ('WGS 84 geodetic', 4326, 'EPSG', 4326,
   'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],AUTHORITY["EPSG","4326"]]',
   'longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid');
"""
GPKG_CORE = _GPKG_CORE
"""The GeoPackage core tables with WGS84 registered: what a standalone GeoPackage of one layer (an
export) needs before its own table."""

_GPKG_CORE += """CREATE TABLE IF NOT EXISTS sitewatch_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# (table, geometry column type, description, columns after fid and geom)
FEATURE_TABLES: dict[str, tuple[str, str, str]] = {
    "sites": (
        "POLYGON",
        "Named areas of interest",
        """site_id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, kind TEXT NOT NULL,
           resolved INTEGER NOT NULL, coord_source TEXT, note TEXT, tags TEXT""",
    ),
    "berths": (
        "GEOMETRY",
        "Berths (quay lines or berth polygons) of the sites",
        """site_id TEXT NOT NULL, berth_id TEXT NOT NULL, name TEXT,
           UNIQUE(site_id, berth_id)""",
    ),
    "site_water": (
        "GEOMETRY",
        "Water polygons of the sites",
        "site_id TEXT NOT NULL UNIQUE",
    ),
    "scenes": (
        "POLYGON",
        "Images known to the workspace (STAC items, files, simulated scenes)",
        """scene_id TEXT NOT NULL UNIQUE, provider TEXT NOT NULL, collection TEXT NOT NULL,
           item_id TEXT NOT NULL, sensor TEXT NOT NULL, platform TEXT, acquired TEXT NOT NULL,
           resolution_m REAL NOT NULL, cloud_cover REAL, simulated INTEGER NOT NULL,
           hrefs TEXT NOT NULL, properties TEXT NOT NULL""",
    ),
    "observations": (
        "POLYGON",
        "Scenes cut to sites, stored as COGs in the archive",
        """observation_id TEXT NOT NULL UNIQUE, site_id TEXT NOT NULL, scene_id TEXT NOT NULL,
           sensor TEXT NOT NULL, acquired TEXT NOT NULL, crs TEXT NOT NULL, transform TEXT NOT NULL,
           width INTEGER NOT NULL, height INTEGER NOT NULL, path TEXT NOT NULL, sha256 TEXT NOT NULL,
           valid_fraction REAL NOT NULL, cloud_fraction REAL, simulated INTEGER NOT NULL,
           provenance TEXT NOT NULL, UNIQUE(site_id, scene_id)""",
    ),
    "detections": (
        "POLYGON",
        "Objects found in observations (oriented boxes)",
        """detection_id TEXT NOT NULL UNIQUE, observation_id TEXT NOT NULL, site_id TEXT NOT NULL,
           acquired TEXT NOT NULL, sensor TEXT NOT NULL, kind TEXT NOT NULL,
           length_m REAL NOT NULL, width_m REAL NOT NULL, heading_deg REAL NOT NULL,
           score REAL NOT NULL, detector TEXT NOT NULL, detector_version TEXT NOT NULL,
           row REAL, col REAL, berth_id TEXT, class_candidates TEXT NOT NULL,
           lon REAL NOT NULL, lat REAL NOT NULL, simulated INTEGER NOT NULL""",
    ),
}


def _feature_table_sql(table: str, geom_type: str, description: str, columns: str) -> str:
    return f"""
CREATE TABLE {table} (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom {geom_type}, {columns});
INSERT INTO gpkg_contents (table_name, data_type, identifier, description, srs_id)
  VALUES ('{table}', 'features', '{table}', '{description}', 4326);
INSERT INTO gpkg_geometry_columns VALUES ('{table}', 'geom', '{geom_type}', 4326, 0, 0);
"""


def _v1() -> str:
    parts = [_GPKG_CORE]
    parts += [_feature_table_sql(t, *spec) for t, spec in FEATURE_TABLES.items()]
    parts.append(
        """
CREATE INDEX idx_observations_site ON observations(site_id, acquired);
CREATE INDEX idx_detections_obs ON detections(observation_id);
CREATE INDEX idx_detections_site ON detections(site_id, acquired);
CREATE TABLE runs (run_id INTEGER PRIMARY KEY AUTOINCREMENT, stage TEXT NOT NULL, site_id TEXT,
  started TEXT NOT NULL, finished TEXT, parameters TEXT NOT NULL, version TEXT NOT NULL, summary TEXT);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('runs', 'attributes', 'runs', 'Stage runs with their parameters and sitewatch version');
"""
    )
    return "\n".join(parts)


# Version 2: when detection last ran on an observation's current COG (NULL: never, or the
# COG was replaced since). Workspaces from version 1 count an observation as detected when
# its site had a detect run, the only record they kept.
_V2 = """
ALTER TABLE observations ADD COLUMN detected_at TEXT;
UPDATE observations SET detected_at = (
  SELECT max(finished) FROM runs WHERE runs.stage = 'detect' AND runs.site_id = observations.site_id
);
"""


def _v3() -> str:
    """Acquisition times as GeoPackage DATETIME (ISO 8601 with milliseconds, "…T09:30:00.000Z")
    and the simulated flags as BOOLEAN, so QGIS's temporal controller and GDAL read them as such.

    SQLite cannot change a column's declared type: each table is made again from its columns
    in :data:`FEATURE_TABLES` with the new types, its rows copied (fids kept) with the times cut
    from microseconds to milliseconds, and its indexes made again.
    """
    parts = []
    for table in ("scenes", "observations", "detections"):
        geom, _, columns = FEATURE_TABLES[table]
        columns = columns.replace("acquired TEXT", "acquired DATETIME").replace("simulated INTEGER", "simulated BOOLEAN")
        if table == "observations":  # version 2's column, before the table constraint
            columns = columns.replace(", UNIQUE(site_id, scene_id)", ", detected_at DATETIME, UNIQUE(site_id, scene_id)")
        parts.append(
            f"""
CREATE TABLE {table}_v3 (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom {geom}, {columns});
INSERT INTO {table}_v3 SELECT * FROM {table};
UPDATE {table}_v3 SET acquired = substr(acquired, 1, 23) || 'Z' WHERE length(acquired) = 27;
DROP TABLE {table};
ALTER TABLE {table}_v3 RENAME TO {table};"""
        )
    parts.append(
        """
UPDATE observations SET detected_at = substr(detected_at, 1, 23) || 'Z' WHERE length(detected_at) = 27;
CREATE INDEX idx_observations_site ON observations(site_id, acquired);
CREATE INDEX idx_detections_obs ON detections(observation_id);
CREATE INDEX idx_detections_site ON detections(site_id, acquired);"""
    )
    return "\n".join(parts)


def _v4() -> str:
    """The sites' ``resolved`` flag as BOOLEAN, as version 3 made ``simulated``: QGIS showed 0 and 1."""
    geom, _, columns = FEATURE_TABLES["sites"]
    columns = columns.replace("resolved INTEGER", "resolved BOOLEAN")
    return f"""
CREATE TABLE sites_v4 (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom {geom}, {columns});
INSERT INTO sites_v4 SELECT * FROM sites;
DROP TABLE sites;
ALTER TABLE sites_v4 RENAME TO sites;"""


def _v5() -> str:
    """The scenes layer declared MULTIPOLYGON: a footprint across the antimeridian is two boxes, which
    a POLYGON layer may not hold (QGIS refused to edit the layer, and GeoPackage validators flag it).

    The footprints already stored become MultiPolygons through ``sitewatch_multipolygon``, a function
    :class:`~sitewatch.store.Store` gives its connection (SQL cannot rewrite WKB).
    """
    _, _, columns = FEATURE_TABLES["scenes"]
    columns = columns.replace("acquired TEXT", "acquired DATETIME").replace("simulated INTEGER", "simulated BOOLEAN")
    return f"""
CREATE TABLE scenes_v5 (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom MULTIPOLYGON, {columns});
INSERT INTO scenes_v5 SELECT * FROM scenes;
UPDATE scenes_v5 SET geom = sitewatch_multipolygon(geom) WHERE geom IS NOT NULL;
DROP TABLE scenes;
ALTER TABLE scenes_v5 RENAME TO scenes;
UPDATE gpkg_geometry_columns SET geometry_type_name = 'MULTIPOLYGON' WHERE table_name = 'scenes';"""


GPKG_EXTENSIONS = """
CREATE TABLE IF NOT EXISTS gpkg_extensions (
  table_name TEXT,
  column_name TEXT,
  extension_name TEXT NOT NULL,
  definition TEXT NOT NULL,
  scope TEXT NOT NULL,
  CONSTRAINT ge_tce UNIQUE (table_name, column_name, extension_name)
);"""
"""The GeoPackage table of the extensions a file uses: a spatial index (:func:`rtree_index_sql`) is one."""


RTREE_DEFINITION = "http://www.geopackage.org/spec120/#extension_rtree"
"""``gpkg_extensions.definition`` of the R-tree index, as GDAL writes it."""

_RTREE_TRIGGERS = ("insert", "update1", "update2", "update3", "update4", "update5", "update6", "update7", "delete")
"""Every trigger name Annex F.3 has used: 1.4 dropped update1 and update3 for update5, 6 and 7."""


def rtree_index_sql(table: str, column: str = "geom", pk: str = "fid") -> str:
    """The spatial index of ``table.column`` as GeoPackage 1.4 defines it (Annex F.3, extension
    ``gpkg_rtree_index``): an R*Tree virtual table filled from the rows already there, its
    ``gpkg_extensions`` row, and the triggers that keep it in step with every later write, whoever
    makes it (sitewatch, or QGIS editing the layer).

    Triggers, not sitewatch, keep the index: GDAL trusts an index it finds and does not update
    one without them, so a feature added in QGIS would be missing from every map view. They are
    1.4's (the file says it is GeoPackage 1.4): 1.3's ``update1`` broke on an upsert (OGC
    geopackage#639), which is how sitewatch writes sites, scenes and observations. An index or
    triggers already there (QGIS's "create spatial index", of an older version) are made again.
    The triggers call the functions of :func:`~sitewatch.store.gpkg.register_gpkg_functions`.

    A later migration that makes a feature table again (as version 3 did) drops its triggers with
    it: it must run this again for that table.
    """
    t, c, i, r = table, column, pk, f"rtree_{table}_{column}"
    drops = "\n".join(f"DROP TRIGGER IF EXISTS {r}_{name};" for name in _RTREE_TRIGGERS)
    return f"""
{drops}
DROP TABLE IF EXISTS {r};
CREATE VIRTUAL TABLE {r} USING rtree(id, minx, maxx, miny, maxy);
INSERT OR REPLACE INTO {r}
  SELECT {i}, ST_MinX({c}), ST_MaxX({c}), ST_MinY({c}), ST_MaxY({c}) FROM {t} WHERE {c} NOT NULL AND NOT ST_IsEmpty({c});
DELETE FROM gpkg_extensions WHERE table_name = '{t}' AND column_name = '{c}' AND extension_name = 'gpkg_rtree_index';
INSERT INTO gpkg_extensions VALUES ('{t}', '{c}', 'gpkg_rtree_index', '{RTREE_DEFINITION}', 'write-only');
CREATE TRIGGER {r}_insert AFTER INSERT ON {t}
  WHEN (new.{c} NOT NULL AND NOT ST_IsEmpty(NEW.{c}))
BEGIN
  INSERT OR REPLACE INTO {r} VALUES (
    NEW.{i},
    ST_MinX(NEW.{c}), ST_MaxX(NEW.{c}),
    ST_MinY(NEW.{c}), ST_MaxY(NEW.{c})
  );
END;
CREATE TRIGGER {r}_update2 AFTER UPDATE OF {c} ON {t}
  WHEN OLD.{i} = NEW.{i} AND
       (NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c}))
BEGIN
  DELETE FROM {r} WHERE id = OLD.{i};
END;
CREATE TRIGGER {r}_update4 AFTER UPDATE ON {t}
  WHEN OLD.{i} != NEW.{i} AND
       (NEW.{c} ISNULL OR ST_IsEmpty(NEW.{c}))
BEGIN
  DELETE FROM {r} WHERE id IN (OLD.{i}, NEW.{i});
END;
CREATE TRIGGER {r}_update5 AFTER UPDATE ON {t}
  WHEN OLD.{i} != NEW.{i} AND
       (NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c}))
BEGIN
  DELETE FROM {r} WHERE id = OLD.{i};
  INSERT OR REPLACE INTO {r} VALUES (
    NEW.{i},
    ST_MinX(NEW.{c}), ST_MaxX(NEW.{c}),
    ST_MinY(NEW.{c}), ST_MaxY(NEW.{c})
  );
END;
CREATE TRIGGER {r}_update6 AFTER UPDATE OF {c} ON {t}
  WHEN OLD.{i} = NEW.{i} AND
       (NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c})) AND
       (OLD.{c} NOTNULL AND NOT ST_IsEmpty(OLD.{c}))
BEGIN
  UPDATE {r} SET
    minx = ST_MinX(NEW.{c}), maxx = ST_MaxX(NEW.{c}),
    miny = ST_MinY(NEW.{c}), maxy = ST_MaxY(NEW.{c})
  WHERE id = NEW.{i};
END;
CREATE TRIGGER {r}_update7 AFTER UPDATE OF {c} ON {t}
  WHEN OLD.{i} = NEW.{i} AND
       (NEW.{c} NOTNULL AND NOT ST_IsEmpty(NEW.{c})) AND
       (OLD.{c} ISNULL OR ST_IsEmpty(OLD.{c}))
BEGIN
  INSERT INTO {r} VALUES (
    NEW.{i},
    ST_MinX(NEW.{c}), ST_MaxX(NEW.{c}),
    ST_MinY(NEW.{c}), ST_MaxY(NEW.{c})
  );
END;
CREATE TRIGGER {r}_delete AFTER DELETE ON {t}
  WHEN old.{c} NOT NULL
BEGIN
  DELETE FROM {r} WHERE id = OLD.{i};
END;
"""


def _v6() -> str:
    """A spatial index on every feature table's geometry (GeoPackage's ``gpkg_rtree_index``), so that
    QGIS and GDAL read a map view's features through it instead of every row of the layer."""
    return "\n".join(
        [
            GPKG_EXTENSIONS,
            *(rtree_index_sql(table) for table in FEATURE_TABLES),
        ]
    )


# Version 7: whether a detection is truncated (its object reaches the image's edge or a pixel without
# data, so its length and width are lower bounds and it has no class candidates). Rows stored before
# are NULL, "not recorded": the detectors that made them did not look, so neither true nor false would
# be known. Any sitewatch change makes the next `sitewatch detect` run again, which records it.
_V7 = """
ALTER TABLE detections ADD COLUMN truncated BOOLEAN;
"""

# Version 8: whether an observation's acquisition is known only by its date (its ``acquired`` then the
# 12:00 UTC assumed for it, not the time of the image), on the observations and detections layers beside
# ``acquired``. Rows stored before are filled from the observations' provenance, whose ``acquired_from``
# has said so since date-only times were kept (the words model.DATE_ONLY_NOTE had then, as written).
_V8 = """
ALTER TABLE observations ADD COLUMN acquired_date_only BOOLEAN;
ALTER TABLE detections ADD COLUMN acquired_date_only BOOLEAN;
UPDATE observations SET acquired_date_only = instr(coalesce(
  CASE WHEN json_valid(provenance) THEN json_extract(provenance, '$.acquired_from') END, ''), '12:00 UTC assumed') > 0;
UPDATE detections SET acquired_date_only = (
  SELECT o.acquired_date_only FROM observations AS o WHERE o.observation_id = detections.observation_id);
"""


def _v_changes() -> str:
    """The ``changes`` layer (regions that changed between two observations of a site, ``sitewatch
    change``), with its GeoPackage registration and R-tree index as every layer has, and the
    ``change_pairs`` attribute table: one row per pair compared, with what was compared (the two COGs'
    sha256) and how, so that a pair where nothing changed is on record too. A pair's rows are replaced when it is run again."""
    columns = """change_id TEXT NOT NULL UNIQUE, site_id TEXT NOT NULL, before_id TEXT NOT NULL,
           after_id TEXT NOT NULL, before_acquired DATETIME NOT NULL, after_acquired DATETIME NOT NULL,
           sensor TEXT NOT NULL, direction TEXT NOT NULL, area_m2 REAL NOT NULL, magnitude REAL NOT NULL,
           method TEXT NOT NULL, method_version TEXT NOT NULL, simulated BOOLEAN NOT NULL"""
    return "\n".join(
        [
            _feature_table_sql("changes", "MULTIPOLYGON", "Regions that changed between two observations of a site", columns),
            rtree_index_sql("changes"),
            """
CREATE INDEX idx_changes_pair ON changes(before_id, after_id);
CREATE INDEX idx_changes_site ON changes(site_id, after_acquired);
CREATE TABLE change_pairs (pair_id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT NOT NULL,
  before_id TEXT NOT NULL, after_id TEXT NOT NULL, before_acquired DATETIME NOT NULL,
  after_acquired DATETIME NOT NULL, before_sha256 TEXT NOT NULL, after_sha256 TEXT NOT NULL,
  sensor TEXT NOT NULL, compared_fraction REAL NOT NULL,
  method TEXT NOT NULL, method_version TEXT NOT NULL, parameters TEXT NOT NULL, simulated BOOLEAN NOT NULL,
  computed_at DATETIME NOT NULL, UNIQUE(before_id, after_id));
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('change_pairs', 'attributes', 'change_pairs', 'Pairs of observations compared by sitewatch change');
""",
        ]
    )


# Version 10: the events `sitewatch alerts check` has reported (an attribute table, as change_pairs is), so a
# second run reports only new ones; ``event_key`` (rule, site, the observations an event rests on) is stable
# across reruns. ``webhook_pending``: to be posted to the webhook (kept until a POST succeeds).
_V_ALERTS = """
CREATE TABLE alert_events (fid INTEGER PRIMARY KEY AUTOINCREMENT, event_key TEXT NOT NULL UNIQUE,
  rule_id TEXT NOT NULL, kind TEXT NOT NULL, site_id TEXT NOT NULL, event_date DATE NOT NULL,
  acquired DATETIME NOT NULL, summary TEXT NOT NULL, observation_ids TEXT NOT NULL, simulated BOOLEAN NOT NULL,
  event TEXT NOT NULL, first_reported DATETIME NOT NULL, webhook_pending BOOLEAN NOT NULL DEFAULT 0,
  webhook_delivered DATETIME, webhook_error TEXT);
CREATE INDEX idx_alert_events_rule ON alert_events(rule_id, site_id);
INSERT INTO gpkg_contents (table_name, data_type, identifier, description)
  VALUES ('alert_events', 'attributes', 'alert_events', 'Events reported by sitewatch alerts check');
"""

INDEXES_V11 = """
CREATE INDEX idx_observations_scene ON observations(scene_id);
CREATE INDEX idx_change_pairs_site ON change_pairs(site_id, after_acquired, before_acquired, after_id);
CREATE INDEX idx_change_pairs_after ON change_pairs(after_id);
CREATE INDEX idx_changes_after ON changes(after_id);
CREATE INDEX idx_alert_events_site ON alert_events(site_id, event_date, acquired);
"""
"""Version 11: indexes on the columns that queries of a long history filtered on without one, each read whole
(``EXPLAIN QUERY PLAN``: ``SCAN``): the observations of a scene id (``import`` asks for each file whether
another site holds its scene; ``sites remove`` whether a scene is still used), a site's change pairs in their
order (the site page, the report, ``change``), the pairs and regions of a period's after-images (the
dashboard's changes of a period) and a site's alert events by date (the site page and its API). The same
names and columns in the PostGIS store's version 2 (:mod:`sitewatch.store.pg_schema`)."""


INPUT_TABLES: dict[str, tuple[str, ...]] = {
    table: ("fid", "geom", *re.findall(r"(?:^|,)\s*(\w+)\s+(?:TEXT|INTEGER|REAL|DATETIME|BOOLEAN)\b", spec[2]))
    for table, spec in FEATURE_TABLES.items()
}
INPUT_TABLES["observations"] += ("detected_at", "acquired_date_only")  # versions 2 and 8
INPUT_TABLES["detections"] += ("truncated", "acquired_date_only")  # versions 7 and 8
"""The tables ``alerts check`` reads its inputs from, each with every column it has at version 12 (a trigger of
:func:`input_log_sql` compares an updated row's old and new values in these columns). Never edited: a later
migration that adds a column to one of them drops that table's triggers and makes them again with the column
(``test_the_input_triggers_compare_every_column`` fails otherwise); the store expects the triggers as the last
migration that made them left them (:meth:`~sitewatch.store.Store.records_input_changes`)."""

_INPUT_KEYS: dict[str, tuple[tuple[str, ...], ...]] = {
    "sites": (("site_id",),), "berths": (("site_id", "berth_id"),), "site_water": (("site_id",),),
    "scenes": (("scene_id",),), "observations": (("observation_id",), ("site_id", "scene_id")),
    "detections": (("detection_id",),),
}  # fmt: skip
"""Each input table's unique keys besides ``fid``: the rows an ``INSERT OR REPLACE`` would delete."""

INPUT_TRIGGER_PREFIX = "sitewatch_input_"
"""The names of the triggers :func:`input_log_sql` makes (``sitewatch_input_observations_update``…)."""


def _input_rows(table: str, r: str) -> str:
    """``SELECT site_id, acquired`` of the change of row ``r`` (``OLD``, ``NEW``, or the alias of a stored row) of
    ``table``, for ``INSERT INTO input_changes (site_id, acquired)``; ``acquired`` NULL means the whole site."""
    if table in ("observations", "detections"):
        return f"SELECT {r}.site_id, {r}.acquired"
    if table == "scenes":
        # A scene's row is part of each observation of it (its columns are read with the observation's).
        return (f"SELECT o.site_id, min(o.acquired, {r}.acquired) FROM observations AS o "
                f"WHERE o.scene_id = {r}.scene_id")  # fmt: skip
    return f"SELECT {r}.site_id, NULL"


def _same_key_as_new(table: str) -> str:
    """SQL true of a stored row ``s`` of ``table`` that holds ``NEW``'s ``fid`` or another of its unique keys."""
    return " OR ".join(["s.fid = NEW.fid", *(f"({', '.join(f's.{k}' for k in key)}) = ({', '.join(f'NEW.{k}' for k in key)})"
                                              for key in _INPUT_KEYS[table])])  # fmt: skip


def _stored_rows(table: str) -> str:
    """``SELECT site_id, acquired … FROM {table} AS s`` of stored rows ``s`` (a WHERE to follow): what
    ``input_changes`` notes of each."""
    if table == "scenes":
        return (f"SELECT o.site_id, min(o.acquired, s.acquired) FROM {table} AS s JOIN observations AS o "
                "ON o.scene_id = s.scene_id")  # fmt: skip
    return f"{_input_rows(table, 's')} FROM {table} AS s"


def input_log_sql() -> str:
    """Version 12: ``input_changes``, where the database itself notes each change of what ``alerts check`` reads.

    Triggers on the six input tables (:data:`INPUT_TABLES`) add a row (site, acquisition time) to it for every
    row inserted, deleted, or updated to other values (the old and the new row), whoever writes it: each write
    path of sitewatch, QGIS editing a layer, the ``sqlite3`` shell. A site's row, berth or water polygon is noted
    with no time (the whole site); a scene with the site and time of each observation of it. ``BEFORE INSERT``
    notes the stored rows of the same key that an ``INSERT OR REPLACE`` is about to delete (SQLite fires no delete
    trigger for those) unless they hold the new row's values (its ``fid`` aside: unknown before the insert; a
    row put again under another ``fid`` is noted by ``AFTER INSERT``, at the same site and time); an upsert that
    changes nothing notes nothing. :mod:`sitewatch.alert_window` reads the rows and removes
    those its checkpoint has taken in. The triggers use plain SQL only, so any SQLite client can run them.

    A scene's triggers find its observations by ``scene_id``: through ``idx_observations_scene`` (version 11), not a
    scan of every observation for each scene written (``import`` of a year: quadratic).

    A later migration that makes one of these tables again drops its triggers with it: it must make them again
    (``alerts check`` finds them missing and evaluates the whole history until then)."""
    parts = ["""
CREATE TABLE input_changes (id INTEGER PRIMARY KEY AUTOINCREMENT, site_id TEXT, acquired DATETIME);"""]
    for table, columns in INPUT_TABLES.items():
        name = f"{INPUT_TRIGGER_PREFIX}{table}"
        rest = [f'"{c}"' for c in columns if c != "fid"]

        def same(a: str, b: str, rest: list[str] = rest) -> str:
            return f"({', '.join(f'{a}.{c}' for c in rest)}) IS ({', '.join(f'{b}.{c}' for c in rest)})"

        keys, stored = _same_key_as_new(table), _stored_rows(table)
        parts.append(f"""
CREATE TRIGGER {name}_replace BEFORE INSERT ON {table}
BEGIN
  INSERT INTO input_changes (site_id, acquired) {stored}
    WHERE ({keys}) AND NOT {same('s', 'NEW')};
END;
CREATE TRIGGER {name}_insert AFTER INSERT ON {table}
BEGIN
  INSERT INTO input_changes (site_id, acquired) {_input_rows(table, 'NEW')};
END;
CREATE TRIGGER {name}_update AFTER UPDATE ON {table}
  WHEN NOT (OLD.fid = NEW.fid AND {same('OLD', 'NEW')})
BEGIN
  INSERT INTO input_changes (site_id, acquired) {_input_rows(table, 'OLD')};
  INSERT INTO input_changes (site_id, acquired) {_input_rows(table, 'NEW')};
END;
CREATE TRIGGER {name}_delete AFTER DELETE ON {table}
BEGIN
  INSERT INTO input_changes (site_id, acquired) {_input_rows(table, 'OLD')};
END;""")
    return "\n".join(parts)


def input_update_replace_sql() -> str:
    """Version 13: a ``BEFORE UPDATE`` trigger on each input table noting the stored rows an ``UPDATE OR REPLACE``
    is about to delete (another row holding the updated row's new ``fid`` or another unique key of it).

    SQLite deletes those rows without a delete trigger, as for ``INSERT OR REPLACE`` (version 12's ``BEFORE
    INSERT`` triggers): ``UPDATE OR REPLACE detections SET detection_id = 'an old one' WHERE …`` in the ``sqlite3``
    shell deleted an old image's detection and noted only the updated row's own time, after the end, so ``alerts
    check`` kept a window over a changed past. A plain ``UPDATE`` that would conflict fails, its notes with it;
    one that conflicts with nothing finds no such row and notes nothing here (its ``AFTER UPDATE`` notes it). The
    migration notes every site once: a replace before it went unnoted, so the first ``alerts check`` after it
    evaluates whole."""
    parts = []
    for table in INPUT_TABLES:
        parts.append(f"""
CREATE TRIGGER {INPUT_TRIGGER_PREFIX}{table}_update_replace BEFORE UPDATE ON {table}
BEGIN
  INSERT INTO input_changes (site_id, acquired) {_stored_rows(table)}
    WHERE s.fid <> OLD.fid AND ({_same_key_as_new(table)});
END;""")
    parts.append("\nINSERT INTO input_changes (site_id, acquired) VALUES (NULL, NULL);")
    return "\n".join(parts)


INDEX_V14 = """
CREATE INDEX idx_observations_undetected ON observations(site_id, observation_id) WHERE detected_at IS NULL;
"""
"""Version 14: the observations waiting for detection, by site (a partial index: the few rows ``detected_at IS NULL``
holds). ``Store.undetected(site)``, which ``alerts check``, ``timeline``, ``links``, the dashboard and ``detect``
ask of each site, read every observation of the site's history to find them, and ``export``'s count of them by
site every observation of the workspace (0.14-0.25 s at 19,000 observations on a GeoPackage)."""

CHANGE_INPUTS_V15 = """
ALTER TABLE change_pairs ADD COLUMN inputs TEXT;
"""
"""Version 15: ``change_pairs.inputs``, a digest of everything a pair's regions rest on (both observations' rows and
archived COGs' sha256, the site's polygon, the change settings, the detections left out, the sitewatch code:
:mod:`sitewatch.change_state`), so that ``change`` run again with nothing new skips the pair instead of comparing it
again (every pair of every site was read and compared on each run). NULL on the rows an older sitewatch wrote: each
such pair is compared once more and then has it."""

MIGRATIONS: tuple[str, ...] = (_v1(), _V2, _v3(), _v4(), _v5(), _v6(), _V7, _V8, _v_changes(), _V_ALERTS, INDEXES_V11,
                               input_log_sql(), input_update_replace_sql(), INDEX_V14, CHANGE_INPUTS_V15)
"""Migration i brings the schema from version i to i + 1. Append, never edit."""

SCHEMA_VERSION = len(MIGRATIONS)

GPKG_TABLES: frozenset[str] = frozenset(
    re.findall(r"INSERT INTO gpkg_contents \(table_name[^)]*\)\s+VALUES \('(\w+)'", "".join(MIGRATIONS))
)
"""The tables a workspace database lists in ``gpkg_contents``: its layers and attribute tables."""
