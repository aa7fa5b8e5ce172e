"""`genretag scan` end to end: real audio in several containers, damaged files, the store, Ctrl-C."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas
import pytest
import torch
from conftest import BRAHMS, VIBE_ACE, excerpt, write_audio
from typer.testing import CliRunner

from genretag import config, scan, store
from genretag.cli import app
from genretag.genres import GTZAN_GENRES
from genretag.report import SEGMENT_COLUMNS, TRACK_COLUMNS
from genretag.weights import DEFAULT_MODEL, resolve_model

RATE = 22_050


GOOD = [
    "jazz.mp3",
    "jazz.flac",
    "strings.ogg",
    "strings.opus",
    "jazz.m4a",
    "strings.wav",
    "Café del Mar/Niño — ü 1.flac",
]
BAD = ["corrupt.ogg", "empty.flac", "notes.mp3", "silence.flac"]
TRUNCATED = "cut off.mp3"


@pytest.fixture(scope="module")
def mixed_library(tmp_path_factory) -> Path:
    """Good files in six containers, a truncated MP3, damaged files, and things the walk must skip."""
    root = tmp_path_factory.mktemp("library")
    jazz, strings = excerpt(VIBE_ACE, 10, 12), excerpt(BRAHMS, 5, 12)
    for name in GOOD:
        write_audio(root / name, jazz if "jazz" in name or "ü" in name else strings)
    full = write_audio(root / "whole.mp3", excerpt(VIBE_ACE, 0, 24)).read_bytes()
    (root / "whole.mp3").unlink()
    (root / TRUNCATED).write_bytes(full[: len(full) // 2])
    (root / "corrupt.ogg").write_bytes(b"OggS" + np.random.default_rng(0).bytes(6000))
    (root / "empty.flac").write_bytes(b"")
    (root / "notes.mp3").write_text("shopping list: not audio at all\n" * 40)
    write_audio(root / "silence.flac", np.zeros(12 * RATE, dtype=np.float32))
    write_audio(root / ".hidden" / "secret.flac", jazz)
    write_audio(root / ".dotfile.wav", jazz)
    (root / "cover.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    return root


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genretag", *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def test_scan_classifies_every_container_and_reports_each_bad_file(mixed_library, tmp_path):
    tracks_csv, segments_csv, report_json = tmp_path / "t.csv", tmp_path / "s.csv", tmp_path / "r.json"
    done = run_cli(
        "scan", str(mixed_library), "--jobs", "2", "--format", "table",
        "--csv", str(tracks_csv), "--segments-csv", str(segments_csv), "--json", str(report_json),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr

    tracks = pandas.read_csv(tracks_csv)
    assert list(tracks.columns) == list(TRACK_COLUMNS)
    rows = {
        Path(path).relative_to(mixed_library).as_posix(): row
        for path, row in zip(tracks.path, tracks.to_dict("records"), strict=True)
    }
    assert sorted(rows) == sorted([*GOOD, TRUNCATED, *BAD])  # hidden files and cover.jpg are not scanned
    for name in [*GOOD, TRUNCATED]:
        row = rows[name]
        assert row["genre"] in GTZAN_GENRES and pandas.isna(row["error"]), name
        assert 0 < row["confidence_2"] <= row["confidence"] <= 1
        assert row["model"] == DEFAULT_MODEL
    for name in GOOD:
        assert rows[name]["duration_s"] == pytest.approx(12, abs=0.1) and rows[name]["n_segments"] == 1
    assert 4 < rows[TRUNCATED]["duration_s"] < 20
    for name in BAD:
        assert pandas.isna(rows[name]["genre"]) and rows[name]["error"] and rows[name]["n_segments"] == 0
    assert rows["empty.flac"]["error"] == "empty file (0 bytes)"
    assert rows["silence.flac"]["error"] == "silent: no 10 s segment is louder than -60 dBFS RMS"

    # stderr: one line per problem, naming the file; nothing from native decoders
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert lines[0] == f"model: {DEFAULT_MODEL} (the default model)"  # which model, first
    lines = lines[1:]
    assert sorted(line.split(":")[0] for line in lines) == ["error"] * 4 + ["warning"], done.stderr
    for name in BAD:
        assert sum(name in line for line in lines if line.startswith("error: ")) == 1
    assert any(TRUNCATED in line and "truncated" in line for line in lines if line.startswith("warning: "))
    assert "12 tracks: 8 classified, 4 failed, 1 with warnings; 12 analysed, 0 from the store" in done.stdout
    assert "× realtime" in done.stdout and "Niño" in done.stdout

    segments = pandas.read_csv(segments_csv)
    assert list(segments.columns) == [*SEGMENT_COLUMNS, *GTZAN_GENRES]
    assert len(segments) == tracks.n_segments.sum()
    assert np.allclose(segments[list(GTZAN_GENRES)].sum(axis=1), 1, atol=1e-3)

    records = json.loads(report_json.read_text(encoding="utf-8"))["tracks"]
    assert len(records) == len(tracks)
    for record in records:
        assert list(record) == [
            "path",
            "genre",
            "confidence",
            "probabilities",
            "duration_s",
            "model",
            "error",
            "none_of_these",
            "segments",
        ]
        if record["error"] is None:
            assert list(record["probabilities"]) == list(GTZAN_GENRES)
            assert record["genre"] == max(record["probabilities"], key=record["probabilities"].get)
            for segment in record["segments"]:
                assert list(segment) == ["start_s", "end_s", "genre", "probabilities", "none_of_these"]
        else:
            assert record["genre"] is None and record["segments"] == []


def analyses(home: Path) -> dict[str, tuple[int, float]]:
    """Path → (times analysed, time of latest analysis), read from the store."""
    with sqlite3.connect(home / "genretag.sqlite") as connection:
        rows = connection.execute("SELECT path, analyses, analysed_at FROM track_results").fetchall()
    return {path: (count, at) for path, count, at in rows}


def wait_for_a_first_analysis(home: Path, seconds: float = 90) -> None:
    """Return once a running scan has stored its first result in ``home``'s store (or after ``seconds``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(sqlite3.OperationalError):  # the scan may not have created the tables yet
            if (home / "genretag.sqlite").exists() and analyses(home):
                return
        time.sleep(0.02)


