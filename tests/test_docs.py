"""The documents a clone of the repository holds: README's links lead to files in it, and the
architecture page names modules and folders that exist."""

from __future__ import annotations

import ast
import re
import textwrap
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "src" / "sitewatch"


def test_readme_says_how_the_pieces_fit_with_a_page_in_the_repository() -> None:
    """README sent new users to ../shared/DESIGN.md, which a clone of the repository does not have."""
    text = README.read_text(encoding="utf-8")
    assert "DESIGN.md" not in text
    links = [t for t in re.findall(r"\]\(([^)#\s]+)", text) if "://" not in t]
    assert "docs/architecture.md" in links
    assert [t for t in links if not (ROOT / t).resolve().is_relative_to(ROOT) or not (ROOT / t).exists()] == []


def test_the_architecture_page_names_modules_that_exist() -> None:
    """Every module and folder of the package the page names in backquotes is there, so a
    module renamed or removed makes the page fail here rather than mislead."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    named = set(re.findall(r"`([\w/]+(?:\*)?(?:\.py|/))`", text)) - {"src/sitewatch/"}
    assert {"ingest.py", "detect/", "analysis/", "report/", "store/", "run.py", "sites.py", "sources/"} <= named
    missing = []
    for name in sorted(named):
        pattern = name.removesuffix("/")
        found = [p for base in (PACKAGE, PACKAGE / "detect", PACKAGE / "sources", PACKAGE / "report", PACKAGE / "store",
                                PACKAGE / "analysis", PACKAGE / "cli", PACKAGE / "web") for p in base.glob(pattern)]  # fmt: skip
        if not found:
            missing.append(name)
    assert missing == [], f"docs/architecture.md names what the package does not hold: {missing}"


def _readme_commands() -> list[str]:
    """The argument lists of the ``sitewatch`` commands in README's ``sh`` blocks, one string each."""
    text = README.read_text(encoding="utf-8")
    found = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.replace('"$(date -u +\\%F)"', "2024-10-31")  # a cron line's today
            line = re.split(r"\s#\s|^#", line)[0]
            if "$(" in line or "pip install" in line:
                continue
            # sitewatch as the command: at the line's start, after && || ; | ( { or do, not `createdb sitewatch`
            found += re.findall(r"(?:^\s*|[({;|&]\s*|\bdo\s+)sitewatch\s+([^|&;(){}<>]*)", line)
    return found


