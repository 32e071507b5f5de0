"""Claims files: published statements written as tests the imagery can decide (read and checked here).

A claims file is YAML: a list of claims, or a mapping whose ``claims`` key holds the list (and,
optionally, ``title`` and ``description``). Each claim::

    - id: dunai-landing-ship                      # a slug, unique in the file
      text: "A landing ship was at the Dunai pier on 17 October 2024 ..."   # as published
      source: {who: "...", where: "...", when: "2024-11"}                   # or one string: who
      sites: [dunai]                              # workspace site ids (origin first for vessel_transit)
      date: 2024-10-17                            # or from: / to: (UTC dates, or local ones with --utc-offset; both ends included)
      assert:                                     # one assertion, or a list that must all hold
        kind: vessel_present
        berth: [pier-east, pier-west]             # optional: berth ids, or "any" (at some berth)
        min_length_m: 100                         # optional
        max_length_m: 130                         # optional
        class: Alligator                          # optional: a class of the vessel catalogue
        on: any                                   # a range: any (some date) or all (every date)

An assertion may carry its own ``date`` or ``from``/``to`` (a claim with two dates, "... by
20 October the crane was retracted") and its own ``site``. The kinds are :data:`KINDS`.

Nothing here reads the imagery: :func:`parse_claims` checks a file's form, :func:`check_against_sites`
its sites and berths against a workspace's, and each claim in error is named, with its field, while
the others go on (:mod:`sitewatch.evidence` decides the verdicts).
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal

from .errors import InputError
from .model import (
    CHANGE_DIRECTIONS,
    Site,
    berth_as_named,
    site_id_as_written,
    sites_named,
    written_date,
)
from .vessels import catalogue, classes_named, closest_class
from .yaml_input import RECORD_ID, YAML_BOOL_HINT, read_yaml, unknown_fields

__all__ = [
    "KINDS",
    "CHANGE_DIRECTIONS",
    "OBJECT_KINDS",
    "ANY_BERTH",
    "Source",
    "Assertion",
    "ClaimSpec",
    "ClaimProblem",
    "ClaimsFile",
    "parse_claims",
    "read_claims",
    "check_against_sites",
    "builtin_claims_path",
    "date_spelling_hint",
]

KINDS: tuple[str, ...] = (
    "vessel_present",
    "vessel_absent",
    "object_present",
    "object_absent",
    "presence_days",
    "vessel_transit",
    "change_present",
    "change_absent",
)
"""What an assertion may say: a vessel there (or not) on a date or dates; another object there (or not);
how many days of a range had a vessel; a vessel seen at one site, then at another within some days;
something changed on the ground of the site between two dates (or nothing did)."""

"""The directions of a change region (:mod:`sitewatch.change`) a change assertion may ask for."""

OBJECT_KINDS: Mapping[str, tuple[str, ...]] = {"crane": ("extended", "retracted")}
"""Object kinds the detectors find besides vessels, with the states a claim may name."""

ANY_BERTH = "any"
"""``berth: any``: at some berth of the site (not at anchor or under way)."""

_CLAIM_FIELDS = {"id", "text", "source", "sites", "date", "from", "to", "assert"}
_SOURCE_FIELDS = {"who", "where", "when"}
_COMMON = {"kind", "site", "date", "from", "to"}
_VESSEL = {"berth", "min_length_m", "max_length_m", "class"}
_FIELDS: Mapping[str, set[str]] = {
    "vessel_present": _COMMON | _VESSEL | {"on"},
    "vessel_absent": _COMMON | _VESSEL | {"on"},
    "object_present": _COMMON | {"object", "state", "berth", "on"},
    "object_absent": _COMMON | {"object", "state", "berth", "on"},
    "presence_days": _COMMON | {"berth", "min_length_m", "max_length_m", "days", "tolerance"},
    "vessel_transit": {"kind", "date", "from", "to", "origin", "destination", "within_days", "min_length_m", "max_length_m"},
    "change_present": _COMMON | {"min_area_m2", "direction"},
    "change_absent": _COMMON | {"min_area_m2", "direction"},
}
_REQUIRED: Mapping[str, set[str]] = {"object_present": {"object"}, "object_absent": {"object"},
                                     "presence_days": {"days"}, "vessel_transit": {"within_days"}}  # fmt: skip


@dataclass(frozen=True)
class Source:
    """Who made a claim, where and when (as the claims file words it)."""

    who: str
    where: str = ""
    when: str = ""

    def __str__(self) -> str:
        return ", ".join(p for p in (self.who, self.where, self.when) if p)


@dataclass(frozen=True)
class Assertion:
    """One machine-testable part of a claim."""

    kind: str
    """One of :data:`KINDS`."""
    site_ids: tuple[str, ...]
    """The site (one), or origin and destination for ``vessel_transit``."""
    start: date
    end: date
    """The dates tested, UTC, both included (for ``vessel_transit``: the last sighting at the origin)."""
    berths: tuple[str, ...] = ()
    """Berth ids the vessel or object must be at; ``("any",)``: some berth; empty: anywhere in the site."""
    min_length_m: float | None = None
    max_length_m: float | None = None
    vessel_class: str | None = None
    """A class name of :func:`sitewatch.vessels.catalogue` (as the file names it: matched to the catalogue's)."""
    on: Literal["any", "all"] = "any"
    """For a range: the claim holds on some date (any) or on every date (all)."""
    object: str | None = None
    state: str | None = None
    days: int | None = None
    tolerance: int = 0
    within_days: int | None = None
    min_area_m2: float | None = None
    """Change: the smallest region that counts (m²); None: any region the change stage kept."""
    direction: str | None = None
    """Change: only regions of this direction (:data:`CHANGE_DIRECTIONS`) count; None: any."""

    def size_text(self) -> str:
        """``"of 100–130 m"``, ``"of at least 100 m"``, ``""``."""
        lo, hi = self.min_length_m, self.max_length_m
        if lo is not None and hi is not None:
            return f"of {lo:g}–{hi:g} m"
        if lo is not None:
            return f"of at least {lo:g} m"
        return f"of at most {hi:g} m" if hi is not None else ""

    def where_text(self) -> str:
        """``"at pier-east or pier-west"``, ``"at a berth"``, ``"at dunai"``."""
        if self.berths == (ANY_BERTH,):
            return f"at a berth of {self.site_ids[0]}"
        if self.berths:
            return "at " + " or ".join(self.berths)
        return f"at {self.site_ids[0]}"


@dataclass(frozen=True)
class ClaimSpec:
    """A claim as read from a claims file."""

    id: str
    text: str
    source: Source
    site_ids: tuple[str, ...]
    start: date
    end: date
    assertions: tuple[Assertion, ...]


@dataclass(frozen=True)
class ClaimProblem:
    """Why a claim was refused: its id (or position), the field and what is wrong."""

    claim: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"claim {self.claim}: {self.field}: {self.message}"


@dataclass(frozen=True)
class ClaimsFile:
    """The claims of one file that could be read, and those refused."""

    path: str
    claims: tuple[ClaimSpec, ...]
    problems: tuple[ClaimProblem, ...] = ()
    title: str = ""


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def builtin_claims_path(name: str = "seed-story") -> Path:
    """The packaged claims file ``data/claims/NAME.yaml`` (the demo's: the seed story's claims)."""
    path = Path(str(files("sitewatch").joinpath(f"data/claims/{name}.yaml")))
    if not path.is_file():
        raise InputError(f"no built-in claims file {name!r}")
    return path


def _text(value: Any, field: str, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str | int | float | date) or isinstance(value, bool) or not str(value).strip():
        hint = f"; {YAML_BOOL_HINT}" if isinstance(value, bool) else ""
        raise _Bad(field, "missing" if value is None else f"must be text, got {value!r}{hint}")
    return str(value).strip()


def _site_id(value: Any, field: str) -> str:
    return site_id_as_written(_text(value, field))


_WEEKDAY = re.compile(r"(mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
                      r"\.?,?\s+(.+)", re.IGNORECASE)


def _day_of(text: str) -> date | None:
    """The date of ``2024-10-17`` or of a date written out (:func:`written_date`); None else."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return written_date(text)


_NUMERIC = re.compile(r"(\d{1,2})[./-](\d{1,2})[./-](\d{4})")
_MONTH_ALONE = re.compile(r"(\d{4})-(\d{2})")


def _how_to_write(text: str) -> str:
    """What to write instead of a numeric date of another form, or a month: '' when there is nothing to say."""
    if m := _NUMERIC.fullmatch(text):
        a, b, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        readings = []
        for day, month in ((a, b), (b, a)):
            try:
                readings.append(date(year, month, day))
            except ValueError:
                continue
        readings = list(dict.fromkeys(readings))
        if len(readings) == 1:
            return f": write {readings[0]}"
        if len(readings) == 2:
            return ": write " + " or ".join(f"{d} ({d.day} {d.strftime('%B')})" for d in readings) + ", as meant"
    return ""


def date_spelling_hint(text: str) -> str:
    """What to write for a date given as an article or a form writes it, for a message that refused it:
    ``": write 2024-10-17"`` for "17 October 2024" or "17/10/2024", both readings for "05/10/2024", else ``""``."""
    written = written_date(" ".join(text.split()))
    return f": write {written}" if written is not None else _how_to_write(text.strip())


def _a_time(shown: str, when: datetime, field: str, utc_offset_hours: float) -> _Bad:
    # With a zone, the date it falls on where images' dates are taken (UTC, or UTC+offset with
    # --utc-offset): a 23:30 at UTC-3 is the next day's UTC date.
    if utc_offset_hours:
        from .report.exports import date_zone

        convention = f"local dates at {date_zone(utc_offset_hours)}"
    else:
        convention = "UTC dates"
    day = (when.astimezone(UTC) + timedelta(hours=utc_offset_hours)).date() if when.tzinfo else None
    zone = f"; claim dates are {convention}, and this time's is {day}" if day else ""
    return _Bad(field, f"{shown} is a time: give a date (YYYY-MM-DD{zone})")


def _date(value: Any, field: str, utc_offset_hours: float) -> date:
    if isinstance(value, datetime):
        raise _a_time(str(value), value, field, utc_offset_hours)
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    if (written := written_date(text)) is not None:
        return written
    if (m := _WEEKDAY.fullmatch(" ".join(text.split()))) and (day := _day_of(m.group(2))) is not None:
        named = m.group(1).lower()
        if not calendar.day_name[day.weekday()].lower().startswith(named):
            raise _Bad(field, f"{value!r}: {day} was a {calendar.day_name[day.weekday()]}, not a {named.title()}; check which is meant")
        return day
    if written_date(f"{text} 2000") is not None:
        raise _Bad(field, f"{value!r} has no year: write the date with its year (YYYY-MM-DD)")
    if (m := _MONTH_ALONE.fullmatch(text)) and 1 <= int(m.group(2)) <= 12:
        year, month = int(m.group(1)), int(m.group(2))
        last = date(year, month, calendar.monthrange(year, month)[1])
        raise _Bad(field, f"{value!r} is a month: give from: {date(year, month, 1)} and to: {last}")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad(field, f"{value!r} is not a date (YYYY-MM-DD){_how_to_write(text)}") from None
    raise _a_time(text, when, field, utc_offset_hours)


def _range(raw: Mapping[str, Any], prefix: str, default: tuple[date, date] | None, utc_offset_hours: float) -> tuple[date, date]:
    has_date, has_range = "date" in raw, "from" in raw or "to" in raw
    if has_date and has_range:
        raise _Bad(f"{prefix}date", "give either date or from/to, not both")
    if has_date:
        day = _date(raw["date"], f"{prefix}date", utc_offset_hours)
        return day, day
    if has_range:
        for key in ("from", "to"):
            if key not in raw:
                raise _Bad(f"{prefix}{key}", "missing (a range needs from and to)")
        start, end = _date(raw["from"], f"{prefix}from", utc_offset_hours), _date(raw["to"], f"{prefix}to", utc_offset_hours)
        if start > end:
            raise _Bad(f"{prefix}from", f"{start} is after to {end}")
        return start, end
    if default is None:
        raise _Bad("date", "missing (give date, or from and to)")
    return default


def _number(raw: Mapping[str, Any], key: str, field: str, *, whole: bool = False, zero: bool = False) -> Any:
    value = raw.get(key)
    if value is None:
        return None
    kind = "a whole number" if whole else "a number"
    try:
        number = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
    except OverflowError:  # YAML's integers have no bound: one of 400 digits is past any float
        raise _Bad(field, f"must be {kind} {'of 0 or more' if zero else 'above 0'}, got one of {len(str(value))} digits") from None
    ok = math.isfinite(number) and (number >= 0 if zero else number > 0) and (not whole or number.is_integer())
    if not ok:
        raise _Bad(field, f"must be {kind} {'of 0 or more' if zero else 'above 0'}, got {value!r}")
    return int(value) if whole else float(value)


def _vessel_class(value: Any, field: str) -> str:
    """The one catalogue class a name means (:func:`~sitewatch.vessels.classes_named`); a name that fits none is
    refused naming the class it is closest to in spelling, if any, and one that fits several names them."""
    name = _text(value, field)
    found = classes_named(name)
    if len(found) == 1:
        return found[0]
    if found:
        raise _Bad(field, f"{name!r} fits {len(found)} classes ({'; '.join(found)}): name one of them")
    near = closest_class(name)
    hint = f" (did you mean {near!r}?)" if near else ""
    raise _Bad(field, f"{name!r} is no class of the vessel catalogue{hint}; the classes are: {'; '.join(c.name for c in catalogue())}")


def _assertion(raw: Any, prefix: str, sites: tuple[str, ...], span: tuple[date, date], utc_offset_hours: float) -> Assertion:
    if not isinstance(raw, Mapping):
        raise _Bad(prefix.rstrip("."), "must be a mapping with a kind")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise _Bad(f"{prefix}kind", ("missing" if kind is None else f"unknown kind {kind!r}") + f"; the kinds are {', '.join(KINDS)}")
    unknown = unknown_fields(raw, _FIELDS[kind])
    if unknown:
        raise _Bad(f"{prefix}{unknown[0]}", f"not a field of {kind}; its fields are {', '.join(sorted(_FIELDS[kind]))}")
    for key in sorted(_REQUIRED.get(kind, ())):
        if raw.get(key) is None:
            raise _Bad(f"{prefix}{key}", f"missing (a {kind} assertion needs it)")
    start, end = _range(raw, prefix, span, utc_offset_hours)
    if kind == "vessel_transit":
        origin = _site_id(raw.get("origin", sites[0] if sites else None), f"{prefix}origin")
        dest = _site_id(raw.get("destination", sites[1] if len(sites) > 1 else None), f"{prefix}destination")
        if origin == dest:
            raise _Bad(f"{prefix}destination", f"is the origin {origin!r}: a transit needs two sites")
        site_ids: tuple[str, ...] = (origin, dest)
    else:
        if "site" in raw:
            site_ids = (_site_id(raw["site"], f"{prefix}site"),)
        elif len(sites) == 1:
            site_ids = sites
        else:
            raise _Bad(f"{prefix}site", f"missing: the claim names {len(sites)} sites, so say which one this tests")
    fields = ("origin", "destination") if kind == "vessel_transit" else ("site",)
    for sid, name in zip(site_ids, fields, strict=True):
        if sid not in sites:
            raise _Bad(f"{prefix}{name}", f"{sid!r} is not among the claim's sites ({', '.join(sites)})")
    berth = raw.get("berth")
    berths = tuple(_text(b, f"{prefix}berth") for b in (berth if isinstance(berth, list) else [berth] if berth is not None else []))
    lo, hi = _number(raw, "min_length_m", f"{prefix}min_length_m"), _number(raw, "max_length_m", f"{prefix}max_length_m")
    if lo is not None and hi is not None and lo > hi:
        raise _Bad(f"{prefix}min_length_m", f"{lo:g} is above max_length_m {hi:g}")
    on = raw.get("on", "all" if kind.endswith("_absent") else "any")
    if on not in ("any", "all"):
        raise _Bad(f"{prefix}on", f"must be any or all, got {on!r}")
    obj = state = None
    if kind.startswith("object_"):
        obj = _text(raw["object"], f"{prefix}object")
        if obj not in OBJECT_KINDS:
            raise _Bad(f"{prefix}object", f"{obj!r}: the detectors find {', '.join(OBJECT_KINDS)} besides vessels")
        if raw.get("state") is not None:
            state = _text(raw["state"], f"{prefix}state")
            if state not in OBJECT_KINDS[obj]:
                raise _Bad(f"{prefix}state", f"{state!r}: a {obj} is {' or '.join(OBJECT_KINDS[obj])}")
    direction = None
    if raw.get("direction") is not None:
        direction = _text(raw["direction"], f"{prefix}direction")
        if direction not in CHANGE_DIRECTIONS:
            raise _Bad(f"{prefix}direction", f"{direction!r}: a change region is {', '.join(CHANGE_DIRECTIONS)}")
    return Assertion(
        kind=kind, site_ids=site_ids, start=start, end=end, berths=berths, min_length_m=lo, max_length_m=hi,
        vessel_class=_vessel_class(raw["class"], f"{prefix}class") if raw.get("class") is not None else None,
        on=on, object=obj, state=state, days=_number(raw, "days", f"{prefix}days", whole=True, zero=True),
        tolerance=_number(raw, "tolerance", f"{prefix}tolerance", whole=True, zero=True) or 0,
        within_days=_number(raw, "within_days", f"{prefix}within_days", whole=True, zero=True),
        min_area_m2=_number(raw, "min_area_m2", f"{prefix}min_area_m2", zero=True), direction=direction,
    )  # fmt: skip


def _claim(raw: Mapping[str, Any], utc_offset_hours: float) -> ClaimSpec:
    unknown = unknown_fields(raw, _CLAIM_FIELDS)
    if unknown:
        raise _Bad(unknown[0], f"not a field of a claim; the fields are {', '.join(sorted(_CLAIM_FIELDS))}")
    # Every field left out at once, so that a claim half written is not refused one field a run.
    missing = [k for k in ("id", "text", "source", "sites", "assert") if raw.get(k) is None]
    if len(missing) > 1:
        raise _Bad(missing[0], f"missing, and so are {', '.join(missing[1:])}")
    claim_id = _text(raw.get("id"), "id")
    if not RECORD_ID.match(claim_id):
        raise _Bad("id", f"{claim_id!r}: use Latin letters (a-z, A-Z), digits, '.', '_' and '-'")
    text = _text(raw.get("text"), "text")
    src = raw.get("source")
    if isinstance(src, Mapping):
        extra = unknown_fields(src, _SOURCE_FIELDS)
        if extra:
            raise _Bad(f"source.{extra[0]}", "not a field of source (who, where, when)")
        source = Source(_text(src.get("who"), "source.who"), _text(src.get("where"), "source.where", required=False),
                        _text(src.get("when"), "source.when", required=False))  # fmt: skip
    else:
        source = Source(_text(src, "source"))
    raw_sites = raw.get("sites")
    if isinstance(raw_sites, str):
        raw_sites = [raw_sites]
    if not isinstance(raw_sites, list) or not raw_sites:
        raise _Bad("sites", "missing" if raw_sites is None else "must be a list of site ids")
    sites = tuple(dict.fromkeys(_site_id(s, "sites") for s in raw_sites))
    span = _range(raw, "", None, utc_offset_hours) if any(k in raw for k in ("date", "from", "to")) else None
    raw_assert = raw.get("assert")
    if raw_assert is None:
        raise _Bad("assert", f"missing (one assertion or a list; the kinds are {', '.join(KINDS)})")
    parts = raw_assert if isinstance(raw_assert, list) else [raw_assert]
    if not parts:
        raise _Bad("assert", "is empty")
    assertions = []
    for i, part in enumerate(parts):
        prefix = f"assert[{i}]." if isinstance(raw_assert, list) else "assert."
        if span is None and not (isinstance(part, Mapping) and any(k in part for k in ("date", "from", "to"))):
            raise _Bad("date", "missing (give date, or from and to)")
        assertions.append(_assertion(part, prefix, sites, span or (date.min, date.min), utc_offset_hours))
    start = min(a.start for a in assertions) if span is None else span[0]
    end = max(a.end for a in assertions) if span is None else span[1]
    return ClaimSpec(claim_id, text, source, sites, start, end, tuple(assertions))


def parse_claims(doc: Any, name: str = "claims file", *, utc_offset_hours: float = 0.0) -> ClaimsFile:
    """Claims from a parsed YAML document; each claim in error becomes a :class:`ClaimProblem`.

    ``utc_offset_hours`` is the date convention the claims will be judged in (``--utc-offset``): a date
    given as a time with a zone is refused naming the date it falls on there (UTC without one).

    A document that is not a list of claims (nor a mapping with one under ``claims``) is an
    :class:`~sitewatch.errors.InputError` naming ``name``.
    """
    title = ""
    if isinstance(doc, Mapping):
        extra = unknown_fields(doc, {"claims", "title", "description"})
        if extra or "claims" not in doc:
            raise InputError(f"{name}: expected a list of claims, or a mapping with `claims:` (and title, description)"
                             + (f"; {extra[0]!r} is not a key of it" if extra else ""))  # fmt: skip
        title = str(doc.get("title") or "")
        doc = doc["claims"]
    if not isinstance(doc, list) or not doc:
        raise InputError(f"{name}: holds no claims (expected a list of claims, each with id, text, source, sites, date and assert)")
    claims: list[ClaimSpec] = []
    problems: list[ClaimProblem] = []
    seen: set[str] = set()
    for i, raw in enumerate(doc, start=1):
        label = f"#{i}"
        if isinstance(raw, Mapping) and isinstance(raw.get("id"), str) and raw["id"].strip():
            label = raw["id"].strip()
        try:
            if not isinstance(raw, Mapping):
                raise _Bad("claim", f"must be a mapping (id, text, source, sites, date, assert), got {raw!r}")
            spec = _claim(raw, utc_offset_hours)
            if spec.id in seen:
                raise _Bad("id", "given to an earlier claim too; ids must be unique")
        except _Bad as bad:
            problems.append(ClaimProblem(label, bad.field, bad.message))
            continue
        seen.add(spec.id)
        claims.append(spec)
    return ClaimsFile(name, tuple(claims), tuple(problems), title)


def read_claims(path: str | Path, *, utc_offset_hours: float = 0.0) -> ClaimsFile:
    """Read and check the form of a claims file (YAML), as :func:`parse_claims`. A file that cannot be read is an
    InputError naming it."""
    return parse_claims(read_yaml(path, "claims file"), str(path), utc_offset_hours=utc_offset_hours)


def check_against_sites(claims: ClaimsFile, sites: Mapping[str, Site]) -> ClaimsFile:
    """The claims whose sites and berths the workspace holds; the others become problems naming them."""
    kept: list[ClaimSpec] = []
    problems = list(claims.problems)
    for spec in claims.claims:
        spec = _berths_as_stored(spec, sites)
        problem = _site_problem(spec, sites)
        if problem:
            problems.append(problem)
        else:
            kept.append(spec)
    return replace(claims, claims=tuple(kept), problems=tuple(problems))


def _berths_as_stored(spec: ClaimSpec, sites: Mapping[str, Site]) -> ClaimSpec:
    """``spec`` with each berth named in another case than the site's ("Pier-East") as the site names it, when
    only one of its berths is spelt so; other names are left for :func:`_site_problem` to refuse."""

    def stored(a: Assertion) -> Assertion:
        site = sites.get(a.site_ids[0])
        if site is None or not a.berths:
            return a
        known = [b.id for b in site.berths]
        return replace(a, berths=tuple(b if b == ANY_BERTH else berth_as_named(b, known) for b in a.berths))

    return replace(spec, assertions=tuple(stored(a) for a in spec.assertions))


def _site_problem(spec: ClaimSpec, sites: Mapping[str, Site]) -> ClaimProblem | None:
    for sid in spec.site_ids:
        if sid not in sites:
            named = sites_named(sid, ((s.id, s.name) for s in sites.values()))
            if named:  # 'Гавань Дуная', the name of site 'site'
                return ClaimProblem(spec.id, "sites", f"{sid!r} is the name of site {named[0]!r}, not an id: write "
                                                      f"sites: [{named[0]}]")  # fmt: skip
            known = ", ".join(sorted(sites)) or "none"
            return ClaimProblem(spec.id, "sites", f"{sid!r} is not a site of the workspace (its sites: {known}); "
                                                  "add it with `sitewatch sites add`")  # fmt: skip
    for i, a in enumerate(spec.assertions):
        site = sites[a.site_ids[0]]
        known_berths = {b.id for b in site.berths}
        field = f"assert[{i}].berth" if len(spec.assertions) > 1 else "assert.berth"
        if ANY_BERTH in a.berths and (len(a.berths) > 1 or not known_berths):
            why = "give 'any' alone" if known_berths else f"{site.id} has no berths (import them with `sitewatch sites import`)"
            return ClaimProblem(spec.id, field, f"'any' berth: {why}")
        for b in a.berths:
            if b != ANY_BERTH and b not in known_berths:
                listed = ", ".join(sorted(known_berths)) or "none"
                return ClaimProblem(spec.id, field, f"{b!r} is not a berth of {site.id} (its berths: {listed}; or 'any')")
    return None


def problems_text(problems: Sequence[ClaimProblem], path: str) -> list[str]:
    """One line per refused claim: ``claims.yaml: claim X: field: message``."""
    return [f"{path}: {p}" for p in problems]