def interrupted_after_a_first_result(command: list[str], home: Path) -> tuple[int, str]:
    """Run ``command``, Ctrl-C it once it has stored a first result; (exit code, stderr)."""
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # A shell without job control starts background jobs with SIGINT ignored, and Python keeps
        # an ignored SIGINT ignored: give the scan the default disposition a terminal would.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    wait_for_a_first_analysis(home)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr


def small_library(root: Path) -> list[Path]:
    music = excerpt(VIBE_ACE, 10, 11)
    files = [write_audio(root / name, music) for name in ("a/one.flac", "a/two.ogg", "b/three.wav")]
    (root / "b" / "bad.mp3").write_text("not audio")
    return [*files, root / "b" / "bad.mp3"]


def test_rescan_analyses_nothing_and_a_touched_file_exactly_once(tmp_path, genretag_home):
    files = small_library(tmp_path / "lib")
    runner = CliRunner()
    first = runner.invoke(app, ["scan", str(tmp_path / "lib"), "--jobs", "2"])
    assert first.exit_code == 1, first.output
    stored = analyses(genretag_home)
    assert sorted(stored) == sorted(map(str, files)) and {count for count, _ in stored.values()} == {1}

    again = runner.invoke(app, ["scan", str(tmp_path / "lib"), "--jobs", "2"])
    assert again.exit_code == 1  # the stored failure still counts
    assert "0 analysed, 4 from the store" in again.output
    assert "bad.mp3" in again.stderr and "(stored result)" in again.stderr
    assert analyses(genretag_home) == stored

    touched = files[1]
    os.utime(touched, ns=(touched.stat().st_atime_ns, touched.stat().st_mtime_ns + 2_000_000_000))
    third = runner.invoke(app, ["scan", str(tmp_path / "lib"), "--jobs", "2"])
    assert "1 analysed, 3 from the store" in third.output
    after = analyses(genretag_home)
    assert {path for path in after if after[path] != stored[path]} == {str(touched)}
    assert after[str(touched)][0] == 2

    forced = runner.invoke(app, ["scan", str(files[0]), "--jobs", "2", "--no-cache"])
    assert forced.exit_code == 0 and analyses(genretag_home)[str(files[0])][0] == 2
    with store.connect() as connection:
        assert store.last_scan_roots(connection) == [files[0]]


def test_the_largest_files_are_analysed_first(tmp_path, genretag_home):
    # So that no worker is left alone with a long track at the end of a scan. One worker
    # (jobs=1) analyses them in dispatch order.
    music = excerpt(VIBE_ACE, 0, 30)
    for name, seconds in (("a.flac", 5), ("b.flac", 25), ("c.flac", 12), ("d.flac", 30)):
        write_audio(tmp_path / "lib" / name, music[: int(seconds * 22_050)])
    with store.connect() as connection:
        model = resolve_model(None)
        events = list(
            scan.scan_files(sorted((tmp_path / "lib").iterdir()), model, connection, scan.ScanOptions(jobs=1))
        )
    assert [Path(event.result.path).name for event in events] == ["d.flac", "b.flac", "c.flac", "a.flac"]


