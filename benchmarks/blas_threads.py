"""CPU and wall time of change detection with BLAS on one thread against OpenBLAS's default (a thread per core).

    python benchmarks/blas_threads.py              # every LEVIR-CD and DSIFN-CD sample pair, both parts
    python benchmarks/blas_threads.py --pairs 6    # the first six pairs
    python benchmarks/blas_threads.py --workers 2  # worker processes of the second part (default 2)

**In process.** :func:`sitewatch.change.detect_changes` with its defaults (the learned score, regions of
25 m²) on the 0.5 m RGB samples (as ``benchmarks/change_oscd.py`` reads them), twice in the same run: the
baseline with :func:`sitewatch.blas.one_blas_thread` swapped for a context that limits nothing (IR-MAD's
iterations on OpenBLAS's default threads, sitewatch before the limit), then as shipped. Printed: CPU
seconds (user + system, every thread) and wall seconds of each, their ratios, and how many changed pixels
differ between the two (the products are the same sums on one thread: none expected).

**In worker processes.** The same pairs as jobs of :func:`sitewatch.run.map_jobs` on ``--workers``
processes (as ``detect`` and ``ingest`` run theirs), IR-MAD's own limit swapped out in both runs so that
only the workers' is measured: the baseline with the workers' limit
(:func:`sitewatch.blas.one_blas_thread_in_process`) swapped out as well (each forked worker kept the
command's thread per core), then as shipped. CPU is that of the workers (this process's children).

Ratios are shipped / baseline: below 1 is less time. The machine's other load moves both; run it idle.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))
from change_oscd import DATASETS, PNG_SETS, Pair, pair_folders, png_pairs, sitewatch_changed  # noqa: E402


def _cpu(who: int) -> float:
    """User + system CPU seconds of this process (every thread) or of its reaped children."""
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


@contextlib.contextmanager
def _swapped(module: object, name: str, replacement: object) -> Iterator[None]:
    """``module.name`` replaced by ``replacement`` inside the context."""
    old = getattr(module, name)
    setattr(module, name, replacement)
    try:
        yield
    finally:
        setattr(module, name, old)


def _no_limit() -> contextlib.AbstractContextManager[object]:
    return contextlib.nullcontext()


def _changed(pair: Pair) -> NDArray[np.bool_]:
    return sitewatch_changed(pair, min_area_m2=25.0)


def _timed(run: Callable[[], list[NDArray[np.bool_]]], who: int) -> tuple[float, float, list[NDArray[np.bool_]]]:
    c0, w0 = _cpu(who), time.perf_counter()
    out = run()
    return _cpu(who) - c0, time.perf_counter() - w0, out


def _report(title: str, base: tuple[float, float, list[NDArray[np.bool_]]], new: tuple[float, float, list[NDArray[np.bool_]]]) -> None:
    differ = sum(int((a != b).sum()) for a, b in zip(base[2], new[2], strict=True))
    print(f"\n{title}")
    print(f"  {'':34} {'CPU s':>8} {'wall s':>8}")
    print(f"  {'baseline (default BLAS threads)':34} {base[0]:8.2f} {base[1]:8.2f}")
    print(f"  {'one BLAS thread (shipped)':34} {new[0]:8.2f} {new[1]:8.2f}")
    print(f"  {'ratio shipped / baseline':34} {new[0] / base[0]:8.2f} {new[1] / base[1]:8.2f}")
    print(f"  changed pixels that differ: {differ} of {sum(m.size for m in new[2])}")


def main() -> None:
    """Both parts on the pairs found; figures on standard output."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=0, help="the first N pairs only (default every pair)")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the second part (default 2)")
    args = ap.parse_args()
    if args.pairs < 0 or args.workers < 2:
        sys.exit("--pairs must be 0 or more and --workers 2 or more")

    from threadpoolctl import threadpool_info

    import sitewatch.change.irmad as irmad
    import sitewatch.run as run

    pairs = [p for _, folder in PNG_SETS for root in pair_folders(DATASETS / folder) for p in png_pairs(root)]
    if args.pairs:
        pairs = pairs[: args.pairs]
    if not pairs:
        sys.exit(f"no LEVIR-CD or DSIFN-CD pairs under {DATASETS}")
    threads = sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
    print(f"{len(pairs)} pairs (256 x 256, 0.5 m RGB); BLAS threads by default: {threads}")

    _changed(pairs[0])  # imports and the learned model's load, outside both timings
    with _swapped(irmad, "one_blas_thread", _no_limit):
        base = _timed(lambda: [_changed(p) for p in pairs], resource.RUSAGE_SELF)
    new = _timed(lambda: [_changed(p) for p in pairs], resource.RUSAGE_SELF)
    _report("in process: detect_changes, IR-MAD's loop limited or not", base, new)

    jobs = partial(run.map_jobs, _changed, pairs, workers=args.workers)
    with _swapped(irmad, "one_blas_thread", _no_limit):
        with _swapped(run, "one_blas_thread_in_process", lambda: None):
            wbase = _timed(lambda: list(jobs()), resource.RUSAGE_CHILDREN)
        wnew = _timed(lambda: list(jobs()), resource.RUSAGE_CHILDREN)
    _report(f"in {args.workers} worker processes (map_jobs): the workers limited or not", wbase, wnew)


if __name__ == "__main__":
    main()
