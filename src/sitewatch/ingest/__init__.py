"""Ingest: cut a scene to a site, reproject it to the site's grid, archive it as a COG.

The site grid is the site polygon's bounding box in the site's UTM zone,
snapped outward to whole pixels at the scene's ground resolution. Every
observation keeps its provenance (source, hashes, acquisition time, sensor,
resolution, sitewatch version) in the store and in the COG's tags.

Files are written to a temporary name in the archive and renamed into place
only when complete, then recorded in the store in one transaction: an
interrupted ingest leaves no half-written COG and no half row, and a rerun
replaces what it wrote before instead of adding to it.

The modules, in the order a file goes through them:

- :mod:`.entry`: :func:`ingest_paths` and :func:`ingest_file`, and the images paths name;
- :mod:`.scene_ref`: what a file is (:func:`read_scene_ref`), from :mod:`.metadata`: its
  sidecars and acquisition time; :mod:`.band_files`: a scene given one file a band;
- :mod:`.identity`: which image a file is (its sha256, repeats, its observation's id);
- :mod:`.jobs`: one image cut to a site and written (:func:`archive_file`), as a worker's job;
- :mod:`.cut`: its bands read onto the site's grid (:mod:`.grid`) and scaled;
- :mod:`.ortho`: an image placed by RPCs or GCPs, not a map grid, orthorectified over the site's window;
- :mod:`.archive`: the COG written and recorded, and partial files removed.
"""

from __future__ import annotations

# The names imported "as" themselves are importable from here, as from the single module this package
# was, without being its API: band_files_* for the ingest command, the rest reached for by tests.
from ..files import partial_path
from ..image_metadata import _acquired_from as _acquired_from
from ..image_metadata import acquired_from_xml, metadata_sidecars
from .archive import (
    Archived,
    archive_observation,
    commit_archived,
    remove_partials,
    write_observation,
)
from .archive import _writer_running as _writer_running
from .band_files import band_files_name as band_files_name
from .band_files import band_files_sensor as band_files_sensor
from .cut import MAX_WHOLE_READ_PIXELS as MAX_WHOLE_READ_PIXELS
from .cut import band_resampling
from .entry import RASTER_SUFFIXES, IngestReport, expand_paths, ingest_file, ingest_paths
from .grid import MAX_GRID_PIXELS, no_data_as_nan, site_grid, site_mask, valid_pixels
from .identity import SourceDigest, same_images, sha256_file, unique_item_id
from .jobs import FileJob, archive_file, archive_job, map_file_jobs
from .scene_ref import read_scene_ref

__all__ = [
    "IngestReport",
    "band_resampling",
    "site_grid",
    "MAX_GRID_PIXELS",
    "site_mask",
    "no_data_as_nan",
    "valid_pixels",
    "read_scene_ref",
    "write_observation",
    "Archived",
    "archive_observation",
    "archive_file",
    "commit_archived",
    "partial_path",
    "remove_partials",
    "ingest_file",
    "ingest_paths",
    "FileJob",
    "archive_job",
    "map_file_jobs",
    "unique_item_id",
    "same_images",
    "SourceDigest",
    "expand_paths",
    "sha256_file",
    "metadata_sidecars",
    "acquired_from_xml",
    "RASTER_SUFFIXES",
]

