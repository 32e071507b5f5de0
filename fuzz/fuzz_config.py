"""Fuzz a workspace's sitewatch.toml as `sitewatch init` checks it (settings and [catalogs.NAME])."""

from __future__ import annotations

import atheris
from _harness import as_file, run

with atheris.instrument_imports(include=["sitewatch", "tomllib"]):
    from sitewatch.workspace import check_toml

SEEDS = [
    b"[settings]\nworkers = 3\nmin_vessel_length_m = 30\nmax_cloud = 40.5\ncatalog = 'earth-search'\n",
    b'[settings]\ncatalog = "mine"\n[catalogs.mine]\nurl = "https://stac.example.org/v1"\nsigning = "none"\n'
    b'token_hosts = ["data.example.org"]\ns3_buckets = ["my-imagery"]\nrequester_pays = false\n',
    b"[settings]\nsar_thermal_noise = 'keep'\nstore = ''\nalerts_webhook = 'https://h.example/x'\n",
]


def read(data: bytes) -> None:
    check_toml(as_file(data, "sitewatch.toml").parent)


if __name__ == "__main__":
    run(read, SEEDS)
