"""training/ and genretag.fit on real clips: corpora, splits, features, the fit loop, the CLI."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch
from conftest import REPO, SEGMENT_FRAMES, SNIPPETS, requires_shared

from genretag import audio, fit, models
from training import corpus, features
from training.evaluate import write_evaluation

pytestmark = [pytest.mark.training, requires_shared]

TINY_GENRES = ("classical", "metal", "reggae")


@pytest.fixture(scope="module")
def tiny_corpus(tmp_path_factory):
    """3 genres × 6 real GTZAN snippets as a folder-per-genre corpus."""
    root = tmp_path_factory.mktemp("tiny-corpus")
    for genre in TINY_GENRES:
        (root / genre).mkdir()
        for path in sorted(SNIPPETS.glob(f"{genre}.*.flac"))[:6]:
            (root / genre / path.name).symlink_to(path)
    return root


@pytest.fixture(scope="module")
def tiny_features(tiny_corpus, tmp_path_factory):
    clips = corpus.folder_corpus(tiny_corpus)
    cache = tmp_path_factory.mktemp("feature-cache")
    return features.build_feature_set(clips, TINY_GENRES, pitch_shift=1, cache_dir=cache)


def test_train_cli_learns_a_tiny_real_corpus(tiny_corpus, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "training.train", "--folders", str(tiny_corpus), "--model", "v-kernel"]
    command += ["--epochs", "12", "--lr", "3e-3", "--valid-fraction", "0", "--test-fraction", "0", "--threads", "2"]
    command += ["--cache", str(tmp_path / "cache"), "--out", str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    card = json.loads((out / "v-kernel.json").read_text())
    losses = card["training"]["train_loss_by_epoch"]
    assert len(losses) == 12
    assert np.mean(losses[-3:]) < 0.6 * np.mean(losses[:3]), losses
    own = card["metrics"]["train (own training clips, original segments)"]
    assert own["track_accuracy"] >= 0.8, own  # chance is 1/3
    assert card["genres"] == list(TINY_GENRES)
    assert "epoch 12/12" in done.stderr
    report = tmp_path / "report"
    command = [sys.executable, "-m", "training.evaluate", "--model", str(out / "v-kernel.json")]
    command += ["--folders", str(tiny_corpus), "--out", str(report), "--cache", str(tmp_path / "cache")]
    evaluated = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["track_accuracy"] == pytest.approx(own["track_accuracy"], abs=1e-3)
    assert f"track accuracy   {metrics['track_accuracy']:.4f} (18 tracks)" in evaluated.stdout
    assert (report / "confusion.png").stat().st_size > 1000


def test_train_cli_help_and_usage_errors(tmp_path):
    for module in ("training.train", "training.evaluate"):
        shown = subprocess.run([sys.executable, "-m", module, "--help"], cwd=REPO, capture_output=True, text=True)
        assert shown.returncode == 0 and "--folders" in shown.stdout and "--gtzan" in shown.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "training.train", "--folders", str(tmp_path / "absent")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "not a folder" in missing.stderr


def write_tone(path, seconds=12.0):
    t = np.arange(int(seconds * audio.SAMPLE_RATE)) / audio.SAMPLE_RATE
    soundfile.write(path, (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), audio.SAMPLE_RATE)


def test_gtzan_kaggle_layout_skips_known_and_unknown_corrupt_files(tmp_path, caplog):
    genres_dir = tmp_path / "Data" / "genres_original"
    for genre in models.GTZAN_GENRES:
        (genres_dir / genre).mkdir(parents=True)
        write_tone(genres_dir / genre / f"{genre}.00002.wav", seconds=2.0)  # names of train-split tracks
    (genres_dir / "jazz" / "jazz.00054.wav").write_bytes(b"\0" * 4096)
    (genres_dir / "rock" / "rock.00006.wav").write_bytes(b"RIFF-not-really")
    with caplog.at_level(logging.WARNING, logger="training"):
        clips = corpus.gtzan_corpus(tmp_path)
        assert "jazz.00054" not in {clip.track for clip in clips}
        assert len(clips) == 11
        data = features.build_feature_set(clips, models.GTZAN_GENRES, cache_dir=tmp_path / "cache")
    assert len(data.track_names) == 10 and "rock.00006" not in data.track_names
    assert "known-corrupt" in caplog.text and "rock.00006.wav: skipped, cannot decode" in caplog.text


def test_fault_filtered_split_lists_are_the_published_sizes():
    sizes = {name: len(corpus.read_split_list(name)) for name in ("train", "valid", "test")}
    assert sizes == {"train": 443, "valid": 197, "test": 290}
    everything = [track for name in sizes for track in corpus.read_split_list(name)]
    assert len(set(everything)) == 930
    shared = REPO.parent / "shared" / "data" / "gtzan-splits"
    for name in sizes:
        assert corpus.read_split_list(name) == (shared / f"{name}.txt").read_text().split()


def test_stratified_split_keeps_blocks_of_neighbouring_tracks_together(tmp_path):
    # Four whole blocks (tracks 10k+1 to 10k+10) per genre, all of the train and valid splits.
    first_tracks = {"blues": (1, 31, 41, 51), "jazz": (1, 11, 21, 51)}
    tracks = [f"{g}.{n:05d}" for g, firsts in first_tracks.items() for s in firsts for n in range(s, s + 10)]
    assert not set(tracks) & set(corpus.read_split_list("test"))
    clips = [corpus.Clip(tmp_path / f"{track}.wav", track.split(".")[0], track) for track in tracks]
    split = corpus.stratified_split(clips, 0.25, 0.25, seed=3, group_of=corpus.gtzan_block)
    again = corpus.stratified_split(clips, 0.25, 0.25, seed=3, group_of=corpus.gtzan_block)
    assert split == again
    blocks = {part: {corpus.gtzan_block(c) for c in members} for part, members in split.items()}
    assert not blocks["train"] & blocks["test"] and not blocks["train"] & blocks["valid"]
    assert all(len(blocks[part]) == 2 for part in ("valid", "test"))  # one block per genre each
    assert sum(len(members) for members in split.values()) == len(clips)


def test_balanced_weights_give_each_source_level_an_equal_share(tmp_path):
    clips = [corpus.Clip(tmp_path / f"r{i}", "jazz", f"r{i}", ("real", "snippets")) for i in range(30)]
    clips += [corpus.Clip(tmp_path / f"p{i}", "jazz", f"p{i}", ("prototypes", "gen")) for i in range(3)]
    clips += [corpus.Clip(tmp_path / f"c{i}", "pop", f"c{i}") for i in range(5)]
    weights = np.array(corpus.balanced_weights(clips))
    assert weights[:30].sum() == pytest.approx(0.25) and weights[30:33].sum() == pytest.approx(0.25)
    assert weights[33:].sum() == pytest.approx(0.5)


def test_pitch_shift_moves_the_pitch_by_semitones(tmp_path):
    path = tmp_path / "a220.wav"
    write_tone(path, seconds=3.0)
    shifted = features.clip_segments(path, semitones=2)[0]
    spectrum = np.abs(np.fft.rfft(shifted[: 3 * audio.SAMPLE_RATE]))
    peak = np.argmax(spectrum) * audio.SAMPLE_RATE / (3 * audio.SAMPLE_RATE)
    assert peak == pytest.approx(220 * 2 ** (2 / 12), abs=2.0)
    assert features.shift_range(2) == [0, 1, -1, 2, -2]


def test_feature_set_holds_originals_and_shifted_copies_of_each_track(tiny_features):
    data = tiny_features
    assert len(data) == 3 * len(data.track_names)  # one segment per snippet × (0, +1, -1)
    assert int(data.original.sum()) == len(data.track_names) == 18
    assert data.mels.dtype == torch.float16 and data.mels.shape[1:] == (audio.N_MELS, SEGMENT_FRAMES)
    per_track = torch.zeros(len(data.track_names), dtype=torch.float64).index_add_(0, data.tracks, data.weights)
    torch.testing.assert_close(per_track, torch.ones(18, dtype=torch.float64))


def test_write_evaluation_writes_metrics_confusion_and_tracks(tiny_features, tmp_path):
    # fit's own tests (determinism, evaluation by track) are the product's: tests/genretag/test_fit.py.
    fit.use_threads(2)
    torch.manual_seed(0)
    network = models.build("v-kernel", len(TINY_GENRES))
    fit.fit(network, tiny_features, None, fit.FitSettings(epochs=2, seed=5, batch_size=16))
    result = fit.evaluate(network, tiny_features.originals())
    write_evaluation(result, tmp_path / "report", "tiny")
    assert {p.name for p in (tmp_path / "report").iterdir()} == {
        "metrics.json",
        "confusion.csv",
        "confusion.png",
        "tracks.csv",
    }
    assert (tmp_path / "report" / "confusion.csv").read_text().splitlines()[0].endswith(",".join(TINY_GENRES))


def test_fault_filtered_split_assigns_tracks_and_warns_about_missing_ones(tmp_path, caplog):
    tracks = [track for name in ("train", "valid", "test") for track in corpus.read_split_list(name)]
    clips = [corpus.Clip(tmp_path / f"{t}.wav", t.split(".")[0], t) for t in tracks if t != "blues.00029"]
    clips.append(corpus.Clip(tmp_path / "classical.00042.wav", "classical", "classical.00042"))  # outside the split
    with caplog.at_level(logging.WARNING, logger="training"):
        split = corpus.fault_filtered_split(clips)
    assert {name: len(part) for name, part in split.items()} == {"train": 442, "valid": 197, "test": 290}
    assert "1 tracks of the train split are missing (e.g. blues.00029)" in caplog.text


def test_the_feature_cache_follows_a_files_content_not_its_path_or_time(tmp_path):
    first, other = sorted(SNIPPETS.glob("metal.*.flac"))[:2]
    cache = tmp_path / "cache"
    original = tmp_path / "a" / first.name
    original.parent.mkdir()
    original.write_bytes(first.read_bytes())
    mels = features.clip_mels(corpus.Clip(original, "metal", "a", ("snippets",)), 0, cache)
    # A fresh copy elsewhere (a new path and modification time, the same bytes) is read from the cache.
    copy = tmp_path / "b" / first.name
    copy.parent.mkdir()
    copy.write_bytes(first.read_bytes())
    assert torch.equal(features.clip_mels(corpus.Clip(copy, "metal", "b", ("snippets",)), 0, cache), mels)
    assert len(list(cache.glob("*.pt"))) == 1
    # Other bytes under the first name are analysed again.
    changed = tmp_path / "c" / first.name
    changed.parent.mkdir()
    changed.write_bytes(other.read_bytes())
    features.clip_mels(corpus.Clip(changed, "metal", "c", ("snippets",)), 0, cache)
    assert len(list(cache.glob("*.pt"))) == 2
