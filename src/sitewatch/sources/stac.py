"""STAC catalogues: which ones exist, how to search them, how to read their assets.

Three catalogues are built in — Element 84 Earth Search v1, Microsoft
Planetary Computer and Copernicus Data Space (CDSE) — and a workspace can
name more in ``sitewatch.toml``::

    [catalogs.mine]
    url = "https://example.org/stac/v1"
    signing = "none"                 # or "planetary-computer"
    token_env = "MINE_TOKEN"         # sent as "Authorization: Bearer …" to the API and assets
    # access_key_env / secret_key_env / s3_endpoint for S3 assets

Any other STAC API URL works as it is, and so does a static catalogue on disk (its catalog.json's path,
its folder or a ``file://`` URL), walked by :mod:`.stac_static`. Credentials come from the environment
(the variable names are part of the catalogue) or from the same toml table
(``token = "…"``); they never appear in logs, reprs, errors or provenance.

Search goes through pystac-client with retries and backoff on transient
HTTP errors (429, 5xx), and its results are cached under the workspace so a
rerun (or a resumed fetch) does not ask again. Collections are described by a
:class:`Profile` that says which asset holds which band and how its numbers
become physical values — including the Sentinel-2 processing-baseline 04.00
offset, decided from each item's own metadata.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import os
import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from shapely import make_valid
from shapely.errors import ShapelyError
from shapely.geometry import shape

from ..config import read_toml
from ..errors import ConfigError, CredentialError, InputError, SourceError, require_extra
from ..model import SceneRef, utc

__all__ = [
    "Catalog",
    "BUILTIN_CATALOGS",
    "resolve_catalog",
    "catalog_on_disk",
    "check_catalogs",
    "catalog_credentials",
    "token_goes_to",
    "keys_go_to",
    "gdal_options",
    "gdal_env",
    "Signer",
    "NoSigner",
    "PlanetaryComputerSigner",
    "make_signer",
    "Profile",
    "profile_for",
    "resolve_collection",
    "s2_offset",
    "asset_scaling",
    "item_to_scene",
    "search_items",
    "SEARCH_CACHE_HOURS",
    "REMOTE_SCHEMES",
    "redact",
]

log = logging.getLogger(__name__)

REMOTE_SCHEMES = ("https", "http", "s3")
"""URL schemes an asset href may have; any other (a local path, ``file://``) is refused."""
SEARCH_CACHE_HOURS = 24.0
"""How long cached search results are reused before the catalogue is asked again."""

_TRANSIENT = (429, 500, 502, 503, 504)


# -- catalogues -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """One STAC API (or a static catalogue on disk, :attr:`on_disk`) and what reading its assets needs."""

    name: str
    """Name used on the command line (``--catalog NAME``)."""
    url: str
    """STAC API root, or a ``file://`` URL of a catalogue on disk (its root JSON or its folder)."""
    provider: str
    """Provider slug recorded in each SceneRef."""
    signing: Literal["none", "planetary-computer"] = "none"
    """How asset URLs are signed before reading."""
    aliases: Mapping[str, str] = field(default_factory=dict)
    """Short collection names (``s1``, ``s2``, ``landsat``) → this catalogue's collection ids."""
    token_env: str = ""
    """Environment variable holding a bearer token (API and asset requests)."""
    token_hosts: tuple[str, ...] = ()
    """Hosts besides the catalogue's own (and their subdomains) the token may be sent to, e.g. an asset CDN."""
    access_key_env: str = ""
    """Environment variable holding an S3 access key for ``s3://`` assets."""
    secret_key_env: str = ""
    """Environment variable holding the matching S3 secret key."""
    s3_buckets: tuple[str, ...] = ()
    """Buckets the S3 keys are used for (``s3://BUCKET/…``); an asset in any other bucket is read without them."""
    s3_endpoint: str = ""
    """S3 endpoint host for ``s3://`` assets (blank: AWS)."""
    requester_pays: bool = False
    """``s3://`` assets are in a requester-pays bucket (AWS bills the reader)."""
    assets_need_credentials: bool = False
    """Asset reads fail without the S3 keys or token (CDSE)."""
    account_hint: str = ""
    """Where a user gets the credentials, for error messages."""
    toml_credentials: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)
    """Credentials written in sitewatch.toml (``token``, ``access_key``, ``secret_key``); never shown."""

    @property
    def on_disk(self) -> bool:
        """A static catalogue on this machine (``file://``), walked rather than searched; its assets may be local files."""
        return self.url.startswith("file:")

    @property
    def shown_url(self) -> str:
        """``url`` as messages, provenance and caches record it: a password in it (``user:pw@host``) as ``***``."""
        return masked_url(self.url)


def masked_url(url: str) -> str:
    """``url`` with the password of its user part (``https://ana:pw@host/``) shown as ``***``."""
    return re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@?#]*):[^@/?#]*@", r"\1:***@", url, flags=re.I)


_S2, _S1, _LS = "sentinel-2-l2a", "sentinel-1-grd", "landsat-c2-l2"
_DEFAULT_ALIASES = {"s2": _S2, "sentinel-2": _S2, "s1": _S1, "sentinel-1": _S1, "landsat": _LS}
"""Short names any catalogue understands unless its ``aliases`` say otherwise."""

BUILTIN_CATALOGS: dict[str, Catalog] = {
    "earth-search": Catalog(
        name="earth-search",
        url="https://earth-search.aws.element84.com/v1",
        provider="earth-search",
        aliases={"s2": _S2, "s1": _S1, "landsat": _LS},
        access_key_env="AWS_ACCESS_KEY_ID",
        secret_key_env="AWS_SECRET_ACCESS_KEY",
        # Sentinel-1 GRD and Landsat live in requester-pays buckets there; S2 COGs are public.
        s3_buckets=("sentinel-s1-l1c", "usgs-landsat"),
        requester_pays=True,
        account_hint="an AWS account (Sentinel-1 GRD and Landsat assets are requester-pays)",
    ),
    "planetary-computer": Catalog(
        name="planetary-computer",
        url="https://planetarycomputer.microsoft.com/api/stac/v1",
        provider="planetary-computer",
        signing="planetary-computer",
        aliases={"s2": _S2, "s1": "sentinel-1-rtc", "s1-grd": _S1, "landsat": _LS},
        token_env="PC_SDK_SUBSCRIPTION_KEY",
        account_hint="optional: a Planetary Computer subscription key raises rate limits",
    ),
    "cdse": Catalog(
        name="cdse",
        url="https://stac.dataspace.copernicus.eu/v1",
        provider="cdse",
        aliases={"s2": _S2, "s1": _S1},
        access_key_env="CDSE_S3_ACCESS_KEY",
        secret_key_env="CDSE_S3_SECRET_KEY",
        s3_buckets=("eodata",),
        s3_endpoint="eodata.dataspace.copernicus.eu",
        assets_need_credentials=True,
        account_hint="S3 keys of a Copernicus Data Space account "
        "(https://eodata-s3keysmanager.dataspace.copernicus.eu/)",
    ),
}


