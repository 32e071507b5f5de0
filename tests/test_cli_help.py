"""What a new user reads first: the command lists of ``sitewatch --help`` and ``sitewatch sites
--help``, every option of every command named in README, and the first outputs of a new workspace."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import click
import numpy as np
import pytest
from affine import Affine
from click.testing import CliRunner

from sitewatch.cli import all_commands, main
from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff

README = Path(__file__).parents[1] / "README.md"


def _groups() -> Iterator[tuple[list[str], click.Group]]:
    yield [], main
    for name, cmd in all_commands().items():
        if isinstance(cmd, click.Group):
            yield [name], cmd


def _commands() -> Iterator[tuple[str, click.Command]]:
    for path, group in _groups():
        for name, cmd in group.commands.items():
            if not isinstance(cmd, click.Group):
                yield " ".join([*path, name]), cmd


def _listed(help_text: str) -> dict[str, str]:
    """The ``Commands:`` section of a group's help: each command's one line, wrapped lines joined."""
    section = help_text.split("Commands:\n", 1)[1]
    lines: dict[str, str] = {}
    last = ""
    for line in section.splitlines():
        m = re.match(r"  (\S+)\s+(.*)", line)
        if m:
            last = m.group(1)
            lines[last] = m.group(2)
        elif line.strip() and last:
            lines[last] += " " + line.strip()
    return lines


@pytest.mark.parametrize("path", [p for p, _ in _groups()], ids=lambda p: " ".join(["sitewatch", *p]))
def test_each_command_listed_with_its_one_line_help_whole(path: list[str]) -> None:
    """On an 80-column terminal `sitewatch --help` cut every command's line ("Detect vessels in
    SITE_ID's observations; a rerun...", "Make FOLDER (default: SITEWATCH_WORKSPACE when set,
    else..."): each first sentence was longer than the line. Each is now a sentence that fits."""
    res = CliRunner().invoke(main, [*path, "--help"], terminal_width=80)
    assert res.exit_code == 0, res.output
    listed = _listed(res.output)
    group = main if not path else all_commands()[path[0]]
    assert isinstance(group, click.Group)
    assert set(listed) == set(all_commands() if group is main else group.commands)
    for name, line in listed.items():
        assert not line.endswith("..."), f"{name}: {line!r} is cut"
        assert line[0].isupper() and line.endswith("."), f"{name}: {line!r} is not one whole sentence"


PIPELINE_ORDER = [
    "init", "store", "sites",                         # a workspace, its database and its places
    "search", "fetch", "ingest", "import",            # imagery in
    "observations", "show", "verify",                 # what came in, and whether it is still as it came
    "detect", "timeline", "links", "ais",             # evidence out: vessels over time, between sites, AIS against them
    "change",                                         # where the ground changed
    "claims",                                         # published claims against that evidence
    "eval", "report", "export",                       # (eval before report, which shows it)
    "serve",                                          # and in the browser
    "alerts",                                         # told once when a rule's event shows
    "simulate", "demo",                               # the simulator's
    "detect-image", "score", "change-image",          # image files, outside a workspace
    "completion",                                     # the shell's completion of all of the above
]  # fmt: skip


def test_commands_are_listed_in_the_order_a_study_runs_them() -> None:
    """`sitewatch --help` listed the commands alphabetically (demo first, init in the middle);
    a new user reads them as the steps of a study, and the group's help says so."""
    res = CliRunner().invoke(main, ["--help"], terminal_width=80)
    assert res.exit_code == 0, res.output
    assert list(_listed(res.output)) == PIPELINE_ORDER
    assert "in the order a study runs them" in " ".join(res.output.split())


def test_every_option_of_every_command_is_in_readme() -> None:
    """README is the manual: an option `--help` shows but README never names (eval --no-record,
    demo --scenario and --seed, score --class-key) is found only by chance."""
    text = README.read_text(encoding="utf-8")
    missing = []
    for name, cmd in [("", main), *_commands()]:
        for param in cmd.params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            longs = [o for o in [*param.opts, *param.secondary_opts] if o.startswith("--") and o != "--help"]
            missing += [f"sitewatch {name} {o}".replace("  ", " ") for o in longs
                        if not re.search(re.escape(o) + r"(?![\w-])", text)]  # fmt: skip
    assert not missing, f"README does not name: {missing}"


