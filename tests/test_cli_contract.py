"""The CLI's contract with scripts: ``--json`` is one JSON document on standard output, times
are ISO 8601 UTC with Z, no NaN; errors go to standard error; exit codes mean what README says."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from _report_world import build
from sitewatch.cli import main
from sitewatch.testing import site_utm_origin, tiny_site, write_tiff
from sitewatch.workspace import init_workspace

SITE = tiny_site("pier")

_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def _times(value: Any, path: str = "$") -> list[tuple[str, str]]:
    """Every (path, text) in a JSON value that is a date and time."""
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _times(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in _times(v, f"{path}[{i}]")]
    return [(path, value)] if isinstance(value, str) and _TIME.match(value) else []


def _json(args: list[str]) -> Any:
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def _sar(path: Path, acquired: str = "2024-10-17T09:30:00Z") -> Path:
    crs, x0, y0 = site_utm_origin(SITE)
    data = np.full((250, 220), 0.02, dtype=np.float32)
    return write_tiff(path, data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0),
                      tags={"SITEWATCH_ACQUIRED": acquired, "SITEWATCH_SENSOR": "sar"})  # fmt: skip


def test_every_time_in_json_output_is_utc_with_z(tmp_path: Path) -> None:
    """eval's observations and show's provenance gave ``2024-10-17T21:00:00+00:00``, where
    every other command's --json (and README) says ``…Z``."""
    ws = build(tmp_path / "ws")
    root = str(ws.root)
    docs = {
        "observations": _json(["observations", "-w", root, "--json"]),
        "eval": _json(["eval", "-w", root, "--json", "--no-record"]),
        "timeline": _json(["timeline", "dunai", "-w", root, "--json", "-"]),
    }
    assert docs["eval"]["observations"], docs["eval"]
    other = init_workspace(tmp_path / "ingested")
    with other.store() as store:
        store.put_site(SITE)
    res = CliRunner().invoke(main, ["ingest", "pier", str(_sar(tmp_path / "scene.tif")), "-w", str(other.root)])
    assert res.exit_code == 0, res.output
    (obs,) = _json(["observations", "-w", str(other.root), "--json"])
    docs["show"] = _json(["show", obs["id"], "-w", str(other.root), "--json"])
    assert docs["show"]["provenance"]["acquired"] == "2024-10-17T09:30:00Z"
    found = [(name, *t) for name, doc in docs.items() for t in _times(doc)]
    assert found and [t for t in found if not t[2].endswith("Z")] == []
    # An observation ingested before this was fixed holds +00:00 in its provenance.
    with other.store() as store:
        old = store.get_observation(obs["id"])
        store.put_observation(replace(old, provenance=old.provenance | {"acquired": "2024-10-17T09:30:00+00:00"}))
    shown = _json(["show", obs["id"], "-w", str(other.root), "--json"])
    assert shown["provenance"]["acquired"] == "2024-10-17T09:30:00Z"


def test_json_runs_that_fail_in_part_say_so_on_standard_error(tmp_path: Path) -> None:
    """With --json, detect and import put what failed in the JSON only: a script that keeps standard
    output saw exit 3 or 1 and, on standard error, nothing at all to say why."""
    ws = build(tmp_path / "ws")
    gone = ws.root / "archive" / "dunai" / "sim-dunai-2024-10-20-sar.tif"
    gone.unlink()
    res = CliRunner().invoke(main, ["-q", "detect", "dunai", "-w", str(ws.root), "--json", "--workers", "1"])
    assert res.exit_code == 3, res.output
    (error,) = json.loads(res.stdout)["errors"]
    assert "sim-dunai-2024-10-20-sar" in error and error in res.stderr

    other = init_workspace(tmp_path / "other")
    with other.store() as store:
        store.put_site(SITE)
    bad = tmp_path / "bad.tif"
    bad.write_text("not an image", encoding="utf-8")
    res = CliRunner().invoke(main, ["-q", "import", str(_sar(tmp_path / "a.tif")), str(bad), "-w", str(other.root), "--json"])
    assert res.exit_code == 3, res.output
    doc = json.loads(res.stdout)
    assert len(doc["imported"]) == 1 and [r["file"] for r in doc["refused"]] == [str(bad)]
    assert f"refused {bad}: not a readable raster" in res.stderr


