"""The tag rule: which genres a track's probabilities propose, and what that does to the genres it has.

One rule for ``genretag tag`` (files' own tags), the beets plugin (beets' database) and the
defaults of both. A track's proposed genres are its most probable ``top_k`` model genres whose
probability reaches ``min_confidence`` (every proposed genre must reach it; probabilities sum
to 1, so with the default 0.5 only one genre can pass: lower it, e.g. top-k 2 and
min-confidence 0.3, for several), under their display names (``genres.display_name``, changed
by ``names``). Policies: ``fill`` sets only tracks without a genre, ``replace`` overwrites,
``append`` adds genres not already present after the existing ones. A proposal whose genres
equal the track's (as a set, compared by ``genres.genre_key``) is ``unchanged``.

Plain values in, plain values out: no numpy, no mutagen, so the command line and the beets
plugin can import it for their defaults and checks at no cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

from genretag.genres import display_name, distinct_genres, same_genres

DEFAULT_MIN_CONFIDENCE = 0.5
DEFAULT_TOP_K = 1


class Policy(str, Enum):
    """How proposed genres combine with the genres a track already has."""

    FILL = "fill"
    REPLACE = "replace"
    APPEND = "append"


POLICIES = tuple(policy.value for policy in Policy)


class Outcome(str, Enum):
    """What the rule says to do with one track's genres."""

    SET = "set"
    HAS_GENRE = "has genre"
    LOW_CONFIDENCE = "low confidence"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class TagOptions:
    """How genres are proposed: the policy, the probability each genre needs, how many, their names.

    ``names`` maps a model label to the genre name written (``genres.load_display_names``);
    labels it lacks get ``genres.display_name``'s default. Raises ``ValueError`` for a value
    out of range (the message names the setting as ``policy``, ``min_confidence``, ``top_k``).
    """

    policy: Policy = Policy.FILL
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    top_k: int = DEFAULT_TOP_K
    names: dict[str, str] = field(default_factory=dict)
    open_set: float = 0.0  # the model's open-set threshold (``open_set_threshold``): below it, none of these

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"policy {self.policy!r}: choose one of {', '.join(POLICIES)}")
        object.__setattr__(self, "policy", Policy(self.policy))
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence {self.min_confidence} is not between 0 and 1")
        if self.top_k < 1:
            raise ValueError(f"top_k {self.top_k} must be at least 1")
        object.__setattr__(self, "names", dict(self.names or {}))


@dataclass(frozen=True)
class Proposal:
    """The rule's answer for one track.

    ``proposed``: the genres that pass, as display names with their probabilities, best first;
    ``best``: the most probable genre's name and probability (whether or not it passes);
    ``new_values``: the track's genres after the change (empty unless ``outcome`` is SET or UNCHANGED);
    ``reason``: why nothing passed (LOW_CONFIDENCE only), as ``best < min_confidence``;
    ``ranked``: the top-k genres as display names with their probabilities, passing or not, whatever
    the policy: what a preview shows, so that it shows the same thing for every policy and threshold.
    """

    outcome: Outcome
    proposed: tuple[tuple[str, float], ...]
    best: tuple[str, float]
    new_values: tuple[str, ...] = ()
    reason: str = ""
    ranked: tuple[tuple[str, float], ...] = ()


def open_set_threshold(card: dict) -> float:
    """A model card's open-set threshold (``open_set.threshold``, written by ``genretag learn``), else 0.

    Below it the model's best genre is no answer ("none of these", shown as "—"): a learnt model knows only
    its library's few genres and gives one of them to any sound."""
    return float(card.get("open_set", {}).get("threshold", 0.0))


def model_open_set(name: str) -> float:
    """The open-set threshold in model ``name``'s card (``open_set_threshold``); raises ``WeightsError``."""
    from genretag.weights import model_card

    return open_set_threshold(model_card(name))


def none_of_these(probability: float, threshold: float) -> bool:
    """Whether a best genre of this ``probability`` is the model's "none of these": under its open-set
    ``threshold``. The one rule of every output (a track or a segment) and of the tag rule; never for a
    shipped model, whose threshold is 0."""
    return probability < threshold


def propose(ranked: Sequence[tuple[str, float]], current: Sequence[str], options: TagOptions) -> Proposal:
    """Apply the tag rule to a track's ``ranked`` (label, probability) pairs, best first, at least
    ``options.top_k`` of them (``TrackResult.top_k``), given the genre values it has now."""
    if not ranked:
        raise ValueError("no genre probabilities to propose from")
    needed = max(options.min_confidence, options.open_set)
    top, seen = [], set()
    for label, probability in ranked[: options.top_k]:
        name = display_name(label, options.names)
        if name.casefold() not in seen:
            seen.add(name.casefold())
            top.append((name, probability))
    proposed = tuple((name, p) for name, p in top if p >= needed)
    best = (display_name(ranked[0][0], options.names), ranked[0][1])
    if options.policy is Policy.FILL and any(value.strip() for value in current):
        return Proposal(Outcome.HAS_GENRE, proposed, best, ranked=tuple(top))
    if not proposed:
        reason = f"{best[1]:.2f} < {options.min_confidence:.2f}"
        if none_of_these(best[1], options.open_set):  # the model's own answer: never written, whatever was asked
            reason = f"none of these: {best[1]:.2f} < the model's open-set threshold {options.open_set:.2f}"
        return Proposal(Outcome.LOW_CONFIDENCE, (), best, reason=reason, ranked=tuple(top))
    names = tuple(name for name, _ in proposed)
    new_values = distinct_genres(tuple(current) + names if options.policy is Policy.APPEND else names)
    outcome = Outcome.UNCHANGED if same_genres(new_values, current) else Outcome.SET
    return Proposal(outcome, proposed, best, new_values, ranked=tuple(top))