def _unparsed(ctx: Any) -> list[str]:
    """A group's subcommand and its arguments (Click 8 keeps the name apart, in ``protected_args``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [*getattr(ctx, "protected_args", []), *ctx.args]


def test_the_readme_commands_are_ones_sitewatch_takes() -> None:
    """Every ``sitewatch …`` line of README's examples is a command line sitewatch parses (the files
    they name aside): the cron line of "Alerts" ran `fetch` without --collection and --to, a usage
    error (exit code 2) every six hours, so the chain never reached `alerts check`."""
    import shlex

    import click

    from sitewatch.cli import main

    commands = _readme_commands()
    assert len(commands) > 50 and any(c.startswith("-q fetch dunai") for c in commands)
    refused = []
    for command in commands:
        args = shlex.split(command)
        try:
            ctx = main.make_context("sitewatch", list(args))
            while isinstance(ctx.command, click.Group) and (tokens := _unparsed(ctx)):
                name, *rest = tokens
                sub = ctx.command.get_command(ctx, name)
                assert sub is not None, command
                ctx = sub.make_context(name, rest, parent=ctx)
        except click.exceptions.Exit:
            continue
        except click.ClickException as exc:
            if "does not exist" not in exc.format_message():  # README's example files are the reader's
                refused.append(f"sitewatch {command}: {exc.format_message()}")
    assert refused == []


def test_readme_says_how_the_csv_exports_end_their_lines() -> None:
    """The CSVs went from LF to CRLF line ends and README said nothing, while a line tool (`grep ',0$'`,
    `cut` on the last column) now sees a CR at the end of each row."""
    from sitewatch.report.detection_exports import features_to_csv

    text = README.read_text(encoding="utf-8")
    if features_to_csv([], ["id"]).endswith("\r\n"):
        assert "lines end CRLF" in text and "tr -d '\\r'" in text


def test_readme_names_only_subcommands_that_exist() -> None:
    """A backquoted `CMD SUB` names a subcommand of a group: the fuzz table fed "`ais import` CSV", a
    command sitewatch never had (`ais` takes sites and `--ais FILE`), so a reader typing it got a site
    named `import` refused."""
    import click

    from sitewatch.cli import main

    ctx = click.Context(main)
    top = set(main.list_commands(ctx))
    groups = {n: c for n in top if isinstance(c := main.get_command(ctx, n), click.Group)}
    # A command that is no group but takes a subcommand word first (`observations remove`) names it as a group would.
    groups_too = {n: tuple(c.subcommands) for n in top if (c := main.get_command(ctx, n)) is not None and hasattr(c, "subcommands")}
    subs = {s for g in groups.values() for s in g.list_commands(ctx)} | {s for ws in groups_too.values() for s in ws}
    wrong = []
    for first, second in re.findall(r"`(?:sitewatch )?([a-z][a-z-]*) ([a-z][a-z-]*)\b[^`]*`", README.read_text(encoding="utf-8")):
        if first in groups and second not in groups[first].list_commands(ctx):
            wrong.append(f"{first} {second}")
        elif second in groups_too.get(first, ()):
            continue
        elif first in top and first not in groups and second in top | subs:
            wrong.append(f"{first} {second}")
    assert wrong == []


def _top_level_names(tree: ast.Module) -> set[str]:
    """The names a module binds when imported: its top level, in ``if``/``try``/``with`` blocks too, but not under
    ``if TYPE_CHECKING:`` (what is imported there for the type checker is no attribute of the module); a module
    with a ``__getattr__`` (a lazy one, as ``sitewatch.detect``) serves the names of its ``__all__`` too."""
    names: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update(a.asname or a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
                visit(node.orelse)
            elif isinstance(node, (ast.If, ast.Try, ast.With)):
                visit([*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])])
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    if "__getattr__" in names:
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(isinstance(n, ast.Name) and n.id == "__all__" for n in node.targets):
                names.update(e.value for e in ast.walk(node.value) if isinstance(e, ast.Constant) and isinstance(e.value, str))
    return names


def _defines(path: Path, name: str, cache: dict[Path, tuple[str, set[str] | None]]) -> bool:
    """Whether importing the module ``path`` binds ``name``, read from its source without importing it: a
    definition at its top found by its line, else by the parsed module (:func:`_top_level_names`)."""
    if path not in cache:
        cache[path] = (path.read_text(encoding="utf-8"), None)
    text, names = cache[path]
    if re.search(rf"^(?:(?:async )?def |class ){name}\b|^{name}\s*[:=]", text, re.M):
        return True
    if names is None:
        names = _top_level_names(ast.parse(text))
        cache[path] = (text, names)
    return name in names


def _sitewatch_imports(text: str, siblings: Iterable[str] = ()) -> list[tuple[str, str | None]]:
    """What a script imports from sitewatch (and from the scripts beside it named ``siblings``), at its top or inside a
    function: ``(module, name)`` for each name of a ``from ... import``, ``(module, None)`` for an ``import
    sitewatch...``. Each statement is parsed (from its first line to the first that ends it), so that one over several
    lines, with comments or a backslash, is read whole; the rest of the script is not parsed."""
    modules = "|".join(["sitewatch[\\w.]*", *map(re.escape, siblings)])
    start = re.compile(rf"\s*(from ({modules}) import\b|import sitewatch\.)")
    lines = text.splitlines()
    found: list[tuple[str, str | None]] = []
    for i, line in enumerate(lines):
        if not start.match(line):
            continue
        for j in range(i + 1, min(i + 40, len(lines)) + 1):
            try:
                (node,) = ast.parse(textwrap.dedent("\n".join(lines[i:j]))).body
            except SyntaxError:
                continue
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                found.extend((str(node.module), a.name) for a in node.names if a.name != "*")
            elif isinstance(node, ast.Import):
                found.extend((a.name, None) for a in node.names if a.name.startswith("sitewatch."))
            break
    return found


def _module_file(module: str) -> Path | None:
    base = PACKAGE.parent.joinpath(*module.split("."))
    return next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)


def test_the_benchmarks_benchmarks_md_names_exist_and_import_what_sitewatch_has() -> None:
    """A figure is reproduced by the command BENCHMARKS.md names beside it: every ``benchmarks/NAME.py``
    it or README names is there, and every name a benchmark imports from sitewatch (at its top or
    inside a function) is one sitewatch still defines. ``sar_change_diagnosis.py`` and
    ``change_vegetation.py`` imported ``change_stage._objects_exclusion`` after a rerun's skipping of
    unchanged pairs had split it in two: both ended in an ImportError, the first before its --help."""
    named = set(re.findall(r"benchmarks/([a-z_0-9]+\.py)", (ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
                           + README.read_text(encoding="utf-8")))  # fmt: skip
    assert len(named) > 100
    assert sorted(n for n in named if not (ROOT / "benchmarks" / n).is_file()) == []
    cache: dict[Path, tuple[str, set[str] | None]] = {}
    missing, seen = [], 0
    scripts = sorted((ROOT / "benchmarks").glob("*.py"))
    siblings = {s.stem: s for s in scripts}  # the helpers the benchmarks share (`_matching`, `ais_read`)
    for script in scripts:
        for module, name in _sitewatch_imports(script.read_text(encoding="utf-8"), siblings):
            seen += name is not None
            path = siblings[module] if module in siblings else _module_file(module)
            if path is None:
                missing.append(f"{script.name}: {module}")
            elif name and not _defines(path, name, cache) and _module_file(f"{module}.{name}") is None:
                missing.append(f"{script.name}: {module}.{name}")
    assert seen > 300 and missing == []


def test_a_name_only_the_type_checker_sees_is_not_defined_and_a_lazy_one_is(tmp_path: Path) -> None:
    """The check above counted a name imported under ``if TYPE_CHECKING:`` as defined (a benchmark importing it
    passed, then ended in an ImportError), and would have failed a name a lazy module serves through its
    ``__getattr__`` and ``__all__`` only; an import over several lines lost the names after a comment's ``)``."""
    typed = tmp_path / "typed.py"
    typed.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .x import Only\nelse:\n    Real = 1\n")
    lazy = tmp_path / "lazy.py"
    lazy.write_text('__all__ = ["served"]\n\n\ndef __getattr__(name):\n    return name\n')
    cache: dict[Path, tuple[str, set[str] | None]] = {}
    assert not _defines(typed, "Only", cache) and _defines(typed, "Real", cache) and _defines(lazy, "served", cache)
    script = "def f():\n    from sitewatch.a import (b,  # the c)\n        d)\n    import sitewatch.e, \\\n        sitewatch.f\n"
    assert _sitewatch_imports(script) == [("sitewatch.a", "b"), ("sitewatch.a", "d"), ("sitewatch.e", None), ("sitewatch.f", None)]
    assert _sitewatch_imports("from _matching import greedy\nfrom numpy import pi\n", ["_matching"]) == [("_matching", "greedy")]


