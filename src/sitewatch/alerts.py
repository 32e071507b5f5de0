"""Alerts: rules evaluated over what the workspace already computed, each event reported once.

:func:`evaluate_rules` turns rules (:mod:`sitewatch.alert_rules`) into events from the occupancy timeline
(arrivals, departures, vessel counts, other object kinds), the stored ``changes`` layer and the candidate
links between sites. :func:`check_alerts` is the one entry point of ``sitewatch alerts check``: it
evaluates, keeps the events not reported before, appends them to a JSON-lines file, records them in the
workspace's ``alert_events`` table in one transaction and posts them to a webhook when one is set.

An event's key is the rule, the site and the observations it rests on (an arrival: the image of its first
sighting and the berth; a count: the images of its date; a change: the pair compared; a link: the two
images), never a detection id, so a rerun of ``detect`` on an observation does not make the event new.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from .alert_rules import Rule
from .analysis.links import LinkParams, Move, find_links, moves_from_timeline
from .analysis.occupancy import (
    Sighting,
    SiteRecords,
    Timeline,
    TimelineRow,
    build_timeline,
    read_site_records,
)
from .config import masked_value, webhook_value_shown
from .errors import InputError
from .model import Detection, Observation, Site, iso_utc
from .store import Store

__all__ = ["AlertEvent", "AlertCheck", "evaluate_rules", "check_alerts", "event_to_dict", "post_event", "WEBHOOK_TIMEOUT_S",
           "load_rules", "check_webhook_url", "webhook_shown"]

WEBHOOK_TIMEOUT_S = 10.0
"""Seconds a webhook POST may take before it counts as failed (and is retried on the next run)."""

WEBHOOK_META_KEY = "alerts_webhook"
"""The ``sitewatch_meta`` key that keeps the webhook the store's runs last posted to (its password masked): from
then on, a run without a webhook leaves its new events pending for the next run with one."""


@dataclass(frozen=True)
class AlertEvent:
    """One thing a rule noticed, with the observations and archived images it rests on."""

    key: str
    rule_id: str
    kind: str
    site_id: str
    date: date
    acquired: datetime
    """Acquisition time (UTC) of the image the event rests on."""
    what: str
    observation_ids: tuple[str, ...]
    images: tuple[str, ...]
    """Archive paths (relative to the workspace) of those observations' COGs."""
    simulated: bool
    detection_ids: tuple[str, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)


def event_to_dict(e: AlertEvent) -> dict[str, Any]:
    """An event as JSON: what ``--json``, the JSON-lines file and the webhook get."""
    return {
        "event_id": e.key, "rule": e.rule_id, "kind": e.kind, "site": e.site_id, "date": e.date.isoformat(),
        "acquired": iso_utc(e.acquired), "what": ("SIMULATED imagery: " if e.simulated else "") + e.what,
        "observations": list(e.observation_ids), "images": list(e.images), "detections": list(e.detection_ids),
        "simulated": e.simulated, "details": dict(e.details),
    }  # fmt: skip


