"""Listings for scripts: JSON and TSV with typed fields (numbers as numbers, null for none, a genre and its
probability in separate fields) and a schema version. Real audio, a real store, the real CLI in a subprocess."""

from __future__ import annotations

import json

import soundfile
from conftest import VIBE_ACE, excerpt
from test_cli_output import MODEL, RATE, run_cli


def test_scan_json_and_tsv_are_typed_with_a_schema_version(tmp_path):
    (tmp_path / "lib").mkdir()
    soundfile.write(tmp_path / "lib" / "a.flac", excerpt(VIBE_ACE, 10, 11), RATE)
    (tmp_path / "lib" / "b.mp3").write_bytes(b"not audio at all" * 64)

    as_json = run_cli("scan", str(tmp_path / "lib"), "--model", MODEL, "--format", "json", "--top-k", "3")
    assert as_json.returncode == 1, as_json.stderr  # one file failed
    document = json.loads(as_json.stdout)
    assert (document["schema"], document["kind"]) == (1, "scan")
    good, failed = document["rows"]
    assert list(good) == [
        "path", "genre", "confidence", "genre_2", "confidence_2", "genre_3", "confidence_3", "none_of_these",
        "error", "warning",
    ]  # fmt: skip
    assert isinstance(good["confidence"], float) and isinstance(good["confidence_2"], float)
    assert good["genre_2"] and " " not in good["genre_2"]  # the genre alone, its probability beside it
    assert good["confidence"] >= good["confidence_2"] >= good["confidence_3"]
    assert good["error"] is None and good["warning"] is None and good["none_of_these"] is False
    assert failed["genre"] is None and failed["confidence"] is None and isinstance(failed["error"], str)

    as_tsv = run_cli("scan", str(tmp_path / "lib"), "--model", MODEL, "--format", "tsv")
    header, *lines = as_tsv.stdout.splitlines()
    assert header.split("\t") == [
        "path", "genre", "confidence", "genre_2", "confidence_2", "none_of_these", "error", "warning",
    ]  # fmt: skip
    row = dict(zip(header.split("\t"), lines[0].split("\t"), strict=True))
    assert float(row["confidence"]) == round(good["confidence"], 4) and row["error"] == ""
    assert row["genre_2"] == good["genre_2"] and float(row["confidence_2"]) == round(good["confidence_2"], 4)


def test_models_tag_and_config_json_hold_numbers_booleans_lists_and_nulls(tmp_path):
    models = json.loads(run_cli("models", "--format", "json").stdout)["rows"]
    assert all(isinstance(row["parameters"], int) and isinstance(row["default"], bool) for row in models)
    assert sum(row["default"] for row in models) == 1
    assert all(row["x_realtime"] is None or isinstance(row["x_realtime"], float) for row in models)

    track = tmp_path / "a.flac"
    soundfile.write(track, excerpt(VIBE_ACE, 10, 11), RATE)
    tagged = run_cli("tag", str(track), "--model", MODEL, "--min-confidence", "0", "--format", "json")
    assert tagged.returncode == 0, tagged.stderr
    document = json.loads(tagged.stdout)
    assert (document["schema"], document["kind"]) == (1, "tag")
    [row] = document["rows"]
    assert row["current_genres"] == [] and row["action"] == "write" and row["reason"] is None
    assert len(row["proposed_genres"]) == len(row["proposed_probabilities"]) == 1
    assert isinstance(row["proposed_probabilities"][0], float) and row["new_genres"] == row["proposed_genres"]

    settings = json.loads(run_cli("config", "show", "--format", "json").stdout)
    assert settings["kind"] == "settings"
    values = {(row["command"], row["option"]): row["value"] for row in settings["rows"]}
    assert values[("tag", "--min-confidence")] == 0.5 and values[("scan", "--model")] is None
    assert values[("scan", "--top-k")] == 2
