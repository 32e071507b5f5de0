"""Alert rules: read a YAML rules file and check each rule strictly.

A rules file holds ``rules:``, a list of rules; each has an ``id``, its ``sites``, a ``kind`` and the
fields of that kind (:data:`KIND_FIELDS`). A rule that names an unknown kind, lacks a field, has a field
its kind does not take or names an unknown site or berth is an error naming the rule and the field; the
other rules proceed (:func:`parse_rules` returns both).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .claims_file import OBJECT_KINDS
from .errors import InputError
from .model import CHANGE_DIRECTIONS, Site, berth_as_named, site_id_as_written, sites_named
from .yaml_input import RECORD_ID, read_yaml, unknown_fields

__all__ = ["RuleKind", "Rule", "KIND_FIELDS", "RULE_KINDS", "parse_rules", "read_rules_file", "RULES_FILE"]

RuleKind = Literal["arrival", "departure", "object", "vessel_count", "change", "link"]
RULE_KINDS: tuple[str, ...] = ("arrival", "departure", "object", "vessel_count", "change", "link")

RULES_FILE = "alerts.yaml"
"""The rules file ``sitewatch alerts check`` reads from the workspace folder when --rules is not given."""

_VESSEL = ("berth", "min_length_m", "max_length_m", "vessel_class")
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "arrival": _VESSEL,
    "departure": _VESSEL,
    "object": ("object_kind", "min_count", *_VESSEL),
    "vessel_count": ("berth", "above", "below"),
    "change": ("min_area_m2", "direction"),
    "link": ("feasible_only", "min_length_m", "max_length_m", "vessel_class"),
}
"""The fields each kind takes besides ``id``, ``kind``, ``sites`` and ``description``."""
_REQUIRED: dict[str, tuple[str, ...]] = {"object": ("object_kind",), "change": ("min_area_m2",)}


@dataclass(frozen=True)
class Rule:
    """One checked alert rule."""

    id: str
    kind: RuleKind
    sites: tuple[str, ...]
    """The sites it watches; a link rule's two are (from, to)."""
    description: str = ""
    berth: str | None = None
    """arrival, departure, object: the vessel is at this berth; vessel_count: count this berth only."""
    min_length_m: float | None = None
    max_length_m: float | None = None
    vessel_class: str | None = None
    """A class of the catalogue (:mod:`sitewatch.vessels`) as the rule names it: "landing ship", "Alligator-class"."""
    vessel_classes: tuple[str, ...] = ()
    """The catalogue classes ``vessel_class`` names (:func:`~sitewatch.vessels.classes_named`, as claims read a
    class); a vessel fits when one of them is among its class candidates."""
    object_kind: str | None = None
    """object: the detection kind to watch (``crane``)."""
    min_count: int = 1
    above: int | None = None
    below: int | None = None
    min_area_m2: float | None = None
    direction: str | None = None
    feasible_only: bool = True

    @property
    def vessel_filtered(self) -> bool:
        """True when the rule narrows the vessels it counts (by berth, length or class)."""
        return any(v is not None for v in (self.berth, self.min_length_m, self.max_length_m, self.vessel_class))


def _number(rid: str, name: str, value: Any, *, whole: bool = False, minimum: float = 0.0) -> float:
    ok = (isinstance(value, int) if whole else isinstance(value, (int, float))) and not isinstance(value, bool)
    kind = "a whole number" if whole else "a number"
    try:
        number = float(value) if ok else math.nan
    except OverflowError:  # YAML's integers have no bound: one of 400 digits is past any float
        raise InputError(f"rule {rid!r}: {name} must be {kind} of at least {minimum:g}, got one of {len(str(value))} digits") from None
    if not math.isfinite(number) or number < minimum:
        raise InputError(f"rule {rid!r}: {name} must be {kind} of at least {minimum:g}, got {value!r}")
    return number


def _class_names() -> list[str]:
    from .vessels import catalogue

    return [c.name for c in catalogue()]