class _Workspace:
    """What the rules read, each read or computed once per run.

    ``starts``: sites read from a date on (their observations acquired that date or later, and those observations'
    detections), not from their beginning: the window :mod:`sitewatch.alert_window` evaluates."""

    def __init__(self, store: Store, starts: Mapping[str, date | None] | None = None) -> None:
        self.store = store
        self.starts = dict(starts or {})
        self._sites: dict[str, Site] = {}
        self._obs: dict[str, dict[str, Observation]] = {}
        self._dets: dict[str, dict[str, Detection]] = {}
        self._tl: dict[str, Timeline] = {}
        self._moves: dict[str, tuple[list[Move], list[Move]]] = {}
        self._read: dict[str, SiteRecords] = {}

    def site(self, sid: str) -> Site:
        if sid not in self._sites:
            self._sites[sid] = self.store.get_site(sid)
        return self._sites[sid]

    def _records(self, sid: str) -> SiteRecords:
        # Observations, detections and the timeline of a site from one read (a `detect` may be recording
        # meanwhile: the timeline of one read and the detections of another did not agree).
        if sid not in self._read:
            start = self.starts.get(sid)
            if start is None:
                self._read[sid] = read_site_records(self.store, sid)
            else:
                from .alert_window import read_window

                self._read[sid] = read_window(self.store, sid, start)
        return self._read[sid]

    def path(self, sid: str, oid: str) -> str | None:
        """The archive path of one of the site's observations (None when it has none): from those read, else its row
        (a window does not hold the images of an old change pair)."""
        if oid in self.observations(sid):
            return self.observations(sid)[oid].path
        if self.starts.get(sid) is None:
            return None
        rows = self.store.execute("SELECT path FROM observations WHERE observation_id = ? AND site_id = ?", (oid, sid))
        return str(rows[0][0]) if rows else None

    def observations(self, sid: str) -> dict[str, Observation]:
        if sid not in self._obs:
            self._obs[sid] = {o.id: o for o in self._records(sid).observations}
        return self._obs[sid]

    def detections(self, sid: str) -> dict[str, Detection]:
        if sid not in self._dets:
            self._dets[sid] = {d.id: d for d in self._records(sid).detections}
        return self._dets[sid]

    def timeline(self, sid: str) -> Timeline:
        if sid not in self._tl:
            r = self._records(sid)
            self._tl[sid] = build_timeline(sid, r.observations, r.detections, site_name=self.site(sid).name,
                                           undetected=r.undetected, site_geometry=self.site(sid).geometry)  # fmt: skip
        return self._tl[sid]

    def moves(self, sid: str) -> tuple[list[Move], list[Move]]:
        if sid not in self._moves:
            self._moves[sid] = moves_from_timeline(self.timeline(sid), self.observations(sid), self.detections(sid))
        return self._moves[sid]


def _classes_fit(rule: Rule, classes: Mapping[str, float] | Sequence[str]) -> bool:
    return rule.vessel_class is None or any(n in rule.vessel_classes for n in classes)


def _vessel_fits(rule: Rule, length_m: float, berth: str | None, classes: Mapping[str, float] | Sequence[str]) -> bool:
    if rule.berth is not None and berth != rule.berth:
        return False
    if rule.min_length_m is not None and length_m < rule.min_length_m:
        return False
    if rule.max_length_m is not None and length_m > rule.max_length_m:
        return False
    return _classes_fit(rule, classes)


def _class_text(classes: Mapping[str, float]) -> str:
    """What the vessel's size says of its class, as `claims check` says it: the likeliest class only when it
    leads the next by two to one (a Ropucha and an Alligator fit any measured size about equally)."""
    if not classes:
        return "no class fits its size"
    (top, p), *rest = sorted(classes.items(), key=lambda t: -t[1])
    if rest and rest[0][1] > 0 and p / rest[0][1] < 2.0:
        return f"its size fits {_short(top)} and {_short(rest[0][0])} about equally (size cannot tell the class)"
    return f"likeliest class {top}"


def _short(name: str) -> str:
    # "Ropucha (Project 775/775M) landing ship" -> "Ropucha"; "other (not in catalogue)" keeps what it means.
    return name.split(" (Project")[0]


def _numbered(events: list[AlertEvent]) -> list[AlertEvent]:
    """Keys made unique within a run: a second event of one rule on the same images gets ``#2`` (two vessels
    arriving at one berth in one image)."""
    seen: dict[str, int] = defaultdict(int)
    out = []
    for e in events:
        seen[e.key] += 1
        n = seen[e.key]
        out.append(e if n == 1 else AlertEvent(**{**e.__dict__, "key": f"{e.key}#{n}"}))
    return out


