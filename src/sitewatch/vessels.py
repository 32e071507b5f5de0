"""Vessel classes by measured size: a small catalogue and honest candidate likelihoods.

A measured length and width carry an error that grows with the pixel size:
a 10 m Sentinel pixel puts a 112 m landing ship at ~11 x 1.5 pixels, so the
measurement is good to several metres at best. :func:`class_candidates`
therefore returns *candidates with likelihoods*, never a single verdict: at
10 m a Ropucha (112.5 x 15.0 m) and an Alligator (112.8-113.1 x 15.3-15.6 m)
come out close to 50/50, because size alone cannot separate them.

The error model: the measured length is the true length plus a Gaussian
error of standard deviation ``sqrt(base**2 + (k * resolution)**2)`` (base
3 m for length, 2 m for width; ``k`` = 0.8, about a pixel's worth of edge
uncertainty at each end). A class is a range of true sizes (uniform within
it), so its likelihood is the Gaussian smeared over that range.

"Other (not in catalogue)" stands for every vessel the catalogue does not list,
and most vessels in a port are such. It takes half the prior (as likely as not,
before measuring, that a vessel is of a listed class) and a density that looks
like a fleet, not a flat box: length log-uniform over 15-450 m (as many vessels
between 20 and 40 m as between 200 and 400 m) and beam between a tenth and
four tenths of the length (length/beam from about 2.5, a harbour tug, to 10, a
fast warship). So a 68 x 16 m ship at 10 m is "other" about two to one against
"fishing trawler" (a flat "other" with a tenth of the prior made it a trawler at
97 %), while a measured size that sits on a listed class still comes out as that
class, ahead of "other".
"""

from __future__ import annotations

import csv
import difflib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib.resources import files

import numpy as np

from .errors import InputError
from .model import ClassCandidate

__all__ = [
    "VesselClass",
    "OTHER_CLASS",
    "catalogue",
    "classes_named",
    "closest_class",
    "class_candidates",
    "is_ambiguous",
    "length_sigma_m",
    "width_sigma_m",
]

OTHER_CLASS = "other (not in catalogue)"
"""Name of the catch-all candidate for sizes no listed class explains."""

_LENGTH_BASE_M = 3.0
_WIDTH_BASE_M = 2.0
_PIXEL_FACTOR = 0.8
# The catch-all: every size a vessel detector reports (config min/max vessel
# length), log-uniform in length, beam a fixed range of fractions of the length.
_OTHER_LENGTH = (15.0, 450.0)
_OTHER_BEAM_RATIO = (0.1, 0.4)
_OTHER_PRIOR = 0.5
_OTHER_STEPS = 400


@dataclass(frozen=True)
class VesselClass:
    """One row of the vessel class catalogue."""

    name: str
    category: str
    """naval, cargo, tanker, fishing, service..."""
    length_min_m: float
    length_max_m: float
    width_min_m: float
    """Beam."""
    width_max_m: float
    source: str
    """Where the dimensions come from."""

    def __post_init__(self) -> None:
        if not (0 < self.length_min_m <= self.length_max_m and 0 < self.width_min_m <= self.width_max_m):
            raise InputError(f"vessel class {self.name!r}: size ranges must be positive and ordered")


@lru_cache(maxsize=1)
def catalogue() -> tuple[VesselClass, ...]:
    """The built-in vessel classes (package data ``data/vessel_classes.csv``)."""
    text = files("sitewatch").joinpath("data/vessel_classes.csv").read_text(encoding="utf-8")
    return tuple(
        VesselClass(
            name=r["name"],
            category=r["category"],
            length_min_m=float(r["length_min_m"]),
            length_max_m=float(r["length_max_m"]),
            width_min_m=float(r["width_min_m"]),
            width_max_m=float(r["width_max_m"]),
            source=r["source"],
        )
        for r in csv.DictReader(text.splitlines())
    )