def _readme_paragraph(start: str, end: str) -> str:
    text = README.read_text(encoding="utf-8")
    i = text.index(start)
    return text[i:text.index(end, i)]


def test_the_json_of_ingest_and_import_has_the_members_readme_lists(tmp_path: Path) -> None:
    """Every member `ingest --json` and `import --json` print (and every member of one of their
    observations) is named where README describes them: `unchanged`, the files `--new-only` left out,
    was printed by both and named for neither `ingest`'s document nor as `import`'s list of paths."""
    import json

    import numpy as np
    from affine import Affine
    from click.testing import CliRunner

    from sitewatch.cli import main
    from sitewatch.testing import site_utm_origin, tiny_site, workspace_with_sites, write_tiff

    site = tiny_site()
    ws = workspace_with_sites(tmp_path / "ws", site)
    crs, x0, y0 = site_utm_origin(site)
    data = np.random.default_rng(0).gamma(4.5, 0.01 / 4.5, (260, 220)).astype("float32")
    image = write_tiff(tmp_path / "a.tif", data, crs=crs, transform=Affine(10, 0, x0, 0, -10, y0), descriptions=["VV"],
                       tags={"SITEWATCH_ACQUIRED": "2024-10-17T09:30:00Z"})  # fmt: skip
    documents = {
        "ingest": _readme_paragraph("`--json` prints one document in `import --json`'s", "\n\n"),
        "import": _readme_paragraph("- `sitewatch import PATH…", "\n- `sitewatch show"),
    }
    for command, args in (("ingest", ["ingest", site.id]), ("import", ["import"])):
        res = CliRunner().invoke(main, [*args, str(image), "--workers", "1", "--json", "-w", str(ws.root)])
        assert res.exit_code == 0, res.output
        out = json.loads(res.stdout)
        # import's observations are "as `ingest --json` lists `ingested`": named in ingest's paragraph
        named = set(re.findall(r"`([a-z_][a-z0-9_]*)`", documents[command] + documents["ingest"] * (command == "import")))
        listed = out["ingested" if command == "ingest" else "imported"]
        assert listed, out
        assert sorted(set(out) - named) == [] and sorted(set(listed[0]) - named) == [], command


