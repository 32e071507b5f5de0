"""The ``.csvt`` written beside an exported CSV file: its columns' types, for GDAL and so QGIS.

GDAL's CSV driver reads every column of a CSV as text unless a file of the same name with the suffix
``.csvt`` lies beside it: one line, a quoted type a column, of ``Integer``, ``Real``, ``String``, ``Date``,
``Time``, ``DateTime``, ``Integer(Boolean)`` and ``WKT`` (gdal.org, "Comma Separated Value (.csv)", the
``.csvt`` section). Dropped into QGIS without one, an export's lengths sorted as words ("111" before "35"),
a filter ``length_m > 100`` compared text and ``simulated`` was the word ``false``, as a KML's untyped data
did before it had its ``<Schema>``.

The types are the layer's own, not guessed from the rows: the same columns get the same types in every
export, one of a day without detections too. The CSV stays whole by itself (a spreadsheet, or a reader
that does not know ``.csvt``, reads it as before, and a copy made without the sidecar loses only the types).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .change_exports import CHANGE_FIELDS

__all__ = ["CHANGE_CSV_TYPES", "CSV_BOM", "DETECTION_CSV_TYPES", "csvt_text", "with_bom"]

_FROM_GPKG = {"TEXT": "String", "REAL": "Real", "INTEGER": "Integer", "DATETIME": "DateTime", "BOOLEAN": "Integer(Boolean)"}

_PLACE = {"lon": "Real", "lat": "Real", "wkt": "WKT"}

DETECTION_CSV_TYPES: dict[str, str] = {
    "id": "String", "site_id": "String", "kind": "String", "length_m": "Real", "width_m": "Real",
    "heading_deg": "Real", "score": "Real", "truncated": "Integer(Boolean)", "class_candidates": "String",
    "berth": "String", "observation_id": "String", "scene_id": "String", "acquired": "DateTime",
    "acquired_date_only": "Integer(Boolean)", "sensor": "String", "platform": "String", "resolution_m": "Real",
    "image": "String", "detector": "String", "sha256": "String", "simulated": "Integer(Boolean)",
    "credit": "String",
} | _PLACE  # fmt: skip
"""Each column of :data:`~sitewatch.report.detection_exports.DETECTION_CSV_COLUMNS` and its ``.csvt`` type."""

CHANGE_CSV_TYPES: dict[str, str] = {k: _FROM_GPKG[v] for k, v in CHANGE_FIELDS.items()} | _PLACE
"""Each column of :data:`~sitewatch.report.change_exports.CHANGE_CSV_COLUMNS` and its ``.csvt`` type (the
GeoPackage's column types, ``CHANGE_FIELDS``)."""

def csvt_text(columns: Sequence[str], types: Mapping[str, str]) -> str:
    """The ``.csvt`` line for a CSV of ``columns`` (in that order), CRLF-ended as the CSV's lines are; a column
    without a type in ``types`` is a KeyError (a column added to a CSV must be typed too)."""
    return ",".join(f'"{types[c]}"' for c in columns) + "\r\n"


CSV_BOM = "\ufeff"
"""UTF-8's byte-order mark (bytes EF BB BF), which Excel on Windows needs at a CSV's start to read it as UTF-8
rather than the ANSI code page (Korean and Cyrillic names otherwise come out garbled); GDAL's CSV driver writes it
with ``WRITE_BOM=YES``. Off by default: Python's ``csv`` with ``encoding="utf-8"`` and other scripts would take it
for part of the first column's name."""


def with_bom(text: str, bom: bool) -> str:
    """A CSV's ``text``, started with :data:`CSV_BOM` when ``bom`` (``--bom``); the ``.csvt`` beside it gets none."""
    return CSV_BOM + text if bom else text