def _rule(raw: Any, index: int, sites: Mapping[str, Site]) -> Rule:
    """One rule from its YAML mapping, checked; InputError naming the rule and the field otherwise."""
    if not isinstance(raw, dict):
        raise InputError(f"rule #{index + 1}: must be a mapping (id: ..., kind: ..., sites: [...]), got {raw!r}")
    rid = raw.get("id")
    if isinstance(rid, int) and not isinstance(rid, bool):
        rid = str(rid)  # `id: 7` is digits, which YAML reads as a number
    if not isinstance(rid, str) or not RECORD_ID.match(rid):
        hint = "" if rid is None or isinstance(rid, str) else "; write it in quotes"
        raise InputError(f"rule #{index + 1}: id: missing or not a name of Latin letters (a-z, A-Z), digits, '-', '_', '.' (got {rid!r}){hint}")
    kind = raw.get("kind")
    if kind not in RULE_KINDS:
        raise InputError(f"rule {rid!r}: kind: {'missing' if kind is None else repr(kind) + ' is unknown'}; "
                         f"one of {', '.join(RULE_KINDS)}")  # fmt: skip
    allowed = {"id", "kind", "sites", "description", *KIND_FIELDS[kind]}
    unknown = unknown_fields(raw, allowed)
    if unknown:
        raise InputError(f"rule {rid!r}: {unknown[0]}: not a field of a {kind} rule; it takes {', '.join(KIND_FIELDS[kind])}")
    for key in _REQUIRED.get(kind, ()):
        if raw.get(key) is None:
            raise InputError(f"rule {rid!r}: {key}: missing; a {kind} rule needs it")
    names = raw.get("sites")
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not names or not all(isinstance(s, str) for s in names):
        raise InputError(f"rule {rid!r}: sites: missing or not a list of site ids")
    names = [site_id_as_written(s) for s in names]  # as claims read them: "Dunai" was no site of the workspace
    for s in names:
        if s not in sites:
            named = sites_named(s, ((site.id, site.name) for site in sites.values()))
            if named:  # 'Гавань Дуная', the name of site 'site'
                raise InputError(f"rule {rid!r}: sites: {s!r} is the name of site {named[0]!r}, not an id: write sites: [{named[0]}]")
            raise InputError(f"rule {rid!r}: sites: {s!r} is not a site of the workspace; see `sitewatch sites list`")
    if kind == "link" and (len(names) != 2 or names[0] == names[1]):
        raise InputError(f"rule {rid!r}: sites: a link rule names two sites, from and to, got {names}")
    if kind == "link":
        from .analysis.links import sea_route_note

        if note := sea_route_note(sites[names[0]], sites[names[1]]):  # `sitewatch links` gives such a pair no link
            raise InputError(f"rule {rid!r}: sites: {note}; the rule could never fire")
    out: dict[str, Any] = {"id": rid, "kind": kind, "sites": tuple(names)}
    if "description" in raw:
        out["description"] = str(raw["description"])
    berth = raw.get("berth")
    if berth is not None:
        # As claims read a berth: "Pier-East" is pier-east when only one berth of the sites is spelt so.
        spelt = {berth_as_named(berth, [b.id for b in sites[s].berths]) for s in names} if isinstance(berth, str) else set()
        berth = spelt.pop() if len(spelt) == 1 else berth
        for s in names:
            known = [b.id for b in sites[s].berths]
            if berth not in known:
                raise InputError(f"rule {rid!r}: berth: {berth!r} is not a berth of {s!r} (its berths: {', '.join(known) or 'none'})")
        out["berth"] = berth
    for key in ("min_length_m", "max_length_m", "min_area_m2"):
        if raw.get(key) is not None:
            out[key] = _number(rid, key, raw[key])
    if out.get("min_length_m") is not None and out.get("max_length_m") is not None and out["min_length_m"] > out["max_length_m"]:
        raise InputError(f"rule {rid!r}: min_length_m ({out['min_length_m']:g}) is above max_length_m ({out['max_length_m']:g})")
    for key in ("above", "below", "min_count"):
        if raw.get(key) is not None:
            out[key] = int(_number(rid, key, raw[key], whole=True, minimum=1 if key == "min_count" else 0))
    if kind == "vessel_count" and (out.get("above") is None) == (out.get("below") is None):
        raise InputError(f"rule {rid!r}: above / below: a vessel_count rule needs exactly one of them")
    if raw.get("vessel_class") is not None:
        from .vessels import classes_named, closest_class

        wanted = str(raw["vessel_class"])
        if not (fits := classes_named(wanted)):  # read as claims read it: "Alligator-class" was refused here
            near = closest_class(wanted)
            hint = f" (did you mean {near!r}?)" if near else ""
            raise InputError(f"rule {rid!r}: vessel_class: {wanted!r} names no class of the catalogue{hint} "
                             f"({'; '.join(_class_names())})")  # fmt: skip
        out["vessel_class"] = wanted
        out["vessel_classes"] = tuple(fits)
    if raw.get("object_kind") is not None:
        if not isinstance(raw["object_kind"], str) or raw["object_kind"] not in OBJECT_KINDS:  # a kind no detector finds would never fire
            raise InputError(f"rule {rid!r}: object_kind: {raw['object_kind']!r}: the detectors find "
                             f"{', '.join(OBJECT_KINDS)} besides vessels")  # fmt: skip
        out["object_kind"] = raw["object_kind"]
    if raw.get("direction") is not None:
        if raw["direction"] not in CHANGE_DIRECTIONS:
            raise InputError(f"rule {rid!r}: direction: one of {', '.join(CHANGE_DIRECTIONS)}, got {raw['direction']!r}")
        out["direction"] = raw["direction"]
    if "feasible_only" in raw:
        if not isinstance(raw["feasible_only"], bool):
            raise InputError(f"rule {rid!r}: feasible_only: true or false, got {raw['feasible_only']!r}")
        out["feasible_only"] = raw["feasible_only"]
    return Rule(**out)