def _readme_yaml_blocks() -> list[Any]:
    import yaml

    return [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)]


def test_the_readme_claims_and_alert_rules_are_ones_sitewatch_reads() -> None:
    """README's claims file and alert rules load without a refusal against the demo's sites (the seed
    story's, with their berths), and its claim is the shipped file's first, as README says: a field renamed
    or a berth, kind or class changed in the code would leave readers copying a file that is refused."""
    import yaml

    from sitewatch.alert_rules import parse_rules
    from sitewatch.claims_file import builtin_claims_path, check_against_sites, parse_claims
    from sitewatch.sources.simulate import layout_site, load_scenario

    scenario = load_scenario("seed-story")
    sites = [layout_site(s, scenario.name) for s in scenario.sites]
    blocks = _readme_yaml_blocks()
    (claims_doc,) = [b for b in blocks if isinstance(b, dict) and "claims" in b]
    (rules_doc,) = [b for b in blocks if isinstance(b, dict) and "rules" in b]
    claims = check_against_sites(parse_claims(claims_doc, "README"), {s.id: s for s in sites})
    assert claims.problems == () and len(claims.claims) == 1
    shipped = yaml.safe_load(builtin_claims_path().read_text(encoding="utf-8"))
    assert claims.claims[0].id == shipped["claims"][0]["id"]
    rules, refused = parse_rules(rules_doc, sites, "README")
    assert refused == [] and [r.id for r in rules] == [r["id"] for r in rules_doc["rules"]]