def _move_events(ws: _Workspace, rule: Rule, sid: str) -> list[AlertEvent]:
    departures, arrivals = ws.moves(sid)
    dets = ws.detections(sid)
    out = []
    for m in arrivals if rule.kind == "arrival" else departures:
        det = dets.get(m.detection_id)
        berth = det.berth_id if det else None
        if not _vessel_fits(rule, m.length_m, berth, m.classes):
            continue
        where = f"at {berth}" if berth else "off the berths"
        cut = " (cut by the image's edge: a lower bound)" if m.truncated else ""
        size = f"{m.length_m:.0f} m{cut} vessel, {_class_text(m.classes)}"
        if rule.kind == "arrival":
            day, what = m.date, f"{size} arrived {where} at {sid} (first seen {m.date}, not seen {m.other_date})"
            not_yet = m.other_date
        else:
            day = m.other_date or m.date
            what = f"{size} left {where} at {sid} (last seen {m.date}, gone {m.other_date})"
            not_yet = m.date
        out.append(AlertEvent(
            key=f"{rule.id}|{sid}|{rule.kind}|{m.observation_id}|{berth or '-'}", rule_id=rule.id, kind=rule.kind,
            site_id=sid, date=day, acquired=m.acquired, what=what, observation_ids=(m.observation_id,),
            images=(m.path,), simulated=m.simulated, detection_ids=(m.detection_id,),
            details={"berth": berth, "length_m": round(m.length_m, 1), "truncated": m.truncated,
                     "classes": dict(m.classes), "resolution_m": m.resolution_m,
                     "not_yet": not_yet.isoformat() if not_yet else None},
        ))  # fmt: skip
    return out


def _row_event(rule: Rule, row: TimelineRow, obs: Mapping[str, Observation], obs_ids: Sequence[str], what: str,
               details: Mapping[str, Any], detection_ids: Sequence[str] = ()) -> AlertEvent:  # fmt: skip
    used = [obs[o] for o in obs_ids]
    return AlertEvent(
        key=f"{rule.id}|{row.site_id}|{rule.kind}|{'+'.join(obs_ids)}", rule_id=rule.id, kind=rule.kind,
        site_id=row.site_id, date=row.date, acquired=min(o.scene.acquired for o in used), what=what,
        observation_ids=tuple(obs_ids), images=tuple(o.path for o in used),
        simulated=any(o.scene.simulated for o in used), detection_ids=tuple(detection_ids), details=details,
    )  # fmt: skip


def _sighting_fits(rule: Rule, s: Sighting, dets: Mapping[str, Detection]) -> bool:
    det = dets.get(s.detection_id)
    return _vessel_fits(rule, s.length_m, s.berth_id, [c.name for c in det.class_candidates] if det else [])


def _object_events(ws: _Workspace, rule: Rule, sid: str) -> list[AlertEvent]:
    assert rule.object_kind is not None
    obs, dets = ws.observations(sid), ws.detections(sid)
    by_obs: dict[str, list[Detection]] = defaultdict(list)
    for d in dets.values():
        if d.kind == rule.object_kind:
            by_obs[d.observation_id].append(d)
    out = []
    for row in ws.timeline(sid).rows:
        if row.others.get(rule.object_kind, 0) < rule.min_count:
            continue
        beside = [s for s in row.sightings if _sighting_fits(rule, s, dets)]
        if rule.vessel_filtered and not beside:
            continue
        seen_in = [o for o in row.observation_ids if by_obs.get(o)]
        n = row.others[rule.object_kind]
        what = f"{n} {rule.object_kind}{'' if n == 1 else 's'} seen at {sid} on {row.date}"
        if beside:
            what += "; beside " + ", ".join(f"a {s.length_m:.0f} m vessel at {s.berth_id or 'no berth'}" for s in beside)
        ids = [d.id for o in seen_in for d in by_obs[o]] + [s.detection_id for s in beside]
        out.append(_row_event(rule, row, obs, seen_in, what, {"count": n, "vessels_beside": len(beside)}, ids))
    return out


def _count_events(ws: _Workspace, rule: Rule, sid: str) -> list[AlertEvent]:
    obs = ws.observations(sid)
    out = []
    before: bool | None = None
    last: date | None = None
    for row in ws.timeline(sid).rows:
        n = row.at_berth.get(rule.berth, 0) if rule.berth else row.vessels
        holds = n > rule.above if rule.above is not None else n < (rule.below or 0)
        # The first usable date is the state before: what came before it is unknown.
        if holds and before is False:
            where = f" at {rule.berth}" if rule.berth else ""
            bound = f"above {rule.above}" if rule.above is not None else f"below {rule.below}"
            what = f"{n} vessel{'' if n == 1 else 's'}{where} at {sid} on {row.date}: went {bound}"
            counted = [s.detection_id for s in row.sightings if not rule.berth or s.berth_id == rule.berth]
            details = {"vessels": n, "berth": rule.berth, "not_yet": last.isoformat() if last else None}
            out.append(_row_event(rule, row, obs, row.observation_ids, what, details, counted))
        before, last = holds, row.date
    return out


