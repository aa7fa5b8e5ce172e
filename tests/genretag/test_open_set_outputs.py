"""Every output agrees with `scan`'s table on a learnt model's "none of these": the report files (tracks CSV,
segments CSV, JSON, from `scan` and from `export`), `timeline` (its table and strip) and the HTML report.
A best genre under the card's open-set threshold, a track's or a segment's, is "—" (`none_of_these` true
beside the best genre, which is kept). A learnt model (conftest.user_model), real audio, the real CLI."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pandas
import pytest
import soundfile
from conftest import BRAHMS, FISHIN, RATE, excerpt, user_model
from test_html_report import rendered, rows_of
from typer.testing import CliRunner

from genretag.cli import app
from genretag.render import clock

MINE = "mine"


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def library(tmp_path, monkeypatch) -> dict:
    """Two real recordings scanned by a learnt model without an open-set threshold, then given one halfway
    between the two tracks' confidences: one track is "none of these", the other keeps its genre. Returns the
    threshold and the first scan's JSON report by path (what the threshold is measured against)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lib").mkdir()
    soundfile.write(tmp_path / "lib" / "strings.flac", excerpt(BRAHMS, 0, 30), RATE)
    soundfile.write(tmp_path / "lib" / "fishin.flac", excerpt(FISHIN, 0, 40), RATE)
    user_model(MINE, threshold=None)
    invoke("scan", "lib", "--model", MINE, "--jobs", "1", "--json", "before.json", "--format", "json")
    tracks = {track["path"]: track for track in json.loads((tmp_path / "before.json").read_text())["tracks"]}
    low, high = sorted(track["confidence"] for track in tracks.values())
    assert high - low > 0.005, tracks  # the threshold parts them clearly
    threshold = round((low + high) / 2, 4)
    user_model(MINE, threshold=threshold)  # the same weights: the stored results are used again
    return {"threshold": threshold, "tracks": tracks}


def segment_best(segment: dict) -> tuple[str, float]:
    return segment["genre"], max(segment["probabilities"].values())


def test_the_report_files_flag_none_of_these_tracks_and_segments_and_keep_the_best_genre(library):
    threshold, before = library["threshold"], library["tracks"]
    # Without a threshold in the card (a shipped model's case) nothing is "none of these".
    assert all(track["none_of_these"] is False for track in before.values())
    assert all(segment["none_of_these"] is False for track in before.values() for segment in track["segments"])

    scan = invoke("scan", "lib", "--model", MINE, "--jobs", "1", "--format", "json",
                  "--csv", "tracks.csv", "--segments-csv", "segments.csv", "--json", "after.json")  # fmt: skip
    listed = {row["path"]: row for row in json.loads(scan.stdout)["rows"]}
    tracks = {track["path"]: track for track in json.loads(Path("after.json").read_text())["tracks"]}
    csv = pandas.read_csv("tracks.csv").set_index("path")
    for path, track in tracks.items():
        unanswered = before[path]["confidence"] < threshold
        assert track["none_of_these"] is listed[path]["none_of_these"] is unanswered, path  # as scan says
        assert bool(csv.loc[path, "none_of_these"]) is unanswered
        assert (track["genre"], track["confidence"]) == (before[path]["genre"], before[path]["confidence"])
        assert csv.loc[path, "genre"] == track["genre"]  # the best genre is kept in its own column
        for segment in track["segments"]:
            assert segment["none_of_these"] is (segment_best(segment)[1] < threshold), (path, segment)
    assert sorted(track["none_of_these"] for track in tracks.values()) == [False, True]
    flags = [segment["none_of_these"] for track in tracks.values() for segment in track["segments"]]
    assert True in flags and False in flags, flags  # segments both ways

    segments = pandas.read_csv("segments.csv")
    assert segments.none_of_these.tolist() == flags
    assert list(segments.columns[:7]) == ["path", "segment", "start_s", "end_s", "genre", "confidence", "none_of_these"]

    exported = invoke("export", "--model", MINE, "--json", "exported.json", "--csv", "-")
    assert json.loads(Path("exported.json").read_text()) == json.loads(Path("after.json").read_text())
    assert pandas.read_csv(io.StringIO(exported.stdout)).equals(pandas.read_csv("tracks.csv"))

    table = invoke("scan", "lib", "--model", MINE, "--jobs", "1", "--format", "table").stdout
    assert "genres: " in table and "none of these 1" in table, table  # the summary counts as the table shows


