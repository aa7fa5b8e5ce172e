"""Genre tags inside audio files: read them, plan what to write, write them safely.

Containers (through mutagen), and where the genre lives:

* MP3, WAV, AIFF: the ID3v2 ``TCON`` frame (WAV and AIFF keep ID3 in a chunk).
  ID3v2.4 by default, every value its own string; with ID3v2.3 the values are
  joined with ``/`` into one string, the v2.3 convention.
* FLAC, Ogg Vorbis, Opus: one ``GENRE`` Vorbis comment per value.
* M4A/MP4: the ``©gen`` atom, one data item per value (an old numeric ``gnre``
  atom is read as a genre and replaced by ``©gen`` on write).

Only the genre is changed: other tags, pictures and the audio stream are copied
as they are.

Safe write (``write_genres``): the file is copied to a hidden temporary file in
the same folder, the genre is written into the copy, the copy is re-read and its
genre values checked, flushed to disk (fsync), and only then ``os.replace``\\ d over
the original, which is atomic. The copy gets the original's permissions (and
owner when allowed). A file whose size or mtime differs from what was analysed,
a read-only file (no write permission bit, even for root), or a failed check is
left exactly as it was, and the temporary file is removed.

mtime policy: a written file's mtime becomes the time of the write (backup and
sync tools then see the change). The store records the new size and mtime for
the file's results (``store.journal_done``), so the file is not re-analysed.

A symbolic link is followed: its target is rewritten and the link stays a link.
A hard-linked file gets a new inode: the other names keep the old content.

Planning (``plan_tags``): a track's genres are its most probable ``top_k`` model
genres whose probability reaches ``min_confidence`` (every written genre must
reach it; probabilities sum to 1, so with the default 0.5 only one genre can
pass: lower it, e.g. ``--top-k 2 --min-confidence 0.3``, for several), with
display names (``DEFAULT_DISPLAY_NAMES``, changed by a mapping file). Policies:
``fill`` writes only files without a genre, ``replace`` overwrites, ``append``
adds genres not already present (compared case-insensitively) after the
existing ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from genretag.classify import TrackResult
from genretag.store import FileStamp, stamp_of

DEFAULT_DISPLAY_NAMES = {
    "blues": "Blues",
    "classical": "Classical",
    "country": "Country",
    "disco": "Disco",
    "hiphop": "Hip-Hop",
    "jazz": "Jazz",
    "metal": "Metal",
    "pop": "Pop",
    "reggae": "Reggae",
    "rock": "Rock",
}
DEFAULT_MIN_CONFIDENCE = 0.5
ID3V23_SEPARATOR = "/"


class TagError(Exception):
    """One file's genre could not be read or written; the message is the reason."""


class Policy(str, Enum):
    """How proposed genres combine with the genres a file already has."""

    FILL = "fill"
    REPLACE = "replace"
    APPEND = "append"


class Action(str, Enum):
    """What ``tag`` does (or would do) with one file."""

    WRITE = "write"
    HAS_GENRE = "skip: has genre"
    LOW_CONFIDENCE = "skip: low confidence"
    UNCHANGED = "skip: unchanged"
    ERROR = "error"


# ---------------------------------------------------------------- containers


@dataclass(frozen=True)
class GenreTags:
    """A file's genre values as stored, and its ID3 version (None: no ID3 tag, or not an ID3 container)."""

    values: tuple[str, ...]
    id3_version: int | None = None


def _file_types() -> list:
    from mutagen.aiff import AIFF
    from mutagen.flac import FLAC
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis
    from mutagen.wave import WAVE

    return [MP3, FLAC, OggVorbis, OggOpus, MP4, WAVE, AIFF]


def _uses_id3(audio) -> bool:
    from mutagen.id3 import ID3

    return isinstance(audio.tags, ID3) or type(audio).__name__ in ("MP3", "WAVE", "AIFF")


