"""Unlabelled real music for distillation: game soundtracks from Debian's packages.

    python -m training.teacher.debian_music [DIR]    # default: ../debian-music beside the repository

Downloads each package of ``PACKAGES`` with ``apt-get download`` and unpacks it
with ``dpkg -x`` into ``DIR/<package>/`` (nothing is installed; zipped ``.pk3`` bundles
are unpacked beside themselves as ``<bundle>.pk3.d/``). The teacher's
embeddings of their windows are committed (``training/data/teacher/musicnn-debian-*.npz``,
keys relative to ``DIR/<package>``); ``training.rebuild`` needs the audio itself to
compute the student's log-mels. Licences: ``training/data/teacher/debian-packages.txt``.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parents[2].parent / "debian-music"
# package → the music files inside it (sound effects and speech left out)
PACKAGES = {
    "wesnoth-1.16-music": "usr/share/games/wesnoth/1.16/data/core/music/*.ogg",
    "warzone2100-music": "usr/share/games/warzone2100/music/**/*.opus",
    "nexuiz-music": "usr/share/games/nexuiz/data/music.pk3.d/sound/cdtracks/*.ogg",
    "asc-music": "usr/share/games/asc/music/*.mp3",
    "hyperrogue-music": "usr/share/hyperrogue/music/*.ogg",
    "singularity-music": "usr/share/games/singularity/music/*.ogg",
    "lincity-ng-data": "usr/share/games/lincity-ng/music/**/*.ogg",
}


def fetch(directory: Path, packages: list[str]) -> None:
    """Download and unpack ``packages`` into ``directory/<package>/`` (skipping those already there)."""
    directory.mkdir(parents=True, exist_ok=True)
    for package in packages:
        target = directory / package
        if target.is_dir():
            continue
        subprocess.run(["apt-get", "download", package], cwd=directory, check=True)
        archive = next(directory.glob(f"{package}_*.deb"))
        subprocess.run(["dpkg", "-x", archive.name, package], cwd=directory, check=True)
        for bundle in target.rglob("*.pk3"):  # nexuiz keeps its music in a zip
            zipfile.ZipFile(bundle).extractall(bundle.with_name(bundle.name + ".d"))


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    args = sys.argv[1:] if argv is None else argv
    fetch(Path(args[0]) if args else DEFAULT_DIR, list(PACKAGES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