def test_the_readme_oscd_commands_run_on_both_layouts_as_written(tmp_path: Path, monkeypatch: Any) -> None:
    """README's OSCD example read `oscd/images/abudhabi/imgs_1_rect`, a folder the official release names
    otherwise and copies with `imgs_1/` alone (as /work/shared/datasets/oscd) do not hold: it now gives the
    release's folder and both layouts, and each command runs as written on a tiny city laid out so."""
    import shlex

    import numpy as np
    from affine import Affine
    from click.testing import CliRunner

    from sitewatch.cli import main
    from sitewatch.testing import write_tiff

    text = README.read_text(encoding="utf-8")
    (folder,) = re.findall(r'^OSCD="([^"]+)"', text, re.M)
    commands = [c for c in _readme_commands() if c.startswith("change-image") and "$OSCD" in c]
    layouts = {re.search(r"/(imgs_1\w*)\"", c).group(1) for c in commands}  # type: ignore[union-attr]
    assert layouts == {"imgs_1_rect", "imgs_1"}, commands
    rng = np.random.default_rng(0)
    for date in ("imgs_1", "imgs_2", "imgs_1_rect", "imgs_2_rect"):
        (tmp_path / folder / "abudhabi" / date).mkdir(parents=True)
        for band in ("B01", "B02", "B03", "B04", "B08"):
            px = 60.0 if band == "B01" and not date.endswith("_rect") else 10.0  # imgs_1/ holds bands as taken
            n = int(640 / px)
            data = (1000 + 200 * rng.random((1, n, n))).astype(np.uint16)
            write_tiff(tmp_path / folder / "abudhabi" / date / f"T39QZG_{band}.tif", data, crs="EPSG:32639",
                       transform=Affine(px, 0, 300_000.0, 0, -px, 2_700_000.0))  # fmt: skip
    monkeypatch.chdir(tmp_path)
    for command in commands:
        args = [a.replace("$OSCD", folder) for a in shlex.split(command)]
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 0, (command, res.output)
        assert Path("abudhabi.geojson").is_file() and Path("abudhabi.tif").is_file()


def _readme_daily_script() -> str:
    """The daily job's script of README's "Running it every day" (the ``sh`` block that starts ``#!/bin/sh``)."""
    blocks = [b for b in re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S) if "daily.sh" in b]
    scripts = [b for b in blocks if b.startswith("#!/bin/sh")]
    assert len(scripts) == 1
    return scripts[0]


def test_the_readme_daily_script_runs_from_cron(tmp_path: Path) -> None:
    """README's daily.sh, run as cron runs it (``PATH=/usr/bin:/bin``, no HOME, no TERM, stdin not a
    terminal, another working directory) in a workspace with no image yet, runs every step and exits 0.
    It called `sitewatch` from cron's PATH, where a pip-installed sitewatch is not: `sitewatch: not
    found` every day and no alert checked. It also ran no `change`, so rules of kind `change` (the
    demo's `dunai-large-change`) never fired from the daily job."""
    import os
    import subprocess
    import sys

    script = _readme_daily_script()
    assert re.search(r"^sitewatch -q change\b", script, re.M), "the daily job stores no change pairs"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "sitewatch"
    src = str(PACKAGE.parent)
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={src} exec {sys.executable} -m sitewatch "$@"\n', encoding="utf-8")
    wrapper.chmod(0o755)
    workspace = tmp_path / "ports"
    from click.testing import CliRunner

    from sitewatch.cli import main

    assert CliRunner().invoke(main, ["-q", "init", str(workspace)]).exit_code == 0
    (workspace / "incoming").mkdir()
    (workspace / "alerts.yaml").write_text("rules: []\n", encoding="utf-8")
    daily = tmp_path / "daily.sh"
    daily.write_text(script.replace("/data/ports", str(workspace)).replace("/opt/sitewatch/bin", str(bin_dir)), encoding="utf-8")
    daily.chmod(0o755)
    env = {"PATH": "/usr/bin:/bin", "LANG": "C"}
    done = subprocess.run([str(daily)], cwd="/", env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert "not found" not in done.stderr
    assert done.returncode == 0, done.stderr
    assert "0 new events of 0 from 0 rules" in done.stderr
    assert done.stdout.count("no site has observations") == 2  # detect and change ran
    assert not os.path.exists(workspace / "alerts.jsonl") or (workspace / "alerts.jsonl").read_text() == ""