def _open(path: str | Path, file_type=None):
    """The mutagen object for ``path`` (its container detected from content and name unless given)."""
    import mutagen

    try:
        audio = file_type(path) if file_type else mutagen.File(path, options=_file_types())
    except mutagen.MutagenError as error:
        raise TagError(f"cannot read tags: {error}") from None
    except OSError as error:
        raise TagError(f"cannot read: {error.strerror or error}") from None
    if audio is None:
        raise TagError("not a container genretag can tag (MP3, FLAC, Ogg Vorbis, Opus, M4A/MP4, WAV, AIFF)")
    return audio


def _genre_tags(audio) -> GenreTags:
    if audio.tags is None:
        return GenreTags(())
    if _uses_id3(audio):
        values = tuple(value for frame in audio.tags.getall("TCON") for value in frame.text)
        return GenreTags(values, audio.tags.version[1])
    if type(audio).__name__ == "MP4":
        return GenreTags(tuple(audio.tags.get("\xa9gen", [])))
    return GenreTags(tuple(audio.tags.get("genre", [])))


def read_genre_tags(path: str | Path) -> GenreTags:
    """The genre values stored in ``path`` (raises ``TagError`` for an unreadable or unsupported file)."""
    return _genre_tags(_open(path))


def read_genres(path: str | Path) -> tuple[str, ...]:
    """The genre values stored in ``path``, in file order."""
    return read_genre_tags(path).values


def _set_genres(audio, values: tuple[str, ...]) -> None:
    if audio.tags is None:
        audio.add_tags()
    if _uses_id3(audio):
        from mutagen.id3 import TCON, Encoding

        audio.tags.delall("TCON")
        if values:
            audio.tags.add(TCON(encoding=Encoding.UTF8, text=list(values)))
        return
    key = "\xa9gen" if type(audio).__name__ == "MP4" else "GENRE"
    if key in audio.tags:
        del audio.tags[key]
    if values:
        audio.tags[key] = list(values)


def _save(audio, id3_version: int | None) -> None:
    if not _uses_id3(audio):
        audio.save()
    elif id3_version is None and len(audio.tags) == 0:
        # Undo of a write into a file that had no ID3 tag: remove the tag genretag added.
        audio.delete()
    else:
        audio.save(v2_version=3 if id3_version == 3 else 4, v23_sep=ID3V23_SEPARATOR)


def _stored_form(values: tuple[str, ...], audio, id3_version: int | None) -> tuple[str, ...]:
    """What re-reading must give after writing ``values`` (ID3v2.3 joins them into one string)."""
    if _uses_id3(audio) and id3_version == 3 and len(values) > 1:
        return (ID3V23_SEPARATOR.join(values),)
    return values


# ---------------------------------------------------------------- safe write


def _fsync(path: str | Path, directory: bool = False) -> None:
    try:
        descriptor = os.open(path, os.O_RDONLY if directory else os.O_RDWR)
    except OSError:
        if directory:  # some platforms cannot open folders; the rename is then as durable as they allow
            return
        raise
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _copy_metadata(source: os.stat_result, target: str) -> None:
    os.chmod(target, source.st_mode & 0o7777)
    # Not allowed for other users' files (or no chown on this platform): the copy stays ours.
    with contextlib.suppress(OSError, AttributeError):
        os.chown(target, source.st_uid, source.st_gid)


