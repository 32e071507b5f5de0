"""A pytest plugin for ``detect_image_parity.py --from-tests``: records every ``detect-image`` run the
tests make through click's ``CliRunner`` (arguments, exit code, standard output and error, the GeoJSON
written) into the JSON file ``$DETECT_IMAGE_RECORD``, with the session's base temporary folder
written as ``<tmp>`` so that two runs compare."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

_records: dict[str, Any] = {}
_current = {"test": "", "n": 0, "tmp": ""}


def pytest_runtest_setup(item: pytest.Item) -> None:
    _current["test"], _current["n"] = item.nodeid, 0


def pytest_sessionstart(session: pytest.Session) -> None:
    _current["tmp"] = str(Path(session.config.option.basetemp).resolve()) if session.config.option.basetemp else ""
    invoke = CliRunner.invoke

    def recording(self: CliRunner, cli: Any, args: Any = None, *a: Any, **kw: Any) -> Any:
        result = invoke(self, cli, args, *a, **kw)
        items = [str(x) for x in (args or [])] if not isinstance(args, str) else args.split()
        if items[:1] == ["detect-image"]:
            out = items[items.index("--out") + 1] if "--out" in items[:-1] else ""
            written = Path(out) if out and out != "-" else None
            _current["n"] += 1
            _records[f"{_current['test']}#{_current['n']}"] = {
                "args": items,
                "exit_code": result.exit_code,
                "stdout": result.stdout,
                "stderr": result.stderr,
                "geojson": written.read_bytes().decode("utf-8", "replace") if written is not None and written.is_file() else None,
            }
        return result

    CliRunner.invoke = recording  # type: ignore[method-assign]


def pytest_sessionfinish(session: pytest.Session) -> None:
    text = json.dumps(_records, indent=1, sort_keys=True)
    if _current["tmp"]:
        text = text.replace(_current["tmp"], "<tmp>")
    Path(os.environ["DETECT_IMAGE_RECORD"]).write_text(text, encoding="utf-8")
