"""Scales, chord qualities, progressions and the time feel of a groove.

Everything here is plain music theory expressed as numbers: pitches are MIDI note
numbers, positions are in beats (a quarter note is one beat), chords are a root
offset from the key plus a quality.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "major_pentatonic": (0, 2, 4, 7, 9),
    "minor_pentatonic": (0, 3, 5, 7, 10),
    "blues": (0, 3, 5, 6, 7, 10),
}

CHORD_QUALITIES = {
    "maj": (0, 4, 7),
    "min": (0, 3, 7),
    "5": (0, 7, 12),
    "7": (0, 4, 7, 10),
    "9": (0, 4, 7, 10, 14),
    "maj7": (0, 4, 7, 11),
    "maj9": (0, 4, 7, 11, 14),
    "m7": (0, 3, 7, 10),
    "m9": (0, 3, 7, 10, 14),
    "m7b5": (0, 3, 6, 10),
    "dim": (0, 3, 6),
    "add9": (0, 4, 7, 14),
    "sus4": (0, 5, 7),
    "6": (0, 4, 7, 9),
    "m6": (0, 3, 7, 9),
}


@dataclass(frozen=True)
class Chord:
    """A chord as a root offset in semitones from the key plus a quality name."""

    root: int
    quality: str

    def pitches(self, key: int, octave_base: int) -> list[int]:
        """MIDI pitches of the chord in close position above ``octave_base + key + root``."""
        base = octave_base + (key + self.root) % 12
        return [base + interval for interval in CHORD_QUALITIES[self.quality]]


def chords(text: str) -> list[Chord]:
    """Parse ``"0:7 5:7 7:7"`` (root offset:quality, space separated) into chords."""
    parsed = []
    for token in text.split():
        root, quality = token.split(":")
        parsed.append(Chord(int(root), quality))
    return parsed


@dataclass(frozen=True)
class Feel:
    """How beat positions become seconds: tempo, swing and human timing.

    ``swing`` is the share of a swung pair that its first note takes (0.5 straight,
    0.667 a triplet shuffle); ``swing_unit`` is the pair's length in beats (1 swings
    8th notes, 0.5 swings 16th notes, as in boom-bap).
    """

    tempo: float
    swing: float = 0.5
    swing_unit: float = 1.0
    jitter_s: float = 0.0

    @property
    def seconds_per_beat(self) -> float:
        """Duration of one quarter note in seconds."""
        return 60.0 / self.tempo

    def seconds(self, beat: float) -> float:
        """The time in seconds of a beat position, swing applied (no jitter)."""
        pair, within = divmod(beat, self.swing_unit)
        fraction = within / self.swing_unit
        swung = fraction * 2 * self.swing if fraction < 0.5 else self.swing + (fraction - 0.5) * 2 * (1 - self.swing)
        return (pair + swung) * self.swing_unit * self.seconds_per_beat


def scale_pitches(key: int, scale: str, low: int, high: int) -> np.ndarray:
    """All pitches of ``scale`` on ``key`` between ``low`` and ``high`` inclusive."""
    degrees = set(SCALES[scale])
    return np.array([p for p in range(low, high + 1) if (p - key) % 12 in degrees])


def nearest(pitches: np.ndarray, target: float) -> int:
    """The pitch in ``pitches`` closest to ``target``."""
    return int(pitches[np.argmin(np.abs(pitches - target))])