def _help_with_a_signal_mid_import(signame: str, sigint: str) -> subprocess.CompletedProcess[str]:
    """``sitewatch detect --help`` sent ``signame`` while the command's module is being imported, in a
    process whose SIGINT handling is ``sigint`` when it starts.

    ``sigint`` is set, not inherited: a test run started in the background (``pytest &`` in a
    script) has SIGINT ignored and passes that on to its subprocesses.
    """
    script = f"""
import os, runpy, signal, sys

signal.signal(signal.SIGINT, {sigint})

class SignalMidImport:
    def find_spec(self, name, path=None, target=None):
        if name == "sitewatch.cli.detect":
            os.kill(os.getpid(), signal.{signame})
        return None

sys.meta_path.insert(0, SignalMidImport())
sys.argv = ["sitewatch", "detect", "--help"]
runpy.run_module("sitewatch", run_name="__main__")
"""
    src = Path(__file__).parents[1] / "src"
    env = os.environ | {"PYTHONPATH": str(src)}
    return subprocess.run([sys.executable, "-c", script], capture_output=True, encoding="locale", env=env, timeout=120)


@pytest.mark.parametrize(("signame", "code", "word"), [("SIGINT", 130, "interrupted"), ("SIGTERM", 143, "terminated")])
def test_a_signal_while_the_commands_load_exits_as_in_a_command(signame: str, code: int, word: str) -> None:
    """Ctrl-C in the second the commands take to load (numpy, scipy, rasterio) printed a
    KeyboardInterrupt traceback from inside an import, or numpy's ImportError and exit 1."""
    res = _help_with_a_signal_mid_import(signame, "signal.default_int_handler")  # a terminal's foreground
    assert (res.returncode, res.stderr, res.stdout) == (code, f"{word}\n", "")


def test_an_ignored_sigint_stays_ignored_while_the_commands_load() -> None:
    """A command a shell script starts in the background (``sitewatch detect … &``) has SIGINT
    ignored, so that Ctrl-C in the terminal leaves it running: so it is while the commands load."""
    res = _help_with_a_signal_mid_import("SIGINT", "signal.SIG_IGN")
    assert (res.returncode, res.stderr) == (0, "")
    assert res.stdout.startswith("Usage: sitewatch detect ")


_SIGTERM_WHILE_PARSING = """
import os, signal, sys
import click
from sitewatch import cli

def term(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)  # as `kill PID` would, in this very moment

where = sys.argv[1]
if where == "group option":  # click parsing the group's own options
    cli.main.params.append(click.Option(["--stall"], is_flag=True, expose_value=False,
                                        callback=lambda ctx, param, value: term() if value else value))
    args = ["--stall", "sites", "list"]
elif where == "command option":  # click parsing the command's options, before its body
    click.Path.convert = term
    args = ["sites", "list", "-w", "somewhere"]
else:  # the group's own body (logging, settings), before the command's
    cli.unknown_env = term
    args = ["sites", "list"]
sys.argv = ["sitewatch", *args]
cli.main()
"""


@pytest.mark.parametrize("where", ["group option", "command option", "group body"])
def test_sigterm_while_the_arguments_are_parsed_says_terminated_and_exits_143(where: str) -> None:
    """SIGTERM after the commands had loaded but before a command's body started (click parsing
    the command line, the group setting up logging) ended the process silently, killed by the
    signal, where in the command it says "terminated" and exits 143."""
    src = Path(__file__).parents[1] / "src"
    env = os.environ | {"PYTHONPATH": str(src)}
    res = subprocess.run([sys.executable, "-c", _SIGTERM_WHILE_PARSING, where], capture_output=True, encoding="locale",
                         env=env, timeout=120)  # fmt: skip
    assert (res.returncode, res.stderr, res.stdout) == (143, "terminated\n", ""), res.stderr


def test_ingest_of_a_folder_without_images_names_the_folder(tmp_path: Path) -> None:
    """It said "skipped: no GeoTIFF files or SAFE products found", naming no folder (import names it)."""
    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(SITE)
    empty = tmp_path / "delivery-2024-10"
    empty.mkdir()
    res = CliRunner().invoke(main, ["ingest", "pier", str(empty), "-w", str(ws.root)])
    assert res.exit_code == 1
    assert f"no GeoTIFF files or SAFE products found in {empty}" in res.stderr