def resolve_catalog(
    name_or_url: str, workspace: Path | None = None, origin: str = "", relative_to: Path | None = None
) -> Catalog:
    """A catalogue by name (``[catalogs.NAME]`` in sitewatch.toml, then built-ins), by URL, or by the
    path of a static catalogue on disk.

    ``origin`` says where the name came from (``--catalog``, ``SITEWATCH_CATALOG``...) for the error
    an unknown name gets; ``relative_to`` is the folder a relative path counts from (the current
    folder when None; the workspace's for the ``catalog`` setting written in its sitewatch.toml)."""
    tables: dict[str, Any] = {}
    path = None
    if workspace is not None:
        path = Path(workspace) / "sitewatch.toml"
        tables = _catalog_tables(path)
    key = name_or_url.strip()
    if key in tables:
        return _catalog_from_table(key, tables[key], BUILTIN_CATALOGS.get(key), path)
    if key in BUILTIN_CATALOGS:
        return BUILTIN_CATALOGS[key]
    if re.match(r"https?://", key):
        for cat in BUILTIN_CATALOGS.values():  # a built-in named by URL keeps its signing and keys
            if cat.url.rstrip("/") == key.rstrip("/"):
                return cat
        # The provider (the scene ids' first part, in the database, COG tags and reports) and the name shown
        # in messages and provenance never hold a password given in the URL (https://ana:pw@host/stac).
        host = re.sub(r"^https?://", "", key).split("/")[0].rsplit("@", 1)[-1]
        return Catalog(name=masked_url(key), url=key.rstrip("/"), provider=host)
    if _on_disk(key, relative_to):
        return catalog_on_disk(key, relative_to)
    known = sorted(set(BUILTIN_CATALOGS) | set(tables))
    raise ConfigError(
        f"unknown catalogue {name_or_url!r}{f' ({origin})' if origin else ''}; use one of {', '.join(known)}, "
        "a STAC API URL, the path of a static catalogue's catalog.json (./delivery/catalog.json), or add "
        "[catalogs.NAME] with a url to sitewatch.toml"
    )


def catalog_on_disk(path: str, base: Path | None = None) -> Catalog:
    """A static catalogue on this machine, by its root JSON's path (or folder, or ``file://`` URL); a relative
    path is taken from ``base`` (the current folder when None). Its items are walked, not searched:
    :mod:`sitewatch.sources.stac_static`."""
    if path.startswith("file:"):
        from urllib.parse import unquote

        local = Path(unquote(urlsplit(path).path))
    else:
        local = Path(path).expanduser()
        if not local.is_absolute() and base is not None:
            local = base / local
    local = Path(os.path.abspath(local))  # (absolute with any ../ taken out, as messages and provenance name it)
    return Catalog(name=str(local), url=local.as_uri(), provider="local-stac")


def _on_disk(text: str, relative_to: Path | None = None) -> bool:
    """Whether a catalogue given by the user names a file or folder (``file://``, a path, a ``.json``) rather than
    an API: pystac users open a static catalogue by its path, and were told it was an unknown catalogue name."""
    if re.match(r"https?://", text):
        return False
    if text.startswith("file:") or text.lower().endswith(".json"):
        return True
    try:
        path = Path(text).expanduser()
        return ("/" in text or "\\" in text) and (path if relative_to is None else relative_to / path).exists()
    except OSError:
        return False


def _catalog_tables(path: Path) -> dict[str, Any]:
    tables = read_toml(path).get("catalogs", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: catalogs must be tables, one [catalogs.NAME] with its url for each catalogue, got {tables!r}")
    return tables


def check_catalogs(workspace: Path, catalog: str) -> None:
    """Check every ``[catalogs.NAME]`` of a workspace's sitewatch.toml, and that ``catalog`` (the
    setting it gives) names a catalogue, so that a typo there is named by every command, not
    only by the ``search`` or ``fetch`` that would use it."""
    path = Path(workspace) / "sitewatch.toml"
    tables = _catalog_tables(path)
    for name, table in tables.items():
        _catalog_from_table(name, table, BUILTIN_CATALOGS.get(name), path)
    resolve_catalog(catalog, workspace, origin=f"{path}: [settings] catalog", relative_to=Path(workspace))


def _catalog_from_table(name: str, table: Any, base: Catalog | None, path: Path | None) -> Catalog:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [catalogs.{name}] must be a table")
    known = {
        "url", "signing", "provider", "aliases", "token_env", "access_key_env", "secret_key_env",
        "s3_endpoint", "requester_pays", "assets_need_credentials", "token", "access_key", "secret_key",
        "token_hosts", "s3_buckets",
    }  # fmt: skip
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"{path}: [catalogs.{name}] has unknown keys {sorted(unknown)}; known: {sorted(known)}")
    if base is None and not table.get("url"):
        raise ConfigError(f"{path}: [catalogs.{name}] needs a url")
    on_disk = "url" in table and isinstance(table["url"], str) and _on_disk(table["url"])
    if "url" in table and not on_disk and not (isinstance(table["url"], str) and re.match(r"https?://[^/\s]+", table["url"])):
        raise ConfigError(f"{path}: [catalogs.{name}] url must be a STAC API's http:// or https:// address, or the path "
                          f"of a catalog.json on disk, got {table['url']!r}")
    signing = table.get("signing", base.signing if base else "none")
    if signing not in ("none", "planetary-computer"):
        raise ConfigError(f"{path}: [catalogs.{name}] signing must be 'none' or 'planetary-computer', got {signing!r}")
    _check_catalog_types(name, table, path)
    creds = {k: table[k] for k in ("token", "access_key", "secret_key") if table.get(k)}
    values: dict[str, Any] = {k: table[k] for k in known - {"token", "access_key", "secret_key"} if k in table}
    if on_disk:  # a catalogue on disk named in sitewatch.toml: a relative path is from the toml's folder
        values["url"] = catalog_on_disk(values["url"], path.parent if path is not None else None).url
    elif "url" in values:
        values["url"] = values["url"].rstrip("/")  # as a catalogue given by URL: https://x/v1/ is https://x/v1
    values["signing"] = signing
    for key, pattern, what, example in (
        ("token_hosts", r"[\w.-]+", "host names", "data.example.org"),
        ("s3_buckets", r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "bucket names", "my-imagery"),
    ):
        if key in table:
            names = table[key]
            if not isinstance(names, list) or not all(isinstance(n, str) and re.fullmatch(pattern, n) for n in names):
                raise ConfigError(f'{path}: [catalogs.{name}] {key} must be a list of {what}, e.g. ["{example}"]')
            values[key] = tuple(n.lower() for n in names)  # (bucket names are lower case already)
    if base is not None:
        merged = {f: getattr(base, f) for f in base.__dataclass_fields__} | values
        merged["toml_credentials"] = creds
        return Catalog(**merged)
    return Catalog(
        name=name,
        provider=str(table.get("provider", name)),
        toml_credentials=creds,
        **{k: v for k, v in values.items() if k != "provider"},
    )


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_catalog_types(name: str, table: Mapping[str, Any], path: Path | None) -> None:
    """Refuse a ``[catalogs.NAME]`` value of the wrong type, naming it: ``requester_pays = "false"``
    is a true value to Python (every read of the bucket billed to the keys' owner), and
    ``token_env = 5`` names no variable, so the token would silently never be sent."""
    where = f"{path}: [catalogs.{name}]"
    for key in ("requester_pays", "assets_need_credentials"):
        if key in table and not isinstance(table[key], bool):
            raise ConfigError(f"{where} {key} must be true or false (no quotes), got {table[key]!r}")
    for key in ("token_env", "access_key_env", "secret_key_env"):
        if key in table and not (isinstance(table[key], str) and _ENV_NAME.fullmatch(table[key])):
            raise ConfigError(f'{where} {key} must be the name of an environment variable, e.g. "MINE_TOKEN", got {table[key]!r}')
    for key in ("token", "access_key", "secret_key"):
        if key in table and not isinstance(table[key], str):
            raise ConfigError(f"{where} {key} must be text in quotes")  # the value is a secret: not shown
    if "provider" in table and not (isinstance(table["provider"], str) and table["provider"].strip()):
        raise ConfigError(f"{where} provider must be a non-empty name in quotes, got {table['provider']!r}")
    if "s3_endpoint" in table and not (isinstance(table["s3_endpoint"], str) and re.fullmatch(r"[\w.-]*(:\d+)?", table["s3_endpoint"])):
        raise ConfigError(f'{where} s3_endpoint must be a host name, e.g. "s3.example.org", got {table["s3_endpoint"]!r}')
    aliases = table.get("aliases", {})
    if not (isinstance(aliases, dict) and all(isinstance(v, str) for v in aliases.values())):
        raise ConfigError(f'{where} aliases must be a table of short name = "collection id", e.g. {{ s2 = "sentinel-2-l2a" }}, got {aliases!r}')


