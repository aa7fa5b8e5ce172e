"""Line generators: bass lines, comping patterns and sung/played leads over a harmony.

Each generator takes the harmony (chord spans) and a random generator and returns
notes. The style names are the ways these parts are actually played in the genres
(walking bass, boogie, skank, power-chord chugging, Alberti bass, ...); the genre
recipes in ``styles.py`` pick among them.
"""

from __future__ import annotations

import numpy as np

from training.synth.score import ChordSpan, Note
from training.synth.theory import CHORD_QUALITIES, nearest, scale_pitches

BASS_OCTAVE = 28  # E1..: roots land between 28 and 39
COMP_OCTAVE = 48


def _velocity(rng: np.random.Generator, base: int, spread: int = 12) -> int:
    return int(np.clip(base + rng.integers(-spread, spread + 1), 20, 127))


def _pick(rng: np.random.Generator, options: list):
    return options[int(rng.integers(len(options)))]


def _root(span: ChordSpan, key: int, octave: int = BASS_OCTAVE) -> int:
    return octave + (key + span.chord.root) % 12


def _chord_at(harmony: list[ChordSpan], beat: float) -> ChordSpan:
    for span in harmony:
        if span.beat <= beat < span.beat + span.length:
            return span
    return harmony[-1]


def bass_line(style: str, harmony: list[ChordSpan], key: int, rng: np.random.Generator) -> list[Note]:
    """A bass line in one of the styles: walking, boogie, root_fifth, octaves, root_eighths,
    root_sixteenths, sparse, reggae, pedal."""
    notes: list[Note] = []
    for index, span in enumerate(harmony):
        root = _root(span, key)
        intervals = CHORD_QUALITIES[span.chord.quality]
        fifth = root + 7 if 7 in intervals else root + intervals[-1] % 12
        third = root + intervals[1]
        next_root = _root(harmony[(index + 1) % len(harmony)], key)
        steps = np.arange(span.beat, span.beat + span.length - 1e-6, 1.0)
        if style == "walking":
            for j, beat in enumerate(steps):
                if j == 0:
                    pitch = root
                elif j == len(steps) - 1:
                    pitch = next_root + int(rng.choice([-1, 1, -2]))
                else:
                    pitch = int(rng.choice([third, fifth, root + 12 - 2, root + 2]))
                notes.append(Note(beat, 0.9, pitch, _velocity(rng, 90)))
        elif style == "boogie":
            figure = [0, 4, 7, 9, 10, 9, 7, 4]
            for j, beat in enumerate(np.arange(span.beat, span.beat + span.length - 1e-6, 0.5)):
                notes.append(Note(beat, 0.45, root + figure[j % 8], _velocity(rng, 88)))
        elif style == "root_fifth":
            for j, beat in enumerate(steps):
                if j % 2 == 0:
                    notes.append(Note(beat, 0.8, root if j % 4 == 0 else fifth - 12, _velocity(rng, 92)))
            if rng.random() < 0.4 and span.length >= 4:  # walk-up into the next chord
                for k, step in enumerate((-3, -2, -1)):
                    notes.append(
                        Note(span.beat + span.length - 1.5 + 0.5 * k, 0.4, next_root + step, _velocity(rng, 80))
                    )
        elif style == "octaves":
            for j, beat in enumerate(np.arange(span.beat, span.beat + span.length - 1e-6, 0.5)):
                notes.append(Note(beat, 0.35, root + (12 if j % 2 else 0), _velocity(rng, 95)))
        elif style in ("root_eighths", "root_sixteenths"):
            step = 0.5 if style == "root_eighths" else 0.25
            for beat in np.arange(span.beat, span.beat + span.length - 1e-6, step):
                notes.append(Note(beat, step * 0.9, root, _velocity(rng, 100, 8)))
        elif style == "sparse":
            offsets = _pick(rng, [[0, 1.75, 2.5], [0, 2.5], [0, 0.75, 2.0, 3.5], [0, 3.0]])
            for offset in offsets:
                if offset < span.length:
                    notes.append(Note(span.beat + offset, 0.7 + rng.random(), root, _velocity(rng, 100)))
        elif style == "reggae":
            offsets = _pick(rng, [[0.5, 1.0, 1.5, 2.5, 3.0], [1.0, 1.5, 2.0, 3.0, 3.5], [0.0, 0.75, 1.5, 2.5, 3.25]])
            tones = [root, third, fifth, root + 12, fifth - 12]
            for offset in offsets:
                if offset < span.length:
                    notes.append(Note(span.beat + offset, 0.4, int(rng.choice(tones)), _velocity(rng, 100)))
        elif style == "pedal":
            for beat in np.arange(span.beat, span.beat + span.length - 1e-6, 2.0):
                notes.append(Note(beat, 1.9, root + 12 * int(rng.random() < 0.3), _velocity(rng, 75)))
        else:
            raise ValueError(f"unknown bass style {style!r}")
    return notes


def _voicing(span: ChordSpan, key: int, octave: int, rng: np.random.Generator) -> list[int]:
    pitches = span.chord.pitches(key, octave)
    inversion = int(rng.integers(0, len(pitches)))
    return sorted(p + 12 * (i < inversion) for i, p in enumerate(pitches))