# The word "class" after a name, by a hyphen, a space or a typographic dash (an article's "Alligator\u2013class"),
# or before it, as some reporters write it ("Class Ropucha", "class Alligator", in brackets "(Class Ropucha)"); a
# word of which it is a part ("subclass") is not it.
_CLASS_WORD = re.compile(r"\bclass\b", re.IGNORECASE)
_NAME_WORD = re.compile(r"[a-z0-9]+")
# Words a writer adds that tell no class of the catalogue from another ("cargo vessel", "the ship"): read past.
_GENERIC_WORDS = frozenset({"a", "an", "the", "of", "type", "ship", "ships", "vessel", "vessels", "boat", "boats"})
# Words of a name that narrow a class down but never name one alone: "small", "general" or "project" by itself is no
# class (they fitted the coaster or both landing ships as parts of a name).
_QUALIFIER_WORDS = frozenset({"small", "large", "general", "project", "harbour", "tank"})
# What the press calls the catalogue's landing ships: both are the Soviet "large landing ship" (BDK), a tank landing
# ship (LST). Qualifiers that fit any class whose name holds the phrase, and abbreviations that stand for it.
_ALSO_SAID: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "landing ship": (frozenset({"large", "tank"}), frozenset({"lst", "lsts", "bdk"})),
    # The series of each class, as articles number them: Ropucha I (Project 775) and II (775M), Alligator I to IV.
    "ropucha": (frozenset({"i", "ii"}), frozenset()),
    "alligator": (frozenset({"i", "ii", "iii", "iv"}), frozenset()),
}


def _words(name: str) -> list[str]:
    """``name``'s words in lower case, without the word "class" ("Alligator-class") and the generic words (when it
    holds any other)."""
    words = _NAME_WORD.findall(_CLASS_WORD.sub(" ", name).casefold())
    return [w for w in words if w not in _GENERIC_WORDS] or words


def _vocabulary(c: VesselClass) -> tuple[set[str], set[str]]:
    """The words that name ``c`` (its name's, its category, plurals) and the qualifiers it also takes."""
    naming = set(_NAME_WORD.findall(c.name.casefold())) | {c.category.casefold()}
    qualifying = {w for w in naming if w in _QUALIFIER_WORDS}
    for phrase, (extra, abbreviations) in _ALSO_SAID.items():
        if phrase in c.name.casefold():
            naming |= abbreviations
            qualifying |= extra
    naming -= qualifying
    return naming | {w + "s" for w in naming}, qualifying


def classes_named(name: str) -> list[str]:
    """The catalogue classes a name as people write it means: the class named exactly, else those with each of its
    words, in any case, as a word of their name or their category ("cargo vessel": the four cargo classes), a word a
    writer adds that tells no class apart ("ship", "vessel"), or what the press calls them ("large landing ship",
    "landing ship tank (LST)": both landing ships). An article's "Alligator-class" is read without the word "class",
    and one word must name the class: "small" or "tank" alone fits none. Claims want one class; an alert rule
    watches all it names ("landing ship")."""
    names = [c.name for c in catalogue()]
    if name in names:
        return [name]
    words = _words(name)
    found = []
    for c in catalogue():
        naming, qualifying = _vocabulary(c)
        if any(w in naming and w not in _GENERIC_WORDS for w in words) and all(
            w in naming or w in qualifying or w in _GENERIC_WORDS for w in words
        ):
            found.append(c.name)
    return found


def closest_class(name: str) -> str | None:
    """The one class with a word spelt close to each of ``name``'s words ("Aligator", "Ropusha"), else the one class
    the words the catalogue knows name ("oil tanker": the product tanker), or None."""
    words = _words(name)
    vocabularies = {c.name: set.union(*_vocabulary(c)) | _GENERIC_WORDS for c in catalogue()}
    fits = [
        n for n, vocab in vocabularies.items()
        if words and all(difflib.get_close_matches(w, sorted(vocab), n=1, cutoff=0.8) for w in words)
    ]  # fmt: skip
    if not fits:
        known = [w for w in words if any(w in vocab for vocab in vocabularies.values())]
        fits = classes_named(" ".join(known)) if known != words else []
    return fits[0] if len(fits) == 1 else None


def length_sigma_m(resolution_m: float) -> float:
    """Standard deviation (m) of a length measured on pixels of ``resolution_m``."""
    return math.hypot(_LENGTH_BASE_M, _PIXEL_FACTOR * resolution_m)


