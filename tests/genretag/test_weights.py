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

from genretag import config, weights
from genretag.genres import GTZAN_GENRES
from genretag.models import ARCHITECTURES
from genretag.weights import DEFAULT_MODEL

MAX_WEIGHTS_BYTES = 2 * 1024 * 1024  # per poster network
MAX_MUSICNN_BYTES = 4 * 1024 * 1024  # musicnn's trunk (787 k float32 parameters) and its head


def copy_as_user_model(source: str, name: str) -> tuple[Path, Path]:
    """Copy a shipped model into the user models folder under another name."""
    target = config.user_models_dir()
    target.mkdir(parents=True, exist_ok=True)
    card = json.loads((weights.shipped_weights_dir() / f"{source}.json").read_text())
    card["name"] = name
    card_path = target / f"{name}.json"
    card_path.write_text(json.dumps(card))
    pt_path = target / f"{name}.pt"
    shutil.copyfile(weights.shipped_weights_dir() / f"{source}.pt", pt_path)
    return card_path, pt_path


SHIPPED = sorted(path.stem for path in weights.shipped_weights_dir().glob("*.json"))
MULTI_LABEL = "musicnn-msd"  # the MSD genre tags: its own taxonomy, checked in test_musicnn.py
GTZAN_MODELS = [name for name in SHIPPED if name != MULTI_LABEL]


def test_every_architecture_is_shipped_and_the_default_is_one_of_them():
    assert {weights.model_card(name)["architecture"] for name in SHIPPED} == set(ARCHITECTURES)
    assert DEFAULT_MODEL in SHIPPED


def test_the_msd_taxonomy_card_says_how_it_was_calibrated_and_checked():
    loaded = weights.load_model(MULTI_LABEL)
    card = loaded.card
    assert (weights.shipped_weights_dir() / f"{MULTI_LABEL}.pt").stat().st_size < MAX_MUSICNN_BYTES
    assert card["multi_label"] and card["architecture"] == "musicnn-tags" and len(card["genres"]) == 30
    assert {"scale", "shift", "mapped"} <= set(card["training"]["calibration"])
    ((held_out, figures),) = card["metrics"].items()
    assert held_out.startswith("valid") and figures["n_tracks"] >= 50
    assert "ISC licence" in card["licence"]["trunk"] and "Universitat Pompeu Fabra" in card["licence"]["trunk"]
    notice = (weights.shipped_weights_dir() / "LICENSE-musicnn.txt").read_text(encoding="utf-8")
    assert "Universitat Pompeu Fabra" in notice and "Permission to use, copy, modify" in notice  # beside the weights
    assert "test" not in json.dumps(card["training"])


@pytest.mark.parametrize("name", GTZAN_MODELS)
def test_every_shipped_model_has_a_complete_card_and_loads(name):
    pt_path = weights.shipped_weights_dir() / f"{name}.pt"
    loaded = weights.load_model(name)
    card = loaded.card
    assert pt_path.stat().st_size < (MAX_MUSICNN_BYTES if name.startswith("musicnn") else MAX_WEIGHTS_BYTES)
    assert card["architecture"] == name
    assert tuple(card["genres"]) == GTZAN_GENRES == loaded.genres
    assert card["sha256"] == weights.sha256_of(pt_path)
    for key in ("summary", "data", "recipe", "temperature"):
        assert key in card["training"], key
    assert card["training"]["recipe"]["pitch_shift"] >= 0
    assert card["parameters"]["keras_convention"] <= card["parameters"]["pytorch"]
    selection = card["metrics"]["selection"]  # measured on full-length valid-split tracks the fit never saw
    assert selection["tracks"] >= 80
    low, high = selection["accuracy_95"]
    assert low <= selection["accuracy"] <= high
    low, high = selection["macro_recall_95"]
    assert low <= selection["macro_recall"] <= high
    assert "test" not in json.dumps(card["training"]["data"])  # the held-back GTZAN test split is never used


def test_corrupted_weights_are_refused_with_a_clear_error():
    _, pt_path = copy_as_user_model("v-kernel", "mine")
    assert weights.load_model("mine").name == "mine"  # intact copy loads
    data = bytearray(pt_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    pt_path.write_bytes(bytes(data))
    with pytest.raises(weights.WeightsError, match=r"mine\.pt: sha256 .* does not match its model card"):
        weights.load_model("mine")


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
