"""Shipped weights: complete cards, hash and front-end checks, loading from an installed wheel."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import REPO, TRUMPET

from genretag import weights
from genretag.models import ARCHITECTURES, DEFAULT_MODEL, GTZAN_GENRES

MAX_WEIGHTS_BYTES = 2 * 1024 * 1024  # per network


def copy_as_user_model(source: str, name: str) -> tuple[Path, Path]:
    """Copy a shipped model into the user models folder under another name."""
    target = weights.user_models_dir()
    target.mkdir(parents=True, exist_ok=True)
    card = json.loads((weights.shipped_weights_dir() / f"{source}.json").read_text())
    card["name"] = name
    card_path = target / f"{name}.json"
    card_path.write_text(json.dumps(card))
    pt_path = target / f"{name}.pt"
    shutil.copyfile(weights.shipped_weights_dir() / f"{source}.pt", pt_path)
    return card_path, pt_path


SHIPPED = sorted(path.stem for path in weights.shipped_weights_dir().glob("*.json"))


def test_the_four_networks_mel_stats_and_the_default_ensemble_are_shipped():
    assert set(SHIPPED) == set(ARCHITECTURES) | {DEFAULT_MODEL}


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_model_has_a_complete_card_and_loads(name):
    pt_path = weights.shipped_weights_dir() / f"{name}.pt"
    loaded = weights.load_model(name)
    card = loaded.card
    assert pt_path.stat().st_size < MAX_WEIGHTS_BYTES * card.get("members", 1)
    assert card["architecture"] == name or card["members"] > 1 and card["architecture"] in ARCHITECTURES
    assert tuple(card["genres"]) == GTZAN_GENRES == loaded.genres
    assert card["sha256"] == weights.sha256_of(pt_path)
    for key in ("summary", "data", "recipe", "seed"):
        assert key in card["training"], key
    assert card["training"]["recipe"]["pitch_shift"] >= 0
    assert card["metrics"], "metrics with the split they were measured on"
    assert "Not GTZAN's full recordings" in card["training"]["summary"]
    assert "training.train --gtzan" in card["training"]["on_gtzan"]
    assert card["parameters"]["keras_convention"] <= card["parameters"]["pytorch"]
    runs = 5 if name == "mel-stats" else 15  # mel-stats' fit is deterministic: one run per fold
    assert "cross-validated" in card["metrics"] and card["metrics"]["cross-validated"]["runs"] >= min(runs, 10)
    as_shipped = card["metrics"]["cross-validated, as shipped"]  # the reading below, scored on held-out folds
    readings = {"whole", "windows", "windows + bias"}
    if "companion" in card["inference"]:
        readings |= {"mel-stats", "windows + mel-stats", "windows + mel-stats + bias"}
    assert as_shipped["runs"] == runs and set(as_shipped["by_reading"]) == readings
    reading = card["inference"]
    assert reading["window_frames"] == card["training"]["recipe"]["crop_frames"]
    assert list(reading["genre_bias"]) == card["genres"] and abs(sum(reading["genre_bias"].values())) < 1e-3


def test_the_default_ensemble_reads_windows_averages_its_members_and_adds_mel_stats_and_the_genre_bias():
    import numpy as np
    import torch

    from genretag import audio, models

    ensemble = weights.load_model(DEFAULT_MODEL)
    assert ensemble.card["members"] == 3 and isinstance(ensemble.network, models.Ensemble)
    reading = ensemble.card["inference"]
    assert (reading["window_frames"], reading["window_hop"]) == (128, 152)
    mels = audio.log_mel(audio.segment_array(audio.load(TRUMPET)))
    assert mels.shape[-1] == 431  # three windows of 128 frames: at its start, middle and end
    windows = [mels[..., start : start + 128] for start in (0, 152, 303)]
    state = ensemble.network.state_dict()
    member_probabilities = []
    for k in range(3):
        member = models.build(ensemble.architecture)
        prefix = f"members.{k}."
        member.load_state_dict({name[len(prefix) :]: v for name, v in state.items() if name.startswith(prefix)})
        with torch.no_grad():
            per_window = [torch.softmax(member.eval()(w.unsqueeze(1)), dim=1).numpy() for w in windows]
        member_probabilities.append(np.mean(per_window, axis=0))
    mean = sum(member_probabilities) / 3
    assert reading["companion"] == {"model": "mel-stats", "sha256": weights.load_model("mel-stats").sha256}
    companion = weights.load_model("mel-stats").network  # the same windows, without mel-stats' own bias
    with torch.no_grad():
        statistics = np.mean([torch.softmax(companion(w.unsqueeze(1)), dim=1).numpy() for w in windows], axis=0)
    bias = np.array([reading["genre_bias"][genre] for genre in ensemble.genres])
    expected = np.sqrt(mean * statistics) * np.exp(bias)  # the mean of the two log-probabilities
    expected /= expected.sum(axis=1, keepdims=True)
    assert abs(ensemble.predict(mels) - expected).max() < 1e-4
    assert abs(expected - mean).max() > 1e-3  # mel-stats and the bias move the probabilities
    assert max(abs(p - mean).max() for p in member_probabilities) > 1e-3  # the members differ


def test_corrupted_weights_are_refused_with_a_clear_error():
    _, pt_path = copy_as_user_model("v-kernel", "mine")
    assert weights.load_model("mine").name == "mine"  # intact copy loads
    data = bytearray(pt_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pt_path.write_bytes(bytes(data))
    with pytest.raises(weights.WeightsError, match=r"mine\.pt: sha256 .* does not match its model card"):
        weights.load_model("mine")


def test_a_companion_other_than_the_one_the_card_was_calibrated_with_is_refused():
    card_path, _ = copy_as_user_model(DEFAULT_MODEL, "blend")
    assert weights.load_model("blend").companion.name == "mel-stats"
    card = json.loads(card_path.read_text())
    card["inference"]["companion"]["sha256"] = "0" * 64
    card_path.write_text(json.dumps(card))
    with pytest.raises(weights.WeightsError, match="'blend': its companion 'mel-stats' is not the one"):
        weights.load_model("blend")


def test_card_with_other_audio_parameters_is_refused():
    card_path, _ = copy_as_user_model("v-kernel", "other-front-end")
    card = json.loads(card_path.read_text())
    card["audio"]["n_mels"] = 96
    card_path.write_text(json.dumps(card))
    with pytest.raises(weights.WeightsError, match="another audio front end: n_mels 96 != 128"):
        weights.load_model("other-front-end")


def test_unknown_model_names_the_available_ones():
    with pytest.raises(weights.WeightsError, match="unknown model 'nope' .*v-kernel"):
        weights.load_model("nope")


def test_wheel_installs_and_classifies_with_the_weights_inside_it(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("genretag-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site_packages = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # torch & co come from the test interpreter's site-packages, added as a plain path
    # (its .pth files, among them genretag's editable hook, are not processed there):
    # genretag itself can only come from the wheel.
    (site_packages / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        f"import genretag, genretag.weights as w; r = genretag.classify(r'{TRUMPET}');"
        "print(w.shipped_weights_dir()); print(r.genre)"
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    done = subprocess.run([python, "-c", probe], cwd=outside, capture_output=True, text=True, check=True)
    weights_dir, genre = done.stdout.split()
    assert Path(weights_dir).is_relative_to(venv), weights_dir
    assert genre in GTZAN_GENRES
