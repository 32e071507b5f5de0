"""Settings as data, one precedence order: flag > SITEWATCH_* env > sitewatch.toml > default.

Every setting is declared once in :data:`SETTINGS` with its default and help;
``tests/test_config.py`` fails when one is missing from the README.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tomllib
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .alert_chat import CHAT_HOST_PATTERN, WEBHOOK_FORMATS
from .errors import ConfigError

__all__ = ["REMOVED_SETTINGS", "Setting", "SETTINGS", "load_setting", "load_settings", "setting_origin", "settings_used_by", "unknown_env",
           "workspace_setting", "CONFIG_FILE", "masked_value", "webhook_value_shown"]

CONFIG_FILE = "sitewatch.toml"
COG_COMPRESSIONS = ("deflate", "zstd", "lzw")
"""Lossless codecs for archive COGs; ingest writes float32 with a floating-point predictor,
which JPEG/WebP cannot hold."""
TABLES = ("settings", "catalogs")
"""Top-level tables of sitewatch.toml; anything else is a typo and an error."""


@dataclass(frozen=True)
class Setting:
    """One setting: its name (also the toml key), type, default and help."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    """Allowed values of a str setting; empty allows any."""
    minimum: float | None = None
    """Smallest allowed value of a number setting (inclusive)."""
    maximum: float | None = None
    """Largest allowed value of a number setting (inclusive)."""
    positive: bool = False
    """A number setting must be above zero."""
    check: str = ""
    """A further check of a str setting's value by name (``store``: empty or a PostgreSQL URL; ``webhook``: empty or an http(s) URL)."""
    used_by: tuple[str, ...] = ()
    """The commands that read it, and so check its ``SITEWATCH_*`` variable (empty: every command that
    opens a workspace, ``store``)."""
    quantity: str = ""
    """What a number setting counts, for messages ("a number of seconds"); empty: "a number" (a float setting)
    or "a whole number" (an int one)."""

    @property
    def env(self) -> str:
        """The environment variable that sets it (``max_cloud`` → ``SITEWATCH_MAX_CLOUD``)."""
        return "SITEWATCH_" + self.name.upper().replace(".", "_")

    @property
    def flag(self) -> str:
        """The command-line option that overrides it (``max_cloud`` → ``--max-cloud``)."""
        return "--" + self.name.replace("_", "-")

    @property
    def accepts(self) -> str:
        """The values it takes, in words, for a message about a value it refuses ("a number of seconds above 0")."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.check == "store":
            return "empty (the workspace's sitewatch.gpkg) or a postgresql://user@host/dbname URL of a PostGIS store"
        if self.check == "webhook":
            return "empty (no webhook) or an http:// or https:// URL with a host"
        if self.type is str:
            return "text"
        what = self.quantity or ("a whole number" if self.type is int else "a number")
        if self.minimum is not None and self.maximum is not None:
            return f"{what} from {self.minimum:g} to {self.maximum:g}"
        if self.positive:
            return f"{what} above 0"
        if self.minimum is not None:
            return f"{what}, {self.minimum:g} or more"
        return what


OPTICAL_MODES = ("auto", "water", "image")
"""How optical detection uses a site's water polygon (setting ``optical_mode``; see
:func:`sitewatch.detection_optical.optical_water`)."""

SAR_THERMAL_NOISE = ("keep", "subtract")
"""What a Sentinel-1 GRD product's thermal noise LUT does to its sigma0 (setting ``sar_thermal_noise``;
see :mod:`sitewatch.sources.s1_radiometry`)."""

_DASK = ("ingest", "import", "detect")
"""The commands whose jobs run through :func:`sitewatch.run.map_jobs`, locally or on a Dask cluster."""

SETTINGS: tuple[Setting, ...] = (
    Setting("workers", int, 0, "Parallel worker processes for ingest and detection (0: one per core).", minimum=0, used_by=("ingest", "import", "detect", "demo")),
    Setting("scheduler", str, "", "Dask scheduler address (tcp://host:8786); empty runs locally.", used_by=_DASK),
    Setting("wait_workers", float, None, "Longest wait, seconds, for a worker to join a Dask scheduler that has none, then an error (default: wait until one does).", positive=True, quantity="a number of seconds", used_by=_DASK),
    Setting("min_vessel_length_m", float, None, "Shortest object reported as a vessel, metres (default: the detector's own, SAR 15, optical 20).", positive=True, quantity="a length in metres", used_by=("detect", "demo")),
    Setting("max_vessel_length_m", float, None, "Longest object reported as a vessel, metres (default: the detector's own, SAR 500, optical 450).", positive=True, quantity="a length in metres", used_by=("detect", "demo")),
    Setting("max_cloud", float, 100.0, "Default fetch --max-cloud: highest cloud % over the site of a scene fetch archives.", minimum=0, maximum=100, quantity="a percentage", used_by=("fetch",)),
    Setting("catalog", str, "earth-search", "Default STAC catalogue: a name, a STAC API URL, or a static catalogue on disk (a relative path written in sitewatch.toml counts from its folder).", used_by=("search", "fetch")),
    Setting("cog_compress", str, "deflate", "Compression of archive COGs (deflate, zstd, lzw).", choices=COG_COMPRESSIONS, used_by=("ingest", "import", "fetch", "demo")),
    Setting("context_m", float, 1000.0, "Image archived around a site narrower than 500 m (a berth, a pier), metres each side, by ingest, import, fetch and demo: the detectors take their background from it and still report only what lies in the site (0: the site's box alone, as before).", minimum=0, quantity="a number of metres", used_by=("ingest", "import", "fetch", "demo")),
    Setting("optical_mode", str, "auto", "How optical detection uses a site's water polygon: auto (the learned detector, vessels kept within 40 m of the polygon; on simulated scenes, water), water (anything opaque inside the polygon is a vessel), image (the polygon is not used).", choices=OPTICAL_MODES, used_by=("detect", "demo")),
    Setting("sar_thermal_noise", str, "keep", "Sentinel-1 GRD products read by ingest, import, fetch and detect-image (demo passes it to its ingest, but simulated scenes are no GRD products): keep (sigma0 with the thermal noise in, as the SAR detector was validated on: OpenSARShip's calibrated chips) or subtract (the product's noise LUT subtracted as SNAP's ThermalNoiseRemoval does: dark sea, VH above all, much darker, and floored where the noise exceeds the signal).", choices=SAR_THERMAL_NOISE, used_by=("ingest", "import", "fetch", "detect-image", "demo")),
    Setting("store", str, "", "Where the workspace's database is: empty for its sitewatch.gpkg, or the postgresql://user@host/dbname URL of a PostGIS team store (sitewatch[postgis]; the password from ~/.pgpass or PGPASSWORD, never this file).", check="store", used_by=()),
    Setting("alerts_webhook", str, "", "URL that `sitewatch alerts check` POSTs each new event to, in the shape alerts_webhook_format says (empty: no webhook).", check="webhook", used_by=("alerts check",)),
    Setting("alerts_webhook_format", str, "auto", "Shape of what `sitewatch alerts check` POSTs to the webhook: auto (Slack's, Discord's or a Teams workflow's from the URL's host, else json), json (sitewatch's event), slack, mattermost, discord or teams (a chat message).", choices=WEBHOOK_FORMATS, used_by=("alerts check",)),
)
_BY_NAME = {s.name: s for s in SETTINGS}


def settings_used_by(command: str) -> tuple[str, ...]:
    """The names of the settings ``command`` (``"detect"``, ``"alerts check"``) reads, as :data:`SETTINGS` declares."""
    return tuple(s.name for s in SETTINGS if command in s.used_by)


def _subject(setting: Setting, origin: str) -> str:
    """The words that name a value by where it came from: ``origin`` is the setting's flag, its environment
    variable or the sitewatch.toml it was read from."""
    if origin == setting.env:
        return f"environment variable {setting.env} (the {setting.name} setting)"
    if origin.startswith("--"):
        return origin
    return f"{origin}: [settings] {setting.name}"


def _refused(setting: Setting, value: Any, origin: str, note: str = "") -> ConfigError:
    """The error of a value a setting does not take: where it came from, what it takes and what it got
    (any password in a URL masked)."""
    if setting.check == "webhook" and isinstance(value, str):
        shown: Any = webhook_value_shown(value)  # a chat webhook's path is its secret
    else:
        shown = masked_value(value, user_shown=setting.check == "store") if setting.check and isinstance(value, str) else value
    return ConfigError(f"{_subject(setting, origin)} must be {setting.accepts}{note}, got {shown!r}")


def _coerce(setting: Setting, value: Any, origin: str, *, typed: bool = False) -> Any:
    """``value`` as the setting's type, checked; ``typed`` (a TOML value, which has its own types)
    refuses a number written in quotes, as it refuses a number for a text setting. ``origin`` (the
    flag, the environment variable or the sitewatch.toml's path) is named in any error."""
    if typed and setting.type in (int, float) and isinstance(value, str):
        raise _refused(setting, value, origin, " without quotes")
    if typed and setting.type is str and not isinstance(value, str):
        raise _refused(setting, value, origin, " in quotes")  # scheduler = 8786 is not the address "8786"
    try:
        if setting.type is bool and isinstance(value, str):
            return value.strip().lower() in {"1", "true", "yes", "on"}
        if setting.type is int and (isinstance(value, bool) or (isinstance(value, float) and not value.is_integer())):
            raise ValueError(value)  # int() would take true as 1 and 2.5 as 2
        if setting.type is float and isinstance(value, bool):
            raise ValueError(value)  # float() would take max_cloud = false as 0 %
        if setting.type is str and not isinstance(value, str):
            raise ValueError(value)
        out = setting.type(value)
    except (TypeError, ValueError, OverflowError) as exc:  # (a whole number of 400 digits for a float setting)
        raise _refused(setting, value, origin) from exc
    if isinstance(out, float) and not math.isfinite(out):  # min_vessel_length_m = inf would report no vessel at all
        raise _refused(setting, value, origin)
    if setting.choices:
        out = out.strip().lower()
        if out not in setting.choices:
            raise _refused(setting, value, origin)
    if setting.check == "store" and out.strip() and not out.strip().lower().startswith(("postgresql://", "postgres://")):
        raise _refused(setting, out, origin)
    if setting.check == "webhook":
        # As `alerts check` posts to it: " https://hooks.example.org/x" passed this check, then was refused there.
        out = out.strip()
        if out and not _is_http_url(out):
            raise _refused(setting, out, origin)
    if setting.minimum is not None and not out >= setting.minimum:
        raise _refused(setting, value, origin)
    if setting.maximum is not None and not out <= setting.maximum:
        raise _refused(setting, value, origin)
    if setting.positive and not out > 0:  # also refuses NaN
        raise _refused(setting, value, origin)
    return out


def _is_http_url(value: str) -> bool:
    """Whether ``value`` is an http(s) URL with a host, as the alerts webhook needs."""
    try:
        parts = urllib.parse.urlsplit(value)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _user_masked(found: re.Match[str]) -> str:
    """The user part of a URL (up to its last ``@``) as :func:`masked_value` shows a webhook's: a name before a password
    kept, anything else ``***``."""
    user, colon, _ = found[2].partition(":")
    return found[1] + (f"{user}:***@" if colon and "@" not in user else "***@")


def masked_value(value: str, *, user_shown: bool = True) -> str:
    """A value as an error message may show it: any password in it masked (in the user part, up to its last ``@``,
    and libpq's ``password=`` parameter). Without ``user_shown`` (a webhook's URL) a user name without a password
    is masked too: it is then often a token (``https://TOKEN@host/…``); a PostgreSQL URL's bare role name is none."""
    value = re.sub(r"(//[^:/@]*):[^/]*@", r"\1:***@", value)
    if "//" not in value:
        # A URL without its scheme (``bot:PASSWORD@host/…`` pasted without ``https://``, the likeliest URL refused):
        # its user part is all before the first ``/`` up to an ``@``.
        value = re.sub(r"^(\s*[^:/?#@\s]*):[^/?#]*@", r"\1:***@", value)
    if not user_shown:
        value = re.sub(r"^(\s*[^/?#]*//)([^/?#]*)@" if "//" in value else r"^(\s*)([^/?#]*)@", _user_masked, value)
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", value, flags=re.IGNORECASE)


# The host after anything no host name holds (``https:hooks…`` without its //, ``webhook=hooks…`` pasted with its
# key), its path after / or \\ (a Windows user's): the secret is masked in those too.
_CHAT_URL = re.compile(rf"(?:^|[^a-z0-9.-])(?:{CHAT_HOST_PATTERN})\.?(?::[^/\\?#\s]*)?(?P<tail>[/\\?#].*)$", re.IGNORECASE | re.DOTALL)


def webhook_value_shown(value: str) -> str:
    """A webhook URL as an error about it shows it (one refused: no scheme, a typo in it, a bad port): as
    :func:`masked_value` shows it without a bare user name, and, on a chat service's own host (Slack's, Discord's, a
    Teams workflow's), whose URL is the secret, its path after the first segment, any query and fragment as ``***``, as
    :func:`sitewatch.alerts.webhook_shown` shows one accepted (``hooks.slack.com/services/***``). Another host's path
    is shown as given: what is wrong with the URL is then seen."""
    shown = masked_value(value, user_shown=False)
    found = _CHAT_URL.search(shown)
    if found is None:
        return shown
    tail = found["tail"]
    path = re.split(r"[?#]", tail, maxsplit=1)[0]
    first, _, more = path.replace("\\", "/").lstrip("/").partition("/")
    masked = ("/" + first + "/***" if more.strip("/") else "/***") if first else ""
    if len(path) < len(tail):
        masked += tail[len(path)] + "***"  # the query (a Teams workflow's sig=) or a fragment
    return shown[: found.start("tail")] + masked


def workspace_setting(name: str, workspace: Path, env: Mapping[str, str] | None = None) -> Any:
    """One setting of a workspace, ``SITEWATCH_*`` env > its sitewatch.toml > default, reading and
    checking only that one (``store``, which opening the workspace needs before any command's flags)."""
    setting = _BY_NAME[name]
    env = os.environ if env is None else env
    if setting.env in env:
        return _coerce(setting, env[setting.env], setting.env)
    path = workspace / CONFIG_FILE
    table = read_toml(path).get("settings", {})
    if isinstance(table, dict) and name in table:
        return _coerce(setting, table[name], str(path), typed=True)
    return setting.default


def _origin(setting: Setting, flags: Mapping[str, Any], env: Mapping[str, str], path: Path | None) -> str:
    """Where a resolved setting came from, for error messages."""
    if flags.get(setting.name) is not None:
        return setting.flag
    if setting.env in env:
        return setting.env
    return f"{path}: [settings] {setting.name}" if path is not None else setting.name


TEST_POSTGRES_ENV = "SITEWATCH_TEST_POSTGRES"
"""Not a setting: the PostgreSQL server sitewatch's own tests of the PostGIS store use (see README, Development)."""

WORKSPACE_ENV = "SITEWATCH_WORKSPACE"
"""The workspace folder of every command that reads one (``-w``), and ``init``'s default folder."""


def unknown_env(env: Mapping[str, str] | None = None) -> list[str]:
    """``SITEWATCH_*`` variables that are no setting (a typo such as ``SITEWATCH_MAX_CLOUDS``, or a
    GeoTIFF tag name such as ``SITEWATCH_IMPULSE_RESPONSE_M``), which sitewatch does not read."""
    env = os.environ if env is None else env
    known = {s.env for s in SETTINGS} | {WORKSPACE_ENV, TEST_POSTGRES_ENV}
    return sorted(k for k in env if k.startswith("SITEWATCH_") and k not in known)


def setting_origin(
    name: str, workspace: Path | None = None, flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
) -> str:
    """Where :func:`load_settings` takes setting ``name`` from, for a message about its value: the
    flag, the ``SITEWATCH_*`` variable, ``FILE: [settings] NAME`` or the bare name (its default)."""
    env = os.environ if env is None else env
    path = workspace / CONFIG_FILE if workspace is not None else None
    table = read_toml(path).get("settings", {}) if path is not None else {}
    in_file = isinstance(table, dict) and name in table
    return _origin(_BY_NAME[name], flags or {}, env, path if in_file else None)


def read_toml(path: Path) -> dict[str, Any]:
    """Read a sitewatch.toml, naming the file in any error."""
    try:
        # utf-8-sig: Windows Notepad starts a UTF-8 file with a byte-order mark, which TOML does not allow.
        text = path.read_bytes().decode("utf-8-sig")
        return tomllib.loads(text)
    except FileNotFoundError:
        return {}
    except OSError as exc:  # a folder named sitewatch.toml, say
        raise ConfigError(f"{path}: cannot read ({exc})") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc}); save it as UTF-8") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}){_toml_line(text, str(exc))}") from exc
    except ValueError as exc:  # a whole number of more than 4300 digits, which Python refuses to read
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc


