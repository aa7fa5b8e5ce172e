"""The config file: TOML keyed by long option names, overridden by the command line, `genretag config
path|show`, and clear errors naming the file and the line. Real files, real subprocesses of the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import soundfile
from conftest import VIBE_ACE, excerpt

RATE = 22_050
MODEL = "v-kernel"


def run_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "genretag", *args], capture_output=True, text=True, timeout=180, env=environment
    )


def write_config(home: Path, text: str) -> Path:
    path = home / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_config_path_is_in_genretag_home_or_the_user_config_folder(genretag_home, tmp_path):
    assert run_cli("config", "path").stdout.strip() == str(genretag_home / "config.toml")
    environment = {key: value for key, value in os.environ.items() if key != "GENRETAG_HOME"}
    environment["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    done = subprocess.run(
        [sys.executable, "-m", "genretag", "config", "path"], capture_output=True, text=True, env=environment
    )
    assert done.returncode == 0 and done.stdout.strip() == str(tmp_path / "xdg" / "genretag" / "config.toml")


def test_config_show_lists_each_setting_and_where_it_came_from(genretag_home):
    path = write_config(genretag_home, 'model = "v-kernel"\nid3-version = 3\n\n[tag]\nmin-confidence = 0.7\n')
    shown = run_cli("config", "show")
    assert shown.returncode == 0, shown.stderr
    header, *lines = shown.stdout.splitlines()
    assert header == "command\toption\tvalue\tsource"
    rows = {tuple(line.split("\t")[:2]): line.split("\t")[2:] for line in lines}
    assert rows[("tag", "--model")] == ["v-kernel", f"{path}:1"]
    assert rows[("scan", "--model")] == ["v-kernel", f"{path}:1"]
    assert rows[("tag", "--id3-version")] == ["3", f"{path}:2"]
    assert rows[("tag", "--min-confidence")] == ["0.7", f"{path}:5"]
    assert rows[("tag", "--policy")] == ["fill", "default"]
    assert rows[("scan", "--top-k")] == ["2", "default"]


def test_unknown_keys_and_bad_values_name_the_file_and_line(genretag_home):
    path = write_config(genretag_home, '# my settings\nmodel = "crnn"\ncolour = "blue"\n')
    for command in (["models"], ["config", "show"]):
        done = run_cli(*command)
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith(f"error: {path}:3: unknown key 'colour' (keys are long option names: model,")
    assert run_cli("config", "path").returncode == 0  # a broken file does not hide where it is

    write_config(genretag_home, "[tag]\npolicy = 'fill'\nmin-confidence = 2\n")
    done = run_cli("models")
    assert done.returncode == 2 and f"error: {path}:3: min-confidence = 2: expected a number from 0 to 1" in done.stderr

    write_config(genretag_home, "jobs = -1\n")
    assert f"{path}:1: jobs = -1: expected a whole number ≥ 0 (0: all cores)" in run_cli("models").stderr

    write_config(genretag_home, "\n[tagging]\ntop-k = 2\n")
    assert f"{path}:2: unknown table [tagging]" in run_cli("models").stderr

    write_config(genretag_home, "model = crnn\n")
    done = run_cli("models")
    assert done.returncode == 2 and f"error: {path}: not valid TOML" in done.stderr and "line 1" in done.stderr


def test_the_command_line_overrides_the_config_file(genretag_home, tmp_path):
    track = tmp_path / "track.flac"
    soundfile.write(track, excerpt(VIBE_ACE, 10, 11), RATE)
    write_config(genretag_home, f'model = "{MODEL}"\nformat = "tsv"\n[tag]\nmin-confidence = 1.0\n')

    scanned = run_cli("scan", str(track))  # the model from the file
    assert scanned.returncode == 0, scanned.stderr
    assert scanned.stdout.splitlines()[0].startswith("path\tgenre")

    from_file = run_cli("tag", str(track))
    assert from_file.returncode == 0, from_file.stderr
    assert f"model: {MODEL} (from the config file)" in from_file.stderr
    assert from_file.stdout.splitlines()[1].split("\t")[5:7] == ["skip", "low confidence"]

    overridden = run_cli("tag", str(track), "--min-confidence", "0", "--format", "json")
    assert overridden.returncode == 0, overridden.stderr
    assert '"action": "write"' in overridden.stdout

    other_model = run_cli("export", "--model", "crnn")  # the command line's model, not the file's
    assert other_model.returncode == 2 and "no stored results of model 'crnn'" in other_model.stderr


def test_an_unknown_model_names_the_line_keys_get_a_suggestion_and_jobs_0_is_all_cores(genretag_home, tmp_path):
    path = write_config(genretag_home, '# mine\n[scan]\nmodel = "nosuch"\n')
    track = tmp_path / "a.flac"
    soundfile.write(track, excerpt(VIBE_ACE, 10, 11), RATE)
    done = run_cli("scan", str(track))
    assert done.returncode == 2
    assert done.stderr.startswith(f"error: {path}:3: model = 'nosuch': unknown model 'nosuch'"), done.stderr
    assert run_cli("models").returncode == 0  # `models` has no --model: the setting is not its business

    write_config(genretag_home, "min-confidance = 0.3\n")
    assert "unknown key 'min-confidance' (did you mean 'min-confidence'? keys are" in run_cli("models").stderr
    write_config(genretag_home, "[tagg]\ntop-k = 2\n")
    assert "unknown table [tagg] (did you mean 'tag'? tables are" in run_cli("models").stderr

    write_config(genretag_home, f'jobs = 0\nmodel = "{MODEL}"\n')  # as the beets plugin's `jobs: 0`: all cores
    scanned = run_cli("scan", str(track))
    assert scanned.returncode == 0, scanned.stderr
    assert run_cli("scan", str(track), "--jobs", "0").returncode == 0
