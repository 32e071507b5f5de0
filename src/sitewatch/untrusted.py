"""Reading files from untrusted sources within bounds: XML without entity declarations, zip members of a bounded size.

KML gazetteers from the web, label files, providers' sidecar XML and SAFE
metadata are parsed whole into memory. Entities declared in a document expand
as it is parsed: expat 2.4+ stops a "billion laughs" but lets a 20 MB file
with an amplification of 30 through (1.2 GB in memory), and older expat
versions, which a Python may be linked against, stop nothing. KMZ and SAFE
zips have members read whole into memory; a zip of a few kB can hold a member
that unpacks to gigabytes. No file sitewatch reads needs either, so both are
refused with an :class:`~sitewatch.errors.InputError`.
"""

from __future__ import annotations

import lzma
import re
import unicodedata
import xml.etree.ElementTree as ET
import xml.parsers.expat
import zipfile
import zlib
from collections.abc import Mapping
from typing import Any

from .errors import ImageReadError, InputError

__all__ = [
    "LINKING_DRIVERS", "MAX_MEMBER_BYTES", "UTF16_MARKS", "check_not_linking", "json_list", "parse_xml", "read_zip_member",
    "text_of", "without_controls",
]  # fmt: skip

MAX_MEMBER_BYTES = 256 * 2**20
"""Most bytes a zip member read into memory (a KML, a SAFE metadata file) may unpack to."""


UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")
"""UTF-16's byte-order marks, little- and big-endian: a file starting with one is UTF-16."""


def text_of(data: bytes) -> str:
    """The text of a file a user wrote: UTF-8 (a byte-order mark skipped, as Notepad writes one), or UTF-16 when it
    starts with UTF-16's mark, as Windows PowerShell's ``Out-File`` and Excel's "Unicode Text" save it; raises
    ``UnicodeDecodeError`` for bytes that are neither (a Windows code page)."""
    if data.startswith(UTF16_MARKS):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


_DECLARED = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _declared_encoding(data: bytes) -> str | None:
    """The encoding an XML document's declaration names (``GBK``), or None; a byte-order mark before it is skipped."""
    found = _DECLARED.match(data.lstrip(b"\xef\xbb\xbf"))
    return None if found is None else found.group(1).decode("ascii")


def parse_xml(data: str | bytes, origin: str) -> ET.Element:
    """The root element of an XML document; one declaring entities is an :class:`InputError`.

    expat reads UTF-8/16 and one-byte encodings only: bytes declaring another (GBK, as Chinese
    labelling tools write) are decoded by Python first. Raises
    :class:`xml.etree.ElementTree.ParseError` for text that is not XML, as ``ET.fromstring`` does,
    and for bytes in an encoding neither reads (``UTF-3``); ``ET.fromstring`` raised ``LookupError``
    or ``ValueError`` for those, which no reader caught.
    """

    def refuse(*_: object) -> None:
        raise InputError(f"{origin}: declares XML entities (<!ENTITY …>), which sitewatch does not expand; "
                         "no KML, label or metadata file needs them")  # fmt: skip

    # A first pass that stops at the first declaration, before any entity is used (whatever the
    # document's encoding, which a search of its bytes would miss); ET has no hook for them.
    check = xml.parsers.expat.ParserCreate()
    check.EntityDeclHandler = refuse
    try:
        check.Parse(data, True)
    except xml.parsers.expat.ExpatError:
        pass  # not XML: ET.fromstring says so below, as a ParseError
    except InputError:
        raise
    except (LookupError, ValueError) as exc:  # "unknown encoding: UTF-3", "multi-byte encodings are not supported"
        return parse_xml(_decoded(data, exc), origin)
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        not_utf8 = _not_utf8(data)
        if not_utf8:
            raise ET.ParseError(not_utf8) from exc
        raise


def _not_utf8(data: str | bytes) -> str:
    """Why bytes expat read as UTF-8 (no encoding declared, or UTF-8) are not, where, and what to do; else "".

    A KML saved in a Windows code page without saying so (Cyrillic names in windows-1251) was "not well-formed
    (invalid token): line 2, column 71", which named no encoding.
    """
    if not isinstance(data, bytes) or data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return ""
    declared = _declared_encoding(data)
    if declared is not None and declared.lower().replace("_", "-") not in ("utf-8", "utf8"):
        return ""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        said = "which its XML declaration says it is" if declared else "which XML declaring no encoding must be"
        return (f"not UTF-8 at line {line}, byte {column} of it, {said}: save it as UTF-8, or declare the encoding it "
                'is in (<?xml version="1.0" encoding="windows-1251"?>)')
    return ""


def _decoded(data: str | bytes, refused: Exception) -> str:
    """``data`` decoded by Python as its declaration says (expat ``refused`` it); a ParseError when it cannot be."""
    declared = _declared_encoding(data) if isinstance(data, bytes) else None  # a str's declaration is not read
    why: Exception = refused
    if isinstance(data, bytes) and declared:
        try:
            return data.decode(declared)
        except (LookupError, UnicodeDecodeError) as exc:
            why = exc
    what = f"its declared encoding {declared!r}" if declared else "its encoding"
    raise ET.ParseError(f"{what} cannot be read ({why}); save it as UTF-8") from why


