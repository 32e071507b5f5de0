"""The job runner: same results in order, in-process or in worker processes; Dask needs its extra."""

from __future__ import annotations

import importlib.util

import pytest

from sitewatch.errors import MissingExtraError
from sitewatch.run import _identity, map_jobs


@pytest.mark.parametrize("workers", [1, 2])
def test_results_in_input_order(workers: int) -> None:
    items = list(range(23))
    assert list(map_jobs(_identity, items, workers=workers)) == items


@pytest.mark.skipif(importlib.util.find_spec("distributed") is not None, reason="dask.distributed installed")
def test_scheduler_without_dask_says_which_extra() -> None:
    with pytest.raises(MissingExtraError, match=r"sitewatch\[dask\]"):
        list(map_jobs(_identity, [1], scheduler="tcp://127.0.0.1:1"))


def test_dask_cluster_gives_the_same_results() -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        items = list(range(7))
        assert list(map_jobs(_identity, items, scheduler=cluster.scheduler_address)) == items


def test_unreachable_scheduler_is_named_without_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    pytest.importorskip("distributed")
    from sitewatch import run
    from sitewatch.errors import ConfigError

    monkeypatch.setattr(run, "_CONNECT_TIMEOUT_S", 1)
    with socket.socket() as s:  # a loopback port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConfigError, match=rf"tcp://127.0.0.1:{port}.*dask scheduler"):
        list(map_jobs(_identity, [1], scheduler=f"tcp://127.0.0.1:{port}"))
