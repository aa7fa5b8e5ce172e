"""Drum grooves of the genres on a 16-step bar grid (steps are 16th notes).

In a pattern string ``X`` is an accented hit, ``x`` a normal hit, ``o`` a ghost
note and ``.`` a rest. Swing is not written here: the clip's ``Feel`` moves the
off-beats, so the same ``x.x.x.x.`` hat line becomes a shuffle under a blues feel.
"""

from __future__ import annotations

import numpy as np

from training.synth.score import DrumHit

GROOVES: dict[str, list[dict[str, str]]] = {
    "blues": [  # shuffle: swung 8ths on hat or ride, backbeat, kick on 1 and 3
        {"kick": "x.......x.......", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
        {
            "kick": "x.....x.x.......",
            "snare": "....X.......X..o",
            "ride": "x.x.x.x.x.x.x.x.",
            "hat_pedal": "....x.......x...",
        },
        {"kick": "x...x...x...x...", "snare": "....X.......X...", "hat": "x.xxx.xxx.xxx.xx"},
    ],
    "jazz": [  # spang-a-lang ride, hat on 2 and 4, feathered kick, comping snare
        {
            "ride": "X...x.x.X...x.x.",
            "hat_pedal": "....x.......x...",
            "kick": "o...o...o...o...",
            "snare": "......o.......o.",
        },
        {"ride": "X...x.x.X...x.x.", "hat_pedal": "....x.......x...", "snare": "..o.....o..o...."},
        {"ride": "x.x.x.x.x.x.x.x.", "hat_pedal": "....x.......x...", "kick": "x.........o....."},
    ],
    "country": [  # train beat (16th snare with accents) and two-step
        {"snare": "oxoXoxoXoxoXoxoX", "kick": "x.......x.......", "hat_pedal": "....x.......x..."},
        {"kick": "x.......x.......", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "x.......x.......", "rim": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
    ],
    "disco": [  # four on the floor, open hat on the off-beats
        {"kick": "X...X...X...X...", "snare": "....X.......X...", "hat_open": "..x...x...x...x."},
        {
            "kick": "X...X...X...X...",
            "clap": "....X.......X...",
            "hat": "xxXxxxXxxxXxxxXx",
            "hat_open": "..x...x...x...x.",
        },
        {
            "kick": "X...X...X...X...",
            "snare": "....X.......X...",
            "hat": "x.x.x.x.x.x.x.x.",
            "perc": "..x...x...x...x.",
        },
    ],
    "hiphop": [  # boom-bap
        {"kick": "X......x..x.....", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "X.........X.....", "snare": "....X.......X...", "hat": "xxxxxxxxxxxxxxxx"},
        {
            "kick": "X..x......x..x..",
            "snare": "....X.......X...",
            "hat": "x.x.x.x.x.x.x.x.",
            "hat_open": "..............x.",
        },
        {"kick": "X.......X.x.....", "clap": "....X.......X...", "hat": "x.xxx.x.x.xxx.x."},
    ],
    "metal": [  # double kick, blast beats, half-time
        {"kick": "xxxxxxxxxxxxxxxx", "snare": "....X.......X...", "ride": "x.x.x.x.x.x.x.x."},
        {"kick": "x.x.x.x.x.x.x.x.", "snare": ".x.x.x.x.x.x.x.x", "crash": "x...x...x...x..."},
        {"kick": "xxxxxxxxxxxxxxxx", "snare": "........X.......", "china": "x...x...x...x..."},
        {"kick": "x.xxx.xxx.xxx.xx", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
    ],
    "pop": [
        {"kick": "x.....x...x.....", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "X...X...X...X...", "clap": "....X.......X...", "hat": "..x...x...x...x."},
        {"kick": "x.......x.x.....", "snare": "....X.......X...", "hat": "xxxxxxxxxxxxxxxx"},
    ],
    "reggae": [  # one drop (kick and rim on 3), rockers, steppers
        {"kick": "........X.......", "rim": "........X.......", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "........X.......", "snare": "........X.......", "hat": "x.xxx.xxx.xxx.xx"},
        {"kick": "X.......X.......", "rim": "....x.......x...", "hat": "..x...x...x...x."},
        {"kick": "X...X...X...X...", "rim": "........X.......", "hat": "x.x.x.x.x.x.x.x."},
    ],
    "rock": [  # straight 8ths with a backbeat
        {"kick": "x.....x.x.......", "snare": "....X.......X...", "hat": "x.x.x.x.x.x.x.x."},
        {"kick": "x.......x.x.....", "snare": "....X.......X...", "ride": "x.x.x.x.x.x.x.x."},
        {"kick": "x...x...x...x...", "snare": "....X.......X...", "hat_open": "x.x.x.x.x.x.x.x."},
    ],
}

VELOCITY = {"X": 1.0, "x": 0.75, "o": 0.3}
FILL_ROLES = ("snare", "tom_hi", "tom_lo")


def drum_hits(genre: str, bars: int, beats_per_bar: int, rng: np.random.Generator) -> list[DrumHit]:
    """The drum hits of ``bars`` bars of one groove of ``genre``, varied bar by bar.

    Hits drop out or appear as ghost notes at random, the last bar of a four-bar
    phrase may be a tom fill, and a crash marks the first bar. A 3/4 bar plays the
    first twelve steps of the pattern.
    """
    pattern = GROOVES[genre][int(rng.integers(len(GROOVES[genre])))]
    steps_per_bar = 4 * beats_per_bar
    hits: list[DrumHit] = []
    fill_bar = int(rng.integers(1, bars)) if bars > 1 and rng.random() < 0.5 else -1
    for bar in range(bars):
        start = bar * beats_per_bar
        if bar == fill_bar:
            fill_from = steps_per_bar // 2
            for step in range(fill_from, steps_per_bar):
                role = FILL_ROLES[min(2, (step - fill_from) * 3 // (steps_per_bar - fill_from))]
                hits.append(DrumHit(start + step / 4, role, float(rng.uniform(0.6, 1.0))))
            pattern_steps = range(fill_from)
        else:
            pattern_steps = range(steps_per_bar)
        for role, line in pattern.items():
            for step in pattern_steps:
                mark = line[step % 16]
                if mark == "." and role in ("snare", "hat") and rng.random() < 0.04:
                    mark = "o"
                if mark == "." or rng.random() < 0.05:
                    continue
                velocity = VELOCITY[mark] * float(rng.uniform(0.8, 1.1))
                hits.append(DrumHit(start + step / 4, role, min(velocity, 1.0)))
        if bar == 0 or (bar == fill_bar + 1 and rng.random() < 0.7):
            hits.append(DrumHit(start, "crash", float(rng.uniform(0.7, 1.0))))
    return hits