def catalog_credentials(catalog: Catalog, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The catalogue's credentials: environment first, then sitewatch.toml. Values never logged."""
    env = os.environ if env is None else env
    out: dict[str, str] = {}
    for role, var in (("token", catalog.token_env), ("access_key", catalog.access_key_env),
                      ("secret_key", catalog.secret_key_env)):  # fmt: skip
        value = (env.get(var) if var else None) or catalog.toml_credentials.get(role)
        if value:
            out[role] = value
    return out


def credential_hint(catalog: Catalog) -> str:
    """Which credential a refused request was missing, named by its variables — never its value."""
    names = [v for v in (catalog.token_env, catalog.access_key_env, catalog.secret_key_env) if v]
    where = f" ({catalog.account_hint})" if catalog.account_hint else ""
    if not names:
        return (
            f"catalogue {catalog.name!r} needs a credential sitewatch was not told about; add "
            f'token_env = "VAR" under [catalogs.{catalog.name}] in sitewatch.toml and set VAR'
        )
    return f"set {' and '.join(names)}{where}, or put them under [catalogs.{catalog.name}] in sitewatch.toml"


def token_goes_to(catalog: Catalog, url: str) -> bool:
    """Whether the catalogue's token may be sent with a request for ``url``.

    Only to the catalogue's own host, the hosts of ``token_hosts`` and their subdomains:
    an item, a search page's "next" link or an asset href naming another host (any
    catalogue's answer can) must not receive the token.
    """
    host = (urlsplit(url).hostname or "").lower()
    allowed = [(urlsplit(catalog.url).hostname or "").lower(), *catalog.token_hosts]
    return bool(host) and any(host == h or host.endswith("." + h) for h in allowed if h)


def keys_go_to(catalog: Catalog, url: str) -> bool:
    """Whether the catalogue's S3 keys may sign a request for ``url``: only ``s3://`` URLs of the
    buckets in ``s3_buckets``. Any catalogue's answer can name any bucket, and a signed request to
    a requester-pays bucket of someone else's bills the key's owner."""
    parts = urlsplit(url)
    return parts.scheme == "s3" and parts.netloc in catalog.s3_buckets


CONNECT_TIMEOUT_S = 15.0
"""How long a connection to a catalogue may take to be made (the answer then has the whole ``timeout``)."""

_READ_RETRIES = 1
"""A request that got no answer within the timeout is asked once more, not ``retries`` times.

A host that takes the connection and never answers (a proxy or firewall that swallows requests, a hung
server) kept a search silent for six and a half minutes: six tries of 60 s each, plus the backoff.
Each timeout is said as it happens, so the wait is never without a word.
"""


def require_asset_credentials(catalog: Catalog, creds: Mapping[str, str]) -> None:
    """Fail before any download when the catalogue's assets cannot be read without keys."""
    if catalog.assets_need_credentials and not ({"access_key", "secret_key"} <= set(creds) or "token" in creds):
        raise CredentialError(f"downloads from {catalog.name} need an account: {credential_hint(catalog)}")


def gdal_options(catalog: Catalog, creds: Mapping[str, str], hrefs: Sequence[str] = ()) -> dict[str, Any]:
    """GDAL configuration for reading this catalogue's assets — the one place they are set."""
    opts: dict[str, Any] = {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",  # no directory listing per COG
        "GDAL_HTTP_MAX_RETRY": 4,  # GDAL retries 429/5xx itself, with the delay doubling
        "GDAL_HTTP_RETRY_DELAY": 0.5,
        "GDAL_HTTP_TIMEOUT": 60,
        "CPL_VSIL_CURL_USE_HEAD": "NO",
        "GDAL_HTTP_MULTIRANGE": "SINGLE_GET",
        "VSI_CACHE": True,
    }
    if "token" in creds and catalog.signing != "planetary-computer" and hrefs and all(token_goes_to(catalog, h) for h in hrefs):
        # A Planetary Computer key goes to its token service (the package reads it), never to blob
        # storage, which refuses an Authorization header next to a SAS token.
        opts["GDAL_HTTP_HEADERS"] = f"Authorization: Bearer {creds['token']}"
    s3 = [h for h in hrefs if h.startswith("s3://")]
    if s3:
        if {"access_key", "secret_key"} <= set(creds) and all(keys_go_to(catalog, h) for h in s3):
            opts["AWS_ACCESS_KEY_ID"] = creds["access_key"]
            opts["AWS_SECRET_ACCESS_KEY"] = creds["secret_key"]
            if catalog.requester_pays:
                opts["AWS_REQUEST_PAYER"] = "requester"
        else:
            opts["AWS_NO_SIGN_REQUEST"] = "YES"
        if catalog.s3_endpoint:
            opts["AWS_S3_ENDPOINT"] = catalog.s3_endpoint
            opts["AWS_VIRTUAL_HOSTING"] = "FALSE"
            opts["AWS_HTTPS"] = "YES"
    return opts


def gdal_env(catalog: Catalog, creds: Mapping[str, str], hrefs: Sequence[str] = ()) -> Any:
    """A ``rasterio.Env`` with :func:`gdal_options` for reading ``hrefs``.

    rasterio refuses S3 keys as configuration options (it hands them to GDAL from a session
    object), so the keys, when they may go with these hrefs, travel in a session of their own.
    """
    import rasterio
    from rasterio.session import Session

    opts = gdal_options(catalog, creds, hrefs)
    keys: dict[str, str] = {k: str(opts.pop(k)) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if k in opts}

    class _S3Keys(Session):
        @classmethod
        def hascreds(cls, config: Mapping[str, Any]) -> bool:
            return "AWS_ACCESS_KEY_ID" in config and "AWS_SECRET_ACCESS_KEY" in config

        def get_credential_options(self) -> dict[str, str]:
            return dict(keys)

    return rasterio.Env(session=_S3Keys() if keys else None, **opts)


def redact(text: str) -> str:
    """Strip query strings (SAS tokens, signatures) from URLs in a message."""
    return re.sub(r"(https?://[^\s?'\"]+)\?[^\s'\"]*", r"\1?…", text)


# -- signing --------------------------------------------------------------------------------------


class Signer(Protocol):
    """Turns an asset href into one that can be read now."""

    def sign(self, href: str, *, refresh: bool = False) -> str:
        """Signed href; ``refresh=True`` after a 403 forces a new token."""
        ...


class NoSigner:
    """Catalogues whose assets are read as they are."""

    def sign(self, href: str, *, refresh: bool = False) -> str:
        """The href unchanged."""
        return href


class PlanetaryComputerSigner:
    """SAS-token signing with the ``planetary-computer`` package.

    Hrefs are signed right before each read, not at search time, so a long
    fetch never uses a token older than the package's cache allows (it
    renews tokens within a minute of expiry). ``refresh=True`` drops the
    cached tokens, for a token that expired between signing and reading.
    """

    def sign(self, href: str, *, refresh: bool = False) -> str:
        """The href with a SAS token appended; ``refresh=True`` drops cached tokens first."""
        require_extra("planetary_computer", "stac")
        import planetary_computer
        from planetary_computer import sas

        if refresh:
            sas.TOKEN_CACHE.clear()
        return str(planetary_computer.sign_url(href))


_NO_SIGNER_IS_A_SIGNER: type[Signer] = NoSigner
_PC_SIGNER_IS_A_SIGNER: type[Signer] = PlanetaryComputerSigner


def make_signer(catalog: Catalog) -> Signer:
    """The signer a catalogue's assets need."""
    return PlanetaryComputerSigner() if catalog.signing == "planetary-computer" else NoSigner()


# -- collections ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """How a collection's items become sitewatch bands."""

    kind: Literal["sentinel-2-l2a", "sentinel-1-rtc", "sentinel-1-grd", "landsat-c2-l2"]
    sensor: Literal["sar", "optical"]
    resolution_m: float
    bands: Mapping[str, tuple[str, ...]]
    """sitewatch band name → asset keys that may hold it, in order of preference."""
    mask_band: str = ""
    """Band holding cloud/validity classes (``SCL``, ``QA``), read first to judge the scene."""
    optional: frozenset[str] = frozenset()
    """Bands an item may lack (single-polarisation SAR)."""


PROFILES: dict[str, Profile] = {
    "sentinel-2-l2a": Profile(
        "sentinel-2-l2a", "optical", 10.0,
        {"blue": ("blue", "B02", "B02_10m"), "green": ("green", "B03", "B03_10m"),
         "red": ("red", "B04", "B04_10m"), "nir": ("nir", "B08", "B08_10m"),
         "SCL": ("scl", "SCL", "SCL_20m")},
        mask_band="SCL",
    ),
    "sentinel-1-rtc": Profile(
        "sentinel-1-rtc", "sar", 10.0,
        {"VV": ("vv", "VV"), "VH": ("vh", "VH"), "HH": ("hh", "HH"), "HV": ("hv", "HV")},
        optional=frozenset({"VV", "VH", "HH", "HV"}),
    ),
    "sentinel-1-grd": Profile(
        "sentinel-1-grd", "sar", 10.0,
        {"VV": ("vv", "VV"), "VH": ("vh", "VH"), "HH": ("hh", "HH"), "HV": ("hv", "HV")},
        optional=frozenset({"VV", "VH", "HH", "HV"}),
    ),
    "landsat-c2-l2": Profile(
        "landsat-c2-l2", "optical", 30.0,
        {"blue": ("blue", "SR_B2"), "green": ("green", "SR_B3"), "red": ("red", "SR_B4"),
         "nir": ("nir08", "SR_B5"), "QA": ("qa_pixel", "QA_PIXEL")},
        mask_band="QA",
    ),
}  # fmt: skip


def resolve_collection(catalog: Catalog, collection: str) -> str:
    """A collection id: the catalogue's alias (``s1``, ``s2``, ``landsat``) or the id as given.

    For a built-in catalogue the id must be one sitewatch reads (an :data:`InputError`
    naming the allowed ones, before any request). Another catalogue may name its
    collections as it likes: their items are read by their platform.
    """
    key = collection.lower()
    if catalog.name in BUILTIN_CATALOGS and catalog.url == BUILTIN_CATALOGS[catalog.name].url:
        # A built-in catalogue offers the collections its aliases name, no others
        # (Sentinel-1 RTC is Planetary Computer's; Landsat is not on CDSE).
        resolved = catalog.aliases.get(key) or _DEFAULT_ALIASES.get(key) or collection
        offered = sorted(set(catalog.aliases.values()))
        if resolved not in offered:
            names = offered + sorted(catalog.aliases)
            raise InputError(
                f"--collection {collection!r}: {catalog.name} has no collection sitewatch reads by that "
                f"name; use one of {', '.join(names)}"
            )
        return resolved
    return catalog.aliases.get(key) or _DEFAULT_ALIASES.get(key) or collection


_LANDSAT_TM_BANDS: Mapping[str, tuple[str, ...]] = {
    "blue": ("blue", "SR_B1"), "green": ("green", "SR_B2"), "red": ("red", "SR_B3"), "nir": ("nir08", "SR_B4"),
    "QA": ("qa_pixel", "QA_PIXEL"),
}  # fmt: skip
"""A Landsat 4, 5 or 7 item's assets (TM, ETM+): its file-named keys number blue 1, not 2 as OLI's do."""
_LANDSAT_TM_PLATFORM = re.compile(r"landsat[-_ ]?0?[457]")


def profile_for(collection: str, properties: Mapping[str, Any] | None = None) -> Profile:
    """The profile of a collection id (or, failing that, of an item's platform); a Landsat 4, 5 or 7 item's
    band numbers are its own (``SR_B1`` blue), not Landsat 8-9's (``SR_B2`` blue)."""
    profile = _collection_profile(collection, properties)
    platform = str((properties or {}).get("platform", "")).lower()
    if profile.kind == "landsat-c2-l2" and _LANDSAT_TM_PLATFORM.fullmatch(platform):
        # Catalogues keyed by common name (blue, nir08) were read right; one keyed by file name read ETM+'s SR_B2
        # (green) as blue and its SR_B5 (short-wave infrared) as NIR.
        return replace(profile, bands=_LANDSAT_TM_BANDS)
    return profile


def _collection_profile(collection: str, properties: Mapping[str, Any] | None) -> Profile:
    c = collection.lower()
    if "sentinel-2" in c and "l2a" in c:
        return PROFILES["sentinel-2-l2a"]
    if "sentinel-1" in c and "rtc" in c:
        return PROFILES["sentinel-1-rtc"]
    if "sentinel-1" in c:
        return PROFILES["sentinel-1-grd"]
    if "landsat" in c and ("l2" in c or "sr" in c):
        return PROFILES["landsat-c2-l2"]
    platform = str((properties or {}).get("platform", "")).lower()
    if platform.startswith("sentinel-2"):
        return PROFILES["sentinel-2-l2a"]
    if platform.startswith("sentinel-1"):
        return PROFILES["sentinel-1-grd"]
    if platform.startswith("landsat"):
        return PROFILES["landsat-c2-l2"]
    raise SourceError(
        f"sitewatch does not know how to read collection {collection!r}; supported: Sentinel-2 L2A "
        "(sentinel-2-l2a), Sentinel-1 RTC/GRD (sentinel-1-rtc, sentinel-1-grd), Landsat C2 L2 (landsat-c2-l2)"
    )


def _baseline(props: Mapping[str, Any]) -> float | None:
    for key in ("s2:processing_baseline", "processing:version", "processing_baseline"):
        if props.get(key) not in (None, ""):
            try:
                return float(str(props[key]))
            except ValueError:
                continue
    return None


def s2_offset(props: Mapping[str, Any], asset: Mapping[str, Any] | None = None) -> tuple[float, str]:
    """Reflectance offset of a Sentinel-2 L2A item's bands, and why — from the item's metadata.

    ESA's processing baseline 04.00 (January 2022) added -1000 to the stored
    numbers (``BOA_ADD_OFFSET``): reflectance = DN / 10000 - 0.1. Earth Search
    v1 shifts those COGs back and says so with ``earthsearch:boa_offset_applied
    = true`` (its ``raster:bands`` still list -0.1, which must then be ignored).
    Otherwise the baseline (``s2:processing_baseline``, ``processing:version``)
    decides; an item with neither uses its asset's ``raster:bands`` offset.
    """
    applied = props.get("earthsearch:boa_offset_applied")
    if applied is True:
        return 0.0, "earthsearch:boa_offset_applied is true: the provider already removed the 04.00 offset"
    baseline = _baseline(props)
    if baseline is not None:
        if baseline >= 4.0:
            return -0.1, f"processing baseline {baseline:05.2f} >= 04.00: reflectance = DN/10000 - 0.1"
        return 0.0, f"processing baseline {baseline:05.2f} < 04.00: no offset"
    bands = (asset or {}).get("raster:bands") or [{}]
    offset = float(bands[0].get("offset", 0.0) or 0.0)
    return offset, f"no baseline in the item: offset {offset} from the asset's raster:bands"


def asset_scaling(profile: Profile, band: str, props: Mapping[str, Any], asset: Mapping[str, Any]) -> tuple[float, float, str]:
    """(scale, offset, note) turning an asset's stored numbers into the band's physical value."""
    if band in ("SCL", "QA"):
        return 1.0, 0.0, "class codes kept as they are"
    rb = (asset.get("raster:bands") or [{}])[0]
    if profile.kind == "sentinel-2-l2a":
        scale = float(rb.get("scale", 1e-4) or 1e-4)
        offset, why = s2_offset(props, asset)
        return scale, offset, f"reflectance = DN*{scale:g} + {offset:g} ({why})"
    if profile.kind == "landsat-c2-l2":
        scale = float(rb.get("scale", 2.75e-5) or 2.75e-5)
        offset = float(rb.get("offset", -0.2) if rb.get("offset") is not None else -0.2)
        return scale, offset, f"Landsat C2 L2 surface reflectance = DN*{scale:g} + {offset:g}"
    if profile.kind == "sentinel-1-rtc":
        return 1.0, 0.0, "RTC gamma0 in linear power as delivered (terrain-flattened, not sigma0)"
    return 1.0, 0.0, "GRD DN; converted to intensity on read"


# -- items ----------------------------------------------------------------------------------------


def item_to_scene(item: Mapping[str, Any], catalog: Catalog, profile: Profile | None = None) -> SceneRef:
    """A SceneRef of a STAC item (as JSON), with the hrefs of the bands sitewatch reads.

    Raises SourceError naming the item and the field for an item that cannot be read: no id or datetime,
    ``properties`` or ``assets`` that are not JSON objects, an asset sitewatch reads that is not an object
    with an href, or whose ``raster:bands`` are not a list of objects with numeric ``scale`` and ``offset``
    (fetch reads the item's scaling from there, after this has let it through)."""
    collection = str(item.get("collection", ""))
    if not item.get("id"):
        raise SourceError(f"an item of {collection or 'no collection'} has no id")
    for field_name in ("properties", "assets"):
        if not isinstance(item.get(field_name) or {}, Mapping):
            raise SourceError(f"item {item['id']!r}: its {field_name!r} is a JSON {_json_kind(item[field_name])}, not an object")
    props = dict(item.get("properties") or {})
    profile = profile or profile_for(collection, props)
    when = props.get("datetime") or props.get("start_datetime")
    if not when:
        raise SourceError(f"item {item.get('id')!r} has no datetime")
    try:
        acquired = utc(str(when))
    except InputError as exc:
        raise SourceError(f"item {item['id']!r}: datetime {when!r} is not an ISO 8601 time") from exc
    assets = item.get("assets") or {}
    hrefs = {}
    for band, keys in profile.bands.items():
        key = next((k for k in keys if k in assets), None)
        if key is not None:
            hrefs[band] = _href(item, key, catalog.on_disk)
            _check_raster_bands(item, key)
    for key in (f"schema-{lut}-{pol}" for lut in ("calibration", "noise") for pol in ("vv", "vh", "hh", "hv")):
        if key in assets:
            hrefs[key] = _href(item, key, catalog.on_disk)
    geom = item.get("geometry")
    try:
        footprint = shape(geom) if geom else None
        if footprint is not None and not footprint.is_valid:
            footprint = make_valid(footprint)  # a self-crossing ring would fail the coverage intersection
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError, ShapelyError) as exc:
        # (ShapelyError: GEOS's own, and shapely's GeometryTypeError for a "type" no geometry has)
        raise SourceError(f"item {item['id']!r}: its geometry is not a valid GeoJSON geometry ({exc})") from exc
    keep = (
        "platform", "constellation", "eo:cloud_cover", "s2:processing_baseline", "processing:version",
        "earthsearch:boa_offset_applied", "sat:orbit_state", "sat:relative_orbit", "sat:absolute_orbit",
        "sar:instrument_mode", "sar:polarizations", "sar:product_type", "s2:mgrs_tile", "grid:code",
        "landsat:wrs_path", "landsat:wrs_row", "proj:epsg", "proj:code",
    )  # fmt: skip
    cloud = props.get("eo:cloud_cover")
    return SceneRef(
        provider=catalog.provider,
        collection=collection,
        item_id=str(item["id"]),
        sensor=profile.sensor,
        acquired=acquired,
        resolution_m=profile.resolution_m,
        hrefs=hrefs,
        footprint=footprint,
        platform=str(props.get("platform", "")),
        cloud_cover=_number(cloud),
        properties={k: props[k] for k in keep if k in props},
    )