def _toml_line(text: str, message: str) -> str:
    """The line a TOML error points at, quoted, so that the key is named: tomllib says only
    "Cannot overwrite a value (at line 3, column 12)" of a key given twice."""
    found = re.search(r"at line (\d+),", message)
    lines = text.splitlines()
    if not found or not 0 < int(found[1]) <= len(lines):
        return ""
    line = lines[int(found[1]) - 1].strip()
    if message.startswith(("Cannot overwrite", "Cannot declare")):
        return f": {line!r} sets a key or table already set above; give each once"
    return f": {line!r}"


REMOVED_SETTINGS: dict[str, str] = {
    "sar_pfa": "the first releases' SAR false-alarm rate, which no detector read (the SAR detector sets its own)",
}
"""Settings an earlier sitewatch had and this one has not, with what each was: a workspace's sitewatch.toml that
sets one was refused as if the key were a typo ("unknown setting 'sar_pfa'") after an upgrade. It is said, once a
command, and not read; none of them changed what sitewatch did."""

_WARNED_REMOVED: set[tuple[str, str]] = set()


def _warn_removed(path: Path, key: str) -> None:
    if (str(path), key) in _WARNED_REMOVED:
        return
    _WARNED_REMOVED.add((str(path), key))
    logging.getLogger(__name__).warning(
        "%s: %r is a setting of an earlier sitewatch (%s) that this one does not have; it is not read: "
        "delete its line", path, key, REMOVED_SETTINGS[key],
    )  # fmt: skip


