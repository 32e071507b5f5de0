"""What the fuzz harnesses share: run a reader on libFuzzer's bytes, sitewatch's own errors being the
clean outcome (the CLI prints them as a message) and anything else a finding.

Each harness seeds a temporary corpus folder with a few valid inputs it writes itself, unless a corpus
folder is given on the command line; libFuzzer's options (``-max_total_time=300``,
``-rss_limit_mb=2048``) pass through. With ``SITEWATCH_FUZZ_KEEP_GOING=1`` a crash is printed once per
place it was raised from (its input saved as ``crash-TYPE-FILE-LINE``, after ``-artifact_prefix``) and fuzzing goes on.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path

import atheris

_TMP = Path(tempfile.mkdtemp(prefix="sitewatch-fuzz-"))


def as_file(data: bytes, name: str) -> Path:
    """``data`` written to a file ``name`` in this process's temporary folder (the reader's suffix matters)."""
    path = _TMP / name
    path.write_bytes(data)
    return path


def run(read: Callable[[bytes], object], seeds: Iterable[bytes]) -> None:
    """Fuzz ``read``; a :class:`~sitewatch.errors.SitewatchError` it raises is fine, anything else a crash."""
    from sitewatch.errors import SitewatchError

    args = list(sys.argv)
    if not any(not a.startswith("-") for a in args[1:]):  # no corpus given: the seeds, in a folder of their own
        corpus = Path(tempfile.mkdtemp(prefix="sitewatch-corpus-"))
        for i, seed in enumerate(seeds):
            (corpus / f"seed{i}").write_bytes(seed)
        args.append(str(corpus))

    keep_going = os.environ.get("SITEWATCH_FUZZ_KEEP_GOING") == "1"
    prefix = next((a.split("=", 1)[1] for a in args if a.startswith("-artifact_prefix=")), "")
    seen: set[str] = set()

    def one(data: bytes) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                read(data)
            except SitewatchError:
                pass
            except Exception as exc:
                if not keep_going:
                    raise
                frame = traceback.extract_tb(exc.__traceback__)[-1]
                where = f"{type(exc).__name__}-{Path(frame.filename).name}-{frame.lineno}"
                if where not in seen:
                    seen.add(where)
                    Path(f"{prefix}crash-{where}").write_bytes(data)
                    print(f"FINDING {where}: {exc!r}"[:300], flush=True)

    atheris.Setup(args, one)
    atheris.Fuzz()


_WORDS = [
    "", "id", "name", "type", "properties", "geometry", "coordinates", "features", "Feature", "FeatureCollection",
    "Polygon", "MultiPolygon", "LineString", "Point", "GeometryCollection", "crs", "EPSG:3857", "EPSG:32633", "site",
    "berth", "water", "role", "site_id", "kind", "tags", "resolved", "busan", "b1", "any", "crane", "extended", "ship",
    "2024-01-01", "2024-02-30", "2024-01-01T00:00:00Z", "images", "annotations", "categories", "bbox", "segmentation",
    "size", "counts", "image_id", "category_id", "file_name", "width", "height", "rules", "claims", "assert", "sites",
]  # fmt: skip
_NUMBERS = [0, -1, 1, 2, 0.5, -0.0, 10**400, -(10**400), 2**63, 1e308, -1e308, float("inf"), float("-inf"), float("nan")]


def _value(fdp: atheris.FuzzedDataProvider, depth: int) -> object:
    kind = fdp.ConsumeIntInRange(0, 8)
    if kind == 0:
        return None
    if kind == 1:
        return fdp.ConsumeBool()
    if kind == 2:
        return fdp.PickValueInList(_NUMBERS)
    if kind == 3:
        return fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 4))
    if kind == 4:
        return fdp.ConsumeFloat()
    if kind == 5:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 12))
    if kind == 6 or depth > 3:
        return fdp.PickValueInList(_WORDS)
    if kind == 7:
        return [_value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    return {fdp.PickValueInList(_WORDS): _value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))}


def _mutate(node: object, fdp: atheris.FuzzedDataProvider, depth: int = 0) -> object:
    if fdp.remaining_bytes() == 0:
        return node
    if fdp.ConsumeIntInRange(0, 5) == 0:
        return _value(fdp, depth)
    if isinstance(node, dict):
        out = {k: _mutate(v, fdp, depth + 1) for k, v in node.items() if fdp.ConsumeIntInRange(0, 15)}
        if fdp.ConsumeIntInRange(0, 7) == 0:
            out[fdp.PickValueInList(_WORDS)] = _value(fdp, depth + 1)
        return out
    if isinstance(node, list):
        return [_mutate(v, fdp, depth + 1) for v in node if fdp.ConsumeIntInRange(0, 15)]
    return node


def mutated_json(data: bytes, docs: list[object]) -> bytes:
    """One of ``docs`` (parsed JSON) with values swapped for others of any type and size, chosen by ``data``,
    as JSON: the malformed-but-parseable files that byte mutations of the text seldom reach."""
    import json

    fdp = atheris.FuzzedDataProvider(data)
    doc = docs[fdp.ConsumeIntInRange(0, len(docs) - 1)]
    return json.dumps(_mutate(doc, fdp)).encode()


def yaml_modes(texts: list[bytes]) -> tuple[list[bytes], Callable[[bytes], bytes]]:
    """The seeds and the file body of a YAML reader's harness in two modes, told by the input's first byte:
    even, the text as it is (each of ``texts`` seeded so); odd, one of ``texts`` parsed, with values of other
    types and sizes swapped in (:func:`mutated_json`; JSON is YAML)."""
    import yaml

    from sitewatch.yaml_input import StrictYamlLoader

    docs = [yaml.load(text, Loader=StrictYamlLoader) for text in texts]

    def body(data: bytes) -> bytes:
        return mutated_json(data[1:], docs) if data[:1] and data[0] % 2 else data[1:]

    return [b"\x00" + text for text in texts] + [b"\x01" + bytes(64)], body
