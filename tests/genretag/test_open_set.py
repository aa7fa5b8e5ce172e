"""Learnt models answer "none of these": an open-set threshold in the card (measured on the validation tracks),
under which the best genre is shown as "—" and never written, by `tag` as by the beets plugin's rule; and
`models` says how a learnt model's accuracy was measured. Real weights, real audio, the real CLI."""

from __future__ import annotations

import json

import mutagen
import numpy as np
import soundfile
from conftest import TRUMPET, VIBE_ACE, excerpt, user_model
from test_cli_output import RATE, run_cli

from genretag import fit, learn
from genretag.tagrules import TagOptions, open_set_threshold, propose


def test_learn_puts_a_threshold_that_keeps_most_right_answers_in_the_card():
    probabilities = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.45, 0.55]], dtype=np.float32)
    labels = np.array([0, 0, 1, 1, 1])  # the fourth is answered wrong
    evaluation = fit.Evaluation(
        ("a", "b"), 0.8, 0.8, 5, 5, np.zeros((2, 2)), list("vwxyz"), labels, probabilities
    )  # fmt: skip
    found = learn.open_set(evaluation)
    right = np.array([0.9, 0.8, 0.7, 0.55])
    assert found["threshold"] == round(float(np.quantile(right, 0.05)), 4)
    assert found["validation_tracks_right"] == 4 and "none of these" in found["rule"]
    assert open_set_threshold({"open_set": found}) == found["threshold"] and open_set_threshold({}) == 0.0


def test_the_rule_never_proposes_a_genre_under_the_threshold_whatever_min_confidence_says():
    ranked = [("ambient", 0.87), ("rock", 0.13)]
    proposal = propose(ranked, [], TagOptions(min_confidence=0.0, open_set=0.9))
    assert proposal.outcome.value == "low confidence" and proposal.new_values == ()
    assert proposal.reason == "none of these: 0.87 < the model's open-set threshold 0.90"
    assert propose(ranked, [], TagOptions(min_confidence=0.0, open_set=0.5)).new_values == ("ambient",)


def test_none_of_these_is_shown_as_a_dash_and_never_written(tmp_path):
    user_model("mine", threshold=1.01)  # above any probability: every track is "none of these"
    track = tmp_path / "trumpet.flac"
    soundfile.write(track, excerpt(TRUMPET, 0, 5), RATE)
    table = run_cli("scan", str(track), "--model", "mine", "--format", "table", columns=100)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if "trumpet.flac" in line)
    assert row.split()[1] == "—", table.stdout
    document = json.loads(run_cli("scan", str(track), "--model", "mine", "--format", "json").stdout)
    assert document["rows"][0]["none_of_these"] is True and document["rows"][0]["genre"]  # the best is still there
    written = run_cli("tag", str(track), "--model", "mine", "--min-confidence", "0", "--write", "--format", "json")
    assert written.returncode == 0, written.stderr
    [plan] = json.loads(written.stdout)["rows"]
    assert plan["action"] == "skip" and plan["reason"] == "low confidence"
    assert "0 files written" in written.stderr
    assert "genre" not in (mutagen.File(track, easy=True) or {})

    user_model("sure", threshold=0.0)  # no threshold: the same track gets a genre
    other = tmp_path / "jazz.flac"
    soundfile.write(other, excerpt(VIBE_ACE, 10, 11), RATE)
    done = run_cli("tag", str(other), "--model", "sure", "--min-confidence", "0", "--write")
    assert "1 file written" in done.stderr


def test_models_says_how_a_learnt_models_accuracy_was_measured():
    metrics = {"valid (held out by album; it picked the epoch, so optimistic)": {"track_accuracy": 0.75, "n_tracks": 4}}
    user_model("games", threshold=0.5, metrics=metrics)
    rows = json.loads(run_cli("models", "--format", "json").stdout)["rows"]
    games = next(row for row in rows if row["name"] == "games")
    assert games["accuracy"] == 0.75
    assert games["measured_on"] == "4 validation tracks, held out by album; it picked the epoch, so optimistic"
    table = run_cli("models", "--format", "table", columns=120).stdout
    assert "held-out accuracy" not in table and "your models on their validation tracks" in " ".join(table.split())