def _change_events(ws: _Workspace, rule: Rule, sid: str) -> list[AlertEvent]:
    from .store.changes import change_pairs, changes

    assert rule.min_area_m2 is not None
    regions: dict[tuple[str, str], list[Any]] = defaultdict(list)
    with ws.store.snapshot():  # a `change` run replacing a pair's regions meanwhile: both of one moment
        stored, pairs = changes(ws.store, site_id=sid), change_pairs(ws.store, sid)
    for c in stored:
        if c.area_m2 >= rule.min_area_m2 and (rule.direction is None or c.direction == rule.direction):
            regions[(c.before_id, c.after_id)].append(c)
    out = []
    for p in pairs:
        found = regions.get((p.before_id, p.after_id))
        if not found:
            continue
        largest = max(found, key=lambda c: c.area_m2)
        total = sum(c.area_m2 for c in found)
        # Areas written as the claims write them (2,000 m²): `:g` wrote a million square metres as "1e+06 m²".
        what = (f"{len(found)} region{'' if len(found) == 1 else 's'} of at least {rule.min_area_m2:,.0f} m² changed at {sid} "
                f"between {p.before_acquired.date()} and {p.after_acquired.date()} ({total:,.0f} m² in all, the largest "
                f"{largest.area_m2:,.0f} m² {largest.direction})")  # fmt: skip
        ids = (p.before_id, p.after_id)
        out.append(AlertEvent(
            key=f"{rule.id}|{sid}|change|{p.before_id}+{p.after_id}", rule_id=rule.id, kind="change", site_id=sid,
            date=p.after_acquired.date(), acquired=p.after_acquired, what=what, observation_ids=ids,
            images=tuple(x for x in (ws.path(sid, o) for o in ids) if x is not None), simulated=p.simulated,
            detection_ids=tuple(c.id for c in found),
            details={"regions": len(found), "area_m2": round(total, 1), "largest_m2": round(largest.area_m2, 1),
                     "sensor": p.sensor, "method": f"{p.method} {p.method_version}"},
        ))  # fmt: skip
    return out


def _link_events(ws: _Workspace, rule: Rule) -> list[AlertEvent]:
    a, b = rule.sites
    links = find_links(
        [ws.site(a), ws.site(b)], {s: ws.timeline(s) for s in (a, b)},
        [*ws.observations(a).values(), *ws.observations(b).values()],
        [*ws.detections(a).values(), *ws.detections(b).values()], LinkParams(),
    )  # fmt: skip
    out = []
    for k in links.links:
        d, r = k.departure, k.arrival
        if d.site_id != a or r.site_id != b or (rule.feasible_only and not k.feasible):
            continue
        if not _vessel_fits(rule, r.length_m, None, r.classes):
            continue
        what = (f"a {d.length_m:.0f} m vessel last seen at {a} on {d.date} and a {r.length_m:.0f} m vessel first seen "
                f"at {b} on {r.date} may be the same ({k.hours_apart:.0f} h, {k.distance_km:.0f} km by sea, "
                f"{k.speed_kn:.1f} kn{', feasible' if k.feasible else ', not feasible'}; {k.ambiguity_text()})")  # fmt: skip
        out.append(AlertEvent(
            key=f"{rule.id}|{a}>{b}|link|{d.observation_id}+{r.observation_id}", rule_id=rule.id, kind="link",
            site_id=b, date=r.date, acquired=r.acquired, what=what, observation_ids=(d.observation_id, r.observation_id),
            images=(d.path, r.path), simulated=d.simulated or r.simulated, detection_ids=(d.detection_id, r.detection_id),
            details={"from": a, "to": b, "hours_apart": round(k.hours_apart, 1), "distance_km": round(k.distance_km, 1),
                     "speed_kn": round(k.speed_kn, 1), "feasible": k.feasible, "similarity": round(k.similarity, 3),
                     "alternatives": k.alternatives},
        ))  # fmt: skip
    return out


