"""Rebuild the provisional shipped weights from the real clips in ../shared/data.

    python -m training.provisional [--data ../shared/data] [--models v-kernel crnn ...] [--out weights]

The clips are laid out as a folder-per-genre corpus of symbolic links
(``<genre>/real/<source>/...`` and ``<genre>/prototypes/<generator>/...``), so
the sampling weights give real recordings and synthesised prototypes the same
share in every genre, and classical's 80 extra real excerpts do not make
"sounds like a real recording" a classical cue. The test split holds out every
GTZAN clip (snippet or excerpt) of tracks 00041-00050 of each genre: a block
of neighbouring track numbers, so same-artist runs stay on one side.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
from pathlib import Path

from genretag.models import ARCHITECTURES, GTZAN_GENRES
from training.corpus import folder_corpus, gtzan_block
from training.train import REBUILD_NOTE, Recipe, train_model

log = logging.getLogger("training")

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data"
LINK_TREE = REPO / "training" / "cache" / "provisional-corpus"
REPORTS = REPO / "training" / "reports" / "provisional"
TEST_BLOCK = 4  # track numbers 00041-00050 (blocks of ten, counted from 00001)
RECIPE = {"epochs": 15, "lr": 1e-3, "batch_size": 32, "pitch_shift": 1, "seed": 0, "patience": None, "threads": 2}
ABBREVIATIONS = {genre[:3]: genre for genre in GTZAN_GENRES}
SPELLINGS = {"hip-hop": "hiphop", "hip_hop": "hiphop"}


def genre_from_name(stem: str) -> str:
    """The GTZAN genre in a prototype's file name: ``04_hip-hop``, ``v506_blu_n0_gs1`` or ``jazz__...``."""
    for token in re.split(r"__|_|\.", stem):
        token = SPELLINGS.get(token, token)
        if token in GTZAN_GENRES:
            return token
        if token in ABBREVIATIONS:
            return ABBREVIATIONS[token]
    raise ValueError(f"{stem}: no genre in the file name")


def _sources(data: Path):
    yield "real", "gtzan-snippets", data / "gtzan-snippets"
    yield "real", "gtzan-classical", data / "gtzan-classical"
    for generator in ("apnet", "pecmae-3", "pecmae-5-10s", "xai-mapped"):
        yield "prototypes", generator, data / "prototypes" / generator


def build_link_tree(data: Path, tree: Path = LINK_TREE) -> Path:
    """Lay the shared clips out as ``tree/<genre>/<kind>/<source>/<file>`` symbolic links."""
    for kind, source, folder in _sources(data):
        files = sorted(folder.glob("*.flac"))
        if not files:
            raise FileNotFoundError(f"{folder}: no .flac clips")
        for path in files:
            genre = path.name.split(".")[0] if kind == "real" else genre_from_name(path.stem)
            link = tree / genre / kind / source / path.name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.is_symlink():
                link.symlink_to(path.resolve())
    return tree


def provisional_split(tree: Path) -> dict[str, list]:
    """Train on everything but the GTZAN clips of tracks 00041-00050; test on those."""
    clips = folder_corpus(tree)
    held_out = [clip for clip in clips if clip.source[0] == "real" and gtzan_block(clip).endswith(f":{TEST_BLOCK}")]
    held = set(held_out)
    return {"train": [clip for clip in clips if clip not in held], "valid": [], "test": held_out}


def main(argv: list[str] | None = None) -> int:
    """Rebuild the provisional weights; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m training.provisional", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder")
    parser.add_argument("--models", nargs="+", choices=list(ARCHITECTURES), default=list(ARCHITECTURES))
    parser.add_argument("--epochs", type=int, default=RECIPE["epochs"])
    parser.add_argument("--out", type=Path, default=REPO / "weights")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    split = provisional_split(build_link_tree(args.data))
    for name in args.models:
        recipe = Recipe(model=name, **{**RECIPE, "epochs": args.epochs})
        card = {
            "provisional": True,
            "training": {
                "summary": (
                    "PROVISIONAL. Trained only on the short real clips and prototype clips of ../shared/data: "
                    "GTZAN snippets (2-3 s, looped to 10 s), 80 GTZAN classical excerpts (15 s), and clips "
                    "synthesised by genre-prototype models (apnet, pecmae-3, pecmae-5-10s, xai-mapped). NOT trained "
                    "on the full GTZAN. Real and prototype audio weigh the same in every genre. " + REBUILD_NOTE
                ),
                "split": "test = all GTZAN clips of tracks 00041-00050 of every genre (held out); train = the rest",
                "rebuild": "python -m training.provisional",
            },
        }
        log.info("training %s", name)
        written = train_model(split, GTZAN_GENRES, recipe, args.out, card, report_dir=REPORTS)
        log.info("%s: %s", name, written["metrics"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
