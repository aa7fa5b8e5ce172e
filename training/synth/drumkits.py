"""Recorded drum kits from Debian's ``hydrogen-drumkits`` package, played in numpy.

Each kit's ``drumkit.xml`` names its instruments; the names are mapped onto the
roles the grooves use (kick, snare, hat, ...). A role a kit lacks falls back to a
near relative (a missing china plays the crash, a missing rim click the snare).
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import soundfile
import soxr

from genretag.audio import SAMPLE_RATE
from training.synth.score import DrumHit

HYDROGEN_KITS = Path("/usr/share/hydrogen/data/drumkits")
# Kits of pure hand percussion play only the "perc" role.
PERCUSSION_KITS = ("Gimme A Hand 1.0", "circAfrique v4")

ROLE_KEYWORDS = (  # first match wins, so more specific names come first
    ("hat_pedal", ("pedal", "foot")),
    ("hat_open", ("open", "hh op", "hat op", "semi")),
    ("hat", ("closed", "hihat", "hi-hat", "hi hat", "hat", "hh")),
    ("kick", ("kick", "bass drum", "bassdrum", "bd")),
    ("rim", ("stick", "rim")),
    ("clap", ("clap",)),
    ("snare", ("snare",)),
    ("china", ("china",)),
    ("ride", ("ride",)),
    ("crash", ("crash", "splash", "cymbal")),
    ("tom_lo", ("floor", "tom low", "low tom", "tom 2", "tom lo")),
    ("tom_hi", ("tom",)),
    ("perc", ("cowbell", "tambourine", "shaker", "clave", "bongo", "conga", "maraca", "djembe", "cajon", "agogo")),
)
FALLBACK = {
    "china": "crash",
    "rim": "snare",
    "clap": "snare",
    "hat_pedal": "hat",
    "hat_open": "hat",
    "ride": "hat",
    "crash": "ride",
    "tom_lo": "tom_hi",
    "tom_hi": "snare",
    "perc": "hat",
}


def _role_of(name: str) -> str | None:
    lowered = name.lower()
    for role, keywords in ROLE_KEYWORDS:
        if any(keyword in lowered for keyword in keywords):
            return role
    return None


def available_kits() -> list[str]:
    """Names of the installed drum kits that have at least a kick and a snare."""
    if not HYDROGEN_KITS.is_dir():
        return []
    return sorted(
        name for name in (p.name for p in HYDROGEN_KITS.iterdir()) if {"kick", "snare"} <= set(kit_files(name))
    )


@cache
def kit_files(kit: str) -> dict[str, tuple[Path, ...]]:
    """Role → sample files of one kit, read from its drumkit.xml."""
    folder = HYDROGEN_KITS / kit
    tree = ElementTree.parse(folder / "drumkit.xml")
    roles: dict[str, list[Path]] = {}
    for instrument in tree.iter():
        if instrument.tag.rsplit("}", 1)[-1] != "instrument":
            continue
        names = [child.text or "" for child in instrument if child.tag.rsplit("}", 1)[-1] == "name"]
        role = _role_of(names[0]) if names else None
        files = [folder / (node.text or "") for node in instrument.iter() if node.tag.rsplit("}", 1)[-1] == "filename"]
        files = [f for f in files if f.is_file() and "empty" not in f.name.lower()]
        if role and files:
            roles.setdefault(role, []).extend(files)
    return {role: tuple(sorted(set(files))) for role, files in roles.items()}


@lru_cache(maxsize=512)
def _sample(path: Path) -> np.ndarray:
    data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE)
    peak = float(np.max(np.abs(mono))) or 1.0
    return (mono / peak).astype(np.float32)


def play_kit(kit: str, hits: list[tuple[float, DrumHit]], n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Mix the hits (time in seconds, hit) of one kit into a mono signal of ``n_samples``."""
    files = kit_files(kit)
    out = np.zeros(n_samples, dtype=np.float32)
    choice: dict[str, Path] = {}  # one sample per role per clip, like one physical kit piece
    for time_s, hit in hits:
        role = hit.role
        while role not in files and role in FALLBACK:
            role = FALLBACK[role]
        if role not in files:
            continue
        if role not in choice:
            choice[role] = files[role][int(rng.integers(len(files[role])))]
        sample = _sample(choice[role])
        start = int(time_s * SAMPLE_RATE)
        if start < 0 or start >= n_samples:
            continue
        end = min(n_samples, start + len(sample))
        gain = hit.velocity**1.5 * (0.6 if hit.role == "rim" and role == "snare" else 1.0)
        out[start:end] += gain * sample[: end - start]
    return out