def read_zip_member(zf: zipfile.ZipFile, name: str, origin: str, limit: int | None = None) -> bytes:
    """The bytes of member ``name``; one unpacking to more than ``limit`` (default :data:`MAX_MEMBER_BYTES`) bytes,
    or that cannot be unpacked (damaged, encrypted, compressed by a method zipfile lacks), is an :class:`InputError`.

    Raises ``KeyError`` for a member the zip does not hold, as ``ZipFile.read`` does.
    """
    limit = MAX_MEMBER_BYTES if limit is None else limit
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise InputError(f"{origin}: {name} unpacks to {info.file_size:,} bytes, more than sitewatch reads "
                         f"({limit:,}); is the zip damaged or made to exhaust memory?")  # fmt: skip
    try:
        with zf.open(info) as f:
            data = f.read(limit + 1)  # the size in the header is checked by zipfile, but read no more regardless
    except (zipfile.BadZipFile, zlib.error, lzma.LZMAError, OSError, EOFError, RuntimeError, NotImplementedError) as exc:
        # Each decompressor's own error for damaged data (bz2's is an OSError), zipfile's RuntimeError for an
        # encrypted member and NotImplementedError for AES or another method it lacks.
        raise InputError(f"{origin}: {name} cannot be unpacked ({exc}): is the zip damaged, or encrypted?") from exc
    if len(data) > limit:
        raise InputError(f"{origin}: {name} unpacks to more than {limit:,} bytes, more than sitewatch reads")
    return data


LINKING_DRIVERS = frozenset({
    "VRT", "WMS", "WMTS", "WCS", "GTI", "STACIT", "STACTA", "OGCAPI", "EEDAI", "PLMOSAIC", "DAAS", "DERIVED",
})  # fmt: skip
"""GDAL formats whose file names other files or URLs that GDAL then reads (a VRT's ``SourceFilename``)."""


def check_not_linking(driver: str, path: object, *, by_name: bool = True) -> None:
    """Refuse a raster that GDAL reads as a format naming other files or URLs, unless its name says so.

    GDAL picks the format from the contents, not the name: an "image.tif" that is VRT XML makes
    GDAL read any file of this machine, or fetch any URL (telling its owner when the image was
    opened), as it is read. A ``.vrt`` file (a mosaic of your own) or VRT text in place of a
    path (as sitewatch builds for a Sentinel-1 product) is read when ``by_name``; a catalogue's
    asset (``by_name=False``) never.
    """
    name = str(path)
    if driver not in LINKING_DRIVERS or (by_name and (name.lower().endswith(".vrt") or name.startswith("<VRTDataset"))):
        return
    raise ImageReadError(
        f"{path}: GDAL reads it as {driver}, a format that reads other files or URLs named inside it; "
        + ("refused for a catalogue's asset" if not by_name else "sitewatch reads such a file only when its name ends in .vrt")
    )


_EMBEDDINGS = frozenset("\u202a\u202b\u202d\u202e")
"""Unicode's explicit embeddings and overrides (LRE, RLE, LRO, RLO), which a PDF (U+202C) ends."""
_ISOLATES = frozenset("\u2066\u2067\u2068")
"""Its directional isolates (LRI, RLI, FSI), which a PDI (U+2069) ends."""


def without_controls(text: str) -> str:
    """``text`` without control characters other than tab and newline, for the terminal: an
    escape sequence (ESC, CSI) in a delivered file would recolour the screen, rewrite lines or
    plant a hyperlink there. Of the directional formatting characters, those that open an embedding,
    override or isolate and are not closed in ``text`` are dropped, and so are closers without an
    opener: an RLO left open in a site's name (U+202E) turned the rest of a table row, or of a
    report's sentence, right to left ("naval_base" shown as "esab_lavan"). Closed ones stay, as an
    Arabic name may need them."""
    kept = [c for c in text if c in "\t\n" or unicodedata.category(c) != "Cc"]
    if not any(c in _EMBEDDINGS or c in _ISOLATES or c in "\u202c\u2069" for c in kept):
        return "".join(kept)
    dropped: set[int] = set()
    opened: list[int] = []
    for i, c in enumerate(kept):
        if c in _EMBEDDINGS or c in _ISOLATES:
            opened.append(i)
        elif c == "\u202c":  # a PDF ends the last embedding, not across an isolate
            if opened and kept[opened[-1]] in _EMBEDDINGS:
                opened.pop()
            else:
                dropped.add(i)
        elif c == "\u2069":  # a PDI ends the last isolate, and the embeddings opened within it
            isolates = [n for n, j in enumerate(opened) if kept[j] in _ISOLATES]
            if isolates:
                del opened[isolates[-1]:]
            else:
                dropped.add(i)
    dropped.update(opened)
    return "".join(c for i, c in enumerate(kept) if i not in dropped)


def json_list(data: Mapping[str, Any], key: str, origin: object) -> list[Any]:
    """The list under ``key`` of a JSON object read from ``origin`` (absent or null: empty); anything
    else there is an :class:`InputError` naming what it is, before a loop over it fails on it."""
    items = data.get(key) or []
    if not isinstance(items, list):
        raise InputError(f"{origin}: its '{key}' is not a list of {key} (a JSON {type(items).__name__})")
    return items