def evaluate_rules(store: Store, rules: Sequence[Rule], *, since: date | None = None) -> list[AlertEvent]:
    """Every event of the rules over the stored observations (from ``since`` on), in date order, then rule order."""
    return _evaluate(_Workspace(store), rules, since=since)


def _evaluate(ws: _Workspace, rules: Sequence[Rule], *, since: date | None = None) -> list[AlertEvent]:
    """The events of the rules over what ``ws`` reads (every observation, or a window of recent ones), sorted."""
    events: list[AlertEvent] = []
    for rule in rules:
        if rule.kind == "link":
            found = _link_events(ws, rule)
        else:
            make: Callable[[_Workspace, Rule, str], list[AlertEvent]] = {
                "arrival": _move_events, "departure": _move_events, "object": _object_events,
                "vessel_count": _count_events, "change": _change_events,
            }[rule.kind]  # fmt: skip
            found = [e for sid in rule.sites for e in make(ws, rule, sid)]
        events += _numbered(found)
    order = {r.id: i for i, r in enumerate(rules)}
    kept = [e for e in events if since is None or e.date >= since]
    return sorted(kept, key=lambda e: (e.date, e.acquired, order[e.rule_id], e.key))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: urllib turns a POST redirected by 301, 302 or 303 into a GET without
    the body, which a receiver answers 200, so the event would count as delivered and never arrive."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_WEBHOOK_OPENER = urllib.request.build_opener(_NoRedirects)


def webhook_shown(url: str) -> str:
    """``url`` as messages, logs and the workspace show a webhook: its scheme, host and first path segment, the rest
    of its path and each query value as ``***``, a password in it too, and a user name without a password (it is
    then often a token: ``https://TOKEN@host/…``); a path of one segment as ``***`` (it may be the secret whole: an
    ntfy topic).

    A chat webhook's secret is its URL: Slack's ``https://hooks.slack.com/services/T…/B…/TOKEN``, Discord's
    ``https://discord.com/api/webhooks/ID/TOKEN``, a Teams workflow's ``…?sig=TOKEN``. Shown whole, anyone who reads
    a cron mail, a log or the workspace's database could post into the team's channel."""
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.netloc.rsplit("@", 1)[-1]
    except ValueError:
        return url.split("//", 1)[0] + "//***" if "//" in url else "***"
    if parts.password is not None:
        host = (parts.username or "") + ":***@" + host
    elif parts.username is not None:
        # A user name alone is a token as often as a name (https://TOKEN@host/…, as GitHub's and ntfy's take one).
        host = "***@" + host
    first, _, rest = parts.path.lstrip("/").partition("/")
    # A path of one segment may be the secret whole (an ntfy topic, a webhook.site id): shown only before more.
    path = ("/" + first + "/***" if rest else "/***") if first else ""
    query = "&".join(k + "=***" for k, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    if parts.query and not query:
        query = "***"
    return f"{parts.scheme}://{host}{path}" + (f"?{query}" if query else "")


def post_event(url: str, event: Mapping[str, Any], timeout: float = WEBHOOK_TIMEOUT_S) -> None:
    """POST one event (or the chat message :func:`sitewatch.alert_chat.event_to_payload` made of it) as JSON to
    ``url``; an OSError naming the URL and the reason when it is not accepted (2xx).

    A redirect is not followed (it would lose the body): it is an error naming where it leads."""
    body = json.dumps(event).encode("utf-8")
    headers = {"Content-Type": "application/json", "User-Agent": "sitewatch-alerts"}
    target, shown = url, webhook_shown(url)
    parts = urllib.parse.urlsplit(url)
    if parts.username is not None or parts.password is not None:
        # urllib takes "user:pw@host" for the host name (an error that named the URL, password and all): the user
        # part goes as HTTP basic authentication, and messages (stored with the pending event) mask the password.
        host = parts.netloc.rsplit("@", 1)[1]
        target = urllib.parse.urlunsplit(parts._replace(netloc=host))
        user = urllib.parse.unquote(parts.username or "") + ":" + urllib.parse.unquote(parts.password or "")
        headers["Authorization"] = "Basic " + base64.b64encode(user.encode("utf-8")).decode("ascii")
    req = urllib.request.Request(target, data=body, method="POST", headers=headers)
    url = shown
    try:
        with _WEBHOOK_OPENER.open(req, timeout=timeout) as resp:  # (the scheme is checked by check_webhook_url)
            status = resp.status
    except urllib.error.HTTPError as exc:
        location = exc.headers.get("Location") if exc.headers else None
        if 300 <= exc.code < 400 and location:
            target = urllib.parse.urljoin(url, location)
            raise OSError(f"{url}: HTTP {exc.code} {exc.reason}, redirected to {target}: give that URL "
                          f"(--webhook or the alerts_webhook setting); redirects are not followed") from exc  # fmt: skip
        raise OSError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OSError(f"{url}: {reason}") from exc
    if not 200 <= status < 300:
        raise OSError(f"{url}: HTTP {status}")


def _webhook_key(url: str) -> str:
    """What the workspace keeps of the webhook a run posted to: :func:`webhook_shown` and a digest of the whole URL,
    so that two webhooks of one host are told apart without the secret being stored.

    A password in the URL is left out of the digest: a person's password (often theirs elsewhere too) is guessed
    from a list offline by hashing each candidate URL until its digest is the one stored."""
    try:
        parts = urllib.parse.urlsplit(url)
        if parts.password is not None:
            url = urllib.parse.urlunsplit(parts._replace(netloc=f"{parts.username or ''}:@{parts.netloc.rsplit('@', 1)[1]}"))
    except ValueError:
        pass
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:8]
    return f"{webhook_shown(url)} #{digest}"


