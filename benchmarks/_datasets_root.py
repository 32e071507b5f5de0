"""Where the benchmarks find the labelled datasets: a script's ``--datasets DIR`` first, then the
environment variable ``SITEWATCH_DATASETS``, then ``../shared/datasets`` beside the repository.

Each dataset keeps its own folder name and layout under that root (``sar-ship-dataset-samples/``,
``hrsid-samples/``, ``opensarship-s1-subset/``, ``sen2ships/sen2ships/``, ``oscd/``,
``levir-cd-samples/samples_LEVIR/``, ``dsifn-cd-samples/samples_DSIFN/``), so more data of the same
kind is read by dropping it beside ours, or by pointing the root at a folder laid out the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["ENV", "datasets_root"]

ENV = "SITEWATCH_DATASETS"


def datasets_root() -> Path:
    """The datasets folder: ``$SITEWATCH_DATASETS`` when set, else ``../shared/datasets``."""
    value = os.environ.get(ENV)
    return Path(value) if value else Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