def _json_kind(value: Any) -> str:
    """What JSON calls ``value``'s type, for a message naming a field of the wrong one."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return {str: "string", int: "number", float: "number", list: "array"}.get(type(value), "object")


def _check_raster_bands(item: Mapping[str, Any], key: str) -> None:
    """Refuse an asset whose ``raster:bands`` :func:`asset_scaling` could not read, naming the item and asset."""
    bands = item["assets"][key].get("raster:bands")
    if not bands:
        return  # none: the profile's scaling
    where = f"item {item.get('id')!r}: asset {key!r}: raster:bands"
    if not isinstance(bands, list) or not isinstance(bands[0], Mapping):
        kind = _json_kind(bands) if not isinstance(bands, list) else f"array of {_json_kind(bands[0])}"
        raise SourceError(f"{where} is a JSON {kind}, not an array of objects")
    for name in ("scale", "offset"):
        value = bands[0].get(name)
        # A number written as a string ("1e-4") is read as asset_scaling reads it, by float().
        if value is not None and (isinstance(value, bool) or _number(value) is None):
            raise SourceError(f"{where}[0].{name} is {str(value)[:40]!r}, not a finite number")


def _href(item: Mapping[str, Any], key: str, on_disk: bool = False) -> str:
    """The asset's href, remote; or, of a catalogue on disk (``on_disk``), a local file's absolute path too."""
    asset = (item.get("assets") or {})[key]
    if not isinstance(asset, Mapping) or not asset.get("href"):
        raise SourceError(f"item {item.get('id')!r}: asset {key!r} has no href")
    href = str(asset["href"])
    try:
        scheme = urlsplit(href).scheme.lower()
    except ValueError as exc:  # "Invalid IPv6 URL": a "[" in its host
        raise SourceError(f"item {item.get('id')!r}: asset {key!r}: its href {redact(href)[:200]!r} is no URL ({exc})") from exc
    if on_disk and scheme == "file":
        from urllib.parse import unquote

        href, scheme = unquote(urlsplit(href).path), ""
    if on_disk and scheme not in REMOTE_SCHEMES and Path(href).is_absolute() and not href.startswith("/vsi"):
        # The user's own catalogue names its own files (its walk made relative hrefs absolute); a GDAL /vsi… name is
        # still refused: it may name a URL or an archive the catalogue does not say it reads.
        return href
    if scheme not in REMOTE_SCHEMES:
        # A catalogue's answer must not make fetch read (and archive) a file of this machine:
        # a local path, file://, a relative href or a GDAL /vsi… name is refused.
        raise SourceError(
            f"item {item.get('id')!r}: asset {key!r} is not a remote URL ({redact(href)[:200]!r}); "
            f"sitewatch reads catalogue assets over {', '.join(s + '://' for s in REMOTE_SCHEMES)} only"
        )
    return href


def _number(value: Any) -> float | None:
    """A provider's figure as a float; one that is not a number is unknown, not an error.

    So is "NaN" or "Infinity", which ``float`` reads but JSON cannot hold (``search --json``).
    """
    try:
        number = float(value) if value is not None else None
    except (TypeError, ValueError, OverflowError):  # (OverflowError: an integer of more than 308 digits)
        return None
    return number if number is not None and math.isfinite(number) else None


# -- search ---------------------------------------------------------------------------------------


def _cache_key(catalog: Catalog, collection: str, bbox: Sequence[float], start: datetime, end: datetime) -> str:
    query = {
        "url": catalog.url,
        "collection": collection,
        "bbox": [round(float(v), 6) for v in bbox],
        "datetime": f"{start.isoformat()}/{end.isoformat()}",
    }
    return hashlib.sha256(json.dumps(query, sort_keys=True).encode()).hexdigest()[:24]


RETRY_AFTER_MAX_S = 60.0
"""Longest wait before a retry that a catalogue's ``Retry-After`` header may ask for.