def load_setting(name: str, flag: Any = None, env: Mapping[str, str] | None = None) -> Any:
    """One setting of a command that reads no workspace (``detect-image``): ``flag`` > ``SITEWATCH_*``
    env > default. Only this setting's variable is read, so a bad value of another one, which this
    command would not use, does not stop it."""
    setting = _BY_NAME[name]
    env = os.environ if env is None else env
    if flag is not None:
        return _coerce(setting, flag, setting.flag)
    if setting.env in env:
        return _coerce(setting, env[setting.env], setting.env)
    return setting.default


def load_settings(
    workspace: Path | None = None,
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    names: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Resolve settings: flag > SITEWATCH_* env > workspace sitewatch.toml > default.

    ``names``: the settings a command uses, the only ones returned and the only ``SITEWATCH_*``
    variables read, so that a bad value of one it does not use (``SITEWATCH_MAX_CLOUD`` for
    ``detect``) does not stop it; None resolves every setting. The workspace's sitewatch.toml is
    checked whole either way: a typo in it is found by the next command, whichever it is.

    Unknown keys in the toml's ``[settings]`` table are an error naming the key,
    so a typo does not silently fall back to a default. Other tables (such as
    ``[catalogs.NAME]``) belong to the modules that read them.
    """
    env = os.environ if env is None else env
    flags = flags or {}
    wanted = set(_BY_NAME) if names is None else set(names)
    if unknown := sorted(wanted - set(_BY_NAME)):
        raise ValueError(f"no such setting(s) {unknown}; known: {sorted(_BY_NAME)}")
    if stray := sorted(set(flags) - wanted):
        raise ValueError(f"flags {stray} given for settings not asked for ({sorted(wanted)})")
    file_values: dict[str, Any] = {}
    if workspace is not None:
        path = workspace / CONFIG_FILE
        doc = read_toml(path)
        unknown_tables = sorted(set(doc) - set(TABLES))
        stray = [k for k in unknown_tables if k in _BY_NAME]
        if stray:  # `workers = 2` above any table, where [settings] was meant
            raise ConfigError(f"{path}: {', '.join(stray)} must be under [settings]")
        if unknown_tables:
            raise ConfigError(
                f"{path}: unknown table(s) {unknown_tables}; sitewatch reads {list(TABLES)}"
            )
        table = doc.get("settings", {})
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: settings must be a table ([settings] with one key = value a line), got {table!r}")
        for key, value in table.items():
            if key in REMOVED_SETTINGS:
                _warn_removed(path, key)
                continue
            if key not in _BY_NAME:
                raise ConfigError(f"{path}: unknown setting {key!r}; known: {sorted(_BY_NAME)}")
            file_values[key] = _coerce(_BY_NAME[key], value, str(path), typed=True)
    out: dict[str, Any] = {}
    toml_path = workspace / CONFIG_FILE if workspace is not None else None
    for s in SETTINGS:
        if s.name not in wanted:
            continue
        if flags.get(s.name) is not None:
            out[s.name] = _coerce(s, flags[s.name], s.flag)
        elif s.env in env:
            out[s.name] = _coerce(s, env[s.env], s.env)
        elif s.name in file_values:
            out[s.name] = file_values[s.name]
        else:
            out[s.name] = s.default
    lo, hi = out.get("min_vessel_length_m"), out.get("max_vessel_length_m")
    if lo is not None and hi is not None and lo >= hi:
        lo_from = _origin(_BY_NAME["min_vessel_length_m"], flags, env, toml_path if "min_vessel_length_m" in file_values else None)
        hi_from = _origin(_BY_NAME["max_vessel_length_m"], flags, env, toml_path if "max_vessel_length_m" in file_values else None)
        raise ConfigError(
            f"min_vessel_length_m ({lo:g}, from {lo_from}) must be below "
            f"max_vessel_length_m ({hi:g}, from {hi_from})"
        )
    return out