def test_timeline_shows_none_of_these_segments_as_a_dash(library):
    track = library["tracks"]["lib/strings.flac"]
    # A threshold halfway between this track's least and most confident segments parts them.
    confidences = [segment_best(segment)[1] for segment in track["segments"]]
    low, high = min(confidences), max(confidences)
    assert high - low > 0.005, track
    threshold = round((low + high) / 2, 4)
    user_model(MINE, threshold=threshold)
    shown = invoke("timeline", "lib/strings.flac", "--model", MINE).stdout
    lines = shown.splitlines()
    best = f"{track['genre']} {track['confidence']:.2f}"
    if track["confidence"] < threshold:
        best = f"— (best guess {best})"
    assert lines[0].startswith(f"lib/strings.flac: {best} ({MINE},"), lines[0]

    unanswered = []
    for segment in track["segments"]:
        genre, probability = segment_best(segment)
        unanswered.append(probability < threshold)
        text = f"{genre} {probability:.2f}"
        row = next(line for line in lines if line.startswith(f"{clock(segment['start_s'])}–"))
        assert (f"— (best guess {text})" if unanswered[-1] else text) in row, (row, threshold)
    assert True in unanswered and False in unanswered, (track, threshold)

    strip = next(line for line in lines if re.fullmatch(r"[A-Z0-9?█—]+", line))
    assert [pair == "——" for pair in re.findall("..", strip)] == unanswered, strip  # two characters a segment
    assert "— none of these" in lines[lines.index(strip) + 1]


def test_the_html_report_says_none_of_these_and_counts_it_apart(library, tmp_path):
    threshold, tracks = library["threshold"], library["tracks"]
    invoke("report", "lib", "--model", MINE, "--html", "report.html")
    dom, log = rendered(tmp_path / "report.html")
    assert 'data-ready="yes"' in re.search(r"<body[^>]*>", dom).group(0) and "Uncaught" not in log

    rows = {re.search(r'<td class="path">([^<]*)</td>', row).group(1): row for row in rows_of(dom)}
    counts = {}
    for path, track in tracks.items():
        genre, confidence = track["genre"], track["confidence"]
        cell = re.search(r'<td data-label="genre">([^<]*)</td>', rows[path]).group(1)
        if confidence < threshold:
            assert cell == f"none of these (best guess {genre} {confidence:.2f})", cell
            assert 'data-genre="none_of_these"' in rows[path]
            counts["none of these"] = counts.get("none of these", 0) + 1
        else:
            assert cell == genre and f'data-genre="{genre}"' in rows[path]
            counts[genre] = counts.get(genre, 0) + 1
        unanswered = sum(segment_best(segment)[1] < threshold for segment in track["segments"])
        assert rows[path].count('fill="#d0d0d0"') == unanswered  # grey blocks, "none of these" in their tooltip
        assert len(re.findall(r"<title>[^<]* none of these \(best guess ", rows[path])) == unanswered

    bars = re.findall(r'<span class="label">([^<]*)</span>.*?<span class="count">(\d+)</span>', dom)
    assert {label: int(count) for label, count in bars} == counts and counts["none of these"] == 1
    assert "none of these</li>" in dom  # the timelines' legend

    dom, _ = rendered(tmp_path / "report.html", "#filter=genre:none_of_these")  # what its bar sets
    shown = [row for row in rows_of(dom) if " hidden" not in row.split(">", 1)[0]]
    assert len(shown) == 1 and 'data-genre="none_of_these"' in shown[0]
