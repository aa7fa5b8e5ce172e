"""Shared fixtures: the real audio in ../shared and an isolated genretag home."""

from __future__ import annotations

from pathlib import Path

import pytest

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


@pytest.fixture(autouse=True)
def genretag_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own empty ``$GENRETAG_HOME`` (store, user models)."""
    home = tmp_path_factory.mktemp("genretag-home")
    monkeypatch.setenv("GENRETAG_HOME", str(home))
    return home