def comp_part(style: str, harmony: list[ChordSpan], key: int, rng: np.random.Generator) -> list[Note]:
    """Chordal accompaniment in one of the styles: sustain, block, strum8, skank, bubble,
    power8, power16, charleston, stabs, arpeggio, alberti, shuffle_riff, scratch."""
    notes: list[Note] = []
    octave = COMP_OCTAVE + int(rng.choice([-12, 0, 0, 12])) if style not in ("power8", "power16") else 40

    def chord_notes(beat: float, length: float, pitches: list[int], velocity: int, spread: float = 0.0) -> None:
        for k, pitch in enumerate(pitches):
            notes.append(Note(beat + spread * k, length, pitch, _velocity(rng, velocity, 6)))

    for span in harmony:
        voiced = _voicing(span, key, octave, rng)
        end = span.beat + span.length - 1e-6
        if style == "sustain":
            chord_notes(span.beat, span.length * 0.98, voiced, 70)
        elif style == "block":
            step = float(rng.choice([1.0, 2.0]))
            for beat in np.arange(span.beat, end, step):
                chord_notes(beat, step * 0.8, voiced, 78)
        elif style == "strum8":
            accents = [95, 60, 75, 70, 90, 60, 80, 70]
            for j, beat in enumerate(np.arange(span.beat, end, 0.5)):
                if rng.random() < 0.85:
                    down = j % 2 == 0
                    chord_notes(beat, 0.45, voiced if down else voiced[::-1], accents[j % 8], 0.02)
        elif style == "skank":
            positions = (0.5, 1.5, 2.5, 3.5) if rng.random() < 0.6 else (1.0, 3.0)
            for offset in positions:
                if offset < span.length:
                    chord_notes(span.beat + offset, 0.18, voiced, 85)
        elif style == "bubble":
            for j, beat in enumerate(np.arange(span.beat, end, 0.5)):
                pitches = [voiced[0] - 12] if j % 2 == 0 else voiced[1:]
                chord_notes(beat, 0.3, pitches, 70 if j % 2 == 0 else 60)
        elif style in ("power8", "power16"):
            step = 0.5 if style == "power8" else 0.25
            root = 40 + (key + span.chord.root) % 12
            for beat in np.arange(span.beat, end, step):
                if rng.random() < 0.9:
                    muted = rng.random() < 0.6
                    chord_notes(beat, step * (0.5 if muted else 0.95), [root, root + 7, root + 12], 100)
        elif style == "charleston":
            for offset in _pick(rng, [[0.0, 1.5], [1.5, 3.0], [0.5, 2.5], [0.0, 2.5, 3.5]]):
                if offset < span.length:
                    shell = [voiced[1], voiced[-1]] if len(voiced) > 2 else voiced
                    chord_notes(span.beat + offset, 0.6, shell, 72)
        elif style == "stabs":
            for offset in _pick(rng, [[0.5, 2.5], [1.5, 3.5], [0.0, 0.75, 2.5]]):
                if offset < span.length:
                    chord_notes(span.beat + offset, 0.25, voiced, 92)
        elif style == "arpeggio":
            step = float(rng.choice([0.25, 0.5]))
            cycle = voiced + voiced[1:-1][::-1]
            for j, beat in enumerate(np.arange(span.beat, end, step)):
                chord_notes(beat, step * 1.6, [cycle[j % len(cycle)]], 72)
        elif style == "alberti":
            low, mid, high = voiced[0], voiced[1], voiced[-1]
            for j, beat in enumerate(np.arange(span.beat, end, 0.5)):
                chord_notes(beat, 0.5, [(low, high, mid, high)[j % 4]], 68 if j % 4 else 78)
        elif style == "shuffle_riff":
            root = 40 + (key + span.chord.root) % 12
            for j, beat in enumerate(np.arange(span.beat, end, 0.5)):
                chord_notes(beat, 0.45, [root, root + (7 if j % 4 < 2 else 9)], 88)
        elif style == "scratch":
            for beat in np.arange(span.beat, end, 0.25):
                if rng.random() < 0.7:
                    chord_notes(beat, 0.1, [voiced[-1] + 12], 80)
        else:
            raise ValueError(f"unknown comp style {style!r}")
    return notes


def lead_line(
    style: str,
    harmony: list[ChordSpan],
    key: int,
    scale: str,
    register: tuple[int, int],
    rng: np.random.Generator,
) -> list[Note]:
    """A melody in one of the styles: sung (phrases with rests), busy (fast runs, solos),
    rap (many short notes in a narrow range), long (slow held notes)."""
    low, high = register
    pool = scale_pitches(key, scale, low, high)
    total = harmony[-1].beat + harmony[-1].length
    step_choices = {
        "sung": [0.5, 1.0, 1.0, 1.5, 2.0],
        "busy": [0.25, 0.25, 0.5],
        "rap": [0.25, 0.25, 0.5],
        "long": [2.0, 3.0, 4.0],
    }
    if style not in step_choices:
        raise ValueError(f"unknown lead style {style!r}")
    if style == "rap":
        centre = float(rng.uniform(low + 5, high - 7))
        pool = pool[np.abs(pool - centre) <= 4]
    notes: list[Note] = []
    beat = float(rng.choice([0.0, 0.5, 1.0]))
    pitch = float(rng.choice(pool))
    while beat < total:
        phrase_end = beat + float(rng.choice([2.0, 4.0, 6.0]))
        while beat < min(phrase_end, total):
            length = float(rng.choice(step_choices[style]))
            span = _chord_at(harmony, beat)
            if beat % 1.0 == 0 and rng.random() < 0.6:  # strong beats lean on chord tones
                tones = np.array(span.chord.pitches(key, 0))
                candidates = pool[np.isin(pool % 12, tones % 12)]
                pitch = nearest(candidates if len(candidates) else pool, pitch + rng.normal(0, 2))
            else:
                pitch = nearest(pool, pitch + rng.choice([-2, -1, 1, 2, 0, 3, -3]) * (1.0 if style != "rap" else 0.5))
            notes.append(Note(beat, length * float(rng.uniform(0.7, 1.0)), int(pitch), _velocity(rng, 90, 15)))
            beat += length
        beat += float(rng.choice([0.5, 1.0, 2.0])) if style != "busy" else 0.5
    return notes
