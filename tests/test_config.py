"""Settings: precedence, validation, and every setting documented in the README."""

from __future__ import annotations

from pathlib import Path

import pytest

from sitewatch.config import SETTINGS, load_setting, load_settings
from sitewatch.errors import ConfigError, InputError

README = Path(__file__).parents[1] / "README.md"


def test_precedence_flag_env_file_default(tmp_path: Path) -> None:
    (tmp_path / "sitewatch.toml").write_text("[settings]\nworkers = 3\nmin_vessel_length_m = 30\n", encoding="utf-8")
    got = load_settings(
        tmp_path, flags={"workers": 5}, env={"SITEWATCH_MIN_VESSEL_LENGTH_M": "40", "SITEWATCH_WORKERS": "4"}
    )
    assert got["workers"] == 5
    assert got["min_vessel_length_m"] == 40.0
    assert load_settings(tmp_path, env={})["min_vessel_length_m"] == 30.0
    assert load_settings(None, env={})["min_vessel_length_m"] is None  # the detector's own default
    got = load_settings(tmp_path, env={})
    assert got["workers"] == 3 and got["catalog"] == "earth-search"


@pytest.mark.parametrize(("toml", "named"), [
    ("[settings]\nwrokers = 3\n", "wrokers"),
    ("[settings]\nworkers = 'many'\n", "workers"),
    ("[settings]\nworkers = 2.5\n", r"\[settings\] workers must be a whole number, 0 or more, got 2.5"),  # int() would take it as 2
    ("[settings]\nworkers = true\n", r"\[settings\] workers must be a whole number, 0 or more, got True"),  # and this as 1
    pytest.param("[settings]\nmax_cloud = 1" + "0" * 400 + "\n", "max_cloud must be a percentage from 0 to 100",
                 id="int-past-float"),  # was an OverflowError traceback
    pytest.param("[settings]\nworkers = " + "1" * 5000 + "\n", "not valid TOML .*4300 digits", id="int-past-4300-digits"),
    ("[setings]\nworkers = 2\n", "setings"),
    ("[settings\n", "sitewatch.toml"),
])  # fmt: skip
def test_unknown_or_bad_settings_are_named(tmp_path: Path, toml: str, named: str) -> None:
    (tmp_path / "sitewatch.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=named):
        load_settings(tmp_path, env={})


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [s.name for s in SETTINGS if f"`{s.name}`" not in text or s.env not in text]
    assert not missing, f"README lacks settings: {missing}"


@pytest.mark.parametrize("value", ["jpeg", "foo", "webp"])
def test_cog_compress_must_be_a_lossless_codec(tmp_path: Path, value: str) -> None:
    (tmp_path / "sitewatch.toml").write_text(f"[settings]\ncog_compress = '{value}'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"\[settings\] cog_compress must be one of deflate, zstd, lzw, got '{value}'"):
        load_settings(tmp_path, env={})
    with pytest.raises(ConfigError, match=r"environment variable SITEWATCH_COG_COMPRESS \(the cog_compress setting\) must be one of"):
        load_settings(None, env={"SITEWATCH_COG_COMPRESS": value})


@pytest.mark.parametrize("value", ["ftp://hooks.example.org/x", "hooks.example.org/x", "http://", "http://[::1"])
def test_alerts_webhook_must_be_an_http_url_when_the_file_is_read(tmp_path: Path, value: str) -> None:
    # Checked only by `alerts check` before: a cron job found it at its first event, every other
    # command took the file for good.
    (tmp_path / "sitewatch.toml").write_text(f"[settings]\nalerts_webhook = '{value}'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="alerts_webhook must be empty .* http:// or https://"):
        load_settings(tmp_path, env={})
    assert load_settings(None, env={"SITEWATCH_ALERTS_WEBHOOK": ""})["alerts_webhook"] == ""


def test_alerts_webhook_with_spaces_around_it_is_taken_as_alerts_check_takes_it(tmp_path: Path) -> None:
    """A webhook pasted with a space before or after it passed the setting's check, then `alerts check` refused it
    (`webhook ' https://…': give an http:// or https:// URL`): the setting drops the spaces, as it checks it."""
    from sitewatch.alerts import check_webhook_url

    url = "https://hooks.example.org/services/T0/B0"
    (tmp_path / "sitewatch.toml").write_text(f"[settings]\nalerts_webhook = \" {url}\\t\"\n", encoding="utf-8")
    got = load_settings(tmp_path, env={})["alerts_webhook"]
    assert got == url and check_webhook_url(got) == url
    assert load_settings(None, env={"SITEWATCH_ALERTS_WEBHOOK": f"{url} "})["alerts_webhook"] == url
    assert load_settings(None, env={"SITEWATCH_ALERTS_WEBHOOK": "  "})["alerts_webhook"] == ""  # blank: no webhook
    with pytest.raises(ConfigError, match=r"alerts_webhook setting\) must be empty"):
        load_settings(None, env={"SITEWATCH_ALERTS_WEBHOOK": " hooks.example.org/x "})


def test_cog_compress_accepts_any_case() -> None:
    assert load_settings(None, env={"SITEWATCH_COG_COMPRESS": "ZSTD"})["cog_compress"] == "zstd"


def test_number_settings_are_range_checked() -> None:
    with pytest.raises(ConfigError, match="--workers must be a whole number, 0 or more, got -3"):
        load_settings(None, flags={"workers": -3}, env={})
    with pytest.raises(ConfigError, match=r"SITEWATCH_MIN_VESSEL_LENGTH_M \(the min_vessel_length_m setting\) must be a length in metres above 0"):
        load_settings(None, env={"SITEWATCH_MIN_VESSEL_LENGTH_M": "-5"})
    with pytest.raises(ConfigError, match=r"SITEWATCH_MAX_CLOUD \(the max_cloud setting\) must be a percentage from 0 to 100, got '130'"):
        load_settings(None, env={"SITEWATCH_MAX_CLOUD": "130"})


def test_vessel_length_limits_must_be_ordered(tmp_path: Path) -> None:
    (tmp_path / "sitewatch.toml").write_text("[settings]\nmax_vessel_length_m = 100\n", encoding="utf-8")
    with pytest.raises(
        ConfigError,
        match=r"min_vessel_length_m \(200, from SITEWATCH_MIN_VESSEL_LENGTH_M\) must be below "
        r"max_vessel_length_m \(100, from .*sitewatch.toml: \[settings\] max_vessel_length_m\)",
    ):
        load_settings(tmp_path, env={"SITEWATCH_MIN_VESSEL_LENGTH_M": "200"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("settings = 3\n", "settings must be a table"),  # was an AttributeError traceback
        ("workers = 2\n", "workers must be under [settings]"),  # [settings] forgotten
        ("[settings]\nscheduler = 8786\n", "[settings] scheduler must be text in quotes, got 8786"),  # was taken as the address '8786'
        ("[settings]\nmin_vessel_length_m = inf\n", "[settings] min_vessel_length_m must be a length in metres above 0, got inf"),
        ("[settings]\nmax_cloud = false\n", "[settings] max_cloud must be a percentage from 0 to 100, got False"),  # was taken as 0 %
        ("[settings]\nmin_vessel_length_m = true\n", "[settings] min_vessel_length_m must be a length in metres above 0, got True"),  # as 1 m
    ],
)
def test_misplaced_or_wrongly_typed_toml_values_are_named(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "sitewatch.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, env={})
    assert message in str(err.value) and "sitewatch.toml" in str(err.value)
    with pytest.raises(ConfigError, match=r"SITEWATCH_MAX_VESSEL_LENGTH_M \(the max_vessel_length_m setting\) must be a length in metres above 0, got 'inf'"):
        load_settings(None, env={"SITEWATCH_MAX_VESSEL_LENGTH_M": "inf"})


def test_init_refuses_a_folder_whose_sitewatch_toml_is_broken_and_makes_nothing(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sitewatch.cli import main

    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "sitewatch.toml").write_text("[settings]\nwrokers = 2\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["init", str(folder)])
    assert r.exit_code != 0 and "wrokers" in r.output and "sitewatch.toml" in r.output
    assert "workspace ready" not in r.output
    assert sorted(p.name for p in folder.iterdir()) == ["sitewatch.toml"]  # no database, no archive/
    (folder / "sitewatch.toml").write_text("[settings]\nworkers = 2\n", encoding="utf-8")
    assert CliRunner().invoke(main, ["init", str(folder)]).exit_code == 0
    assert (folder / "sitewatch.toml").read_text(encoding="utf-8") == "[settings]\nworkers = 2\n"  # kept as it was


def test_a_flag_overrides_a_bad_environment_value(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sitewatch.cli import main
    from sitewatch.testing import tiny_site
    from sitewatch.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(tiny_site())
    run = ["detect", tiny_site().id, "-w", str(ws.root)]
    env = {"SITEWATCH_WORKERS": "-1"}  # left in a shell profile
    bad = CliRunner().invoke(main, run, env=env)
    assert bad.exit_code == 1 and "environment variable SITEWATCH_WORKERS (the workers setting) must be a whole number, 0 or more, got '-1'" in bad.output
    overridden = CliRunner().invoke(main, [*run, "--workers", "1"], env=env)  # flag > env
    assert overridden.exit_code == 0, overridden.output


def test_toml_saved_with_a_byte_order_mark_reads(tmp_path: Path) -> None:
    # Windows Notepad saves UTF-8 with a BOM and CRLF lines: 'Invalid statement (at line 1, column 1)' before.
    (tmp_path / "sitewatch.toml").write_bytes(b"\xef\xbb\xbf[settings]\r\nworkers = 3\r\n")
    assert load_settings(tmp_path, env={})["workers"] == 3
    from sitewatch.sources.scenario import load_scenario

    scenario = tmp_path / "s.toml"
    scenario.write_bytes(b"\xef\xbb\xbf" + (
        b'name = "bom"\n[[sites]]\nid = "dunai"\n[sites.layout]\nland = [[[-1700, 0], [1700, 0], [1700, 1700]]]\n'
        b'[[acquisitions]]\nsite = "dunai"\nsensor = "sar"\nstart = 2024-10-01\nend = 2024-10-02\nrevisit_days = 1\n'
    ))  # fmt: skip
    assert load_scenario(scenario).name == "bom"


def test_unreadable_toml_is_named(tmp_path: Path) -> None:
    (tmp_path / "sitewatch.toml").write_bytes(b"[settings]\nscheduler = '\xff'\n")
    with pytest.raises(ConfigError, match="sitewatch.toml: not UTF-8 text"):
        load_settings(tmp_path, env={})
    (tmp_path / "sitewatch.toml").unlink()
    (tmp_path / "sitewatch.toml").mkdir()
    with pytest.raises(ConfigError, match="sitewatch.toml: cannot read"):
        load_settings(tmp_path, env={})


def test_init_without_folder_makes_the_workspace_that_sitewatch_workspace_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from sitewatch.cli import main

    named = tmp_path / "investigation"
    here = tmp_path / "here"
    here.mkdir()
    # monkeypatch.chdir, not CliRunner.isolated_filesystem: Click 8.5 deprecates that, to go in 9.0
    monkeypatch.chdir(here)
    runner = CliRunner()
    env = {"SITEWATCH_WORKSPACE": str(named)}
    r = runner.invoke(main, ["init"], env=env)
    assert r.exit_code == 0 and str(named) in r.output
    assert (named / "sitewatch.gpkg").is_file() and not (here / "sitewatch.gpkg").exists()
    # ...so that the next command, which reads the same variable, finds it.
    assert runner.invoke(main, ["sites", "list"], env=env).exit_code == 0


def test_init_where_no_folder_can_be_made_is_named_without_a_traceback(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sitewatch.cli import main

    (tmp_path / "notes.txt").write_text("", encoding="utf-8")
    r = CliRunner().invoke(main, ["init", str(tmp_path / "notes.txt" / "ws")])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output
    assert f"{tmp_path / 'notes.txt' / 'ws'}: cannot make a workspace there" in r.output
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / "archive").write_text("", encoding="utf-8")  # a file where archive/ goes
    r = CliRunner().invoke(main, ["init", str(tmp_path / "ws")])
    assert r.exit_code == 1 and "archive" in r.output and "Traceback" not in r.output, r.output


def test_two_inits_of_one_folder_at_once_both_make_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Both wrote "sitewatch.toml.tmp": the second to rename it into place found it gone, renamed by the other
    # ("cannot make a workspace there: No such file or directory"). Here the other init goes whole between this
    # one's writing of the file and its renaming.
    from sitewatch.workspace import init_workspace

    real_replace = Path.replace
    other: list[Path] = []

    def replace(self: Path, target: str | Path) -> Path:
        if Path(target).name == "sitewatch.toml" and not other:
            other.append(tmp_path)  # (the other init's own rename is a real one)
            other[0] = init_workspace(tmp_path / "ws").root
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", replace)
    ws = init_workspace(tmp_path / "ws")
    monkeypatch.undo()
    assert other == [ws.root]
    assert "[settings]" in (ws.root / "sitewatch.toml").read_text(encoding="utf-8")
    assert sorted(p.name for p in ws.root.iterdir()) == ["archive", "sitewatch.gpkg", "sitewatch.toml"]


def test_init_refuses_a_folder_whose_database_is_unusable_and_makes_nothing(tmp_path: Path) -> None:
    """A sitewatch.gpkg that is not a database was named, but only after sitewatch.toml and archive/ were made."""
    from click.testing import CliRunner

    from sitewatch.cli import main

    folder = tmp_path / "ws"
    folder.mkdir()
    (folder / "sitewatch.gpkg").write_text("notes, not a database\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["init", str(folder)])
    assert r.exit_code == 1 and "sitewatch.gpkg" in r.output, r.output
    assert sorted(p.name for p in folder.iterdir()) == ["sitewatch.gpkg"]


def test_an_option_taking_one_value_given_twice_is_refused_in_every_command(tmp_path: Path) -> None:
    """click kept the last of `--max-cloud 30 ... --max-cloud 100` (or of `-w a -w b`) without a word."""
    import click
    from click.testing import CliRunner

    from sitewatch.cli import all_commands, main
    from sitewatch.cli.options import OnceCommand, OnceGroup
    from sitewatch.workspace import init_workspace

    def walk(cmd: click.Command) -> list[click.Command]:
        subs = list((all_commands() if cmd is main else cmd.commands).values()) if isinstance(cmd, click.Group) else []
        return [cmd, *(c for s in subs for c in walk(s))]

    loose = [c.name for c in walk(main) if not isinstance(c, (OnceCommand, OnceGroup))]
    assert not loose, f"commands that keep the last of a repeated option silently: {loose}"
    ws = init_workspace(tmp_path / "ws")
    for args, name in [
        (["timeline", "x", "--max-cloud", "30", "--max-cloud", "100"], "--max-cloud"),
        (["sites", "list", "-w", str(tmp_path), "--workspace", str(ws.root)], "-w / --workspace"),
        (["search", "x", "--collection", "s2", "--from", "2024-10-01", "--to", "2024-10-31", "--from", "2024-11-01"], "--from"),
        (["search", "x", "--collection", "s2", "--from", "2024-10-01", "--to", "2024-10-31", "--measure", "--no-measure"],
         "--measure / --no-measure"),
    ]:
        r = CliRunner().invoke(main, [*args, *(["-w", str(ws.root)] if "-w" not in args else [])])
        assert r.exit_code == 2 and f"{name} given more than once" in r.output, (args, r.output)
    # Options meant to repeat still do: counters, flags, --site.
    r = CliRunner().invoke(main, ["-v", "-v", "-q", "-q", "observations", "-w", str(ws.root), "--json", "--json"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["import", str(tmp_path / "ws" / "sitewatch.toml"), "--site", "a", "--site", "b",
                                  "-w", str(ws.root)])  # fmt: skip
    assert "given more than once" not in r.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # tomllib names only the line and column of a key given twice
        ("[settings]\nworkers = 2\nworkers = 3\n", "'workers = 3' sets a key or table already set above"),
        ("[settings]\nworkers = 2\n\n[settings]\n", "'[settings]' sets a key or table already set above"),
        ("[settings]\nmax_cloud = \n", "'max_cloud ='"),
        # a number in quotes was taken as the number, though a number for a text setting is refused
        ('[settings]\nworkers = "2"\n', "[settings] workers must be a whole number, 0 or more without quotes, got '2'"),
        ("[settings]\nmax_cloud = '30'\n", "[settings] max_cloud must be a percentage from 0 to 100 without quotes, got '30'"),
    ],
)
def test_toml_key_given_twice_or_number_in_quotes_is_named(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "sitewatch.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, env={})
    assert message in str(err.value) and "sitewatch.toml" in str(err.value)


def test_environment_values_are_text_and_still_read_as_numbers() -> None:
    got = load_settings(None, env={"SITEWATCH_WORKERS": "2", "SITEWATCH_MAX_CLOUD": "30"})
    assert got["workers"] == 2 and got["max_cloud"] == 30.0


def test_a_sitewatch_variable_that_is_no_setting_is_named(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """SITEWATCH_MAX_CLOUDS=30 (a typo), or a GeoTIFF tag name set as a variable, was ignored without a word."""
    from click.testing import CliRunner

    from sitewatch.cli import main
    from sitewatch.config import unknown_env
    from sitewatch.workspace import init_workspace

    assert unknown_env({"SITEWATCH_MAX_CLOUDS": "30", "SITEWATCH_MAX_CLOUD": "30", "SITEWATCH_WORKSPACE": "."}) == [
        "SITEWATCH_MAX_CLOUDS"
    ]
    ws = init_workspace(tmp_path / "ws")
    with caplog.at_level("WARNING"):
        r = CliRunner().invoke(main, ["sites", "list", "-w", str(ws.root)],
                               env={"SITEWATCH_MAX_CLOUDS": "30", "SITEWATCH_IMPULSE_RESPONSE_M": "0"})  # fmt: skip
    assert r.exit_code == 0, r.output
    said = " ".join(rec.getMessage() for rec in caplog.records)
    assert "SITEWATCH_MAX_CLOUDS is set but is not a sitewatch setting" in said and "SITEWATCH_MAX_CLOUD," in said
    assert "SITEWATCH_IMPULSE_RESPONSE_M is set" in said


def test_a_workspace_option_naming_a_file_a_missing_folder_or_another_folder_is_named(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sitewatch.cli import main

    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    for where, message in [
        (tmp_path / "notes.txt", "is a file"),
        (tmp_path / "nowhere", f"workspace folder {tmp_path / 'nowhere'} does not exist"),
        (tmp_path, f"{tmp_path} is not a sitewatch workspace (no sitewatch.gpkg); run `sitewatch init` there"),
    ]:
        for run in (["-w", str(where)], []):
            r = CliRunner().invoke(main, ["observations", *run], env={} if run else {"SITEWATCH_WORKSPACE": str(where)})
            assert r.exit_code in (1, 2) and message in r.output, (where, run, r.output)
            assert r.exception is None or isinstance(r.exception, SystemExit)


def test_sar_thermal_noise_keeps_the_noise_unless_told_to_subtract_it(tmp_path: Path) -> None:
    """The SAR detector was validated on sigma0 with the noise in: that is the default."""
    assert load_settings(None, env={})["sar_thermal_noise"] == "keep"
    (tmp_path / "sitewatch.toml").write_text('[settings]\nsar_thermal_noise = "subtract"\n', encoding="utf-8")
    assert load_settings(tmp_path, env={})["sar_thermal_noise"] == "subtract"
    assert load_settings(tmp_path, env={"SITEWATCH_SAR_THERMAL_NOISE": "Keep"})["sar_thermal_noise"] == "keep"
    (tmp_path / "sitewatch.toml").write_text('[settings]\nsar_thermal_noise = "remove"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"\[settings\] sar_thermal_noise must be one of keep, subtract, got 'remove'"):
        load_settings(tmp_path, env={})


def test_one_setting_without_a_workspace_reads_only_its_own_variable() -> None:
    """detect-image reads sar_thermal_noise alone: a bad SITEWATCH_WORKERS, which it does not use, does not stop it."""
    env = {"SITEWATCH_WORKERS": "-1", "SITEWATCH_SAR_THERMAL_NOISE": "subtract"}
    assert load_setting("sar_thermal_noise", env=env) == "subtract"
    assert load_setting("sar_thermal_noise", "keep", env=env) == "keep"  # the flag first
    assert load_setting("sar_thermal_noise", env={}) == "keep"
    with pytest.raises(ConfigError, match=r"environment variable SITEWATCH_SAR_THERMAL_NOISE \(the sar_thermal_noise setting\) must be one of keep, subtract, got 'yes'"):
        load_setting("sar_thermal_noise", env={"SITEWATCH_SAR_THERMAL_NOISE": "yes"})


def test_a_workspace_named_by_a_string_opens_its_store(tmp_path: Path) -> None:
    from sitewatch.workspace import Workspace, init_workspace

    init_workspace(tmp_path / "ws")
    ws = Workspace(str(tmp_path / "ws"))  # as a script writes it
    assert ws.root == tmp_path / "ws"
    with ws.store() as store:
        assert store.sites() == []


def test_a_setting_an_earlier_sitewatch_had_is_said_and_not_read(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """A workspace of the first releases whose sitewatch.toml sets `sar_pfa` (gone since; it never reached a
    detector): after an upgrade every command refused it as a typo ("unknown setting 'sar_pfa'"). Now each says it
    is an earlier sitewatch's setting, once, and goes on with the others; a typo is still refused."""
    import logging

    from click.testing import CliRunner

    from sitewatch.cli import main
    from sitewatch.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws")
    ws.config_path.write_text("[settings]\nsar_pfa = 1e-6\nworkers = 2\n", encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="sitewatch.config"):
        assert load_settings(ws.root, env={})["workers"] == 2
        load_settings(ws.root, env={})
        res = CliRunner().invoke(main, ["observations", "-w", str(ws.root)])
    assert res.exit_code == 0, res.output
    [said] = [r.getMessage() for r in caplog.records if "sar_pfa" in r.getMessage()]
    assert said.startswith(f"{ws.config_path}: 'sar_pfa' is a setting of an earlier sitewatch") and "delete its line" in said
    ws.config_path.write_text("[settings]\nsar_pfaa = 1e-6\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting 'sar_pfaa'"):
        load_settings(ws.root, env={})


def test_a_bad_variable_stops_only_the_commands_that_read_its_setting(tmp_path: Path) -> None:
    """SITEWATCH_MAX_CLOUD=lots stopped `detect`, which does not read max_cloud (it read every variable), while
    `timeline`, which does not read it either, ran: now each command checks the variables of its own settings."""
    from click.testing import CliRunner

    from sitewatch.cli import main
    from sitewatch.testing import tiny_site
    from sitewatch.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws")
    with ws.store() as store:
        store.put_site(tiny_site())
    site, w = tiny_site().id, ["-w", str(ws.root)]
    (ws.root / "alerts.yaml").write_text(f"rules:\n  - {{id: a, kind: arrival, sites: [{site}]}}\n", encoding="utf-8")
    fetch = ["fetch", site, "--collection", "sentinel-2-l2a", "--from", "2024-10-01", "--to", "2024-10-02", *w]
    cases = [
        ({"SITEWATCH_MAX_CLOUD": "lots"}, fetch, ["detect", site, *w], ["timeline", site, *w], ["alerts", "check", *w],
         "environment variable SITEWATCH_MAX_CLOUD (the max_cloud setting) must be a percentage from 0 to 100, got 'lots'"),
        ({"SITEWATCH_ALERTS_WEBHOOK": "hooks.example.org"}, ["alerts", "check", *w], ["detect", site, *w], None, None,
         "environment variable SITEWATCH_ALERTS_WEBHOOK (the alerts_webhook setting) must be empty (no webhook) or an "
         "http:// or https:// URL with a host, got 'hooks.example.org'"),
        ({"SITEWATCH_WAIT_WORKERS": "ten"}, ["detect", site, *w], ["alerts", "check", *w], ["timeline", site, *w], None,
         "environment variable SITEWATCH_WAIT_WORKERS (the wait_workers setting) must be a number of seconds above 0, got 'ten'"),
        ({"SITEWATCH_OPTICAL_MODE": "radar"}, ["detect", site, *w], ["alerts", "check", *w], None, None,
         "environment variable SITEWATCH_OPTICAL_MODE (the optical_mode setting) must be one of auto, water, image, got 'radar'"),
    ]  # fmt: skip
    for env, reads, *others, message in cases:
        r = CliRunner().invoke(main, reads, env=env)
        assert r.exit_code == 1 and message in r.output, (env, reads, r.output)
        for run in filter(None, others):
            r = CliRunner().invoke(main, run, env=env)
            assert r.exit_code == 0, (env, run, r.output)


@pytest.mark.parametrize("setting", [s for s in SETTINGS if s.type is not str or s.choices or s.check], ids=lambda s: s.name)
def test_every_refused_value_names_its_variable_or_file_the_value_and_what_is_taken(tmp_path: Path, setting) -> None:  # type: ignore[no-untyped-def]
    """'SITEWATCH_WAIT_WORKERS: wait_workers must be float': the variable as a prefix, a Python type for what is
    taken. Each setting's message now reads as a sentence and says what it takes, from either place."""
    with pytest.raises(ConfigError) as err:
        load_settings(None, env={setting.env: "bogus"}, names=[setting.name])
    said = str(err.value)
    assert said == f"environment variable {setting.env} (the {setting.name} setting) must be {setting.accepts}, got 'bogus'"
    assert " float" not in said and " int" not in said and " str" not in said
    (tmp_path / "sitewatch.toml").write_text(f"[settings]\n{setting.name} = 'bogus'\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(tmp_path, env={})
    assert str(err.value).startswith(f"{tmp_path / 'sitewatch.toml'}: [settings] {setting.name} must be {setting.accepts}")
    assert str(err.value).endswith(", got 'bogus'")


def test_the_readme_says_which_commands_read_each_setting() -> None:
    from sitewatch.config import settings_used_by

    rows = {line.split(" | ")[0].strip("| `"): line.split(" | ") for line in README.read_text(encoding="utf-8").splitlines()
            if line.startswith("| `")}  # fmt: skip
    for s in SETTINGS:
        said = rows[s.name][3]
        if not s.used_by:
            assert said == "every command that reads a workspace", s.name
        else:
            assert said == ", ".join(f"`{c}`" for c in s.used_by), (s.name, said)
    assert settings_used_by("fetch") == ("max_cloud", "catalog", "cog_compress", "context_m", "sar_thermal_noise")
    assert settings_used_by("timeline") == ()
    with pytest.raises(ValueError, match="no such setting"):
        load_settings(None, env={}, names=["max_clouds"])


@pytest.mark.parametrize(("name", "value", "secret"), [
    ("store", "postgresq://ana@db.example.org/sw?password=s3cret", "s3cret"),  # libpq's password parameter
    ("store", "postgresq://ana:p@ss@db.example.org/sw", "ss@"),  # an '@' in the password, as libpq reads it
    ("alerts_webhook", "htps://bot:p@ss@hooks.example.org/x", "ss@"),
    ("alerts_webhook", "htps://tok3n@hooks.example.org/x", "tok3n"),  # a user name alone: a token as often as not
    ("alerts_webhook", "https://tok3n@", "tok3n"),  # no host
])
def test_a_refused_url_setting_shows_no_part_of_its_password(name: str, value: str, secret: str) -> None:
    """A store or webhook setting refused (a scheme mistyped) named its value with the password masked only up to its
    first '@', and a ``password=`` parameter whole: the error, in a terminal or a cron mail, showed the password."""
    env = {f"SITEWATCH_{name.upper()}": value}
    with pytest.raises(ConfigError) as caught:
        load_setting(name, env=env)
    assert secret not in str(caught.value) and "***" in str(caught.value), str(caught.value)


def test_a_refused_store_url_keeps_its_bare_role_name() -> None:
    """A PostgreSQL role name is no secret (and the error is about the URL it is in): shown, its password masked."""
    with pytest.raises(ConfigError) as caught:
        load_setting("store", env={"SITEWATCH_STORE": "postgresq://analyst@db.example.org/sw"})
    assert "postgresq://analyst@db.example.org/sw" in str(caught.value), str(caught.value)
    from sitewatch.store import mask_url

    assert mask_url("postgresql://analyst@db.example.org/sw") == "postgresql://analyst@db.example.org/sw"


@pytest.mark.parametrize(("name", "value", "secret", "shown"), [
    ("alerts_webhook", "bot:pa55@hooks.example.org/alerts/team", "pa55", "bot:***@hooks.example.org/alerts/team"),
    ("alerts_webhook", "tok3n@hooks.example.org/alerts/team", "tok3n", "***@hooks.example.org/alerts/team"),
    ("store", "analyst:pa55@db.example.org/sw", "pa55", "analyst:***@db.example.org/sw"),
])
def test_a_url_without_its_scheme_shows_no_password_or_token_when_refused(name: str, value: str, secret: str, shown: str) -> None:
    """``bot:PASSWORD@hooks.example.org/…`` pasted without its ``https://`` (the likeliest way for a URL not to be
    one) was refused with its password, or its token user name, whole: the masks looked for the user part after
    ``//`` only. The webhook given as --webhook is refused the same way."""
    from sitewatch.alerts import check_webhook_url

    with pytest.raises(ConfigError) as caught:
        load_setting(name, env={f"SITEWATCH_{name.upper()}": value})
    assert secret not in str(caught.value) and repr(shown) in str(caught.value), str(caught.value)
    if name == "alerts_webhook":
        with pytest.raises(InputError) as refused:
            check_webhook_url(value)
        assert secret not in str(refused.value) and repr(shown) in str(refused.value), str(refused.value)
