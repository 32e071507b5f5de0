"""Fuzz a workspace's sitewatch.toml as `sitewatch init` checks it (settings and [catalogs.NAME]): TOML as it
is (the input's first byte even), or keys of both tables given TOML values of any type and size (odd)."""

from __future__ import annotations

import atheris
from _harness import as_file, run

with atheris.instrument_imports(include=["sitewatch", "tomllib"]):
    from sitewatch.workspace import check_toml

SEEDS = [
    b"\x01" + bytes(32),
    b"\x00[settings]\nworkers = 3\nmin_vessel_length_m = 30\nmax_cloud = 40.5\ncatalog = 'earth-search'\n",
    b'\x00[settings]\ncatalog = "mine"\n[catalogs.mine]\nurl = "https://stac.example.org/v1"\nsigning = "none"\n'
    b'token_hosts = ["data.example.org"]\ns3_buckets = ["my-imagery"]\nrequester_pays = false\n',
    b"\x00[settings]\nsar_thermal_noise = 'keep'\nstore = ''\nalerts_webhook = 'https://h.example/x'\n",
]


KEYS = ("workers", "scheduler", "wait_workers", "min_vessel_length_m", "max_vessel_length_m", "max_cloud", "catalog",
        "cog_compress", "optical_mode", "sar_thermal_noise", "store", "alerts_webhook")  # fmt: skip
CATALOG_KEYS = ("url", "signing", "provider", "aliases", "token_env", "access_key_env", "requester_pays", "token_hosts",
                "s3_buckets", "assets_need_credentials", "token")  # fmt: skip
VALUES = ("0", "-1", "2.5", "1" + "0" * 400, "inf", "nan", "-0.0", "true", "''", "'mine'", "'earth-search'", '"https://x.example/v1"',
          '"postgresql://u@h/db"', "1979-05-27T07:32:00Z", "1979-05-27", "07:32:00", "[]", '["a", 1]', '["data.example.org"]',
          "{}", "{ url = 'x' }", "'deflate'", "'keep'", '"file:///tmp/c.json"', '"http://[::1"')  # fmt: skip


def _toml(data: bytes) -> bytes:
    fdp = atheris.FuzzedDataProvider(data)
    lines = ["[settings]"]
    lines += [f"{fdp.PickValueInList(list(KEYS))} = {fdp.PickValueInList(list(VALUES))}" for _ in range(fdp.ConsumeIntInRange(0, 3))]
    lines.append(f"[catalogs.{fdp.PickValueInList(['mine', 'earth-search', 'planetary-computer'])}]")
    lines += [f"{fdp.PickValueInList(list(CATALOG_KEYS))} = {fdp.PickValueInList(list(VALUES))}" for _ in range(fdp.ConsumeIntInRange(0, 4))]
    return "\n".join(lines).encode()


def read(data: bytes) -> None:
    body = _toml(data[1:]) if data[:1] and data[0] % 2 else data[1:]
    check_toml(as_file(body, "sitewatch.toml").parent)


if __name__ == "__main__":
    run(read, SEEDS)
