"""What the command line shows and how it ends: listings that fit the terminal (whole paths and model
names), TSV or JSON for scripts, the model a command uses, exit codes, a closed pipe, `--help`, plurals,
and `.au`/`.snd` files. Real audio, a real store, real subprocesses of the CLI; `v-kernel` named where a
model runs (small and quick)."""

from __future__ import annotations

import json
import os
import pty
import select
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import soundfile
from conftest import VIBE_ACE, excerpt

from genretag import config, store
from genretag.library import walk_audio_files

RATE = 22_050
MODEL = "v-kernel"
LONG_FOLDER = "warzone2100_original_soundtrack_disc_one_remastered"
LONG_NAMES = [
    "01_aftermath_soundtrack_main_theme_extended_version.flac",
    "02_another_very_long_track_name_that_never_ends.wav",
]


def run_cli(*args: str, columns: int = 80, timeout: float = 180) -> subprocess.CompletedProcess:
    environment = {**os.environ, "COLUMNS": str(columns), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "genretag", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=environment,
    )


def long_named_library(root: Path, seconds: float = 11.0) -> Path:
    """Two real recordings' excerpts under long file and folder names."""
    folder = root / "games-all" / LONG_FOLDER
    folder.mkdir(parents=True)
    samples = excerpt(VIBE_ACE, 0, seconds)
    for name in LONG_NAMES:
        soundfile.write(folder / name, samples, RATE)
    return root / "games-all"


def first_column(table: str, header: str, next_header: str) -> str:
    """The text of a table's first column, its folded lines joined."""
    lines = table.splitlines()
    header_line = next(line for line in lines if header in line and next_header in line)
    end = header_line.index(next_header)
    cells = []
    for line in lines[lines.index(header_line) + 1 :]:
        if line.startswith("─"):
            continue
        if not line.startswith(" "):  # below the table
            break
        cells.append(line[:end].strip())
    return "".join(cells)


# ---------------------------------------------------------------- models


def write_user_card(home: Path, name: str) -> None:
    """A user model card with held-out figures (``metrics.selection``), as a shipped card carries them."""
    card = json.loads((Path(__file__).resolve().parents[2] / "weights" / "crnn.json").read_text())
    card["name"] = name
    card["metrics"] = {"selection": {"accuracy": 0.5514, "accuracy_95": [0.4573, 0.6421], "tracks": 107}}
    models = config.user_models_dir(home)
    models.mkdir(parents=True, exist_ok=True)
    (models / f"{name}.json").write_text(json.dumps(card))


def test_models_lists_one_line_per_model_with_whole_names_and_the_default_marked(genretag_home):
    name = "a-user-model-with-a-very-long-name"
    write_user_card(genretag_home, name)
    from genretag.weights import DEFAULT_MODEL, list_cards

    names = [card["name"] for card in list_cards()]

    piped = run_cli("models")  # stdout is a pipe: TSV with a header
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    header = lines[0].split("\t")
    assert header == [
        "name", "default", "architecture", "parameters", "x_realtime",
        "accuracy", "accuracy_low", "accuracy_high", "measured_on", "source",
    ]  # fmt: skip
    rows = [dict(zip(header, line.split("\t"), strict=True)) for line in lines[1:]]
    assert [row["name"] for row in rows] == names
    assert [row["name"] for row in rows if row["default"] == "true"] == [DEFAULT_MODEL]
    user = next(row for row in rows if row["name"] == name)
    assert (user["accuracy"], user["accuracy_low"], user["accuracy_high"]) == ("0.5514", "0.4573", "0.6421")
    assert user["measured_on"] == "107 held-out tracks"
    assert user["source"] == "user" and user["parameters"].isdigit()

    table = run_cli("models", "--format", "table", columns=80)
    assert table.returncode == 0, table.stderr
    assert "…" not in table.stdout
    assert all(len(line) <= 80 for line in table.stdout.splitlines()), table.stdout
    shipped = [card["name"] for card in list_cards() if card["source"] == "shipped"]
    rows = table.stdout.split("* the default model.")[0]  # the caption below may name models too
    model_lines = [line for line in rows.splitlines() if line.split() and line.split()[0] in shipped]
    assert len(model_lines) == len(shipped)  # one line per shipped model, even at 80 columns
    assert name in first_column(table.stdout, "name", "parameters")  # a name too long for its column folds
    assert f"{DEFAULT_MODEL} *" in table.stdout and "* the default model." in table.stdout
    assert "0.55 [0.46-0.64]," in table.stdout and "107 held-out tracks" in table.stdout

    document = json.loads(run_cli("models", "--format", "json").stdout)
    assert (document["schema"], document["kind"]) == (1, "models")
    assert [record["name"] for record in document["rows"]] == names


