"""Report schemas (CSV, JSON), `genretag export` from the store, and `genretag timeline`."""

from __future__ import annotations

import io
import json
import os

import numpy as np
import pandas
import pytest
import soundfile
from conftest import BRAHMS
from typer.testing import CliRunner

from genretag import report, store
from genretag.cli import app
from genretag.results import TrackResult

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def result_with(path, rows) -> TrackResult:
    probabilities = np.array(rows, dtype=np.float32)
    bounds = [(10.0 * i, 10.0 * i + 10.0) for i in range(len(rows))]
    return TrackResult(
        path=str(path),
        model="v-kernel",
        genres=("classical", "jazz", "rock"),
        duration_s=10.0 * len(rows),
        segment_bounds=bounds,
        segment_probabilities=probabilities,
        probabilities=probabilities.mean(axis=0),
    )


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = result_with(tmp_path / "music" / "a.flac", [[0.88, 0.10, 0.02], [0.2, 0.7, 0.1]])
    failed = TrackResult(path="/elsewhere/b.mp3", model="v-kernel", genres=good.genres, error="no audio stream")
    return [good, failed]


def test_tracks_csv_schema_and_values(results):
    buffer = io.StringIO()
    report.write_csv(report.tracks_frame(results), buffer)
    lines = buffer.getvalue().splitlines()
    assert lines[0] == "path,genre,confidence,genre_2,confidence_2,duration_s,n_segments,model,error,none_of_these"
    assert lines[1] == "music/a.flac,classical,0.54,jazz,0.4,20.0,2,v-kernel,,False"
    assert lines[2] == "/elsewhere/b.mp3,,,,,0.0,0,v-kernel,no audio stream,"


def test_segments_csv_has_one_row_per_segment_and_a_column_per_genre(results):
    frame = report.segments_frame(results)
    assert list(frame.columns) == [
        "path",
        "segment",
        "start_s",
        "end_s",
        "genre",
        "confidence",
        "none_of_these",
        "classical",
        "jazz",
        "rock",
    ]
    assert frame.to_dict("records") == [
        {"path": "music/a.flac", "segment": 0, "start_s": 0.0, "end_s": 10.0, "genre": "classical",
         "confidence": 0.88, "none_of_these": False, "classical": 0.88, "jazz": 0.1, "rock": 0.02},
        {"path": "music/a.flac", "segment": 1, "start_s": 10.0, "end_s": 20.0, "genre": "jazz",
         "confidence": 0.7, "none_of_these": False, "classical": 0.2, "jazz": 0.7, "rock": 0.1},
    ]  # fmt: skip


def test_json_report_schema(results, tmp_path):
    destination = tmp_path / "report.json"
    report.write_json(report.track_records(results), destination)
    document = json.loads(destination.read_text(encoding="utf-8"))
    assert (document["schema"], document["kind"]) == (1, "tracks")
    good, failed = document["tracks"]
    assert good == {
        "path": "music/a.flac",
        "genre": "classical",
        "confidence": 0.54,
        "probabilities": {"classical": 0.54, "jazz": 0.4, "rock": 0.06},
        "duration_s": 20.0,
        "model": "v-kernel",
        "error": None,
        "none_of_these": False,
        "segments": [
            {"start_s": 0.0, "end_s": 10.0, "genre": "classical",
             "probabilities": {"classical": 0.88, "jazz": 0.1, "rock": 0.02}, "none_of_these": False},
            {"start_s": 10.0, "end_s": 20.0, "genre": "jazz",
             "probabilities": {"classical": 0.2, "jazz": 0.7, "rock": 0.1}, "none_of_these": False},
        ],
    }  # fmt: skip
    assert failed == {
        "path": "/elsewhere/b.mp3", "genre": None, "confidence": None, "probabilities": {},
        "duration_s": 0.0, "model": "v-kernel", "error": "no audio stream", "none_of_these": None, "segments": [],
    }  # fmt: skip


def test_summary_counts_genres_failures_and_speed(results):
    summary = report.summarise(results, analysed_paths={results[0].path}, wall_s=4.0)
    assert summary.genre_counts == {"classical": 1}
    assert (summary.tracks, summary.failures, summary.analysed, summary.from_store) == (2, 1, 1, 1)
    assert summary.realtime_factor == pytest.approx(20.0 / 4.0)


@pytest.fixture
def scanned(tmp_path, monkeypatch):
    """Two real clips scanned into the store; the working directory is their parent."""
    monkeypatch.chdir(tmp_path)
    with soundfile.SoundFile(BRAHMS) as handle:
        samples = handle.read(int(25 * handle.samplerate), dtype="float32")
        rate = handle.samplerate
    for name in ("lib/one/strings.flac", "lib/two/strings.ogg"):
        (tmp_path / name).parent.mkdir(parents=True)
        soundfile.write(tmp_path / name, samples, rate)
    result = CliRunner().invoke(app, ["scan", "lib", "--jobs", "2", "--json", "scan.json"])
    assert result.exit_code == 0, result.output
    return tmp_path