def parse_rules(doc: Any, sites: Sequence[Site], origin: str = "rules") -> tuple[list[Rule], list[str]]:
    """The checked rules of a rules document (parsed YAML) and an error line for each rule refused.

    A document that is not a mapping with a ``rules`` list is refused whole (InputError). Two rules
    with one id: the second is refused.
    """
    if doc is None:  # an empty file, or comments only
        raise InputError(f"{origin}: holds no rules: write `rules:` with a list of rules (see README, Alerts), "
                         "or `rules: []` for none")  # fmt: skip
    if isinstance(doc, dict) and "rules" in doc and doc["rules"] is None:
        doc = {**doc, "rules": []}  # `rules:` with every rule under it commented out: alerts paused
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise InputError(f"{origin}: expected a mapping with `rules:`, a list of rules (see README, Alerts)")
    stray = unknown_fields(doc, {"rules"})
    if stray:
        raise InputError(f"{origin}: unknown top-level key(s) {stray}; a rules file holds `rules:`")
    by_id = {s.id: s for s in sites}
    rules: list[Rule] = []
    errors: list[str] = []
    for i, raw in enumerate(doc["rules"]):
        try:
            rule = _rule(raw, i, by_id)
        except InputError as exc:
            errors.append(f"{origin}: {exc}")
            continue
        if any(r.id == rule.id for r in rules):
            errors.append(f"{origin}: rule {rule.id!r}: id: given to an earlier rule too; give each rule its own id")
            continue
        rules.append(rule)
    return rules, errors


def read_rules_file(path: Path, sites: Sequence[Site]) -> tuple[list[Rule], list[str]]:
    """:func:`parse_rules` of a YAML file; a file missing or not YAML is an InputError naming it."""
    doc = read_yaml(path, "rules file", missing_hint="pass --rules FILE or write one (see README, Alerts)")
    return parse_rules(doc, sites, str(path))