def test_models_name_prints_the_whole_card_and_an_unknown_name_is_a_usage_error():
    card = run_cli("models", "v-kernel")
    assert card.returncode == 0, card.stderr
    shipped = json.loads((Path(__file__).resolve().parents[2] / "weights" / "v-kernel.json").read_text())
    shown = json.loads(card.stdout)
    assert {key: shown[key] for key in shipped} == shipped
    unknown = run_cli("models", "no-such-model")
    assert unknown.returncode == 2 and "unknown model 'no-such-model'" in unknown.stderr


# ---------------------------------------------------------------- tag: whole paths, the stored model, progress


def test_tag_uses_the_model_of_the_stored_results_and_never_cuts_a_path(tmp_path):
    library = long_named_library(tmp_path)
    scanned = run_cli("scan", str(library), "--model", MODEL, "--jobs", "1")
    assert scanned.returncode == 0, scanned.stderr

    # Every proposal counts here, however unsure the calibrated model is of these 11 s excerpts.
    any_confidence = ("--min-confidence", "0")
    preview = run_cli("tag", *any_confidence, "--format", "table", columns=80)  # the last scan's paths
    assert preview.returncode == 0, preview.stderr
    assert f"model: {MODEL} (the model of the stored results for these paths)" in preview.stderr
    assert "…" not in preview.stdout
    title, *table, summary = preview.stdout.splitlines()
    assert title == f"under {library / LONG_FOLDER}{os.sep}"
    assert all(len(line) <= 80 for line in table), preview.stdout
    assert first_column(preview.stdout, "file", "genre now") == "".join(LONG_NAMES)
    assert summary.startswith("preview: 2 files to write")
    # Nothing was analysed again with another model.
    with sqlite3.connect(config.database_path()) as connection:
        models = {row[0] for row in connection.execute("SELECT model FROM track_results")}
    assert models == {MODEL}

    piped = run_cli("tag", str(library), *any_confidence)  # a pipe: TSV, paths whole, the summary on stderr
    assert piped.returncode == 0, piped.stderr
    lines = piped.stdout.splitlines()
    assert lines[0] == "path\tcurrent_genres\tproposed_genres\tproposed_probabilities\tnew_genres\taction\treason"
    assert [Path(line.split("\t")[0]).name for line in lines[1:]] == LONG_NAMES
    assert all(Path(line.split("\t")[0]).resolve().is_file() for line in lines[1:])
    assert "preview: 2 files to write" in piped.stderr and "preview" not in piped.stdout

    as_json = json.loads(run_cli("tag", str(library), *any_confidence, "--format", "json").stdout)
    assert [record["action"] for record in as_json["rows"]] == ["write", "write"]

    written = run_cli("tag", str(library / LONG_FOLDER / LONG_NAMES[0]), *any_confidence, "--write")
    assert written.returncode == 0, written.stderr
    assert "1 file written, none skipped, 0 errors" in written.stderr

    undone = run_cli("undo", "--last", "--format", "table", columns=80)
    assert undone.returncode == 0, undone.stderr
    assert LONG_NAMES[0] in undone.stdout.replace("\n", "") or LONG_NAMES[0] in first_column(
        undone.stdout, "file", "genre now"
    )
    assert "1 file restored, 0 not" in undone.stdout


def read_until_exit(leader: int, process: subprocess.Popen, seconds: float = 180) -> bytes:
    """All that ``process`` wrote to the pseudo-terminal ``leader`` until it exited (both are closed after)."""
    shown = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the process closed its end
                break
            if not chunk:
                break
            shown += chunk
        elif process.poll() is not None:
            break
    process.wait(timeout=60)
    os.close(leader)
    return shown


def test_tag_shows_the_scan_progress_bar_while_it_analyses(tmp_path):
    library = long_named_library(tmp_path, seconds=30)
    leader, follower = pty.openpty()  # stderr is a terminal, as for a user
    process = subprocess.Popen(
        [sys.executable, "-m", "genretag", "tag", str(library), "--model", MODEL, "--jobs", "1"],
        stdout=subprocess.PIPE,
        stderr=follower,
        env={**os.environ, "COLUMNS": "100", "OMP_NUM_THREADS": "1"},
    )
    os.close(follower)
    shown = read_until_exit(leader, process)
    text = shown.decode("utf-8", "replace")
    assert process.returncode == 0, text
    assert "scanning" in text and "/2 tracks" in text and "h audio" in text
    assert f"model: {MODEL}" in text


# ---------------------------------------------------------------- exit codes and messages


def test_a_scan_that_finds_no_audio_is_a_usage_error_and_not_the_last_scan(tmp_path):
    library = long_named_library(tmp_path)
    assert run_cli("scan", str(library), "--model", MODEL, "--jobs", "1").returncode == 0
    empty = tmp_path / "no music here"
    empty.mkdir()
    (empty / "notes.txt").write_text("not audio")
    nothing = run_cli("scan", str(empty), "--model", MODEL)
    assert nothing.returncode == 2
    assert f"error: no audio files under {empty}" in nothing.stderr and ".flac" in nothing.stderr
    assert nothing.stdout == ""
    connection = store.connect()
    try:
        assert store.last_scan_roots(connection) == [library]
    finally:
        connection.close()
    tag_nothing = run_cli("tag", str(empty), "--model", MODEL)
    assert tag_nothing.returncode == 2 and "no audio files" in tag_nothing.stderr


