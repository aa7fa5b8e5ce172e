"""The arrangement of one synthetic clip: parts of notes, drum hits, feel and key."""

from __future__ import annotations

from dataclasses import dataclass, field

from training.synth.theory import Chord, Feel


@dataclass
class Note:
    """One pitched note; ``beat`` and ``length`` are in beats, velocity 1-127."""

    beat: float
    length: float
    pitch: int
    velocity: int


@dataclass
class Part:
    """One General MIDI instrument playing a list of notes.

    ``vibrato`` is the depth in semitones of a pitch-bend vibrato and ``scoop`` the
    depth of a bend into each note from below: both make a lead sound sung.
    """

    role: str
    program: int
    notes: list[Note] = field(default_factory=list)
    volume: float = 0.8
    vibrato: float = 0.0
    scoop: float = 0.0


@dataclass
class DrumHit:
    """One drum hit: a kit role (``kick``, ``snare``, ``hat``...) at a beat, velocity 0-1."""

    beat: float
    role: str
    velocity: float


@dataclass
class ChordSpan:
    """A chord sounding from ``beat`` for ``length`` beats."""

    beat: float
    length: float
    chord: Chord


@dataclass
class Arrangement:
    """Everything the renderer needs to play one clip."""

    genre: str
    key: int
    feel: Feel
    beats_per_bar: int
    bars: int
    harmony: list[ChordSpan]
    parts: list[Part]
    drum_hits: list[DrumHit]
    # "gm:<kit program>" plays drums from the soundfont; "kit:<name>" from a recorded Hydrogen kit.
    drum_source: str = "none"

    @property
    def beats(self) -> int:
        """Total length of the arrangement in beats."""
        return self.beats_per_bar * self.bars