urllib3 honours up to six hours; a rate-limited API asking for an hour would freeze a
search without a word. Past this, the retry comes sooner and, refused again, says so.
"""

_CONNECT_RETRIES = 2
"""A refused or failed connection is tried twice more (about 2 s), not ``retries`` times.

Nothing listening at the URL (a catalogue down, a wrong port) does not change in the
half minute a full backoff takes; busy servers answer 429/503, which keep every retry.
"""


def _retry(total: int, backoff: float) -> Any:
    return _retry_class()(
        total=total,
        connect=min(total, _CONNECT_RETRIES),
        read=min(total, _READ_RETRIES),
        backoff_factor=backoff,
        status_forcelist=_TRANSIENT,
        allowed_methods=None,  # STAC search is a POST; it only reads, so retrying it is safe
        raise_on_status=False,
        respect_retry_after_header=True,
    )


_TLS_REFUSED = re.compile(r"CERTIFICATE_VERIFY_FAILED|WRONG_VERSION_NUMBER|certificate is not valid|hostname mismatch", re.I)
"""A TLS failure that a retry cannot mend: the server's certificate refused, or no TLS server at all."""


@functools.cache
def _retry_class() -> Any:
    """urllib3's Retry, except that a host name that does not resolve is not retried, and a
    ``Retry-After`` longer than :data:`RETRY_AFTER_MAX_S` is not waited for in full.

    A failed DNS lookup means no network or a mistyped URL: waiting for the backoff
    (about 31 s over 5 retries) only delays saying so. Everything else is retried as before.
    """
    from urllib3.exceptions import (
        ConnectTimeoutError,
        MaxRetryError,
        NameResolutionError,
        NewConnectionError,
        ReadTimeoutError,
        SSLError,
    )
    from urllib3.util.retry import Retry

    class FailFastOnDns(Retry):
        def increment(self, method: Any = None, url: Any = None, response: Any = None, error: Any = None,
                      _pool: Any = None, _stacktrace: Any = None) -> Any:  # fmt: skip
            if isinstance(error, NameResolutionError) or (isinstance(error, SSLError) and _TLS_REFUSED.search(str(error))):
                # no network or a mistyped host; a certificate refused, or https:// to a plain HTTP server: asking
                # again changes nothing (a refused certificate was retried for 31 s before it was said)
                raise MaxRetryError(_pool, url, error) from error
            retry = super().increment(method, url, response, error, _pool, _stacktrace)
            host = getattr(_pool, "host", None) or "the catalogue"
            waited = re.search(r"timeout=([\d.]+)", str(error))
            within = f" within {float(waited.group(1)):g} s" if waited else ""
            if isinstance(error, ReadTimeoutError):  # (super() raised when no try is left)
                log.warning("%s took the request but did not answer%s; asking once more", host, within)
            elif isinstance(error, ConnectTimeoutError) and not isinstance(error, NewConnectionError):  # (refused: at once)
                log.warning("no connection to %s%s; trying again", host, within)
            return retry

        def parse_retry_after(self, retry_after: str) -> float:
            return float(min(super().parse_retry_after(retry_after), RETRY_AFTER_MAX_S))

    return FailFastOnDns