def write_genres(
    path: str | Path,
    values: Iterable[str],
    expected: FileStamp | None = None,
    id3_version: int | None = 4,
    before_replace: Callable[[str, FileStamp], None] | None = None,
) -> FileStamp:
    """Set the genre of ``path`` to ``values`` by the safe write (see module docstring); returns the new stamp.

    ``expected`` is the file's stamp when it was analysed: a different one
    refuses the write. ``id3_version`` is 3 or 4 for ID3 containers (None: 4,
    or no ID3 tag at all when no frame is left). ``before_replace(temp_path,
    new_stamp)`` runs after the checked copy is on disk and just before it
    replaces the original (the journal records the write there). Raises
    ``TagError`` with the reason when the original was left as it was.
    """
    values = tuple(values)
    target = os.path.realpath(path)
    try:
        original = os.stat(target)
    except OSError as error:
        raise TagError(f"cannot read: {error.strerror or error}") from None
    before = FileStamp(original.st_size, original.st_mtime_ns)
    if expected is not None and before != expected:
        raise TagError("changed since it was analysed (size or modification time differs); not written")
    # Root may write anything; a file without any write bit still says "do not change me".
    if not original.st_mode & 0o222 or not os.access(target, os.W_OK):
        raise TagError("read-only file; not written")
    audio = _open(target)
    folder, name = os.path.split(target)
    try:
        descriptor, temp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=f".genretag{Path(name).suffix}")
    except OSError as error:
        raise TagError(f"cannot create a temporary file beside it: {error.strerror or error}") from None
    os.close(descriptor)
    try:
        shutil.copyfile(target, temp)
        _copy_metadata(original, temp)
        copy = _open(temp, type(audio))
        _set_genres(copy, values)
        _save(copy, id3_version)
        written = _genre_tags(_open(temp, type(audio))).values
        if written != _stored_form(values, audio, id3_version):
            raise TagError(f"verification failed: wrote {list(values)}, read back {list(written)}; not written")
        _fsync(temp)
        if stamp_of(target) != before:
            raise TagError("changed while genretag was writing it; not written")
        new_stamp = stamp_of(temp)
        if before_replace:
            before_replace(temp, new_stamp)
        os.replace(temp, target)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temp)
        if isinstance(error, OSError):
            raise TagError(f"write failed: {error.strerror or error}; original left as it was") from None
        if type(error).__module__.startswith("mutagen"):
            raise TagError(f"write failed: {error}; original left as it was") from None
        raise
    _fsync(folder, directory=True)
    return new_stamp


# ---------------------------------------------------------------- display names