def _note_shown(note: str | None) -> str | None:
    """A workspace's note of its webhook (:func:`_webhook_key`) as messages show it: its URL through
    :func:`webhook_shown` again, so that a note an older sitewatch wrote (a token as the user name, a one-segment
    path, shown whole then) is masked as one written now is."""
    if not note:
        return note
    url, sep, digest = note.rpartition(" #")
    return f"{webhook_shown(url)} #{digest}" if sep else webhook_shown(note)


def check_webhook_url(url: str) -> str:
    """The URL, or an InputError naming it (any password or bare user name in it masked, and a chat webhook's path:
    :func:`~sitewatch.config.webhook_value_shown`) when it
    is not an http(s) URL with a host (checked before any event is recorded)."""
    hint = "give an http:// or https:// URL (--webhook or the alerts_webhook setting)"
    if not url[:8].lower().startswith(("http://", "https://")):  # a scheme in any case (RFC 3986), as the setting takes it
        raise InputError(f"webhook {webhook_value_shown(url)!r}: {hint}")
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (a port that is not a number raises here)
    except ValueError as exc:  # "http://[::1": an unclosed IPv6 address
        # (urllib quotes the port it could not read, "as 'x\\services\\T0\\…'": with a chat webhook's secret in it)
        why = str(exc) if webhook_value_shown(url) == masked_value(url, user_shown=False) else str(exc).partition(" as '")[0]
        raise InputError(f"webhook {webhook_value_shown(url)!r}: not a URL ({why}); {hint}") from None
    if not parts.hostname:
        raise InputError(f"webhook {webhook_value_shown(url)!r}: no host in it; {hint}")
    return url


@dataclass(frozen=True)
class AlertCheck:
    """What one ``alerts check`` did."""

    events: tuple[dict[str, Any], ...]
    """The events to show: the new ones (every one with ``show_all``), as :func:`event_to_dict` gives them."""
    new: frozenset[str]
    """Keys of the events not reported before this run."""
    evaluated: int
    delivered: int = 0
    delivery_errors: tuple[str, ...] = ()
    pending: int = 0
    """Events still waiting for the webhook after this run."""
    retold: tuple[str, ...] = ()
    """Keys of the events not new, though never reported, because they re-tell one reported before (see
    :func:`retold_events`); recorded as reported, not shown, written or posted."""
    webhook_of_earlier_runs: str | None = None
    """For a run without a webhook, the one earlier runs of the store posted to (its password masked), for which
    this run's new events wait; None when none has or this run has its own."""