def test_interrupted_scan_keeps_finished_tracks_and_resumes(tmp_path, genretag_home):
    tracks = 10  # the scan is interrupted once one is stored: nine are still to do then
    library = tmp_path / "big"
    write_audio(library / "000.wav", excerpt(VIBE_ACE, 0, 11))  # one segment a track
    for index in range(1, tracks):
        os.link(library / "000.wav", library / f"{index:03d}.wav")  # same audio, separate paths
    returncode, stderr = interrupted_after_a_first_result(
        [sys.executable, "-m", "genretag", "scan", str(library), "--jobs", "2"], genretag_home
    )
    assert returncode == 130, stderr
    assert "interrupted:" in stderr and "Traceback" not in stderr
    finished = analyses(genretag_home)
    assert 1 <= len(finished) < tracks

    resumed = run_cli("scan", str(library), "--jobs", "2")
    assert resumed.returncode == 0, resumed.stderr
    assert f"{tracks - len(finished)} analysed, {len(finished)} from the store" in resumed.stderr
    after = analyses(genretag_home)
    assert len(after) == tracks and {count for count, _ in after.values()} == {1}
    assert {path: after[path] for path in finished} == finished


def test_sigterm_stops_a_scan_like_ctrl_c_and_leaves_no_process_behind(tmp_path, genretag_home):
    import psutil

    library = tmp_path / "big"
    write_audio(library / "000.wav", excerpt(VIBE_ACE, 0, 11))
    for index in range(1, 10):
        os.link(library / "000.wav", library / f"{index:03d}.wav")
    database = genretag_home / "genretag.sqlite"
    process = subprocess.Popen(
        [sys.executable, "-m", "genretag", "scan", str(library), "--jobs", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    wait_for_a_first_analysis(genretag_home)
    children = psutil.Process(process.pid).children(recursive=True)  # workers and resource trackers
    assert children

    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode == 143, stderr
    assert "interrupted:" in stderr and "run the same scan again to resume" in stderr and "Traceback" not in stderr
    _, alive = psutil.wait_procs(children, timeout=20)
    assert alive == [], [(child.pid, child.cmdline()) for child in alive]
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT COUNT(*) FROM scan_claims").fetchone()[0] == 0
    resumed = run_cli("scan", str(library), "--jobs", "2")
    assert resumed.returncode == 0, resumed.stderr


def test_two_scans_at_once_share_the_store_without_damage(tmp_path, genretag_home):
    files = small_library(tmp_path / "lib")
    command = [sys.executable, "-m", "genretag", "scan", str(tmp_path / "lib"), "--jobs", "2"]
    scans = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outcomes = [scan.communicate(timeout=120) for scan in scans]
    assert [scan.returncode for scan in scans] == [1, 1], outcomes  # bad.mp3 fails in both
    stored = analyses(genretag_home)
    assert sorted(stored) == sorted(map(str, files))
    with sqlite3.connect(genretag_home / "genretag.sqlite") as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        segments = connection.execute("SELECT path, count(*) FROM segment_results GROUP BY path").fetchall()
    assert dict(segments) == {str(path): 1 for path in files[:3]}  # 11 s: one segment each, no duplicates


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--whole-track"], "--whole-track needs the bicrnn architecture"),
        (["--model", "no-such-model"], "unknown model 'no-such-model'"),
        (["--top-k", "11"], "--top-k 11 is more than the model's 10 genres"),
    ],
)
def test_usage_errors_exit_2_with_one_line(tmp_path, arguments, message):
    write_audio(tmp_path / "a.wav", excerpt(VIBE_ACE, 0, 3))
    result = CliRunner().invoke(app, ["scan", str(tmp_path), *arguments])
    assert result.exit_code == 2 and message in result.stderr


