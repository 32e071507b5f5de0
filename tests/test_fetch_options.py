"""FetchOptions: the one value search and fetch take, its defaults the commands', bad values named."""

from __future__ import annotations

import dataclasses
import inspect
from datetime import UTC, datetime

import click
import pytest

from sitewatch.cli.fetch import command as fetch_command
from sitewatch.cli.search import command as search_command
from sitewatch.errors import InputError
from sitewatch.fetch import (
    fetch_candidates,
    fetch_scenes,
    find_scenes,
    measure_site_stats,
    measure_stats_of_sites,
)
from sitewatch.fetch_many import fetch_sites, find_scenes_for_sites
from sitewatch.fetch_options import FetchOptions

T0, T1 = datetime(2024, 10, 1, tzinfo=UTC), datetime(2024, 11, 30, tzinfo=UTC)


def test_the_defaults_are_the_commands_defaults():
    opts = FetchOptions("s2", T0, T1)
    # get_default, not .default: Click 8.5 keeps a flag's default as a sentinel until it is resolved.
    flags = {p.name: p.get_default(click.Context(command)) for command in (fetch_command, search_command) for p in command.params}
    assert (opts.retries, opts.gcp_method, opts.group_km, opts.refresh, opts.force) == (
        flags["retries"], flags["gcp_method"], flags["group_km"], flags["refresh"], flags["force"])  # fmt: skip
    assert opts.max_cloud == 100.0 and opts.thermal_noise == "keep" and opts.context_m is None


def test_every_function_takes_the_options_and_none_of_its_fields_again():
    fields = {f.name for f in dataclasses.fields(FetchOptions)}
    for func in (find_scenes, fetch_scenes, fetch_candidates, measure_site_stats, measure_stats_of_sites,
                 find_scenes_for_sites, fetch_sites):
        params = inspect.signature(func).parameters
        assert "options" in params, func.__name__
        assert not fields & set(params), (func.__name__, fields & set(params))


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"end": datetime(2024, 9, 1, tzinfo=UTC)}, "end 2024-09-01"),
        ({"max_cloud": 101.0}, "max_cloud"),
        ({"max_cloud": float("nan")}, "max_cloud"),
        ({"retries": -1}, "retries"),
        ({"page_size": 0}, "page_size"),
        ({"group_km": -5.0}, "group_km"),
        ({"group_km": float("inf")}, "group_km"),
        ({"gcp_method": "spline"}, "gcp_method"),
        ({"thermal_noise": "remove"}, "thermal_noise"),
    ],
)
def test_a_bad_value_is_refused_naming_its_field(change, named):
    with pytest.raises(InputError, match=named):
        dataclasses.replace(FetchOptions("s2", T0, T1), **change)


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        FetchOptions("s2", T0, T1).max_cloud = 20  # type: ignore[misc]


def test_a_reader_closes_every_asset_it_held_though_one_close_raises():
    # One close() raising (a network error flushing a /vsicurl/ handle) left the assets after it open.
    from sitewatch.fetch import _Reader

    closed: list[str] = []

    class Asset:
        def __init__(self, name: str, fails: bool = False) -> None:
            self.name, self.fails = name, fails

        def close(self) -> None:
            closed.append(self.name)
            if self.fails:
                raise OSError(f"{self.name}: cannot close")

    reader = _Reader(None, None, {}, 0, 0.0)  # type: ignore[arg-type]
    with pytest.raises(OSError, match="a: cannot close"), reader.holding():
        assert reader.held is not None
        reader.held.update({name: (Asset(name, fails=name == "a"), name) for name in ("a", "b", "c")})
    assert sorted(closed) == ["a", "b", "c"] and reader.held is None
