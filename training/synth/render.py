"""Play an arrangement with real sampled instruments: General MIDI soundfonts through
libfluidsynth (pyfluidsynth), drums from the soundfont or from a recorded kit.

Each worker process loads the soundfonts once and keeps the synthesizer; a full
reset before every clip (reverb and chorus are off) makes a clip's audio depend only
on its own events, so a clip renders identically alone or after any other.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from genretag.audio import SAMPLE_RATE
from training.synth.drumkits import PERCUSSION_KITS, available_kits, play_kit
from training.synth.score import Arrangement, DrumHit

SOUNDFONTS = (  # (path, weight): several sample sets so no one piano or guitar becomes the norm
    (Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"), 0.45),
    (Path("/usr/share/sounds/sf3/MuseScore_General_Full.sf3"), 0.35),
    (Path("/usr/share/sounds/sf2/TimGM6mb.sf2"), 0.20),
)
GM_DRUM_NOTES = {
    "kick": 36,
    "rim": 37,
    "snare": 38,
    "clap": 39,
    "hat": 42,
    "hat_pedal": 44,
    "hat_open": 46,
    "ride": 51,
    "crash": 49,
    "china": 52,
    "tom_hi": 48,
    "tom_lo": 43,
    "perc": 56,
}
DRUM_CHANNEL = 9
BEND_PER_SEMITONE = 4096  # the General MIDI default bend range is +-2 semitones
VIBRATO_STEP_S = 0.02
# fluidsynth renders in blocks of 64 frames and applies events at block starts; keeping
# every event and every clip on that grid makes the output independent of what the
# synthesizer rendered before.
SYNTH_BLOCK = 64


class MissingSoundfontError(RuntimeError):
    """No General MIDI soundfont is installed (apt-get install fluid-soundfont-gm)."""


def installed_soundfonts() -> list[tuple[Path, float]]:
    """The soundfonts of ``SOUNDFONTS`` that exist on this machine, with their weights."""
    found = [(path, weight) for path, weight in SOUNDFONTS if path.is_file()]
    if not found:
        raise MissingSoundfontError("no General MIDI soundfont found; apt-get install fluid-soundfont-gm")
    return found


@lru_cache(maxsize=1)
def _synthesizer():
    import fluidsynth  # training-only dependency (pyfluidsynth); imported where it is used

    # Effects off at construction (our own reverb follows); their tails would leak between clips.
    settings = {"synth.reverb.active": 0, "synth.chorus.active": 0}
    synth = fluidsynth.Synth(gain=0.5, samplerate=float(SAMPLE_RATE), **settings)
    for level in (1, 2, 3):  # error, warning, info: probing absent presets is expected, not news
        fluidsynth._fl.fluid_set_log_function(level, None, None)
    font_ids = [synth.sfload(str(path)) for path, _ in installed_soundfonts()]
    return synth, font_ids


def _render_float(synth, frames: int) -> np.ndarray:
    """``frames`` mono float32 samples straight from libfluidsynth (no 16-bit dither)."""
    import ctypes

    import fluidsynth

    left = np.zeros(frames, dtype=np.float32)
    right = np.zeros(frames, dtype=np.float32)
    function = fluidsynth._fl.fluid_synth_write_float
    function.argtypes = [ctypes.c_void_p, ctypes.c_int] + [ctypes.c_void_p, ctypes.c_int, ctypes.c_int] * 2
    function(synth.synth, frames, left.ctypes.data, 0, 1, right.ctypes.data, 0, 1)
    return (left + right) / 2


def _font_index(rng: np.random.Generator) -> int:
    weights = np.array([weight for _, weight in installed_soundfonts()])
    return int(rng.choice(len(weights), p=weights / weights.sum()))


def _events(arrangement: Arrangement, rng: np.random.Generator, gm_drums: bool) -> list[tuple[float, int, tuple]]:
    """(time s, order, action) triples; order puts note-offs before note-ons at equal times."""
    feel = arrangement.feel
    events = []

    def at(beat: float) -> float:
        return feel.seconds(beat) + float(rng.normal(0, feel.jitter_s))

    for channel, part in enumerate(arrangement.parts):
        for note in part.notes:
            start = max(0.0, at(note.beat))
            end = max(start + 0.03, feel.seconds(note.beat + note.length))
            events.append((end, 0, ("off", channel, note.pitch)))
            events.append((start, 2, ("on", channel, note.pitch, note.velocity)))
            if part.scoop > 0:
                for k, fraction in enumerate((1.0, 0.6, 0.3, 0.0)):
                    value = -part.scoop * fraction * BEND_PER_SEMITONE
                    events.append((start + 0.025 * k, 1 if k == 0 else 3, ("bend", channel, int(value))))
            if part.vibrato > 0 and end - start > 0.25:
                rate = rng.uniform(4.5, 6.5)
                for t in np.arange(start + 0.15, end, VIBRATO_STEP_S):
                    depth = part.vibrato * min(1.0, (t - start - 0.15) / 0.3)
                    value = depth * np.sin(2 * np.pi * rate * (t - start)) * BEND_PER_SEMITONE
                    events.append((float(t), 3, ("bend", channel, int(value))))
    if gm_drums:
        for hit in arrangement.drum_hits:
            start = max(0.0, at(hit.beat))
            pitch = GM_DRUM_NOTES[hit.role]
            events.append((start, 2, ("on", DRUM_CHANNEL, pitch, int(30 + 97 * hit.velocity))))
            events.append((start + 0.25, 0, ("off", DRUM_CHANNEL, pitch)))
    events.sort(key=lambda event: (event[0], event[1]))
    return events


def play_instruments(arrangement: Arrangement, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """The pitched parts (and soundfont drums when the arrangement asks for them) as mono float32.

    libfluidsynth's voices keep a little state from the previous clip that colours the
    first block of a new note, so the clip is played twice and the second take kept:
    the state the first take leaves behind depends only on this clip, which makes the
    result independent of what the worker rendered before.
    """
    draws = rng.bit_generator.state
    _play_once(arrangement, seconds, rng)
    rng.bit_generator.state = draws
    return _play_once(arrangement, seconds, rng)


def _play_once(arrangement: Arrangement, seconds: float, rng: np.random.Generator) -> np.ndarray:
    synth, font_ids = _synthesizer()
    for channel, part in enumerate(arrangement.parts):
        font = font_ids[_font_index(rng)]
        if synth.program_select(channel, font, 0, part.program) != 0:
            synth.program_select(channel, font_ids[0], 0, part.program)
        synth.cc(channel, 7, int(127 * part.volume))
    gm_drums = arrangement.drum_source.startswith("gm:")
    if gm_drums:
        font = font_ids[_font_index(rng)]
        kit = int(arrangement.drum_source.split(":")[1])
        if synth.program_select(DRUM_CHANNEL, font, 128, kit) != 0:
            synth.program_select(DRUM_CHANNEL, font, 128, 0)
    wanted = int(seconds * SAMPLE_RATE)
    total = -(-wanted // SYNTH_BLOCK) * SYNTH_BLOCK
    blocks = []
    position = 0
    for time_s, _, action in _events(arrangement, rng, gm_drums):
        frame = min(total, int(time_s * SAMPLE_RATE) // SYNTH_BLOCK * SYNTH_BLOCK)
        if frame > position:
            blocks.append(_render_float(synth, frame - position))
            position = frame
        if position >= total:
            break
        if action[0] == "on":
            synth.noteon(action[1], action[2], action[3])
        elif action[0] == "off":
            synth.noteoff(action[1], action[2])
        else:
            synth.pitch_bend(action[1], action[2])
    if total > position:
        blocks.append(_render_float(synth, total - position))
    _silence(synth)
    return np.concatenate(blocks)[:wanted]


def _silence(synth) -> None:
    """Reset and render until the output is exactly zero, so no release tail reaches the next clip."""
    synth.system_reset()
    for _ in range(100):
        if not np.any(_render_float(synth, 16 * SYNTH_BLOCK)):
            return


def play_recorded_drums(arrangement: Arrangement, seconds: float, rng: np.random.Generator) -> np.ndarray | None:
    """The drum hits on a randomly chosen recorded kit, sometimes with a hand-percussion layer."""
    kits = available_kits()
    if arrangement.drum_source != "kit" or not kits:
        return None
    feel = arrangement.feel
    timed = [(feel.seconds(hit.beat) + float(rng.normal(0, feel.jitter_s)), hit) for hit in arrangement.drum_hits]
    n_samples = int(seconds * SAMPLE_RATE)
    kit = kits[int(rng.integers(len(kits)))]
    drums = play_kit(kit, timed, n_samples, rng)
    if rng.random() < 0.2:
        percussion = PERCUSSION_KITS[int(rng.integers(len(PERCUSSION_KITS)))]
        layer = [
            (t, DrumHit(hit.beat, "perc", hit.velocity)) for t, hit in timed if hit.role in ("hat", "hat_open", "perc")
        ]
        drums += 0.5 * play_kit(percussion, layer, n_samples, rng)
    return drums