def test_every_date_option_reads_the_same_forms_and_names_a_bad_value(tmp_path: Path) -> None:
    """timeline --from/--to took only 2024-10-01 (click's own message, exit 2) while search, fetch,
    ingest and import read any ISO 8601 form (their own message, exit 1): one parser now, one message
    naming the option and the value, and exit code 2 as for any bad option value, before the
    workspace is read."""
    ws = build(tmp_path / "ws")
    root = str(ws.root)
    tif = str(_sar(tmp_path / "a.tif"))
    commands = {
        "search": (["search", "dunai", "--collection", "s2", "--from", "2024-10-01", "--to", "2024-10-31"], ("--from", "--to")),
        "fetch": (["fetch", "dunai", "--collection", "s2", "--from", "2024-10-01", "--to", "2024-10-31"], ("--from", "--to")),
        "timeline": (["timeline", "dunai", "--from", "2024-10-01", "--to", "2024-10-31"], ("--from", "--to")),
        "ingest": (["ingest", "dunai", tif, "--acquired", "2024-10-17"], ("--acquired",)),
        "import": (["import", tif, "--acquired", "2024-10-17"], ("--acquired",)),
    }
    for name, (args, options) in commands.items():
        for option in options:
            for bad, why in (("2024/10/01", "is not an ISO 8601 date or time"), ("2024-W40", "is a week, not a day")):
                at = args.index(option) + 1
                res = CliRunner().invoke(main, [*args[:at], bad, *args[at + 1 :], "-w", root])
                assert res.exit_code == 2, (name, option, res.output)
                assert f"Invalid value for '{option}': '{bad}' {why}" in res.stderr, (name, option, res.output)
    # A date as a desk writes it is refused with the ISO date to write (it said only "not an ISO 8601 date").
    for bad, hint in (("21/08/2023", "; write 2023-08-21"), ("17 October 2024", "; write 2024-10-17"),
                      ("Oct. 17, 2024", "; write 2024-10-17"),
                      ("05/10/2024", "; write 2024-10-05 (5 October) or 2024-05-10 (10 May), as meant")):  # fmt: skip
        res = CliRunner().invoke(main, ["timeline", "dunai", "--from", bad, "-w", root])
        assert res.exit_code == 2 and f"'{bad}' is not an ISO 8601 date or time" in res.stderr, res.output
        assert res.stderr.rstrip().endswith(hint), res.stderr
    for name in ("search", "fetch", "timeline"):  # --to before --from, quoted as given
        args = commands[name][0][:-4] + ["--from", "20241005", "--to", "2024-10-01"]
        res = CliRunner().invoke(main, [*args, "-w", root])
        assert res.exit_code == 2 and "Invalid value for '--to': '2024-10-01' is before --from '20241005'" in res.stderr, name

    def rows(*dates: str) -> list[str]:
        res = CliRunner().invoke(main, ["timeline", "dunai", "-w", root, "--json", "-", *dates])
        assert res.exit_code == 0, res.output
        return [r["date"] for r in json.loads(res.stdout)["rows"]]

    assert rows("--from", "2024-10-17", "--to", "2024-10-17") == ["2024-10-17"]
    for same in (["--from", "20241017", "--to", "20241017"], ["--from", "2024-W42-4", "--to", "2024W424"]):
        assert rows(*same) == ["2024-10-17"], same
    # With --utc-offset the dates, --from and --to among them, stay local dates (README): the SAR looks
    # of 17 and 20 Oct at 21:00 UTC fall on the 18th and 21st at UTC+10, the optical ones at 01:00 stay.
    for since in ("20241018", "2024-10-18"):
        assert rows("--from", since, "--utc-offset", "+10") == ["2024-10-18", "2024-10-20", "2024-10-21"]
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", root, "--from", "2024-10-17T09:30Z"])
    assert res.exit_code == 2 and "'2024-10-17T09:30Z' is a time; the timeline keeps whole dates" in res.stderr


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["links", "--from"], "--from"),
        (["ais", "dunai", "--to"], "--to"),
        (["alerts", "check", "--since"], "--since"),
    ],
)
def test_a_date_option_without_utc_offset_refuses_a_time_without_naming_it(args: list[str], option: str) -> None:
    """`links`, `ais` and `alerts check` take whole UTC dates too, but have no --utc-offset: their
    refusal of a time told the user of "the timeline" and of an option they do not have."""
    res = CliRunner().invoke(main, [*args, "2024-10-17T09:30Z"])
    assert res.exit_code == 2, res.output
    assert f"Invalid value for '{option}': '2024-10-17T09:30Z' is a time;" in res.stderr
    assert "--utc-offset" not in res.stderr and "timeline" not in res.stderr
    assert "give a UTC date, e.g. 2024-10-01 or 20241001" in res.stderr


@pytest.mark.parametrize(
    ("args", "absent"),
    [
        (["--version"], ["sitewatch.cli.detect", "rasterio", "scipy"]),
        (["timeline", "--help"], ["sitewatch.cli.detect", "scipy.optimize", "scipy.special", "pystac_client"]),
    ],
)
def test_a_command_imports_only_what_it_needs(args: list[str], absent: list[str]) -> None:
    """Every command, `sitewatch --version` too, imported all 23 command modules and with them
    scipy.optimize, rasterio and pystac-client: 0.86 s before anything was done (0.13 s now)."""
    script = f"""
import sys
from sitewatch.cli import main
try:
    main({args!r}, standalone_mode=False)
except SystemExit:
    pass
print(",".join(m for m in {absent!r} if m in sys.modules))
"""
    env = os.environ | {"PYTHONPATH": str(Path(__file__).parents[1] / "src")}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, encoding="locale", env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1] == "", f"imported for {args}: {res.stdout.splitlines()[-1]}"