_SPANNED = ("arrival", "departure", "vessel_count")
"""The kinds whose event happened between two usable dates: ``details["not_yet"]`` and the event's date."""


def retold_events(new: Sequence[Mapping[str, Any]], stored: Sequence[Mapping[str, Any]], evaluated: Collection[str]) -> set[str]:
    """Keys of the ``new`` events that re-tell a ``stored`` one: an image that came late (a catalogue that published
    it days after, a download that failed and was caught up), of a date between the two an event was told from,
    moves that event into the gap: "first seen 4 January, not seen 2 January" becomes "first seen 3 January", an
    event of another image, so of another key, and the same arrival was told twice.

    A new event re-tells a stored one of the same rule, site, kind and berth that this run no longer finds
    (``evaluated``: its keys) when it happened within that one's span: on or after its ``not_yet`` date and on or
    before its date. Each stored event accounts for one new event at most.
    """
    gone: dict[tuple[Any, ...], list[tuple[str, str]]] = defaultdict(list)
    for k in stored:
        d = k.get("details") or {}
        if k.get("kind") in _SPANNED and d.get("not_yet") and k.get("event_id") not in evaluated:
            gone[(k["rule"], k["site"], k["kind"], d.get("berth"))].append((d["not_yet"], k["date"]))
    out: set[str] = set()
    for e in new:
        d = e.get("details") or {}
        spans = gone.get((e["rule"], e["site"], e["kind"], d.get("berth")))
        if not spans or e["kind"] not in _SPANNED or not d.get("not_yet"):
            continue
        for i, (not_yet, day) in enumerate(spans):
            if not_yet <= d["not_yet"] and e["date"] <= day:
                out.add(e["event_id"])
                del spans[i]
                break
    return out


def _events_file_text(path: Path) -> str:
    """The JSON-lines file's text so far ("" when there is none); an InputError naming it when it is not UTF-8 text."""
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else ""
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not a JSON-lines file of events (not UTF-8 text); give another --out FILE.jsonl") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read the events file ({exc.strerror or exc}); give another --out FILE.jsonl") from exc


def _event_ids_in(text: str) -> set[str]:
    """The ``event_id`` of each line of a JSON-lines events file (lines that are not an event are left alone)."""
    ids = set()
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("event_id"), str):
            ids.add(doc["event_id"])
    return ids