def unreachable_message(catalog: Catalog, exc: BaseException) -> str:
    """Why ``catalog`` (its name and URL, :func:`_named`) could not be reached, in full and short: the host and the
    root cause.

    urllib3 nests the cause in several layers of reprs (hundreds of characters); the
    innermost exception says it plainly.
    """
    import socket
    from urllib.parse import urlsplit

    host = urlsplit(catalog.url).hostname or catalog.url
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        nxt = seen.__cause__ or seen.__context__
        if nxt is None and seen.args and isinstance(seen.args[0], BaseException):
            nxt = seen.args[0]  # requests wraps urllib3's error as an argument
        reason = getattr(seen, "reason", None)  # urllib3's MaxRetryError
        if nxt is None and isinstance(reason, BaseException):
            nxt = reason
        seen = nxt
    if any(isinstance(e, socket.gaierror) or type(e).__name__ == "NameResolutionError" for e in chain):
        why = next((e.strerror for e in chain if isinstance(e, socket.gaierror) and e.strerror), "")
        return (
            f"{_named(catalog)}: cannot resolve host {host}{f' ({why})' if why else ''}: "
            "no network, or a mistyped catalogue URL"
        )
    root = chain[-1]
    reason = str(root.strerror) if isinstance(root, OSError) and root.strerror else str(root)
    reason = re.sub(r"^<[^>]*>: ", "", reason)  # urllib3's '<connection object at 0x…>: ' prefix
    if any(type(e).__name__ == "ReadTimeoutError" for e in chain):
        return (
            f"{_named(catalog)}: {host} took the request but did not answer in time, asked twice ({redact(reason)}): the "
            "catalogue is overloaded, or a proxy or firewall holds the requests; try again later"
        )
    if any(type(e).__name__ == "ConnectTimeoutError" for e in chain):
        return (
            f"{_named(catalog)}: no connection to {host} in {CONNECT_TIMEOUT_S:g} s, tried three times: no network to it (a "
            "firewall, a VPN that is down), or a mistyped address"
        )
    if _TLS_REFUSED.search(reason):
        return (
            f"{_named(catalog)}: {host} answered, but not with a certificate this machine trusts for it, or not over https "
            f"({type(root).__name__}: {redact(reason)}); check the URL (http:// or https://, the host name), or give the "
            "certificate authority of a proxy that inspects HTTPS in REQUESTS_CA_BUNDLE"
        )
    return f"{_named(catalog)}: could not reach {host} ({type(root).__name__}: {redact(reason)}); no network, or the catalogue is down"


