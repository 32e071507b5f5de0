"""Outputs safe to hand on (``--share``): local paths shortened so that none names a user or a folder.

A report or an export handed to an editor, a colleague or published with a story would otherwise
carry the analyst's own paths (``/home/jdoe/Downloads/Maxar order 12345/…``): a user name, folder
names, sometimes a client or an order number. Shortened, a path inside the workspace is named
relative to the workspace's folder (``archive/…``), any other by its file name alone; the sha256
recorded beside each file still identifies it, so the evidence chain holds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any
from urllib.parse import unquote, urlparse

from .model import Observation, Site

__all__ = ["SHARED_NOTE", "SharedPaths", "shared_paths"]

SHARED_NOTE = (
    "paths shortened for sharing: files inside the workspace are named relative to its folder, "
    "others by file name alone (the sha256 beside each identifies it)"
)
"""What an output written with ``--share`` says of its paths."""

_WINDOWS_ABSOLUTE = re.compile(r"^(?:[A-Za-z]:[\\/]|\\\\)")
_PATH_KEYS = re.compile(r"path|file|href|folder", re.IGNORECASE)
"""Keys whose text values are paths even when relative (run parameters keep paths as they were typed)."""
# An absolute path inside free text (a message): from a slash, a "~/" or a drive letter after a space,
# a quote, a bracket or the start, to the next space or quote. Known paths (with their spaces) go first.
_EMBEDDED = re.compile(r"(?:(?<=[\s'\"(\[=,])|^)(?:~?/|[A-Za-z]:[\\/])[^\s'\"<>()\[\],;]+")


def _is_absolute(text: str) -> bool:
    return text.startswith(("/", "~")) or bool(_WINDOWS_ABSOLUTE.match(text))


def _name(text: str) -> str:
    """The last part of a path, POSIX or Windows (a ``.SAFE/`` folder keeps its name)."""
    path = PureWindowsPath(text) if "\\" in text else PurePosixPath(text)
    return path.name or text.strip("/\\")


@dataclass(frozen=True)
class SharedPaths:
    """How an output written with ``--share`` names paths; :func:`shared_paths` makes one."""

    root: Path
    """The workspace's folder, resolved: a path inside it is named relative to it."""
    home: Path | None = None
    """The user's home folder, named ``~`` wherever it is still found in the finished output."""
    known: tuple[str, ...] = field(default=())
    """Absolute paths seen in the values to share, longest first: replaced whole inside free text,
    where the end of one with a space in a folder name would be left behind."""

    def path(self, text: str) -> str:
        """One path (absolute, relative or a ``file:`` URI) as an output to hand on names it."""
        if text.startswith("file:"):
            text = unquote(urlparse(text).path)
        if not _is_absolute(text):
            inside = not Path(text).is_absolute() and ".." not in Path(text).parts and (self.root / text).exists()
            return Path(text).as_posix() if inside else _name(text)
        if not _WINDOWS_ABSOLUTE.match(text):
            full = Path(text).expanduser()
            for root in (self.root, self.root.resolve()):
                if full.is_relative_to(root) and full != root:
                    return full.relative_to(root).as_posix()
        return _name(text)

    def text(self, text: str) -> str:
        """Free text (a message, a reason) with each path inside it shortened."""
        for known in self.known:
            if known in text:
                text = text.replace(known, self.path(known))
        return _EMBEDDED.sub(lambda m: self.path(m.group(0)), text)

    def value(self, value: Any, key: str = "") -> Any:
        """``value`` (text, or lists and mappings of them, as a provenance holds) with its paths shortened;
        text under a key that names a path (``source_path``, ``paths``, ``band_files``…) is a path."""
        if isinstance(value, str):
            if "://" in value and not value.startswith("file:"):
                return value  # an address (a STAC catalogue), not a local path
            if _is_absolute(value) or value.startswith("file:") or (_PATH_KEYS.search(key) and ("/" in value or "\\" in value)):
                return self.path(value)
            return self.text(value)
        if isinstance(value, Mapping):
            # Under a key naming paths (band_files: {"B04": …}) every text is a path.
            return {k: self.value(v, key if _PATH_KEYS.search(key) else str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.value(v, key) for v in value]
        return value

    def json_text(self, text: str) -> str:
        """Stored JSON text (a run's parameters or result) with its paths shortened, its characters as written
        (no ``\\u`` escapes); other text as free text."""
        try:
            loaded = json.loads(text)
        except ValueError:
            return self.text(text)
        return json.dumps(self.value(loaded), sort_keys=True, ensure_ascii=False)

    def observation(self, o: Observation) -> Observation:
        """``o`` with the paths of its provenance and of its scene's files and properties shortened."""
        scene = replace(o.scene, hrefs=self.value(dict(o.scene.hrefs), "href"), properties=self.value(dict(o.scene.properties)))
        # Its archived image is named relative to the workspace already (whether or not the file is still there).
        path = self.path(o.path) if _is_absolute(o.path) else o.path
        return replace(o, scene=scene, path=path, provenance=self.value(dict(o.provenance)))

    def site(self, site: Site) -> Site:
        """``site`` with the source of its coordinates shortened: a site added from a file records the
        file's whole path there."""
        return replace(site, coord_source=self.value(site.coord_source, "coord_source"), note=self.text(site.note))

    def finished(self, text: str) -> str:
        """A whole output's text, last: the workspace's folder and the home folder wherever still named."""
        for root in dict.fromkeys((str(self.root.resolve()), str(self.root))):
            text = text.replace(root + "/", "").replace(root, self.root.name)
        if self.home is not None and str(self.home) not in ("", "/"):
            text = text.replace(str(self.home), "~")
        return text


def _absolute_texts(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        if _is_absolute(value):
            yield value
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from _absolute_texts(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _absolute_texts(v)


def shared_paths(root: Path, values: Iterable[Any] = (), home: Path | None = None) -> SharedPaths:
    """How to shorten paths for the workspace at ``root``; ``values`` (provenances, run parameters) give the
    absolute paths to look for whole inside free text, and their folders; ``home`` (default: this user's)
    is named ``~`` where found in a finished output."""
    # Whole paths only: a folder of one (/home/jdoe) would be named by its last part, the user's name.
    known = {text for text in _absolute_texts(list(values)) if len(text) > 1}
    if home is None:
        try:
            home = Path.home()
        except RuntimeError:  # no home folder to name
            home = None
    return SharedPaths(Path(root).absolute(), home, tuple(sorted(known, key=len, reverse=True)))
