"""YAML files that users write (scenarios, claims, alert rules), read one strict way.

Safe loading only; no implicit timestamps (each reader checks its dates and names the field); a
mapping key given twice, an alias that refers to itself and aliases that expand past
:data:`MAX_YAML_EXPANDED` characters are refused; a file not in UTF-8, not YAML or nested too deeply
is an :class:`~sitewatch.errors.InputError` naming it and saying what to do.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from .errors import InputError
from .untrusted import text_of

__all__ = ["MAX_YAML_EXPANDED", "RECORD_ID", "YAML_BOOL_HINT", "StrictYamlLoader", "read_yaml", "unknown_fields", "yaml_problem"]


RECORD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
"""The id a user gives a record of a YAML file (a claim, an alert rule): letters, digits, '.', '_', '-'."""

YAML_BOOL_HINT = "YAML reads a bare yes, no, on, off, true or false as a truth value: put the text in quotes"
"""Said after a field that must be text came out of YAML as True or False (the country code ``NO``, a name ``On``)."""

MAX_YAML_EXPANDED = 10_000_000
"""Most characters a YAML file may hold once its aliases are expanded (``*a`` counted as a copy of ``&a``)."""


class StrictYamlLoader(yaml.SafeLoader):
    """Safe YAML without implicit timestamps, aliases that expand past any memory, or a key given twice.

    A date is text that the reader of each file checks, so an impossible one (``2024-02-30``) is
    an error naming its field and value rather than PyYAML's bare "day is out of range for month"."""

    def construct_document(self, node: yaml.Node) -> Any:
        """PyYAML's construction, refused when the aliases expand past :data:`MAX_YAML_EXPANDED` characters."""
        # Aliases of aliases ("billion laughs": nine lines of nine aliases are 9**9 strings) build a
        # small shared structure that the first repr, str or walk of it expands past any memory.
        size = _expanded_size(node, {}, set())
        if size > MAX_YAML_EXPANDED:
            raise yaml.constructor.ConstructorError(
                None, None, f"its aliases expand to more than {MAX_YAML_EXPANDED:,} characters; write the values out",
                node.start_mark,
            )
        return super().construct_document(node)


def _expanded_size(node: yaml.Node, sizes: dict[int, int], open_: set[int]) -> int:
    """Characters of ``node`` with every alias written out (capped just above the limit); a node holding itself is refused."""
    if id(node) in sizes:
        return sizes[id(node)]
    if isinstance(node, yaml.ScalarNode):
        return len(str(node.value)) + 1
    if id(node) in open_:
        raise yaml.constructor.ConstructorError(None, None, "an alias refers to a value that holds it", node.start_mark)
    open_.add(id(node))
    children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
    total = 1
    for child in children:
        total = min(total + _expanded_size(child, sizes, open_), MAX_YAML_EXPANDED + 1)
    open_.discard(id(node))
    sizes[id(node)] = total
    return total


def _mapping_without_repeats(loader: StrictYamlLoader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    """A YAML mapping, refusing a key given twice: PyYAML keeps the last one, so a block pasted
    twice (two ``acquisitions:``) would drop the first without a word. TOML refuses it too."""
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *defaults` merges keys that the mapping's own may override
        if key_node.tag == "tag:yaml.org,2002:bool" and key_node.style is None:
            # YAML 1.1 reads a bare `on`, `off`, `yes` or `no` as a boolean; as a key it is a field's
            # name (a claim's `on: all`), never True.
            key_node.tag = "tag:yaml.org,2002:str"
        key = loader.construct_object(key_node, deep=deep)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} given twice (lines {seen[key]} and {line}); keep one", key_node.start_mark
            )
        seen[key] = line
    return loader.construct_mapping(node, deep=deep)


StrictYamlLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_repeats)
StrictYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def read_yaml(path: str | Path, what: str, *, missing_hint: str = "") -> Any:
    """The parsed document of the YAML file ``path``; an InputError naming it (as ``what``, "claims file") otherwise.

    ``missing_hint`` says what to do when there is no file at ``path``. A UTF-8 byte-order mark is skipped; a
    UTF-16 one says the file is UTF-16 (:func:`~sitewatch.untrusted.text_of`).
    """
    path = Path(path)
    try:
        text = text_of(path.read_bytes())  # UTF-8, or UTF-16 with its byte-order mark
    except FileNotFoundError:
        raise InputError(f"{path}: no {what} there" + (f"; {missing_hint}" if missing_hint else "")) from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: cannot read the {what}: not UTF-8 (byte {exc.start}); save it as UTF-8") from exc
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc
    try:
        return yaml.load(text, Loader=StrictYamlLoader)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({yaml_problem(exc, text)})") from exc
    except RecursionError as exc:  # "[[[[…" thousands deep: the parser recurses
        raise InputError(f"{path}: nested too deeply to read") from exc
    except ValueError as exc:  # PyYAML's int() of a number of more than 4300 digits, which Python refuses
        raise InputError(f"{path}: not valid YAML ({exc})") from exc


def unknown_fields(record: Mapping[Any, Any], allowed: Iterable[str]) -> list[str]:
    """The keys of ``record`` (a YAML mapping) that are not ``allowed``, sorted: a misspelt field is refused, never ignored."""
    return sorted(set(map(str, record)) - set(allowed))


_SHOWN = 80
"""The most characters of the line an error points at that :func:`yaml_problem` quotes, around the column."""


def yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """PyYAML's complaint with the lines it points at, as a person finds them in an editor:
    ``found unexpected end of stream at line 5, column 1; while scanning a quoted scalar at line 3, column 11:
    'text: "unclosed'``. Its own text named the input ``"<unicode string>"`` and drew a caret under a copy of the line."""
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int | str):
        # "… not allowed in "<unicode string>", position 5": a character count, not a place in an editor
        before = re.split(r"\r\n|[\n\r\x85\u2028\u2029]", text[: exc.position])  # YAML's line breaks
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return (f"unacceptable character #x{code:04x} ({exc.reason}) at line {len(before)}, "
                f"column {len(before[-1]) + 1}")  # fmt: skip
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return " ".join(str(exc).split())
    lines = text.splitlines()

    def at(mark: Any) -> str:
        line = lines[mark.line] if 0 <= mark.line < len(lines) else ""
        if len(line) > _SHOWN:  # a file on one line (JSON written by a script) was quoted whole
            start = max(0, min(mark.column - _SHOWN // 2, len(line) - _SHOWN))
            line = ("…" if start else "") + line[start : start + _SHOWN] + ("…" if start + _SHOWN < len(line) else "")
        shown = line.strip()
        return f"line {mark.line + 1}, column {mark.column + 1}" + (f": {shown!r}" if shown else "")

    said = f"{' '.join(str(exc.problem).split())} at {at(exc.problem_mark)}"
    if exc.context:
        context = " ".join(exc.context.split())
        said += f"; {context} at {at(exc.context_mark)}" if exc.context_mark is not None else f"; {context}"
    return said
