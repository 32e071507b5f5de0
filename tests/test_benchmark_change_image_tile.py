"""``benchmarks/change_image_tile.py`` gives ``change-image``'s own peak memory, not the script's: Linux starts
an exec'd child's ``ru_maxrss`` at the high-water mark of the memory it replaced (for Python's vfork'ed
children, the parent's), so the script's generated pair used to be counted in the child's peak."""

from __future__ import annotations

import resource
from pathlib import Path

import numpy as np

from _datasets import import_benchmarks

import_benchmarks()

import change_image_tile  # noqa: E402

SRC = Path(__file__).resolve().parents[1] / "src"


def test_peak_is_the_childs_own_not_the_scripts(tmp_path: Path) -> None:
    before, after, patches = change_image_tile.make_sar_pair(tmp_path, 1000)  # four planted patches
    # The script holds 600 MB more than any tiny change-image needs while the child runs, as it held a pair
    # it had just generated.
    held = np.ones(600 * 1024**2 // 8)
    parent_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = tmp_path / "out"
    out.mkdir()
    r = change_image_tile.run(before, after, out, 18.0, SRC, ("--sensor", "sar"))
    assert held[-1] == 1.0
    assert r["ru_maxrss_mb"] >= parent_mb - 1  # the rusage counts the parent: why it is not the peak
    assert 30 < r["peak_mb"] < parent_mb - 400, (r["peak_mb"], parent_mb)
    assert not (out / "vmhwm.kb").exists()  # nothing left beside the outputs
    found, _, n = change_image_tile.recall(str(r["mask"]), patches)
    assert len(patches) == 4 and n > 0 and found == 1.0
