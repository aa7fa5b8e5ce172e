"""Genres in a file's second tags, where players also look: an APEv2 tag in an MP3 (its ``Genre``),
a freeform ``----:com.apple.iTunes:GENRE`` atom in an M4A, an ID3 tag before a FLAC's ``fLaC``
(its ``TCON``); and the APEv2 tag of Monkey's Audio, WavPack and Musepack files, their only one.

``tags`` reads these with the main tag's genres and writes the same values into each that a
file has (none is created or removed), so that every player shows the same genre.
"""

from __future__ import annotations

import struct
from pathlib import Path

from genretag.genres import distinct_genres
from genretag.journal import TagError

ID3V23_SEPARATOR = "/"


def file_magic(path: str | Path) -> bytes:
    """The first four bytes of the file (raises ``TagError`` when it cannot be read)."""
    try:
        with open(path, "rb") as reader:
            return reader.read(4)
    except OSError as error:
        raise TagError(f"cannot read: {error.strerror or error}") from None


def id3_genres(id3) -> tuple[str, ...]:
    """The genre values of an ID3 tag's ``TCON`` frames."""
    # ``genres`` resolves the numeric forms; "/" separates values only in ID3v2.3 (v2.4 has NUL).
    values = []
    for frame in id3.getall("TCON"):
        for genre in frame.genres:
            values.extend(genre.split(ID3V23_SEPARATOR) if id3.version < (2, 4, 0) else [genre])
    return distinct_genres(values)


def _mp3_ape(path: str | Path):
    """An MP3's APEv2 tag, or None."""
    import mutagen
    from mutagen.apev2 import APEv2

    try:
        return APEv2(path)
    except (mutagen.MutagenError, ValueError, EOFError, struct.error):
        return None


def _flac_id3(path: str | Path):
    """The ID3 tag before a FLAC's ``fLaC``, or None."""
    import mutagen
    from mutagen.id3 import ID3

    if file_magic(path)[:3] != b"ID3":
        return None
    try:
        return ID3(path)
    except (mutagen.MutagenError, ValueError, EOFError, struct.error):
        return None


def freeform_genre_keys(mp4_tags) -> list[str]:
    return [key for key in mp4_tags if key.startswith("----:") and key.rsplit(":", 1)[-1].casefold() == "genre"]


def _freeform_genres(mp4_tags) -> tuple[str, ...]:
    values = []
    for key in freeform_genre_keys(mp4_tags):
        values.extend(bytes(item).decode("utf-8", "replace") for item in mp4_tags[key])
    return distinct_genres(values)


def second_genres(audio, path: str | Path) -> tuple[str, ...] | None:
    """The genres of the file's second tag (see the module docstring); None when it has none."""
    kind = type(audio).__name__
    if kind == "MP3":
        ape = _mp3_ape(path)
        return None if ape is None else ape_genres(ape)
    if kind == "MP4" and audio.tags is not None and freeform_genre_keys(audio.tags):
        return _freeform_genres(audio.tags)
    if kind == "FLAC":
        id3 = _flac_id3(path)
        return None if id3 is None else id3_genres(id3)
    return None


def write_second_tags(path: str, kind: str, values: tuple[str, ...]) -> None:
    """Set the second tag's genre of the file at ``path`` (already saved by mutagen) to ``values``."""
    from mutagen.id3 import TCON, Encoding

    if kind == "MP3" and (ape := _mp3_ape(path)) is not None:
        set_ape_genres(ape, values)
        ape.save(path)
    elif kind == "FLAC" and (id3 := _flac_id3(path)) is not None:
        id3.delall("TCON")
        if values:
            id3.add(TCON(encoding=Encoding.UTF8, text=list(values)))
        version = 3 if id3.version[1] == 3 else 4
        id3.save(path, v1=1, v2_version=version, v23_sep=ID3V23_SEPARATOR)


def ape_genres(ape) -> tuple[str, ...]:
    value = ape.get("Genre")
    return distinct_genres(list(value)) if value is not None and value.kind == 0 else ()


def set_ape_genres(ape, values: tuple[str, ...]) -> None:
    if "Genre" in ape:
        del ape["Genre"]
    if values:
        ape["Genre"] = list(values)


def is_ape(tags) -> bool:
    from mutagen.apev2 import APEv2

    return isinstance(tags, APEv2)