def load_display_names(path: str | Path, genres: Iterable[str]) -> dict[str, str]:
    """Display names for ``genres``: the defaults, overridden by a mapping file.

    The file is JSON (``{"hiphop": "Hip Hop"}``) when its name ends in ``.json``,
    else lines ``label = Name`` (blank lines and ``#`` comments ignored). Labels
    are the model's genre labels. Raises ``ValueError`` naming the file and line.
    """
    genres = tuple(genres)
    names = {genre: display_name(genre) for genre in genres}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None
    if str(path).lower().endswith(".json"):
        try:
            pairs = [(str(label), value, 1) for label, value in json.loads(text).items()]
        except (json.JSONDecodeError, AttributeError) as error:
            raise ValueError(f"{path}: not a JSON object of label: name ({error})") from None
    else:
        pairs = []
        for number, line in enumerate(text.splitlines(), start=1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            label, equals, value = line.partition("=")
            if not equals:
                raise ValueError(f"{path}:{number}: expected 'label = Name', got {line!r}")
            pairs.append((label.strip(), value.strip(), number))
    for label, value, number in pairs:
        where = f"{path}:{number}" if not str(path).lower().endswith(".json") else str(path)
        if label not in names:
            raise ValueError(f"{where}: unknown genre label {label!r} (labels: {', '.join(genres)})")
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: empty display name for {label!r}")
        names[label] = value.strip()
    return names


# ---------------------------------------------------------------- planning


@dataclass(frozen=True)
class TagPlan:
    """What ``tag`` would do with one file, and why."""

    path: str
    action: Action
    current: tuple[str, ...] = ()
    proposed: tuple[tuple[str, float], ...] = ()  # display names with probabilities, best first
    new_values: tuple[str, ...] = ()  # the file's genre values after the write
    reason: str = ""
    stamp: FileStamp | None = None  # the file as analysed; a write is refused when it differs
    id3_version: int | None = None  # the file's ID3 version before the write


def display_name(label: str, names: dict[str, str] | None = None) -> str:
    """How a model genre label is written into files: ``names`` first, then the defaults, else as it is.

    A user model's labels are already the spellings its library used (``Drum & Bass``).
    """
    return (names or {}).get(label) or DEFAULT_DISPLAY_NAMES.get(label, label)


def _proposals(result: TrackResult, names: dict[str, str] | None, min_confidence: float, top_k: int):
    proposals, seen = [], set()
    for label, probability in result.top_k(top_k):
        name = display_name(label, names)
        if probability >= min_confidence and name.casefold() not in seen:
            seen.add(name.casefold())
            proposals.append((name, probability))
    return proposals


def plan_tag(
    result: TrackResult,
    stamp: FileStamp | None,
    policy: Policy = Policy.FILL,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    top_k: int = 1,
    names: dict[str, str] | None = None,
) -> TagPlan:
    """Decide what to write into one analysed file (reads its current genre)."""
    if not result.ok:
        return TagPlan(result.path, Action.ERROR, reason=result.error or "not analysed", stamp=stamp)
    try:
        current = read_genre_tags(result.path)
    except TagError as error:
        return TagPlan(result.path, Action.ERROR, reason=str(error), stamp=stamp)
    plan = dict(path=result.path, current=current.values, stamp=stamp, id3_version=current.id3_version)
    proposals = _proposals(result, names, min_confidence, top_k)
    has_genre = any(value.strip() for value in current.values)
    if policy is Policy.FILL and has_genre:
        return TagPlan(action=Action.HAS_GENRE, proposed=tuple(proposals), **plan)
    if not proposals:
        label, probability = result.top_k(1)[0]
        shown = (display_name(label, names), probability)
        reason = f"best genre {probability:.2f} < {min_confidence:.2f}"
        return TagPlan(action=Action.LOW_CONFIDENCE, proposed=(shown,), reason=reason, **plan)
    proposed_names = tuple(name for name, _ in proposals)
    if policy is Policy.APPEND:
        present = {value.casefold() for value in current.values}
        new_values = current.values + tuple(name for name in proposed_names if name.casefold() not in present)
    else:
        new_values = proposed_names
    action = Action.UNCHANGED if new_values == current.values else Action.WRITE
    return TagPlan(action=action, proposed=tuple(proposals), new_values=new_values, **plan)


def plan_tags(
    results: Iterable[TrackResult],
    stamps: dict[str, FileStamp],
    policy: Policy = Policy.FILL,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    top_k: int = 1,
    names: dict[str, str] | None = None,
) -> list[TagPlan]:
    """``plan_tag`` for every result; ``stamps`` maps a path to its stamp when it was analysed."""
    return [plan_tag(result, stamps.get(result.path), policy, min_confidence, top_k, names) for result in results]


# ---------------------------------------------------------------- journalled writes


@dataclass(frozen=True)
class WriteOutcome:
    """One attempted write: its journal entry when the file was replaced, else the reason it was not."""

    path: str
    entry_id: int | None = None
    reason: str = ""

    @property
    def written(self) -> bool:
        return self.entry_id is not None and not self.reason


def journalled_write(
    connection,
    run_id: str,
    kind: str,
    path: str,
    previous: tuple[str, ...],
    new: tuple[str, ...],
    id3_version_before: int | None,
    expected: FileStamp | None,
    id3_version: int | None,
    reverts: tuple[int, ...] = (),
) -> WriteOutcome:
    """``write_genres`` with the journal entry recorded around the replace (pending → done or failed)."""
    from genretag import store

    entry_ids: list[int] = []

    def record_pending(temp: str, new_stamp: FileStamp) -> None:
        old_stamp = stamp_of(path)
        entry_ids.append(
            store.journal_pending(
                connection, run_id, kind, path, previous, new, id3_version_before, old_stamp, new_stamp, temp, reverts
            )
        )

    try:
        write_genres(path, new, expected, id3_version, before_replace=record_pending)
    except TagError as error:
        if entry_ids:
            store.journal_failed(connection, entry_ids[0], str(error))
        return WriteOutcome(path, entry_ids[0] if entry_ids else None, str(error))
    store.journal_done(connection, entry_ids[0])
    return WriteOutcome(path, entry_ids[0])


def write_planned(connection, plans: Iterable[TagPlan], run_id: str, id3v23: bool = False) -> list[WriteOutcome]:
    """Write every plan whose action is ``WRITE`` (ID3v2.3 when ``id3v23``), journalled under ``run_id``."""
    return [
        journalled_write(
            connection,
            run_id,
            "tag",
            plan.path,
            plan.current,
            plan.new_values,
            plan.id3_version,
            plan.stamp,
            3 if id3v23 else 4,
        )
        for plan in plans
        if plan.action is Action.WRITE
    ]
