"""training/experiments/level_shift: lowering and rescaling real log-mels, the held-out excerpts, the table."""

from __future__ import annotations

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


def test_own_maximum_raises_a_lowered_window_back_to_where_it_was_above_the_floor():
    data = snippet_set()
    original = data.mels.float()[:, None]
    raised = level_shift.OwnMaximum(nn.Identity())(level_shift.lowered(data, 6).mels.float()[:, None])
    assert torch.equal(raised.amax(dim=(1, 2, 3)), torch.ones(len(data)))
    above = original > -1 + 6 / 40
    assert torch.allclose(raised[above], original[above], atol=2e-3)


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


def test_the_table_pairs_every_shift_with_0_db_on_the_same_runs():
    shifts = {
        "0 dB": {"network": [0.5, 0.6], "mel-stats": [0.6, 0.6], "default": [0.7, 0.8]},
        "3 dB": {"network": [0.4, 0.6], "mel-stats": [0.5, 0.5], "default": [0.6, 0.8]},
    }
    rows = level_shift.shifts_table(shifts, {"as shipped": [0.9, 1.0]}).splitlines()
    assert rows[2] == "| 0 dB | 0.550 ± 0.071 | 0.600 ± 0.000 | 0.750 ± 0.071 | +0.000 ± 0.000 | 0 / 2 / 0 |"
    assert rows[3] == "| 3 dB | 0.500 ± 0.141 | 0.500 ± 0.000 | 0.700 ± 0.141 | -0.050 ± 0.071 | 0 / 1 / 1 |"
    assert rows[5] == "2 runs (seed × fold)."
    assert rows[-1] == "| as shipped | 0.950 ± 0.071 |"
