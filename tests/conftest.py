"""Shared fixtures: the real audio in ../shared and an isolated genretag home."""

from __future__ import annotations

from pathlib import Path

import pytest

from genretag import audio

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CC_AUDIO = SHARED / "audio" / "cc"
# GTZAN material of the fault-filtered train and valid splits only: the test split is held back.
GTZAN_FULL = SHARED / "data" / "gtzan-full"
SNIPPETS = SHARED / "data" / "gtzan-snippets"
GTZAN_CLASSICAL = SHARED / "data" / "gtzan-classical"
PROTOTYPES = SHARED / "data" / "prototypes"

BRAHMS = CC_AUDIO / "Hungarian_Dance_number_5_-_Allegro_in_F_sharp_minor_(string_orchestra).ogg"
VIBE_ACE = CC_AUDIO / "Kevin_MacLeod_-_Vibe_Ace.ogg"
FISHIN = CC_AUDIO / "Karissa_Hobbs_-_Lets_Go_Fishin.ogg"
SUGAR_PLUM = CC_AUDIO / "Kevin_MacLeod_-_P_I_Tchaikovsky_Dance_of_the_Sugar_Plum_Fairy.ogg"
TRUMPET = CC_AUDIO / "sorohanro_-_solo-trumpet-06.ogg"


# Frames of one 10 s segment's log-mel.
SEGMENT_FRAMES = 1 + audio.SEGMENT_SAMPLES // audio.HOP_LENGTH


def count_segments(n_samples: int) -> int:
    """How many segments ``audio.segments`` cuts from ``n_samples`` of sound, silent ones included."""
    if n_samples < audio.MIN_TRACK_SECONDS * audio.SAMPLE_RATE:
        return 0
    full, tail = divmod(n_samples, audio.SEGMENT_SAMPLES)
    if full == 0:
        return 1
    return full + (1 if tail >= audio.MIN_TAIL_SECONDS * audio.SAMPLE_RATE else 0)


@pytest.fixture(autouse=True)
def genretag_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own empty ``$GENRETAG_HOME`` (store, user models)."""
    home = tmp_path_factory.mktemp("genretag-home")
    monkeypatch.setenv("GENRETAG_HOME", str(home))
    return home
