"""Genre recipes: how each of the ten GTZAN genres is played, and ``arrange`` which
draws one randomised arrangement from a recipe.

A recipe fixes what makes the genre (tempo range, feel, groove family, chord
progressions, bass/comping/lead styles); everything else is drawn at random and
instruments are borrowed from other genres' pools with probability ``BORROW``, so a
model cannot learn "fiddle means country" or "distortion means metal" alone.

Programs are General MIDI numbers (0-based): 0 piano, 4 electric piano, 16-18 organ,
22 harmonica, 24-31 guitars (29 overdrive, 30 distortion), 32-39 basses, 40-51
strings, 52-54 choir/voice/synth voice, 56-63 brass, 64-67 saxes, 68-79 reeds and
flutes, 80-87 synth leads (85 "voice" lead), 88-95 pads, 105 banjo, 110 fiddle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.synth.grooves import drum_hits
from training.synth.parts import bass_line, comp_part, lead_line
from training.synth.score import Arrangement, ChordSpan, Part
from training.synth.theory import Feel, chords

BORROW = 0.25
VOCAL_PROGRAMS = (52, 53, 54, 85)


@dataclass(frozen=True)
class Recipe:
    """What stays constant within a genre; every field is a pool to draw from."""

    tempo: tuple[float, float]
    swing: tuple[float, float]
    swing_unit: float
    meters: tuple[int, ...]
    progressions: tuple[str, ...]
    beats_per_chord: tuple[float, ...]
    bass: tuple[tuple[tuple[int, ...], str], ...]
    comps: tuple[tuple[tuple[int, ...], str], ...]
    leads: tuple[tuple[tuple[int, ...], str, float], ...]  # programs, style, vibrato depth
    scales: tuple[str, ...]
    gm_kits: tuple[int, ...]
    drums: float = 1.0  # probability that the clip has drums


RECIPES: dict[str, Recipe] = {
    "blues": Recipe(
        tempo=(58, 130),
        swing=(0.62, 0.7),
        swing_unit=1.0,
        meters=(4,),
        progressions=(
            "0:7 5:7 0:7 0:7 5:7 5:7 0:7 0:7 7:7 5:7 0:7 7:7",
            "0:7 0:7 0:7 0:7 5:7 5:7 0:7 0:7 7:7 5:7 0:7 0:7",
            "0:m7 0:m7 5:m7 5:m7 0:m7 0:m7 8:7 7:7 0:m7 7:7",
        ),
        beats_per_chord=(4.0,),
        bass=(((32, 33, 34), "boogie"), ((32, 33), "walking"), ((33, 34), "root_fifth")),
        comps=(
            ((25, 26, 27, 29), "shuffle_riff"),
            ((0, 3), "block"),
            ((16, 17, 18), "sustain"),
            ((0, 3), "charleston"),
        ),
        leads=(
            ((27, 29, 30, 26), "busy", 0.35),
            ((22,), "sung", 0.3),
            (VOCAL_PROGRAMS, "sung", 0.3),
            ((65, 66), "sung", 0.2),
        ),
        scales=("blues", "minor_pentatonic", "mixolydian"),
        gm_kits=(0, 8, 32),
    ),
    "classical": Recipe(
        tempo=(48, 150),
        swing=(0.5, 0.5),
        swing_unit=1.0,
        meters=(4, 3, 3),
        progressions=(
            "0:maj 5:maj 7:7 0:maj",
            "0:maj 9:min 2:min 7:7",
            "0:min 5:min 7:7 0:min",
            "0:maj 7:maj 9:min 4:min 5:maj 0:maj 5:maj 7:7",
            "0:min 8:maj 2:dim 7:7",
            "0:maj 2:m7 7:7 0:maj 5:maj 11:dim 4:min 9:min",
        ),
        beats_per_chord=(2.0, 3.0, 4.0),
        bass=(((42, 43, 32, 0, 70, 58), "pedal"), ((42, 43, 45), "walking")),
        comps=(
            ((48, 49, 50, 19), "sustain"),
            ((0, 46, 6), "arpeggio"),
            ((0, 6), "alberti"),
            ((45,), "block"),
            ((0,), "block"),
        ),
        leads=(
            ((40, 41, 68, 71, 73, 60, 56), "sung", 0.2),
            ((40, 73, 0, 71), "busy", 0.15),
            ((42, 60, 52, 57), "long", 0.2),
        ),
        scales=("major", "minor", "harmonic_minor"),
        gm_kits=(48,),
        drums=0.0,
    ),
    "country": Recipe(
        tempo=(80, 180),
        swing=(0.5, 0.57),
        swing_unit=1.0,
        meters=(4, 4, 4, 3),
        progressions=(
            "0:maj 5:maj 7:maj 0:maj",
            "0:maj 0:maj 5:maj 0:maj 7:maj 7:maj 0:maj 0:maj",
            "0:maj 5:maj 0:maj 7:maj",
            "0:maj 7:maj 5:maj 0:maj",
            "0:maj 4:min 5:maj 7:7",
            "0:maj 2:7 7:7 0:maj",
        ),
        beats_per_chord=(4.0, 8.0, 2.0),
        bass=(((32, 33, 34), "root_fifth"), ((32,), "walking")),
        comps=(
            ((25, 24), "strum8"),
            ((105,), "arpeggio"),
            ((27, 25), "arpeggio"),
            ((0, 3), "block"),
            ((27, 28), "scratch"),
        ),
        leads=(
            ((110, 40), "busy", 0.25),
            ((22,), "sung", 0.25),
            ((26, 27), "sung", 0.1),
            (VOCAL_PROGRAMS, "sung", 0.3),
        ),
        scales=("major_pentatonic", "major", "mixolydian"),
        gm_kits=(0, 8, 40),
    ),
    "disco": Recipe(
        tempo=(108, 134),
        swing=(0.5, 0.54),
        swing_unit=0.5,
        meters=(4,),
        progressions=(
            "0:m7 5:m7",
            "0:m9 0:m9 5:7 5:7",
            "0:maj7 9:m7 2:m7 7:9",
            "2:m7 7:9 0:maj7 9:m7",
            "0:m7 3:maj7 5:m7 7:m7",
        ),
        beats_per_chord=(4.0, 8.0, 2.0),
        bass=(((33, 38, 36, 39), "octaves"), ((33, 36), "root_eighths")),
        comps=(
            ((48, 49, 50), "sustain"),
            ((28, 27), "scratch"),
            ((4, 5, 0), "stabs"),
            ((61, 62), "stabs"),
            ((4, 5), "block"),
        ),
        leads=((VOCAL_PROGRAMS, "sung", 0.3), ((48, 49), "sung", 0.1), ((80, 81, 56), "sung", 0.15)),
        scales=("dorian", "minor", "major"),
        gm_kits=(0, 24, 25, 8),
    ),
    "hiphop": Recipe(
        tempo=(78, 102),
        swing=(0.5, 0.62),
        swing_unit=0.5,
        meters=(4,),
        progressions=(
            "0:m7 8:maj7",
            "0:m9 5:m9",
            "0:min 3:maj 8:maj 7:min",
            "0:m7 0:m7 10:7 10:7",
            "0:m9 8:maj7 3:maj7 7:m7",
            "0:m7",
        ),
        beats_per_chord=(4.0, 8.0),
        bass=(((38, 39, 33, 87), "sparse"), ((33, 38), "pedal")),
        comps=(((4, 5), "sustain"), ((0, 4, 61, 48), "stabs"), ((11, 4, 46), "arpeggio"), ((48, 50, 89), "sustain")),
        leads=((VOCAL_PROGRAMS, "rap", 0.1), (VOCAL_PROGRAMS, "rap", 0.0), ((73, 56, 4), "sung", 0.1)),
        scales=("minor_pentatonic", "minor", "dorian"),
        gm_kits=(25, 24, 0),
    ),
    "jazz": Recipe(
        tempo=(90, 240),
        swing=(0.58, 0.7),
        swing_unit=1.0,
        meters=(4, 4, 3),
        progressions=(
            "2:m7 7:7 0:maj7 0:maj7",
            "0:maj7 9:m7 2:m7 7:7",
            "2:m7b5 7:7 0:m6 0:m6",
            "0:maj9 5:maj7 4:m7 9:7",
            "2:m9 7:9 0:maj9 9:7",
            "0:7 5:7 0:7 7:7",
        ),
        beats_per_chord=(4.0, 2.0),
        bass=(((32,), "walking"), ((32, 33, 35), "walking")),
        comps=(((0, 4), "charleston"), ((26,), "charleston"), ((11,), "charleston"), ((0, 26), "block")),
        leads=(
            ((64, 65, 66, 67), "busy", 0.2),
            ((56, 57, 59), "sung", 0.15),
            ((11, 0, 26, 71, 73), "busy", 0.05),
            ((52, 53), "sung", 0.3),
        ),
        scales=("dorian", "mixolydian", "blues", "major"),
        gm_kits=(32, 40, 0),
    ),
    "metal": Recipe(
        tempo=(100, 220),
        swing=(0.5, 0.51),
        swing_unit=1.0,
        meters=(4,),
        progressions=("0:5 1:5 0:5 10:5", "0:5 3:5 5:5 6:5", "0:5 8:5 10:5 0:5", "0:5 0:5 5:5 3:5", "0:5 1:5 3:5 1:5"),
        beats_per_chord=(2.0, 4.0, 1.0),
        bass=(((33, 34), "root_sixteenths"), ((33, 34, 38), "root_eighths")),
        comps=(((30, 29), "power16"), ((30,), "power8"), ((30, 29), "power16")),
        leads=(((30, 29), "busy", 0.4), (VOCAL_PROGRAMS, "long", 0.35), ((52, 91), "long", 0.2)),
        scales=("phrygian", "harmonic_minor", "minor"),
        gm_kits=(16, 0, 8),
    ),
    "pop": Recipe(
        tempo=(80, 132),
        swing=(0.5, 0.55),
        swing_unit=0.5,
        meters=(4,),
        progressions=(
            "0:maj 7:maj 9:min 5:maj",
            "9:min 5:maj 0:maj 7:maj",
            "0:maj 9:min 5:maj 7:maj",
            "0:add9 7:maj 9:min 5:maj",
            "5:maj 7:maj 0:maj 9:min",
            "0:maj 4:min 5:maj 7:maj",
        ),
        beats_per_chord=(4.0, 2.0, 8.0),
        bass=(((33, 38, 39), "root_eighths"), ((33, 38), "sparse"), ((38, 39), "octaves")),
        comps=(
            ((0, 1), "block"),
            ((0, 1, 4), "arpeggio"),
            ((88, 89, 90, 50), "sustain"),
            ((25, 24), "strum8"),
            ((81, 80, 62), "stabs"),
        ),
        leads=((VOCAL_PROGRAMS, "sung", 0.3), ((52, 53), "sung", 0.25), ((80, 81, 73), "sung", 0.1)),
        scales=("major", "major_pentatonic"),
        gm_kits=(0, 24, 25, 8),
    ),
    "reggae": Recipe(
        tempo=(60, 100),
        swing=(0.5, 0.62),
        swing_unit=1.0,
        meters=(4,),
        progressions=(
            "0:maj 5:maj",
            "0:min 5:min",
            "0:maj 7:maj 5:maj 7:maj",
            "0:min 10:maj 8:maj 10:maj",
            "0:maj 9:min 5:maj 7:maj",
        ),
        beats_per_chord=(4.0, 8.0),
        bass=(((33, 34, 38), "reggae"), ((33, 38), "reggae")),
        comps=(((27, 28, 26), "skank"), ((0, 4), "skank"), ((16, 17, 18), "bubble"), ((61, 56), "stabs")),
        leads=((VOCAL_PROGRAMS, "sung", 0.3), ((21, 22), "sung", 0.2), ((56, 57), "sung", 0.15)),
        scales=("major", "major_pentatonic", "minor_pentatonic", "dorian"),
        gm_kits=(0, 8, 24),
    ),
    "rock": Recipe(
        tempo=(88, 165),
        swing=(0.5, 0.53),
        swing_unit=1.0,
        meters=(4,),
        progressions=(
            "0:5 5:5 7:5 0:5",
            "0:maj 10:maj 5:maj 0:maj",
            "9:min 5:maj 0:maj 7:maj",
            "0:5 3:5 5:5 0:5",
            "0:maj 7:maj 5:maj 5:maj",
            "0:5 10:5 5:5 7:5",
        ),
        beats_per_chord=(4.0, 2.0, 8.0),
        bass=(((33, 34), "root_eighths"), ((33, 34), "root_fifth")),
        comps=(
            ((29, 30), "power8"),
            ((29, 25, 27), "strum8"),
            ((27, 26), "arpeggio"),
            ((18, 16), "sustain"),
            ((0,), "block"),
        ),
        leads=((VOCAL_PROGRAMS, "sung", 0.3), ((29, 30, 27), "busy", 0.35), ((52, 53), "sung", 0.25)),
        scales=("minor_pentatonic", "major", "mixolydian", "major_pentatonic"),
        gm_kits=(0, 8, 16),
    ),
}

GENRES = tuple(RECIPES)
LEAD_REGISTERS = {"sung": (57, 79), "busy": (55, 86), "rap": (50, 67), "long": (52, 76)}


def _choose(pool, rng: np.random.Generator):
    return pool[int(rng.integers(len(pool)))]


def _program(genre: str, role: str, index: int, rng: np.random.Generator) -> int:
    """The programs of recipe option ``index``; with probability BORROW another genre's pool."""
    own = getattr(RECIPES[genre], role)[index][0]
    if rng.random() < BORROW:
        other = RECIPES[_choose(GENRES, rng)]
        own = _choose(getattr(other, role), rng)[0]
    return int(_choose(own, rng))


