"""training/experiments/level_shift: lowering and raising real log-mels, the held-out excerpts, refusals, the table."""

from __future__ import annotations

import numpy as np
import torch
from conftest import SNIPPETS
from torch import nn

from training.corpus import Clip
from training.experiments import level_shift, recipes
from training.features import build_feature_set


def snippet_set():
    clips = [Clip(path, "metal", path.stem) for path in sorted(SNIPPETS.glob("metal.*.flac"))[:2]]
    return build_feature_set(clips, ("metal",))


def test_lowering_moves_every_value_down_by_its_decibels_and_stops_at_the_floor():
    data = snippet_set()
    result = level_shift.lowered(data, 6)
    assert result.mels.dtype == data.mels.dtype and torch.equal(result.labels, data.labels)
    original, lowered = data.mels.float(), result.mels.float()
    above = original > -1 + 6 / 40
    assert above.any() and (~above).any()  # real music has cells on both sides of the new floor
    assert torch.allclose(lowered[above], original[above] - 6 / 40, atol=2e-3)  # float16 storage
    assert torch.all(lowered[~above] == -1.0)


def test_raising_brings_a_lowered_window_back_to_where_it_was_above_the_floor_by_at_most_its_gain():
    data = snippet_set()
    original = data.mels.float()[:, None]
    raised = level_shift.Raised(nn.Identity(), 20.0)
    back = raised(level_shift.lowered(data, 6).mels.float()[:, None])
    assert torch.equal(back.amax(dim=(1, 2, 3)), torch.ones(len(data)))
    above = original > -1 + 6 / 40
    assert torch.allclose(back[above], original[above], atol=2e-3)
    far = raised(level_shift.lowered(data, 30).mels.float()[:, None])  # 30 dB below: raised by 20 only
    assert torch.allclose(far.amax(dim=(1, 2, 3)), torch.full((len(data),), 1 - 10 / 40), atol=2e-3)


def test_the_held_out_classical_excerpts_are_exactly_those_the_folds_training_leaves_out():
    clips = recipes.real_clips()
    seen = []
    for fold in range(5):
        excerpts = level_shift.held_out_classical(fold, 5)
        train, _, _ = recipes.split(clips, fold, 5)
        assert excerpts and not {c.track for c in excerpts} & {c.track for c in train}
        seen += [c.track for c in excerpts]
    in_range = [c.track for c in clips if c.source == ("gtzan-classical",) and recipes.track_number(c) <= 50]
    assert sorted(seen) == sorted(in_range)


def test_the_command_refuses_negative_or_unreadable_shifts(capsys):
    for shifts in ("-3", "three", "0"):
        assert level_shift.main(["--recipes", "real", "--models", "crnn", "--shifts", shifts]) == 2
        assert "--shifts takes a comma list of dB above 0" in capsys.readouterr().err


def test_the_table_pairs_every_shift_with_the_same_reading_at_0_db():
    accuracies = {
        ("plain", 0.0): {"network": [0.5, 0.6], "mel-stats": [0.6, 0.6], "default": [0.7, 0.8]},
        ("plain", 3.0): {"network": [0.4, 0.6], "mel-stats": [0.5, 0.5], "default": [0.6, 0.8]},
        ("raised", 0.0): {"network": [0.5, 0.6], "mel-stats": [0.6, 0.6], "default": [0.6, 0.6]},
        ("raised", 3.0): {"network": [0.5, 0.6], "mel-stats": [0.6, 0.6], "default": [0.7, 0.6]},
    }
    confusion = np.diag([2] + [0] * 9)
    confusions = dict.fromkeys(accuracies, confusion)
    rows = level_shift.shifts_table(accuracies, confusions, {"plain": [0.9, 1.0]}).splitlines()
    assert rows[2] == "| 0 dB | plain | 0.550 ± 0.071 | 0.600 ± 0.000 | 0.750 ± 0.071 | +0.000 ± 0.000 | 0 / 2 / 0 |"
    assert rows[3] == "| 3 dB | plain | 0.500 ± 0.141 | 0.500 ± 0.000 | 0.700 ± 0.141 | -0.050 ± 0.071 | 0 / 1 / 1 |"
    assert rows[5] == "| 3 dB | raised | 0.550 ± 0.071 | 0.600 ± 0.000 | 0.650 ± 0.071 | +0.050 ± 0.071 | 1 / 1 / 0 |"
    assert rows[7] == "2 runs (seed × fold)."
    assert rows[11] == "| plain | 0.950 ± 0.071 |"
    assert "| 3 dB, raised: times predicted | 2 | 0 |" in "\n".join(rows)