def width_sigma_m(resolution_m: float) -> float:
    """Standard deviation (m) of a width (beam) measured on pixels of ``resolution_m``."""
    return math.hypot(_WIDTH_BASE_M, _PIXEL_FACTOR * resolution_m)


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def _range_density(x: float, lo: float, hi: float, sigma: float) -> float:
    """Density of measuring ``x`` when the true value is uniform on [lo, hi] plus N(0, sigma)."""
    if hi - lo < 1e-6:
        z = (x - lo) / sigma
        return math.exp(-0.5 * z * z) / (sigma * math.sqrt(2 * math.pi))
    return max(_phi((x - lo) / sigma) - _phi((x - hi) / sigma), 0.0) / (hi - lo)


def _other_density(length_m: float, width_m: float, sl: float, sw: float) -> float:
    """Density of measuring ``length_m`` x ``width_m`` for a vessel of the catch-all fleet.

    The true length is log-uniform on :data:`_OTHER_LENGTH`, the true beam uniform between
    the :data:`_OTHER_BEAM_RATIO` fractions of it; both are measured with Gaussian errors.
    Summed over true lengths on a log grid (a midpoint rule; its error is far below the
    model's own).
    """
    # Imported here: scipy.special takes 0.15 s to import, and only classing needs it.
    from scipy.special import ndtr

    lo, hi = _OTHER_LENGTH
    edges = np.linspace(math.log(lo), math.log(hi), _OTHER_STEPS + 1)
    true_l = np.exp(0.5 * (edges[:-1] + edges[1:]))
    weight = np.diff(edges) / (edges[-1] - edges[0])  # log-uniform mass of each step
    length_pdf = np.exp(-0.5 * ((length_m - true_l) / sl) ** 2) / (sl * math.sqrt(2 * math.pi))
    b_lo, b_hi = _OTHER_BEAM_RATIO[0] * true_l, _OTHER_BEAM_RATIO[1] * true_l
    width_pdf = (ndtr((width_m - b_lo) / sw) - ndtr((width_m - b_hi) / sw)) / (b_hi - b_lo)
    return float(np.sum(weight * length_pdf * width_pdf))


def class_candidates(
    length_m: float,
    width_m: float,
    resolution_m: float,
    *,
    classes: Sequence[VesselClass] | None = None,
    min_likelihood: float = 0.02,
) -> tuple[ClassCandidate, ...]:
    """Vessel classes a measured size may belong to, most likely first.

    Likelihoods are posterior probabilities, half the prior on :data:`OTHER_CLASS`
    and the other half shared equally by the listed classes; they sum to 1 over
    all classes, and those below ``min_likelihood`` are left out. At 10 m the
    Ropucha and Alligator candidates come out about even: the caller should
    report both, not the first.
    """
    if not resolution_m > 0:
        raise InputError(f"resolution must be positive, got {resolution_m}")
    if not (length_m > 0 and width_m > 0):
        raise InputError(f"vessel size must be positive, got {length_m} x {width_m} m")
    classes = catalogue() if classes is None else classes
    sl, sw = length_sigma_m(resolution_m), width_sigma_m(resolution_m)
    # A measured width above the length means the box axes were swapped; size is what matters.
    length_m, width_m = max(length_m, width_m), min(length_m, width_m)
    prior = (1.0 - _OTHER_PRIOR) / max(len(classes), 1)
    scores: dict[str, float] = {}
    for c in classes:
        scores[c.name] = prior * _range_density(length_m, c.length_min_m, c.length_max_m, sl) * _range_density(
            width_m, c.width_min_m, c.width_max_m, sw
        )
    scores[OTHER_CLASS] = _OTHER_PRIOR * _other_density(length_m, width_m, sl, sw)
    total = sum(scores.values())
    if total <= 0:
        return (ClassCandidate(OTHER_CLASS, 1.0),)
    ranked = sorted(((v / total, k) for k, v in scores.items()), key=lambda t: (-t[0], t[1]))
    return tuple(ClassCandidate(name, round(p, 4)) for p, name in ranked if p >= min_likelihood)


def is_ambiguous(candidates: Sequence[ClassCandidate], ratio: float = 2.0) -> bool:
    """True when the two most likely candidates are within ``ratio`` of each other."""
    if len(candidates) < 2:
        return False
    a, b = sorted((c.likelihood for c in candidates), reverse=True)[:2]
    return b > 0 and a / b < ratio
