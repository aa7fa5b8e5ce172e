"""Walking music folders: which files are audio, in which order, without loops.

Rules:

* folders are walked recursively; a file inside a walked folder counts as audio
  when its extension is one of ``AUDIO_SUFFIXES`` (case-insensitive);
* hidden files and folders (name starting with ``.``) inside a walked folder are
  skipped; a path given explicitly is used even if hidden;
* a file given explicitly is scanned whatever its extension;
* a special file (FIFO, socket, device) is never opened, since reading a FIFO
  blocks until something writes into it: it is reported as a problem,
  ``not a regular file (FIFO)``, also when its name ends in an audio extension;
* symbolic links are followed, but a folder already visited (same device and
  inode) is not entered again, so symlink loops end;
* the order is deterministic: the given paths in order, each folder's entries
  sorted by name; a file reached twice is listed once, also through paths that differ
  only in case (a case-insensitive mount: the same device and inode under the same
  case-folded path). Hard links under other names stay separate files.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

AUDIO_SUFFIXES = frozenset(
    {
        ".mp3",
        ".flac",
        ".ogg",
        ".oga",
        ".opus",
        ".m4a",
        ".mp4",
        ".aac",
        ".alac",
        ".wav",
        ".aiff",
        ".aif",
        ".wma",
        ".ape",  # Monkey's Audio, WavPack and Musepack: FFmpeg decodes them, tags.py tags them (APEv2)
        ".wv",
        ".mpc",
        # Sun/NeXT audio (GTZAN's own files), which libsndfile reads
        ".au",
        ".snd",
    }
)


class LibraryPathError(Exception):
    """A path given to walk does not exist."""


@dataclass
class WalkResult:
    """The audio files found, and the folders or links that could not be read."""

    files: list[Path] = field(default_factory=list)
    problems: list[tuple[Path, str]] = field(default_factory=list)


def special_file_kind(mode: int) -> str | None:
    """What a file of this ``st_mode`` is when it is neither a regular file nor a folder, else None."""
    for test, kind in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return kind
    return None


def _special(path: Path) -> str | None:
    try:
        kind = special_file_kind(path.stat().st_mode)
    except OSError:
        return None  # a broken link: reading it reports why
    return f"not a regular file ({kind})" if kind else None


def is_audio_file(path: Path) -> bool:
    """Whether a file found inside a folder counts as audio (by extension)."""
    return path.suffix.lower() in AUDIO_SUFFIXES


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _walk_folder(folder: Path, visited: set[tuple[int, int]], result: WalkResult) -> Iterable[Path]:
    try:
        identity = folder.stat()
    except OSError as error:
        result.problems.append((folder, f"cannot read folder: {error.strerror or error}"))
        return
    key = (identity.st_dev, identity.st_ino)
    if key in visited:
        return
    visited.add(key)
    try:
        with os.scandir(folder) as entries:
            children = sorted(entries, key=lambda entry: entry.name)
    except OSError as error:
        result.problems.append((folder, f"cannot read folder: {error.strerror or error}"))
        return
    for entry in children:
        if _is_hidden(entry.name):
            continue
        child = Path(entry.path)
        try:
            is_folder = entry.is_dir()  # follows symlinks
        except OSError:
            is_folder = False
        if is_folder:
            yield from _walk_folder(child, visited, result)
        elif is_audio_file(child):
            problem = None if entry.is_file() else _special(child)
            if problem:
                result.problems.append((child, problem))
            else:
                yield child


def walk_audio_files(paths: Iterable[str | Path]) -> WalkResult:
    """The audio files under ``paths`` (files or folders), following the module's rules.

    Returned paths are absolute (not resolved, so a symlinked file keeps its name).
    Raises ``LibraryPathError`` for a path that does not exist.
    """
    result = WalkResult()
    visited: set[tuple[int, int]] = set()
    seen: set[Path] = set()
    identities: set[tuple[int, int, str]] = set()
    for given in paths:
        path = Path(os.path.abspath(Path(given).expanduser()))
        if not path.exists():
            raise LibraryPathError(f"{given}: no such file or folder")
        problem = None if path.is_dir() else _special(path)
        if problem:
            result.problems.append((path, problem))
            continue
        found = _walk_folder(path, visited, result) if path.is_dir() else [path]
        for file in found:
            identity = _identity(file)
            if file not in seen and identity not in identities:
                seen.add(file)
                if identity is not None:
                    identities.add(identity)
                result.files.append(file)
    return result


def _identity(file: Path) -> tuple[int, int, str] | None:
    """What makes two paths one file for the walk: device, inode and the case-folded path."""
    try:
        info = file.stat()
    except OSError:
        return None
    return info.st_dev, info.st_ino, str(file).casefold()