def test_timeline_of_a_site_without_observations_prints_no_empty_table(tmp_path: Path) -> None:
    """The README's first `sitewatch timeline dunai` in a new workspace printed a table header over
    no row, then 'no usable observations': a table that seemed to have failed to fill."""
    ws = workspace_with_sites(tmp_path / "ws", tiny_site("dunai"))
    res = CliRunner().invoke(main, ["timeline", "dunai", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    assert "seen by sensor" not in res.output
    assert "no usable observations" in res.output


@pytest.mark.parametrize(
    ("command", "option", "setting"),
    [
        ("detect", "--workers", "SITEWATCH_WORKERS"),
        ("detect", "--scheduler", "SITEWATCH_SCHEDULER"),
        ("ingest", "--scheduler", "SITEWATCH_SCHEDULER"),
        ("import", "--scheduler", "SITEWATCH_SCHEDULER"),
        ("demo", "--workers", "SITEWATCH_WORKERS"),
        ("detect", "--optical-mode", "optical_mode"),
        ("detect-image", "--thermal-noise", "SITEWATCH_SAR_THERMAL_NOISE"),
        ("fetch", "--catalog", "`catalog` setting"),
    ],
)
def test_an_option_that_overrides_a_setting_says_so(command: str, option: str, setting: str) -> None:
    """`detect --help` gave --workers and --scheduler no default, where `demo --help` named the
    `workers` setting its --workers overrides: a reader of detect's help could not know that
    SITEWATCH_WORKERS or sitewatch.toml already set them."""
    cmd = all_commands()[command]
    param = next(p for p in cmd.params if option in p.opts)
    assert isinstance(param, click.Option) and param.help
    assert setting in param.help, f"{command} {option}: {param.help!r}"


def test_report_of_a_workspace_without_observations_gives_its_size_in_kb(tmp_path: Path) -> None:
    """`sitewatch report` in a new workspace said 'wrote report.html (0.0 MB)', which reads as an
    empty file; the page of a few kB that says 'No site with observations' is now '(3 kB)'."""
    ws = workspace_with_sites(tmp_path / "ws", tiny_site("dunai"))
    out = tmp_path / "report.html"
    res = CliRunner().invoke(main, ["report", "-w", str(ws.root), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "0.0 MB" not in res.output
    assert f"({round(out.stat().st_size / 1e3)} kB)" in res.output
    assert "No site with observations" in out.read_text(encoding="utf-8")


def test_report_refuses_a_file_name_that_is_not_html(tmp_path: Path) -> None:
    """`sitewatch report --out report.pdf` wrote the HTML page into report.pdf (exit 0), a file a PDF reader
    refuses; it is refused naming the file and what to write, and nothing is written."""
    ws = workspace_with_sites(tmp_path / "ws", tiny_site("dunai"))
    for name in ("report.pdf", "report.docx", "report"):
        res = CliRunner().invoke(main, ["report", "-w", str(ws.root), "--out", str(tmp_path / name)])
        assert res.exit_code == 2 and name in res.output and "name the file .html" in res.output, res.output
        assert not (tmp_path / name).exists()
    res = CliRunner().invoke(main, ["report", "-w", str(ws.root), "--out", str(tmp_path / "Report.HTM")])
    assert res.exit_code == 0, res.output


def test_ingest_of_a_folder_of_sentinel2_band_files_says_to_give_them_together(tmp_path: Path) -> None:
    """The README's `sitewatch ingest SITE FOLDER` on a folder of EO Browser exports (sen2ships'
    …_Sentinel-2_L2A_B02_(Raw).tiff …) skipped each file as 'one unnamed band, SAR or optical?  Pass
    --sensor sar for a SAR image', though each name says Sentinel-2; each is now named as a Sentinel-2
    band to give with the others by --band."""
    site = tiny_site("genoa")
    ws = workspace_with_sites(tmp_path / "ws", site)
    crs, x0, y0 = site_utm_origin(site)
    folder = tmp_path / "eo"
    folder.mkdir()
    for band, dn in (("B02", 9000), ("B08", 4000)):  # bands unlike byte for byte, or the second is a duplicate
        write_tiff(folder / f"2023-04-26-00_00_2023-04-26-23_59_Sentinel-2_L2A_{band}_(Raw).tiff",
                   np.full((250, 220), dn, dtype=np.uint16), crs=crs, transform=Affine(10, 0, x0, 0, -10, y0))  # fmt: skip
    res = CliRunner().invoke(main, ["ingest", "genoa", str(folder), "-w", str(ws.root)])
    assert res.exit_code == 1, res.output
    assert "SAR or optical" not in res.output and "--sensor sar" not in res.output
    assert res.output.count("one band of a sentinel-2 scene (from its file name)") == 2
    assert "--band blue=… --band green=… --band red=… --band nir=…" in res.output
