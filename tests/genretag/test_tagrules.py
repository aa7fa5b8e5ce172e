"""The tag rule on plain values: what is proposed, what each policy does, the checks on its settings."""

from __future__ import annotations

import subprocess
import sys

import pytest

from genretag.tagrules import Outcome, Policy, TagOptions, propose

RANKED = [("hiphop", 0.55), ("jazz", 0.30), ("rock", 0.10)]


@pytest.mark.parametrize(
    ("policy", "current", "outcome", "new_values"),
    [
        (Policy.FILL, [], Outcome.SET, ("Hip-Hop",)),
        (Policy.FILL, ["Rock"], Outcome.HAS_GENRE, ()),
        (Policy.REPLACE, ["Rock"], Outcome.SET, ("Hip-Hop",)),
        (Policy.APPEND, ["Rock"], Outcome.SET, ("Rock", "Hip-Hop")),
        (Policy.APPEND, [" hip-hop "], Outcome.UNCHANGED, ("hip-hop",)),  # compared ignoring case and space
        (Policy.REPLACE, ["HIP-HOP"], Outcome.UNCHANGED, ("Hip-Hop",)),
    ],
)
def test_each_policy(policy, current, outcome, new_values):
    proposal = propose(RANKED, current, TagOptions(policy))
    assert proposal.outcome is outcome
    assert proposal.new_values == new_values
    assert proposal.best == ("Hip-Hop", 0.55)


def test_every_proposed_genre_needs_the_minimum_and_a_name_once():
    options = TagOptions(Policy.FILL, min_confidence=0.3, top_k=3, names={"jazz": "Hip-hop", "rock": "Rock"})
    proposal = propose(RANKED, [], options)
    assert proposal.proposed == (("Hip-Hop", 0.55),)  # jazz's name is hiphop's again; rock is below 0.3
    assert proposal.new_values == ("Hip-Hop",)


def test_nothing_passing_is_low_confidence():
    proposal = propose(RANKED, [], TagOptions(min_confidence=0.6))
    assert (proposal.outcome, proposal.proposed, proposal.reason) == (Outcome.LOW_CONFIDENCE, (), "0.55 < 0.60")


@pytest.mark.parametrize(
    ("settings", "named"),
    [({"policy": "overwrite"}, "policy"), ({"min_confidence": 1.5}, "min_confidence"), ({"top_k": 0}, "top_k")],
)
def test_settings_out_of_range_are_refused_by_name(settings, named):
    with pytest.raises(ValueError, match=named):
        TagOptions(**settings)


def test_the_rule_imports_neither_numpy_nor_mutagen():
    code = "import sys, genretag.tagrules; print(sorted({'numpy', 'mutagen'} & set(sys.modules)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
