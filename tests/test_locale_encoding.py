"""Text files are UTF-8 whatever the locale: a machine whose locale encoding is not UTF-8 (cp1252 on most
Windows machines) reads and writes them the same."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Run in a process whose locale encoding is ASCII: the C locale with Python's UTF-8 mode and locale coercion
# off (Python turns both on by itself in the C locale).
_ASCII_LOCALE = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}

# The snippet is ASCII itself: that locale cannot decode other characters in a command line.
_SET_STORE = """
import locale, sys
from pathlib import Path
from sitewatch.workspace import init_workspace, set_store_setting
if locale.getpreferredencoding(False).lower().replace("-", "") in ("utf8", "utf_8"):
    sys.exit(99)
ws = init_workspace(Path(sys.argv[1]))
ws.config_path.write_bytes(ws.config_path.read_bytes() + "# \\u041f\\u043e\\u0440\\u0442, \\u6771\\u4eac\\n".encode("utf-8"))
set_store_setting(ws.root, "postgresql://ana@db.example.org/sitewatch")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="the C locale is a POSIX one")
def test_store_use_keeps_a_non_ascii_line_of_sitewatch_toml_under_an_ascii_locale(tmp_path: Path) -> None:
    """set_store_setting (``sitewatch store use``, ``init --store``) read sitewatch.toml as UTF-8 and wrote it back
    in the locale's encoding: here a UnicodeEncodeError, on Windows a file TOML then refuses as not UTF-8."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LC_")} | _ASCII_LOCALE
    done = subprocess.run([sys.executable, "-c", _SET_STORE, str(tmp_path / "ws")], env=env, capture_output=True, text=True,
                          encoding="utf-8", errors="replace")  # fmt: skip
    if done.returncode == 99:
        pytest.skip("this Python's locale encoding is UTF-8 even in the C locale")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "ws" / "sitewatch.toml").read_bytes().decode("utf-8")
    assert "# Порт, 東京" in text and 'store = "postgresql://ana@db.example.org/sitewatch"' in text


def test_output_in_an_encoding_without_a_sites_characters_is_escaped_not_a_traceback(tmp_path: Path) -> None:
    """On Windows, output redirected to a file is in cp1252: `sitewatch sites list > sites.txt` with a Chinese
    site name (or `links`, whose notes say σ) ended in UnicodeEncodeError after half the table."""
    from click.testing import CliRunner

    from sitewatch.cli import main

    ws = tmp_path / "ws"
    assert CliRunner().invoke(main, ["init", str(ws)]).exit_code == 0
    added = CliRunner().invoke(main, ["sites", "add", "tokyo", "--name", "東京港 σ≥", "--bbox", "139.76,35.60,139.80,35.64",
                                      "-w", str(ws)])  # fmt: skip
    assert added.exit_code == 0, added.output
    env = os.environ | {"PYTHONIOENCODING": "cp1252"}
    done = subprocess.run([sys.executable, "-m", "sitewatch", "sites", "list", "-w", str(ws)], env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    out = done.stdout.decode("cp1252")
    assert "tokyo" in out and "\\u6771\\u4eac\\u6e2f \\u03c3\\u2265" in out


def test_json_output_writes_names_as_written_in_utf8_whatever_the_output_encoding(tmp_path: Path) -> None:
    """`sites list --json` (every --json) escaped a Cyrillic or Chinese name as \\uXXXX; it is written as written, and
    in UTF-8 (JSON's encoding) also where standard output is cp1252: redirected output on Windows."""
    import json

    from click.testing import CliRunner

    from sitewatch.cli import main

    ws = tmp_path / "ws"
    assert CliRunner().invoke(main, ["init", str(ws)]).exit_code == 0
    name = "Порт Дунай 東京港 Île-d'Yeu σ≥"
    added = CliRunner().invoke(main, ["sites", "add", "dunai", "--name", name, "--bbox", "132.32,42.87,132.36,42.90",
                                      "-w", str(ws)])  # fmt: skip
    assert added.exit_code == 0, added.output
    listed = CliRunner().invoke(main, ["sites", "list", "--json", "-w", str(ws)])
    assert listed.exit_code == 0, listed.output
    assert f'"name": "{name}"' in listed.output and "\\u" not in listed.output
    env = os.environ | {"PYTHONIOENCODING": "cp1252"}
    for args in (["sites", "list", "--json"], ["observations", "--json"]):
        done = subprocess.run([sys.executable, "-m", "sitewatch", *args, "-w", str(ws)], env=env, capture_output=True)
        assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
        doc = json.loads(done.stdout.decode("utf-8"))  # cp1252 bytes (é as 0xE9), or \\u escapes, before
        if args[0] == "sites":
            assert doc["features"][0]["properties"]["name"] == name
            assert name.encode("utf-8") in done.stdout
