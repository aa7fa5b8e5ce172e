"""The usual command-line conventions: --version, shell completion, -q/-v, `genretag` alone prints its help,
one word for a preview (--dry-run) everywhere, and `config show` says where the data lives. The real CLI in
a subprocess, a real store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import soundfile
from conftest import VIBE_ACE, excerpt
from test_cli_output import MODEL, RATE, run_cli

from genretag import __version__, config


def test_version_and_bare_genretag_prints_help_with_exit_0():
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"genretag {__version__}"
    bare = run_cli()
    assert bare.returncode == 0, bare.stderr
    assert "Usage: genretag" in bare.stdout and "scan" in bare.stdout
    assert "--install-completion" in bare.stdout and "--quiet" in bare.stdout


def test_shell_completion_completes_command_names():
    environment = {
        **os.environ,
        "_GENRETAG_COMPLETE": "complete_bash",
        "COMP_WORDS": "genretag sc",
        "COMP_CWORD": "1",
    }
    done = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "genretag")],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert "scan" in done.stdout.split(), done.stdout + done.stderr
    # typer detects the shell from the parent process: run it from bash (a second command keeps
    # bash from replacing itself with genretag), as a user would, whatever started the tests.
    command = [os.path.join(os.path.dirname(sys.executable), "genretag"), "--show-completion"]
    script = subprocess.run(["bash", "-c", '"$@"; exit $?', "bash", *command], capture_output=True, text=True)
    assert script.returncode == 0 and "_GENRETAG_COMPLETE" in script.stdout, script.stderr


def test_quiet_leaves_only_data_and_verbose_says_more(tmp_path):
    track = tmp_path / "a.flac"
    soundfile.write(track, excerpt(VIBE_ACE, 10, 11), RATE)
    normal = run_cli("scan", str(track), "--model", MODEL)
    assert normal.returncode == 0 and "model: v-kernel" in normal.stderr and "1 track:" in normal.stderr
    quiet = run_cli("-q", "scan", str(track), "--model", MODEL)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == "" and quiet.stdout == normal.stdout  # the data, nothing else
    verbose = run_cli("-v", "scan", str(track), "--model", MODEL)
    assert "weights sha256 " in verbose.stderr and str(config.database_path()) in verbose.stderr
    both = run_cli("-q", "-v", "models")
    assert both.returncode == 2 and "contradict" in both.stderr


def test_dry_run_is_the_preview_of_tag_and_undo(tmp_path):
    track = tmp_path / "a.flac"
    soundfile.write(track, excerpt(VIBE_ACE, 10, 11), RATE)
    preview = run_cli("tag", str(track), "--model", MODEL, "--min-confidence", "0", "--dry-run")
    assert preview.returncode == 0 and "preview: 1 file to write" in preview.stderr
    assert run_cli("tag", str(track), "--model", MODEL, "-n", "--write").returncode == 2
    assert run_cli("tag", str(track), "--model", MODEL, "--min-confidence", "0", "-w").returncode == 0
    undo = run_cli("undo", "--last", "-n")
    assert undo.returncode == 0 and "preview: 1 file to restore" in undo.stderr


def test_config_show_says_where_the_store_journal_and_data_are_with_sizes(genretag_home, tmp_path):
    track = tmp_path / "a.flac"
    soundfile.write(track, excerpt(VIBE_ACE, 10, 11), RATE)
    assert run_cli("scan", str(track), "--model", MODEL).returncode == 0
    table = run_cli("config", "show", "--format", "table", columns=200)
    assert table.returncode == 0, table.stderr
    store_line = next(line for line in table.stdout.splitlines() if line.split()[:1] == ["store"])
    assert str(config.database_path()) in store_line and "kB" in store_line and "tag journal" in store_line
    document = json.loads(run_cli("config", "show", "--format", "json").stdout)
    places = {row["name"]: row for row in document["paths"]}
    assert places["store"]["path"] == str(config.database_path())
    assert places["store"]["bytes"] == config.database_path().stat().st_size
    assert places["data home"]["path"] == str(genretag_home) and places["user models"]["bytes"] is None
    assert document["kind"] == "settings" and document["rows"]
    piped = run_cli("config", "show")  # TSV: the settings on stdout, where things are on stderr
    assert piped.stdout.startswith("command\toption\tvalue\tsource\n")
    assert f"store: {config.database_path()}" in piped.stderr


def test_help_says_what_to_type_not_python_types():
    commands = ("scan", "export", "timeline", "report", "learn", "tag", "undo", "models", "config show", "config path")
    for command in commands:
        shown = run_cli(*command.split(), "--help", columns=100)
        assert shown.returncode == 0, shown.stderr
        for python in ("<list[", "<str>", "<path>", "<int>", "{PATH}", "{FILE}", "[[", "x>=", "<=x"):
            assert python not in shown.stdout, (command, python, shown.stdout)
    scan_help = run_cli("scan", "--help").stdout
    assert "Usage: genretag scan [OPTIONS] PATH..." in scan_help
    assert "Usage: genretag models [OPTIONS] [NAME]" in run_cli("models", "--help").stdout
    assert "--format table|tsv|json" in scan_help and "[at least 0]" in scan_help
    missing = run_cli("scan")
    assert missing.returncode == 2 and "Usage: genretag scan [OPTIONS] PATH..." in missing.stderr