class _HideCredentials(logging.Filter):
    """pystac-client logs every request with its headers at debug level (``-vv``), the token among them."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        hidden = re.sub(r"""(['"](?:Authorization|Ocp-Apim-Subscription-Key)['"]:\s*['"])[^'"]*""", r"\1(hidden)", text)
        if hidden != text:
            record.msg, record.args = hidden, ()
        return True


_HIDE_CREDENTIALS = _HideCredentials()


def search_items(
    catalog: Catalog,
    collection: str,
    bbox: Sequence[float],
    start: datetime,
    end: datetime,
    *,
    cache_dir: Path | None = None,
    refresh: bool = False,
    limit: int = 100,
    max_items: int | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    timeout: float = 60.0,
    env: Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
    reuse: dict[str, Any] | None = None,
    cached: list[float] | None = None,
) -> list[dict[str, Any]]:
    """STAC items (as JSON dicts, oldest first) of ``collection`` over ``bbox`` between two times.

    Pages are followed to the end (or ``max_items``). Transient HTTP errors are
    retried with exponential backoff; 401/403 raise :class:`CredentialError`
    naming the credential to set. With ``cache_dir``, results are kept there for
    :data:`SEARCH_CACHE_HOURS` and reused unless ``refresh``. ``reuse``, a dict kept
    between calls, holds the catalogue's opened client: many searches of one
    catalogue (a group of sites each) read its landing page once, not twice each. ``cached``: when given, the time
    (``time.time()``) the answer was made at is added to it when it comes from the cache, not the catalogue (so that
    the command can say so).
    """
    given, collection = collection, resolve_collection(catalog, collection)
    if catalog.on_disk:  # walked, not searched; not cached either: a delivery is read in a moment, and may change
        from .stac_static import search_static

        return _in_api_order(search_static(catalog.url, collection, bbox, start, end, given=given, progress=progress))
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / f"search-{_cache_key(catalog, collection, bbox, start, end)}.json"
        if cache_file.exists() and not refresh:
            try:
                kept = json.loads(cache_file.read_text(encoding="utf-8"))
                if time.time() - float(kept["created"]) < SEARCH_CACHE_HOURS * 3600:
                    log.info("search results from cache %s", cache_file.name)
                    if cached is not None:
                        cached.append(float(kept["created"]))
                    return list(kept["features"])
            except (ValueError, KeyError):
                pass  # a damaged cache file is just asked again
    require_extra("pystac_client", "stac")
    import requests
    from pystac.errors import STACError, STACTypeError
    from pystac_client import Client
    from pystac_client.conformance import ConformanceClasses
    from pystac_client.errors import ClientTypeError
    from pystac_client.exceptions import APIError
    from pystac_client.stac_api_io import StacApiIO
    from pystac_client.warnings import NoConformsTo

    logging.getLogger("pystac_client.stac_api_io").addFilter(_HIDE_CREDENTIALS)  # once: a filter is added once
    creds = catalog_credentials(catalog, env)
    headers = {"Authorization": f"Bearer {creds['token']}"} if "token" in creds else {}
    if catalog.signing == "planetary-computer" and "token" in creds:
        headers = {"Ocp-Apim-Subscription-Key": creds["token"]}

    def with_token(request: requests.Request) -> requests.Request:
        # Per request, not StacApiIO(headers=…): those go to every URL, a "next" link's host too.
        if token_goes_to(catalog, str(request.url)):
            request.headers = {**(request.headers or {}), **headers}
        return request

    # A connection is made in a second or two, or not at all (a host that drops the packets: a firewall, a VPN
    # that is down): waiting the whole read timeout for it, three times, kept a search silent for three minutes.
    timeouts = (min(timeout, CONNECT_TIMEOUT_S), timeout)
    io = _remote_only(StacApiIO, catalog)(timeout=timeouts, max_retries=_retry(retries, backoff))
    features: list[dict[str, Any]] = []
    seen: set[str] = set()
    try:
        # Client.open sets the stac_io's request modifier: given to StacApiIO, it was dropped.
        # (the credentials by a digest: a client opened with other headers is not reused, and the key shows none)
        key = f"client {catalog.url} {retries} {backoff} {timeout} {hashlib.sha256(repr(sorted(headers.items())).encode()).hexdigest()}"
        client = reuse.get(key) if reuse is not None else None
        if client is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NoConformsTo)  # answered below, when it matters
                client = Client.open(catalog.url, stac_io=io, timeout=timeouts, request_modifier=with_token)
        if not client.conforms_to(ConformanceClasses.ITEM_SEARCH):
            if not client.get_links("search"):
                raise SourceError(_no_item_search(catalog))
            # An API that links its /search but lists no conformance classes (STAC API before 1.0)
            client.add_conforms_to("ITEM_SEARCH")
        if reuse is not None:
            reuse[key] = client  # (opened and found to search: a failed open is asked again by the next search)
        search = client.search(
            collections=[collection],
            bbox=list(bbox),
            datetime=[start, end],
            limit=limit,
            max_items=max_items,
        )
        for page in search.pages_as_dicts():
            found = page.get("features", []) if isinstance(page, dict) else None
            if not isinstance(found, list) or not all(isinstance(f, dict) for f in found):
                raise SourceError(f"{catalog.name}: the search answer is not a GeoJSON FeatureCollection of items")
            new = [f for f in found if str(f.get("id")) not in seen]
            if not new:
                # An empty page, or a "next" link that serves the same items again: a catalogue
                # whose paging loops would otherwise be asked forever.
                if found:
                    log.warning("%s: a next page repeats items already listed; paging stopped there", catalog.name)
                break
            seen.update(str(f.get("id")) for f in new)
            features.extend(new)
            if progress:
                progress(len(features))
            if max_items is not None and len(features) >= max_items:
                features = features[:max_items]
                break
        if not features:
            _check_collection_exists(client, catalog, collection)
    except APIError as exc:
        status = getattr(exc, "status_code", None)
        if status in (401, 403):
            raise CredentialError(
                f"{catalog.name} refused the search (HTTP {status}): {credential_hint(catalog)}"
            ) from exc
        if status is None:
            # pystac-client wraps connection failures in APIError without a status.
            raise SourceError(unreachable_message(catalog, exc)) from exc
        if status == 429:
            why = f", too many requests: asked {retries + 1} times, as its Retry-After said; try again later"
        elif status in _TRANSIENT:
            why = f", its server failed: asked {retries + 1} times; try again later"
        else:
            why = ""
        raise SourceError(f"{_named(catalog)} search failed (HTTP {status}{why}): {redact(str(exc))[:300]}") from exc
    except requests.RequestException as exc:
        raise SourceError(unreachable_message(catalog, exc)) from exc
    except (ValueError, TypeError, AttributeError, KeyError, ClientTypeError, STACError, STACTypeError) as exc:
        # An answer that is not JSON, or JSON that is not a STAC API (an HTML page, a proxy's error)
        raise SourceError(
            f"{_named(catalog)} did not answer as a STAC API does ({type(exc).__name__}: {redact(str(exc))[:200]}); "
            "check that the URL is a STAC API root"
        ) from exc
    features = _in_api_order(features)
    if cache_file is not None:
        from ..files import write_text_atomic

        write_text_atomic(cache_file, json.dumps({"created": time.time(), "catalog": catalog.shown_url, "collection": collection,
                                                  "bbox": list(bbox), "features": features}))  # fmt: skip
    return features