def check_alerts(
    store: Store, rules: Sequence[Rule], *, since: date | None = None, show_all: bool = False,
    out: Path | None = None, webhook: str | None = None, timeout: float = WEBHOOK_TIMEOUT_S,
    post: Callable[[str, Mapping[str, Any], float], None] = post_event, forget_webhook: bool = False,
    webhook_format: str = "auto",
) -> AlertCheck:  # fmt: skip
    """Evaluate the rules, append the new events to ``out`` (JSON lines, written whole or not at all) and record
    them in the store (one transaction); with ``webhook``, POST every event still pending (new ones, and those a
    failed POST left) and mark each delivered or keep it pending with its error.

    The file is written before the store: a run stopped between the two reports its events again on the next
    run, rather than never, but does not append a line the file already holds (by ``event_id``).

    Once a run has posted to a webhook, a run without one leaves its new events pending for it
    (:data:`WEBHOOK_META_KEY`); ``forget_webhook`` forgets it, and the events that were waiting for it.

    ``webhook_format``: the shape each event is posted in (:mod:`sitewatch.alert_chat`): sitewatch's event JSON,
    or a chat's message (``slack``, ``mattermost``, ``discord``, ``teams``); ``auto`` takes it from the URL's host.
    """
    from .alert_chat import WEBHOOK_FORMATS, event_to_payload, webhook_format_for
    from .alert_window import evaluate_window, store_checkpoint
    from .files import write_text_atomic
    from .store.alerts import (
        alerts_turn,
        deliver_pending,
        known_event_keys,
        pending_count,
        record_events,
        record_spans,
        stored_events,
    )

    if webhook:
        check_webhook_url(webhook)
    if webhook_format not in WEBHOOK_FORMATS:
        raise InputError(f"webhook format must be one of {', '.join(WEBHOOK_FORMATS)}, got {webhook_format!r}")
    window = None
    if since is None:
        # The window since the last run's checkpoint (the whole history when there is none or it is stale, or
        # with show_all); --since evaluates whole and leaves the checkpoint be (events before it go unrecorded).
        window = evaluate_window(store, rules, full=show_all)
        found, n_evaluated = window.events, window.evaluated
    else:
        found = evaluate_rules(store, rules, since=since)
        n_evaluated = len(found)
    events = [event_to_dict(e) for e in found]
    # Two runs at once would both take every event for new and post it twice: they take turns.
    with alerts_turn(store):
        known = known_event_keys(store)
        # Events an earlier sitewatch recorded without their span get it from this run's (the same event, found
        # again), so that an image that comes late after the upgrade does not tell them again.
        record_spans(store, [e for e in events if e["event_id"] in known and e["kind"] in _SPANNED])
        new = [e for e in events if e["event_id"] not in known]
        retold: set[str] = set()
        if any(e["kind"] in _SPANNED for e in new):
            # Only the events this run no longer finds can be re-told (retold_events looks at no other): those
            # alone are read, not every event of years of history; of a window, those dated within it.
            evaluated = {e["event_id"] for e in events}
            gone = known - evaluated
            if window is not None and not window.full:
                rows = store.execute("SELECT event_key, site_id, kind, event_date FROM alert_events")
                gone &= window.recent_keys((r[0], r[1], r[2], r[3]) for r in rows)
            retold = retold_events(new, stored_events(store, gone), evaluated)
        again = [e for e in new if e["event_id"] in retold]
        new = [e for e in new if e["event_id"] not in retold]
        if out is not None and new:
            old = _events_file_text(out)
            in_file = _event_ids_in(old)  # a run stopped after the file and before the store wrote them already
            lines = "".join(json.dumps(e, sort_keys=True) + "\n" for e in new if e["event_id"] not in in_file)
            if lines:
                write_text_atomic(out, old + ("\n" if old and not old.endswith("\n") else "") + lines)
        # Once a run of this store has posted to a webhook, the events a run without one finds wait for it too: an
        # analyst's `alerts check` by hand took them for good, and the team's cron with --webhook never posted them.
        posted_to = store.meta(WEBHOOK_META_KEY)
        if forget_webhook and not webhook:
            store.set_meta(WEBHOOK_META_KEY, None)
            with store.transaction() as db:
                db.execute("UPDATE alert_events SET webhook_pending = ? WHERE webhook_pending = ?", (False, True))
            posted_to = None
        if webhook and posted_to != _webhook_key(webhook):
            store.set_meta(WEBHOOK_META_KEY, _webhook_key(webhook))
        record_events(store, new, webhook=bool(webhook or posted_to))
        if again:  # known from now on, as reported (their story was), never posted
            record_events(store, again, webhook=False)
        if window is not None:
            # Every event below the next window is recorded by now: the next run may start from there.
            store_checkpoint(store, window)
    delivered: list[str] = []
    errors: dict[str, str] = {}
    if webhook:
        url, shape = webhook, webhook_format_for(webhook, webhook_format)
        delivered, errors = deliver_pending(store, lambda e: post(url, event_to_payload(e, shape), timeout))
    pending = pending_count(store)
    kept_for = None if webhook else _note_shown(store.meta(WEBHOOK_META_KEY))
    return AlertCheck(
        events=tuple(events if show_all else new), new=frozenset(e["event_id"] for e in new), evaluated=n_evaluated,
        delivered=len(delivered),
        delivery_errors=tuple(f"event {k} not delivered: {msg}; kept, the next run retries it" for k, msg in errors.items()),
        pending=pending, retold=tuple(sorted(retold)), webhook_of_earlier_runs=kept_for,
    )  # fmt: skip


def load_rules(store: Store, path: Path) -> tuple[list[Rule], list[str]]:
    """The rules of a YAML file checked against the workspace's sites (and the errors of those refused)."""
    from .alert_rules import read_rules_file

    return read_rules_file(path, store.sites())