def test_missing_path_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(app, ["scan", str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "nowhere: no such file or folder" in result.stderr


def test_whole_track_pass_with_a_bicrnn_user_model(tmp_path, genretag_home):
    import torch

    from genretag import audio, models, weights

    card = {"architecture": "bicrnn", "genres": list(GTZAN_GENRES)}
    weights.save_model(models.build("bicrnn"), "my-bicrnn", config.user_models_dir(), card)
    track = write_audio(tmp_path / "song.flac", excerpt(VIBE_ACE, 0, 25))
    report = tmp_path / "r.json"
    result = CliRunner().invoke(
        app, ["scan", str(track), "--model", "my-bicrnn", "--whole-track", "--jobs", "2", "--json", str(report)]
    )
    assert result.exit_code == 0, result.output
    [record] = json.loads(report.read_text())["tracks"]
    assert len(record["segments"]) == 3 and record["model"] == "my-bicrnn"
    # The track's probabilities come from one pass over the two contiguous segments joined in time.
    loaded = weights.load_model("my-bicrnn")
    mels = audio.log_mel(audio.segment_array(audio.load(track))[:2])
    expected = loaded.predict(torch.cat(list(mels), dim=-1)[None])[0]
    np.testing.assert_allclose(list(record["probabilities"].values()), expected, atol=1e-4)
    with store.connect() as connection:
        assert connection.execute("SELECT whole_track FROM track_results").fetchall() == [(1,)]


def test_new_weights_under_the_same_model_name_make_its_stored_results_stale(tmp_path, genretag_home):
    import shutil

    from genretag import weights

    card = json.loads((weights.shipped_weights_dir() / f"{DEFAULT_MODEL}.json").read_text())
    card["name"] = "mine"
    config.user_models_dir().mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights.shipped_weights_dir() / f"{DEFAULT_MODEL}.pt", config.user_models_dir() / "mine.pt")
    card_path = config.user_models_dir() / "mine.json"
    card_path.write_text(json.dumps(card))
    track = write_audio(tmp_path / "lib" / "song.flac", excerpt(VIBE_ACE, 0, 12))
    report = tmp_path / "r.json"
    scan = ["scan", str(track), "--model", "mine", "--jobs", "1", "--json", str(report)]
    runner = CliRunner()
    assert runner.invoke(app, scan).exit_code == 0
    before = json.loads(report.read_text())["tracks"][0]["probabilities"]
    assert "0 analysed, 1 from the store" in runner.invoke(app, scan).output

    # The model retrained under the same name: its results are keyed by the weights' sha256.
    state = torch.load(config.user_models_dir() / "mine.pt")
    last_bias = [key for key in state if key.endswith("bias")][-1]
    state[last_bias] = state[last_bias] + torch.linspace(-1.0, 1.0, state[last_bias].numel())
    torch.save(state, config.user_models_dir() / "mine.pt")
    card["sha256"] = weights.sha256_of(config.user_models_dir() / "mine.pt")
    card_path.write_text(json.dumps(card))
    again = runner.invoke(app, scan)
    assert "1 analysed, 0 from the store" in again.output
    after = json.loads(report.read_text())["tracks"][0]["probabilities"]
    assert after.keys() == before.keys() and after != before


def test_an_interrupted_no_cache_scan_says_how_to_resume_and_that_resumes(tmp_path, genretag_home):
    tracks = 10
    library = tmp_path / "big"
    write_audio(library / "000.wav", excerpt(VIBE_ACE, 0, 11))
    for index in range(1, tracks):
        os.link(library / "000.wav", library / f"{index:03d}.wav")
    command = [sys.executable, "-m", "genretag", "scan", str(library), "--model", "v-kernel", "--jobs", "1"]
    returncode, stderr = interrupted_after_a_first_result([*command, "--no-cache"], genretag_home)
    assert returncode == 130, stderr
    assert "run the scan again without --no-cache to resume" in stderr
    finished = analyses(genretag_home)
    assert 1 <= len(finished) < tracks
    resumed = run_cli(*command[3:])  # what the message says: the same scan, without --no-cache
    assert resumed.returncode == 0, resumed.stderr
    assert f"{tracks - len(finished)} analysed, {len(finished)} from the store" in resumed.stderr


def test_whole_track_and_segment_results_of_one_model_are_both_kept(tmp_path, genretag_home):
    track = write_audio(tmp_path / "song.flac", excerpt(VIBE_ACE, 0, 25))
    segment_mode = ["scan", str(track), "--model", "bicrnn", "--jobs", "1"]
    for arguments, summary in (
        (segment_mode, "1 analysed, 0 from the store"),
        ([*segment_mode, "--whole-track"], "1 analysed, 0 from the store"),
        (segment_mode, "0 analysed, 1 from the store"),  # the whole-track pass did not evict it
        ([*segment_mode, "--whole-track"], "0 analysed, 1 from the store"),  # nor the other way round
    ):
        done = run_cli(*arguments)
        assert done.returncode == 0, done.stderr
        assert summary in done.stderr, (arguments, done.stderr)
    with store.connect() as connection:
        rows = connection.execute("SELECT model, whole_track, analyses FROM track_results ORDER BY model").fetchall()
    assert rows == [("bicrnn", 0, 1), ("bicrnn+whole-track", 1, 1)]