def _named(catalog: Catalog) -> str:
    """The catalogue as an error names it: its name and URL (``mine (https://example.org/stac)``; a password in it as
    ``***``), or its URL alone when it was given by URL."""
    return catalog.name if catalog.name == catalog.shown_url else f"{catalog.name} ({catalog.shown_url})"


def _remote_only(base: Any, catalog: Catalog) -> Any:
    """pystac-client's StacApiIO reading http(s) URLs alone.

    StacApiIO opens an href that is no URL as a local file: a landing page whose search link was
    ``http.1:8080/search`` (or ``/etc/hosts``) made the search read this machine's file of that name, or
    fail with FileNotFoundError. An API names the pages it serves by URL; anything else is refused by name.
    """
    from pystac import Link

    class RemoteOnly(base):
        def read_text(self, source: Any, *args: Any, **kwargs: Any) -> str:
            href = str(source.href if isinstance(source, Link) else source)
            try:
                scheme = urlsplit(href).scheme.lower()
            except ValueError:  # "Invalid IPv6 URL"
                scheme = ""
            if scheme not in ("http", "https"):
                raise SourceError(
                    f"{catalog.name}: its answer names {redact(href)[:200]!r} to read, which is no http(s) URL; "
                    "sitewatch reads a STAC API over http(s) alone (check that the URL is a STAC API root)"
                )
            return str(super().read_text(source, *args, **kwargs))

    return RemoteOnly


def _in_api_order(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items oldest first, then by id: the order search results are listed and fetched in."""
    def when(f: dict[str, Any]) -> str:
        props = f.get("properties")
        if not isinstance(props, dict):
            props = {}  # (item_to_scene refuses it by name)
        return str(props.get("datetime") or props.get("start_datetime") or "")  # (the time item_to_scene reads)

    return sorted(features, key=lambda f: (when(f), str(f.get("id"))))


def _check_collection_exists(client: Any, catalog: Catalog, collection: str) -> None:
    """Raise a SourceError when a search found nothing because the catalogue has no such collection
    (a typo, or an old name such as Earth Search v0's ``sentinel-s2-l2a-cogs``): a STAC API answers that
    with an empty page, which read as "nothing there in those dates". Built-in catalogues' names are
    checked before the search; an API that does not list its collections is not asked."""
    from itertools import islice

    from pystac_client.conformance import ConformanceClasses
    from pystac_client.exceptions import APIError
    from pystac_client.warnings import PystacClientWarning

    if catalog.name in BUILTIN_CATALOGS or not client.conforms_to(ConformanceClasses.COLLECTIONS):
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PystacClientWarning)  # a root without its "data" link, say
            try:
                if client.get_collection(collection) is not None:
                    return
            except APIError as exc:
                # The API's 404 for /collections/ID: pystac-client 0.7 raises it where later ones return None.
                if getattr(exc, "status_code", None) != 404:
                    raise
            names = sorted(c.id for c in islice(client.get_collections(), 50))
    except Exception:  # an API that errs here cannot tell: the empty search stands
        return
    raise SourceError(
        f"{catalog.name} has no collection {collection!r}"
        + (f"; its collections: {', '.join(names)}" if names else "")
        + "; give one of them with --collection"
    )


def _no_item_search(catalog: Catalog) -> str:
    return (
        f"{catalog.name} is a STAC catalogue without item search (a static catalog.json, or an API root "
        "that links no /search): sitewatch search and fetch need a STAC API, or the catalogue on disk (download "
        "its catalog.json, items and images, and give the catalog.json's path to --catalog); or give the images you "
        "want to `sitewatch import` (or `sitewatch ingest SITE FILE…`)"
    )


def now_utc() -> str:
    """Retrieval time stamp for provenance."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