def fill_store(count: int) -> None:
    """``count`` real results in the real store (results of files that need not exist: export only reads)."""
    from genretag.results import TrackResult
    from genretag.weights import resolve_model

    identity = resolve_model(MODEL)
    rng = np.random.default_rng(0)
    connection = store.connect()
    try:
        for index in range(count):
            probabilities = rng.dirichlet(np.ones(len(identity.genres))).astype(np.float32)
            result = TrackResult(
                path=f"/music/a folder with a long name/track {index:05d}.flac",
                model=MODEL,
                genres=identity.genres,
                probabilities=probabilities,
                duration_s=180.0,
            )
            store.save_result(connection, result, store.FileStamp(1000 + index, index), identity)
    finally:
        connection.close()


def test_export_into_a_pipe_closed_early_ends_quietly():
    fill_store(3000)  # a tracks CSV of some 250 kB: more than a pipe holds
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = f"{sys.executable} -m genretag export --model {MODEL} | head -1; echo status ${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=120, env=environment)
    assert done.stdout.splitlines() == ["path,genre,confidence,genre_2,confidence_2,duration_s,n_segments,model,error,"
                                        "none_of_these",
                                        "status 0"]  # fmt: skip
    assert "Broken pipe" not in done.stderr and "Traceback" not in done.stderr and "error" not in done.stderr


def test_export_without_a_model_uses_the_stored_one_and_says_so():
    fill_store(2)
    done = run_cli("export")
    assert done.returncode == 0, done.stderr
    assert f"model: {MODEL} (the model of the stored results for these paths)" in done.stderr
    assert len(done.stdout.splitlines()) == 3


def test_usage_errors_exit_2(tmp_path):
    audio = tmp_path / "a.flac"
    soundfile.write(audio, np.zeros(RATE * 4, dtype=np.float32), RATE)
    undo = run_cli("undo", "/no/such/path")
    assert undo.returncode == 2 and "/no/such/path: no such file or folder" in undo.stderr
    for command in (
        ["export", "--model", "nosuch"],
        ["scan", str(audio), "--model", "nosuch"],
        ["tag", str(audio), "--model", "nosuch"],
        ["timeline", str(audio), "--model", "nosuch"],
    ):
        done = run_cli(*command)
        assert done.returncode == 2, (command, done.stderr)
        assert "unknown model 'nosuch'" in done.stderr, command


def test_help_shows_switches_as_switches():
    from typer.testing import CliRunner

    from genretag.cli import app

    runner = CliRunner()
    for command in ("scan", "tag", "undo", "timeline", "export", "learn", "models", "report", "config show"):
        shown = runner.invoke(app, [*command.split(), "--help"], terminal_width=100)
        assert shown.exit_code == 0, shown.output
        assert "<bool>" not in shown.output, shown.output
    tag_help = runner.invoke(app, ["tag", "--help"], terminal_width=100).output
    write_line = next(line for line in tag_help.splitlines() if line.strip().startswith("-w, --write"))
    assert write_line.split()[2] == "Write", write_line  # the help text follows the switch: no value
    # A switch takes no value: the word after it is a path.
    wrong = run_cli("scan", "--no-cache", "true", "--model", MODEL)
    assert wrong.returncode == 2 and "true: no such file or folder" in wrong.stderr


def test_one_of_a_thing_is_singular(tmp_path):
    track = tmp_path / "one segment.flac"
    soundfile.write(track, excerpt(VIBE_ACE, 10, 11), RATE)
    scanned = run_cli("scan", str(track), "--model", MODEL, "--format", "table")
    assert scanned.returncode == 0, scanned.stderr
    assert "1 track: 1 classified, 0 failed" in scanned.stdout
    timeline = run_cli("timeline", str(track))
    assert timeline.returncode == 0, timeline.stderr
    assert "1 segment of 10 s" in timeline.stdout and f"({MODEL}, " in timeline.stdout
    assert f"model: {MODEL} (the model of the stored results for these paths)" in timeline.stderr


# ---------------------------------------------------------------- .au and .snd


def test_sun_au_and_snd_files_are_audio(tmp_path):
    samples = excerpt(VIBE_ACE, 10, 11)
    (tmp_path / "gtzan").mkdir()
    for name in ("blues.00000.au", "clip.snd"):
        soundfile.write(tmp_path / "gtzan" / name, samples, RATE, format="AU")
    found = walk_audio_files([tmp_path / "gtzan"]).files
    assert [path.name for path in found] == ["blues.00000.au", "clip.snd"]
    scanned = run_cli("scan", str(tmp_path / "gtzan"), "--model", MODEL, "--format", "tsv")
    assert scanned.returncode == 0, scanned.stderr
    rows = scanned.stdout.splitlines()[1:]
    assert len(rows) == 2 and all(row.split("\t")[1] not in ("", "failed") for row in rows)