def _harmony(recipe: Recipe, total_beats: int, beats_per_bar: int, rng: np.random.Generator) -> list[ChordSpan]:
    progression = chords(_choose(recipe.progressions, rng))
    per_chord = float(_choose(recipe.beats_per_chord, rng))
    if beats_per_bar == 3:
        per_chord = 3.0 * max(1, round(per_chord / 4))
    start = int(rng.integers(len(progression)))  # enter the form anywhere, as an excerpt does
    spans = []
    beat = 0.0
    index = start
    while beat < total_beats:
        spans.append(ChordSpan(beat, per_chord, progression[index % len(progression)]))
        beat += per_chord
        index += 1
    return spans


def arrange(genre: str, seconds: float, rng: np.random.Generator) -> Arrangement:
    """Draw one arrangement of ``genre`` lasting at least ``seconds``."""
    recipe = RECIPES[genre]
    feel = Feel(
        tempo=float(rng.uniform(*recipe.tempo)),
        swing=float(rng.uniform(*recipe.swing)),
        swing_unit=recipe.swing_unit,
        jitter_s=float(rng.uniform(0.002, 0.02 if genre != "classical" else 0.035)),
    )
    beats_per_bar = int(_choose(recipe.meters, rng))
    bars = int(np.ceil(seconds / (feel.seconds_per_beat * beats_per_bar))) + 1
    key = int(rng.integers(12))
    harmony = _harmony(recipe, bars * beats_per_bar, beats_per_bar, rng)

    parts = []
    bass_index = int(rng.integers(len(recipe.bass)))
    parts.append(
        Part("bass", _program(genre, "bass", bass_index, rng), bass_line(recipe.bass[bass_index][1], harmony, key, rng))
    )
    for comp_index in rng.choice(len(recipe.comps), size=int(rng.integers(1, 3)), replace=False):
        style = recipe.comps[comp_index][1]
        parts.append(
            Part(
                "comp",
                _program(genre, "comps", comp_index, rng),
                comp_part(style, harmony, key, rng),
                volume=float(rng.uniform(0.45, 0.85)),
            )
        )
    if rng.random() < 0.85:
        lead_index = int(rng.integers(len(recipe.leads)))
        _, style, vibrato = recipe.leads[lead_index]
        scale = _choose(recipe.scales, rng)
        notes = lead_line(style, harmony, key, scale, LEAD_REGISTERS[style], rng)
        parts.append(
            Part(
                "lead",
                _program(genre, "leads", lead_index, rng),
                notes,
                volume=float(rng.uniform(0.7, 1.0)),
                vibrato=vibrato * float(rng.uniform(0.5, 1.5)),
                scoop=float(rng.uniform(0.0, 1.0)) * (vibrato > 0.1),
            )
        )
    for part in parts:
        part.volume *= float(rng.uniform(0.75, 1.0))

    has_drums = rng.random() < recipe.drums
    hits = drum_hits(genre, bars, beats_per_bar, rng) if has_drums else []
    drum_source = "none"
    if has_drums:
        kits = recipe.gm_kits if rng.random() > BORROW else RECIPES[_choose(GENRES[:1] + GENRES[2:], rng)].gm_kits
        drum_source = f"gm:{_choose(kits, rng)}" if rng.random() < 0.4 else "kit"
    return Arrangement(genre, key, feel, beats_per_bar, bars, harmony, parts, hits, drum_source)
