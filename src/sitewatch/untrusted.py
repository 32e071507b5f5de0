"""Reading files from untrusted sources within bounds: zip members of a bounded size.

KMZ gazetteers from the web and SAFE zips have members read whole into memory;
a zip of a few kB can hold a member that unpacks to gigabytes. No file
sitewatch reads is that big, so such a member is refused with an
:class:`~sitewatch.errors.InputError`.
"""

from __future__ import annotations

import zipfile

from .errors import InputError

__all__ = ["MAX_MEMBER_BYTES", "read_zip_member"]

MAX_MEMBER_BYTES = 256 * 2**20
"""Most bytes a zip member read into memory (a KML, a SAFE metadata file) may unpack to."""


def read_zip_member(zf: zipfile.ZipFile, name: str, origin: str, limit: int | None = None) -> bytes:
    """The bytes of member ``name``; one unpacking to more than ``limit`` (default :data:`MAX_MEMBER_BYTES`) bytes is an :class:`InputError`.

    Raises ``KeyError`` for a member the zip does not hold, as ``ZipFile.read`` does.
    """
    limit = MAX_MEMBER_BYTES if limit is None else limit
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise InputError(f"{origin}: {name} unpacks to {info.file_size:,} bytes, more than sitewatch reads "
                         f"({limit:,}); is the zip damaged or made to exhaust memory?")  # fmt: skip
    with zf.open(info) as f:
        data = f.read(limit + 1)  # the size in the header is checked by zipfile, but read no more regardless
    if len(data) > limit:
        raise InputError(f"{origin}: {name} unpacks to more than {limit:,} bytes, more than sitewatch reads")
    return data