def test_export_writes_the_scan_reports_from_the_store(scanned):
    runner = CliRunner()
    (scanned / "out").mkdir()
    result = runner.invoke(app, ["export", "--json", "out/export.json", "--segments-csv", "segments.csv"])
    assert result.exit_code == 0, result.output
    assert json.loads((scanned / "out" / "export.json").read_text()) == json.loads((scanned / "scan.json").read_text())
    assert len(pandas.read_csv(scanned / "segments.csv")) == 2 * 3

    only_one = runner.invoke(app, ["export", "lib/two"])
    assert only_one.exit_code == 0
    assert pandas.read_csv(io.StringIO(only_one.stdout)).n_segments.tolist() == [3]
    assert only_one.stdout.splitlines()[1:] and [line.split(",")[0] for line in only_one.stdout.splitlines()] == [
        "path",
        "lib/two/strings.ogg",
    ]
    nothing = runner.invoke(app, ["export", "lib", "--model", "bicrnn"])
    assert nothing.exit_code == 2 and "no stored results of model 'bicrnn'" in nothing.stderr


def test_a_report_on_stdout_moves_the_table_to_stderr(scanned):
    result = CliRunner().invoke(app, ["scan", "lib", "--jobs", "2", "--csv", "-"])
    assert result.exit_code == 0, result.output
    tracks = pandas.read_csv(io.StringIO(result.stdout))
    assert list(tracks.columns) == list(report.TRACK_COLUMNS) and tracks.n_segments.tolist() == [3, 3]
    assert "2 tracks: 2 classified" in result.stderr and "one/strings.flac" in result.stderr
    model_line, rest = result.stderr.split("\n", 1)
    assert model_line.startswith("model: ")  # which model, first
    assert rest.startswith(f"under lib{os.sep}\n")  # the table's paths are relative to their folder


def test_timeline_shows_segments_and_writes_a_png(scanned):
    plot = scanned / "timeline.png"
    result = CliRunner().invoke(app, ["timeline", "lib/one/strings.flac", "--plot", str(plot)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("lib/one/strings.flac: ") and "3 segments of 10 s, 0:25" in lines[0]
    for start_end in ("0:00–0:10", "0:10–0:20", "0:15–0:25"):
        assert any(line.startswith(start_end) for line in lines)
    data = plot.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1000, 360)


def test_timeline_analyses_an_unscanned_file_and_reports_a_bad_one(tmp_path):
    with soundfile.SoundFile(BRAHMS) as handle:
        soundfile.write(tmp_path / "short.wav", handle.read(int(4 * handle.samplerate)), handle.samplerate)
    (tmp_path / "bad.flac").write_text("not audio")
    runner = CliRunner()
    good = runner.invoke(app, ["timeline", str(tmp_path / "short.wav")])
    assert good.exit_code == 0 and "1 segment of 10 s, 0:04" in good.stdout
    bad = runner.invoke(app, ["timeline", str(tmp_path / "bad.flac")])
    assert bad.exit_code == 1 and bad.stderr.startswith("error: ") and "bad.flac" in bad.stderr


def test_a_report_into_a_missing_folder_is_a_usage_error_before_any_work(tmp_path, monkeypatch):
    from genretag import config

    monkeypatch.chdir(tmp_path)
    track = tmp_path / "a.flac"
    with soundfile.SoundFile(BRAHMS) as handle:
        soundfile.write(track, handle.read(int(12 * handle.samplerate), dtype="float32"), handle.samplerate)
    missing = tmp_path / "nonexistent"
    runner = CliRunner()
    for arguments in (
        ["scan", str(track), "--model", "v-kernel", "--csv", f"{missing}/x.csv"],
        ["scan", str(track), "--model", "v-kernel", "--segments-csv", f"{missing}/s.csv"],
        ["scan", str(track), "--model", "v-kernel", "--json", f"{missing}/x.json"],
        ["export", "--csv", f"{missing}/x.csv"],
        ["report", str(track), "--model", "v-kernel", "--html", f"{missing}/r.html"],
        ["timeline", str(track), "--model", "v-kernel", "--plot", f"{missing}/t.png"],
    ):
        result = runner.invoke(app, arguments)
        assert result.exit_code == 2, (arguments, result.output)
        assert f"no such folder {missing}" in result.stderr, arguments
    assert not missing.exists()
    assert not config.database_path().exists() or not store.stored_results("v-kernel", None)  # nothing analysed
