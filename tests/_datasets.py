"""The shared labelled datasets the dataset tests read (../shared/datasets, each with its SOURCE.md), and
the benchmarks' readers of them."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

DATASETS = Path(__file__).parents[1].parent / "shared" / "datasets"
BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


def needs_dataset(*parts: str) -> list[pytest.MarkDecorator]:
    """Marks of a test (or a module's ``pytestmark``) that reads ``DATASETS / parts…``: ``dataset``, and
    skipped, naming the dataset's folder, where that folder is not present."""
    return [
        pytest.mark.dataset,
        pytest.mark.skipif(not DATASETS.joinpath(*parts).is_dir(), reason=f"../shared/datasets/{parts[0]} not present"),
    ]


def import_benchmarks() -> None:
    """Let the tests import the benchmarks' modules (their dataset readers and scorers)."""
    sys.path.insert(0, str(BENCHMARKS))
