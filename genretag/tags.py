"""Genre tags inside audio files: read them, plan what to write, write them safely.

Containers (through mutagen), and where the genre lives:

* MP3, AIFF: the ID3v2 ``TCON`` frame (AIFF keeps ID3 in a chunk). A file keeps
  its ID3 version unless another is asked for (a new tag is v2.4). ID3v2.4 keeps
  every value its own string; ID3v2.3 joins them with ``/`` into one string, and
  such a string is read back as separate genres, as are the numeric forms
  ``(17)(13)`` and ``(17)Rock`` of either version.
* WAV: the ID3 chunk and the RIFF ``LIST/INFO`` chunk's ``IGNR`` field (values
  joined with ``;``, as FFmpeg joins them). Both are read (either one makes a WAV tagged) and both are
  written with the same values: FFmpeg reads only INFO when a WAV has it, most
  other readers prefer ID3. Every other INFO field stays; when one of the two
  tags is created, the title, artist, album, date, track and copyright of the
  other are copied into it, so a reader that prefers the new tag still shows them.
* FLAC, Ogg Vorbis, Opus: one ``GENRE`` Vorbis comment per value.
* M4A/MP4: the ``©gen`` atom, one data item per value (an old numeric ``gnre``
  atom is read as a genre and replaced by ``©gen`` on write).

Genres are compared ignoring case and surrounding space; a file's values are read
as a list without repeats. Only the genre is changed: other tags, pictures and the
audio stream are copied as they are.

Safe write (``write_genres``): the file is rewritten in place, so it stays the
same file: same inode (its other hard links and open handles see the new tag),
owner, group, mode bits (setuid, setgid, sticky), extended attributes and ACLs.
A rename-over-the-original would give a new inode with none of those; writing in
place instead needs a backup to stay crash-safe. Steps, under a write-ahead
journal (``store``'s ``tag_journal``):

1. the journal records the write and the names of its two temporary files (in
   ``<data home>/tag-writes``, short random names, so any file name up to the
   file system's limit can be tagged) before either exists;
2. the new content is built in one temporary file (a copy tagged by mutagen) and
   checked: its genre values read back as asked; when it equals the file byte for
   byte nothing is written (no new bytes, mtime untouched);
3. a backup copy of the original is made, compared with it, and synced to disk;
4. the journal records that the original is being rewritten (and the bytes an
   exact undo needs), synced to disk;
5. the new content is copied into the original file, which is truncated, synced,
   and compared with the new content;
6. the journal marks the write done and both temporary files are removed.

A failure in step 5 copies the backup back in; a crash anywhere is settled by the
next ``tag`` or ``undo`` run (``store.resolve_interrupted_writes``): before step 4
the original was never touched and the temporary files are removed; after it the
file either holds the whole new content (the write is completed in the journal)
or gets the backup's bytes and its old mtime back. A file whose size or mtime
differs from what was analysed, a read-only file (no write permission bit, even
for root), a special file (FIFO, socket, device) or a failed check is left
exactly as it was.

mtime policy: a written file's mtime becomes the time of the write (backup and
sync tools then see the change). The store records the new size and mtime for
the file's results (``store.journal_done``), so the file is not re-analysed.

A symbolic link is followed: its target is rewritten and the link stays a link.

Planning (``plan_tags``): the genres proposed for a file and what they do to the
genres it holds follow the tag rule (``tagrules.propose``, with ``TagOptions``).
A plan whose genres equal the file's (as a set, and held consistently by every
tag the file has) is ``unchanged`` and not written.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from genretag import store
from genretag.genres import distinct_genres, load_display_names, same_genres
from genretag.library import special_file_kind
from genretag.results import ModelChoice, TrackResult
from genretag.store import ByteRestore, FileStamp, stamp_of
from genretag.tagrules import Outcome, TagOptions, propose

ID3V23_SEPARATOR = "/"
RIFF_INFO_SEPARATOR = ";"
# RIFF INFO field ↔ ID3 text frame, copied into the tag a WAV write creates.
INFO_ID3_FIELDS = {"INAM": "TIT2", "IART": "TPE1", "IPRD": "TALB", "ICRD": "TDRC", "ITRK": "TRCK", "ICOP": "TCOP"}
# An exact undo keeps the original bytes a write changed in the journal, up to this much.
MAX_RESTORE_BYTES = 16 << 20
HASH_CHUNK = 1 << 20


class TagError(Exception):
    """One file's genre could not be read or written; the message is the reason."""


class _RollbackFailed(TagError):
    """The original was being rewritten and its backup could not be copied back: the next run will."""


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
    """A file's genre values, and its ID3 version (None: no ID3 tag, or not an ID3 container).

    ``consistent`` is False when the file's tags disagree (a WAV whose ID3 and RIFF
    INFO genres differ, or only one of them has one): a write then changes the file
    even with the same values.
    """

    values: tuple[str, ...]
    id3_version: int | None = None
    consistent: bool = True


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


def _is_wave(audio) -> bool:
    return type(audio).__name__ == "WAVE"


def _check_regular(path: str | Path) -> os.stat_result:
    try:
        info = os.stat(path)
    except OSError as error:
        raise TagError(f"cannot read: {error.strerror or error}") from None
    kind = special_file_kind(info.st_mode)
    if kind:
        # Opening a FIFO for reading blocks until a writer comes: never open one.
        raise TagError(f"not a regular file ({kind}); not read")
    return info


def _open(path: str | Path, file_type=None):
    """The mutagen object for ``path`` (its container detected from content and name unless given)."""
    import mutagen

    _check_regular(path)
    try:
        audio = file_type(path) if file_type else mutagen.File(path, options=_file_types())
    except mutagen.MutagenError as error:
        raise TagError(f"cannot read tags: {error}") from None
    except OSError as error:
        raise TagError(f"cannot read: {error.strerror or error}") from None
    if audio is None:
        raise TagError("not a container genretag can tag (MP3, FLAC, Ogg Vorbis, Opus, M4A/MP4, WAV, AIFF)")
    return audio


def _id3_genres(id3) -> tuple[str, ...]:
    # ``genres`` resolves the numeric forms; "/" separates values only in ID3v2.3 (v2.4 has NUL).
    values = []
    for frame in id3.getall("TCON"):
        for genre in frame.genres:
            values.extend(genre.split(ID3V23_SEPARATOR) if id3.version < (2, 4, 0) else [genre])
    return distinct_genres(values)


# ---------------------------------------------------------------- RIFF INFO (WAV)


def _info_text(data: bytes) -> str:
    raw = data.split(b"\0", 1)[0]
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:  # older writers used the Windows code page
        return raw.decode("latin-1").strip()


def _riff_info(fileobj):
    """The RIFF file, its LIST/INFO chunk (or None) and that chunk's fields as (id, bytes), in file order."""
    from mutagen._riff import RiffFile

    riff = RiffFile(fileobj)
    for chunk in riff.root.subchunks():
        if chunk.id == "LIST" and getattr(chunk, "name", None) == "INFO":
            return riff, chunk, [(field.id, field.read()) for field in chunk.subchunks()]
    return riff, None, []


def _read_riff_info(path: str | Path) -> dict[str, str] | None:
    """The WAV's INFO fields as text (None: no INFO chunk)."""
    import mutagen

    try:
        with open(path, "rb") as fileobj:
            _, chunk, fields = _riff_info(fileobj)
    except (mutagen.MutagenError, OSError, ValueError):
        return None
    return None if chunk is None else {key: _info_text(data) for key, data in fields}


def _info_genres(info: dict[str, str] | None) -> tuple[str, ...]:
    return distinct_genres((info or {}).get("IGNR", "").split(";"))


def _write_riff_info(path: str, values: tuple[str, ...], fill: dict[str, str]) -> None:
    """Set the WAV's INFO ``IGNR`` to ``values``, keeping every other field (a new chunk gets ``fill``)."""
    with open(path, "r+b") as fileobj:
        riff, chunk, fields = _riff_info(fileobj)
        if chunk is None:
            if not values:
                return
            fields = [(key, (text + "\0").encode("utf-8")) for key, text in fill.items() if text]
        genre = (RIFF_INFO_SEPARATOR.join(values) + "\0").encode("utf-8") if values else None
        if any(key == "IGNR" for key, _ in fields):
            fields = [(key, genre if key == "IGNR" else data) for key, data in fields]
        else:
            fields.append(("IGNR", genre))
        fields = [(key, data) for key, data in fields if data is not None]
        body = b"INFO" + b"".join(
            key.ljust(4).encode("ascii") + struct.pack("<I", len(data)) + data + b"\0" * (len(data) % 2)
            for key, data in fields
        )
        if chunk is None:
            if fields:
                riff.insert_chunk("LIST", body)
        elif not fields:
            chunk.delete()
        else:
            chunk.resize(len(body))
            chunk.write(body)


# ---------------------------------------------------------------- reading and setting genres


def _genre_tags(audio, path: str | Path) -> GenreTags:
    if _uses_id3(audio):
        id3 = audio.tags
        values = _id3_genres(id3) if id3 is not None else ()
        version = id3.version[1] if id3 is not None else None
        if not _is_wave(audio):
            return GenreTags(values, version)
        info = _info_genres(_read_riff_info(path))
        return GenreTags(distinct_genres(values + info), version, consistent=same_genres(values, info))
    if audio.tags is None:
        return GenreTags(())
    if type(audio).__name__ == "MP4":
        return GenreTags(distinct_genres(audio.tags.get("\xa9gen", [])))
    return GenreTags(distinct_genres(audio.tags.get("genre", [])))


def read_genre_tags(path: str | Path) -> GenreTags:
    """The genre values stored in ``path`` (raises ``TagError`` for an unreadable, special or unsupported file)."""
    return _genre_tags(_open(path), path)


def read_genres(path: str | Path) -> tuple[str, ...]:
    """The genre values stored in ``path``, in file order, without repeats."""
    return read_genre_tags(path).values


def _set_genres(audio, values: tuple[str, ...], info: dict[str, str] | None) -> None:
    new_tag = audio.tags is None
    if new_tag:
        audio.add_tags()
    if _uses_id3(audio):
        from mutagen.id3 import TCON, Encoding, Frames

        audio.tags.delall("TCON")
        if values:
            audio.tags.add(TCON(encoding=Encoding.UTF8, text=list(values)))
        if new_tag and info:  # a WAV that had only INFO: its ID3 tag starts with the same fields
            for key, frame_id in INFO_ID3_FIELDS.items():
                if info.get(key):
                    audio.tags.add(Frames[frame_id](encoding=Encoding.UTF8, text=[info[key]]))
        return
    key = "\xa9gen" if type(audio).__name__ == "MP4" else "GENRE"
    if key in audio.tags:
        del audio.tags[key]
    if values:
        audio.tags[key] = list(values)


def _id3_fields(audio) -> dict[str, str]:
    fields = {}
    for key, frame_id in INFO_ID3_FIELDS.items():
        frame = audio.tags.get(frame_id) if audio.tags is not None else None
        if frame is not None and frame.text:
            fields[key] = str(frame.text[0])
    return fields


def _save(audio, id3_version: int | None) -> None:
    if not _uses_id3(audio):
        audio.save()
    elif len(audio.tags) == 0:
        # Nothing left in the tag (a restore into a file that had none): remove it.
        audio.delete()
    else:
        version = id3_version or (3 if audio.tags.version[1] == 3 else 4)
        audio.save(v2_version=version, v23_sep=ID3V23_SEPARATOR)


# ---------------------------------------------------------------- safe write


def _fsync(path: str | Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as reader:
        while chunk := reader.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _byte_restore(original: str, new: str) -> ByteRestore | None:
    """The original's bytes that differ from ``new`` (None when more than ``MAX_RESTORE_BYTES``)."""
    with open(original, "rb") as old_file, open(new, "rb") as new_file:
        old_size, new_size = os.fstat(old_file.fileno()).st_size, os.fstat(new_file.fileno()).st_size
        offset = 0
        while True:
            old_chunk, new_chunk = old_file.read(HASH_CHUNK), new_file.read(HASH_CHUNK)
            common = os.path.commonprefix([old_chunk, new_chunk])
            offset += len(common)
            if len(common) < len(old_chunk) or len(common) < len(new_chunk) or not old_chunk:
                break
        tail, limit = 0, min(old_size, new_size) - offset
        while tail < limit:
            step = min(HASH_CHUNK, limit - tail)
            old_file.seek(old_size - tail - step)
            new_file.seek(new_size - tail - step)
            old_chunk, new_chunk = old_file.read(step)[::-1], new_file.read(step)[::-1]
            common = len(os.path.commonprefix([old_chunk, new_chunk]))
            tail += common
            if common < step:
                break
        if old_size - offset - tail > MAX_RESTORE_BYTES:
            return None
        old_file.seek(offset)
        return ByteRestore(offset, tail, old_file.read(old_size - offset - tail))


def undo_bytes(content: bytes, restore: ByteRestore) -> bytes:
    """The bytes of the file before a write, from the bytes that write left and its ``ByteRestore``."""
    return content[: restore.offset] + restore.original_bytes + content[len(content) - restore.tail :]


class WriteJournal:
    """Where ``write_genres`` records its steps: nowhere here; ``journalled_write`` records them in the store."""

    def begin(self, temp: str, backup: str) -> None:
        """Before the temporary files exist."""

    def writing(self, new_size: int, old_sha256: str, new_sha256: str, restore: ByteRestore | None) -> None:
        """The backup is on disk and checked; the original is about to be rewritten."""


def _temporary_names(target: str) -> tuple[str, str]:
    # Short names whatever the original's: the suffix is kept (mutagen reads containers by it too).
    area = store.write_area()
    token = secrets.token_hex(8)
    suffix = Path(target).suffix[:16]
    return str(area / f"{token}.new{suffix}"), str(area / f"{token}.old{suffix}")


def _writable(target: str, expected: FileStamp | None) -> tuple[os.stat_result, FileStamp]:
    original = _check_regular(target)
    before = FileStamp(original.st_size, original.st_mtime_ns)
    if expected is not None and before != expected:
        raise TagError("changed since it was analysed (size or modification time differs); not written")
    # Root may write anything; a file without any write bit still says "do not change me".
    if not original.st_mode & 0o222 or not os.access(target, os.W_OK):
        raise TagError("read-only file; not written")
    return original, before


def _rewrite(
    target: str,
    original: os.stat_result,
    before: FileStamp,
    build: Callable[[str], None],
    journal: WriteJournal,
) -> FileStamp:
    """Rewrite ``target`` in place with what ``build(temp)`` makes of a copy of it (see the module docstring)."""
    temp, backup = _temporary_names(target)
    journal.begin(temp, backup)
    touched = False
    try:
        shutil.copyfile(target, temp)
        build(temp)
        if store.same_bytes(temp, target):  # nothing to write: the file already holds this content
            new_stamp = before
        else:
            shutil.copyfile(target, backup)
            _fsync(backup)
            _fsync(temp)
            if stamp_of(target) != before or not store.same_bytes(backup, target):
                raise TagError("changed while genretag was writing it; not written")
            restore = _byte_restore(backup, temp)
            journal.writing(os.stat(temp).st_size, _sha256(backup), _sha256(temp), restore)
            touched = True
            store.copy_into(temp, target)
            if not store.same_bytes(temp, target):
                raise TagError("verification failed: the file does not hold what was written; original restored")
            new_stamp = stamp_of(target)
    except BaseException as error:
        if touched:
            try:
                store.copy_into(backup, target)
                os.utime(target, ns=(original.st_atime_ns, original.st_mtime_ns))
            except OSError as rollback:
                raise _RollbackFailed(
                    f"write failed ({error}) and the original could not be restored yet "
                    f"({rollback.strerror or rollback}); the next genretag run restores it from {backup}"
                ) from None
        for path in (temp, backup):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        if isinstance(error, TagError):
            raise
        if isinstance(error, OSError):
            raise TagError(f"write failed: {error.strerror or error}; original left as it was") from None
        if type(error).__module__.startswith("mutagen"):
            raise TagError(f"write failed: {error}; original left as it was") from None
        raise
    for path in (temp, backup):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    return new_stamp


def write_genres(
    path: str | Path,
    values: Iterable[str],
    expected: FileStamp | None = None,
    id3_version: int | None = None,
    journal: WriteJournal | None = None,
) -> FileStamp:
    """Set the genre of ``path`` to ``values`` by the safe write (see module docstring); returns the new stamp.

    ``expected`` is the file's stamp when it was analysed: a different one refuses
    the write. ``id3_version`` is 3 or 4 for ID3 containers (None: the file's own
    version, v2.4 for a new tag). ``journal`` records each step. Raises
    ``TagError`` with the reason when the original was left as it was.
    """
    values = distinct_genres(values)
    target = os.path.realpath(path)
    original, before = _writable(target, expected)
    audio = _open(target)
    file_type = type(audio)

    def build(temp: str) -> None:
        copy = _open(temp, file_type)
        info = _read_riff_info(temp) if _is_wave(copy) else None
        new_id3 = _is_wave(copy) and copy.tags is None
        _set_genres(copy, values, info)
        _save(copy, id3_version)
        if _is_wave(copy):
            _write_riff_info(temp, values, {} if info is not None or new_id3 else _id3_fields(copy))
        written = _genre_tags(_open(temp, file_type), temp)
        if written.values != values or not written.consistent:
            raise TagError(f"verification failed: wrote {list(values)}, read back {list(written.values)}; not written")

    return _rewrite(target, original, before, build, journal or WriteJournal())


def write_bytes(
    path: str | Path, content: bytes, expected: FileStamp | None = None, journal: WriteJournal | None = None
) -> FileStamp:
    """Give ``path`` exactly ``content`` by the same safe write (an exact undo); returns the new stamp."""
    target = os.path.realpath(path)
    original, before = _writable(target, expected)

    def build(temp: str) -> None:
        with open(temp, "wb") as writer:
            writer.write(content)
        _open(temp)  # still a file genretag can read

    return _rewrite(target, original, before, build, journal or WriteJournal())


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


def plan_tag(result: TrackResult, stamp: FileStamp | None, options: TagOptions | None = None) -> TagPlan:
    """Decide what to write into one analysed file by the tag rule (reads its current genre)."""
    options = options or TagOptions()
    if not result.ok:
        return TagPlan(result.path, Action.ERROR, reason=result.error or "not analysed", stamp=stamp)
    try:
        current = read_genre_tags(result.path)
    except TagError as error:
        return TagPlan(result.path, Action.ERROR, reason=str(error), stamp=stamp)
    plan = dict(path=result.path, current=current.values, stamp=stamp, id3_version=current.id3_version)
    ranked = result.top_k(options.top_k)
    if not ranked:
        return TagPlan(action=Action.ERROR, reason="no genre probabilities", **plan)
    proposal = propose(ranked, current.values, options)
    if proposal.outcome is Outcome.HAS_GENRE:
        return TagPlan(action=Action.HAS_GENRE, proposed=proposal.proposed, **plan)
    if proposal.outcome is Outcome.LOW_CONFIDENCE:
        reason = f"best genre {proposal.reason}"
        return TagPlan(action=Action.LOW_CONFIDENCE, proposed=(proposal.best,), reason=reason, **plan)
    # A file whose tags disagree is rewritten even with the same values, so that they agree.
    unchanged = proposal.outcome is Outcome.UNCHANGED and current.consistent
    action = Action.UNCHANGED if unchanged else Action.WRITE
    return TagPlan(action=action, proposed=proposal.proposed, new_values=proposal.new_values, **plan)


def plan_tags(
    results: Iterable[TrackResult], stamps: dict[str, FileStamp], options: TagOptions | None = None
) -> list[TagPlan]:
    """``plan_tag`` for every result; ``stamps`` maps a path to its stamp when it was analysed."""
    return [plan_tag(result, stamps.get(result.path), options) for result in results]


# ---------------------------------------------------------------- journalled writes


@dataclass(frozen=True)
class WriteOutcome:
    """One attempted write: its journal entry when the file was written, else the reason it was not."""

    path: str
    entry_id: int | None = None
    reason: str = ""

    @property
    def written(self) -> bool:
        return self.entry_id is not None and not self.reason


class _StoreJournal(WriteJournal):
    """Records a write's steps in the store's tag journal (see ``store``)."""

    def __init__(self, connection, run_id, kind, path, previous, new, id3_version_before, reverts):
        self.connection, self.entry_id = connection, None
        self.row = (run_id, kind, path, previous, new, id3_version_before)
        self.reverts = reverts

    def begin(self, temp: str, backup: str) -> None:
        run_id, kind, path, previous, new, id3_version = self.row
        self.entry_id = store.journal_begin(
            self.connection, run_id, kind, path, previous, new, id3_version, stamp_of(path), temp, backup, self.reverts
        )

    def writing(self, new_size: int, old_sha256: str, new_sha256: str, restore: ByteRestore | None) -> None:
        store.journal_writing(self.connection, self.entry_id, new_size, old_sha256, new_sha256, restore)


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
    content: bytes | None = None,
) -> WriteOutcome:
    """``write_genres`` (or, given ``content``, ``write_bytes``) recorded in the tag journal step by step."""
    journal = _StoreJournal(connection, run_id, kind, path, previous, new, id3_version_before, reverts)
    try:
        if content is None:
            new_stamp = write_genres(path, new, expected, id3_version, journal)
        else:
            new_stamp = write_bytes(path, content, expected, journal)
    except _RollbackFailed as error:  # the entry stays 'writing': the next run restores from the backup
        return WriteOutcome(path, None, str(error))
    except TagError as error:
        if journal.entry_id is not None:
            store.journal_failed(connection, journal.entry_id, str(error))
        return WriteOutcome(path, journal.entry_id, str(error))
    store.journal_done(connection, journal.entry_id, new_stamp)
    return WriteOutcome(path, journal.entry_id)


def write_planned(
    connection, plans: Iterable[TagPlan], run_id: str, id3v23: bool = False, id3_version: int | None = None
) -> list[WriteOutcome]:
    """Write every plan whose action is ``WRITE``, journalled under ``run_id``.

    ID3 files keep their version unless ``id3_version`` (3 or 4) asks for another;
    ``id3v23`` is the same as ``id3_version=3``.
    """
    version = 3 if id3v23 else id3_version
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
            version,
        )
        for plan in plans
        if plan.action is Action.WRITE
    ]


# ---------------------------------------------------------------- the tag command


@dataclass
class TagRun:
    """What ``tag_library`` planned and did: one plan per file, the outcome of every write attempted."""

    plans: list[TagPlan]
    outcomes: dict[str, WriteOutcome]
    problems: list[tuple[Path, str]]  # folders the walk could not read
    settled: list  # store.JournalEntry of writes an interrupted run left, completed or rolled back first
    run_id: str | None
    model: ModelChoice | None = None  # the model used, and why that one

    @property
    def errors(self) -> list[tuple[str, str]]:
        """``(path, reason)`` of every file that could not be planned or written."""
        planned = [(plan.path, plan.reason) for plan in self.plans if plan.action is Action.ERROR]
        return planned + [(o.path, o.reason) for o in self.outcomes.values() if not o.written]


def tag_library(
    paths: Iterable[str | Path] | None,
    model: str | None = None,
    options: TagOptions | None = None,
    map_file: str | Path | None = None,
    write: bool = False,
    id3_version: int | None = None,
    jobs: int = -1,
    progress=None,
) -> TagRun:
    """``genretag tag``: plan (and with ``write``, make) the genre writes for every audio file under ``paths``.

    ``paths`` default to the last scan's. The model: ``model``, else the one the latest stored results
    under ``paths`` came from, else the default (``TagRun.model`` says which and why); files not yet
    analysed by it are analysed (``scan.results_for``, which calls ``progress``). ``options``: the tag
    rule's settings; ``map_file`` (``--map``) sets their display names for the model's genres.
    ``id3_version`` (3 or 4): the ID3 version written (default: the file's). Raises ``ValueError``
    (no paths, no audio under them, a bad ``--map``), ``WeightsError``, ``library.LibraryPathError``
    or ``OSError``.
    """
    from genretag.scan import ScanOptions, choose_model, results_for
    from genretag.weights import resolve_model

    connection = store.connect()
    try:
        if not paths:
            paths = store.last_scan_roots(connection)
            if not paths:
                raise ValueError("no PATH given and no earlier scan to take the paths from")
        choice = choose_model(paths, model)
        identity = resolve_model(choice.name)
        options = options or TagOptions()
        if map_file:
            options = replace(options, names=load_display_names(map_file, identity.genres))
        settled = store.resolve_interrupted_writes(connection) if write else []
        results, problems = results_for(paths, identity, ScanOptions(jobs), progress)
        stamps = {result.path: store.stored_stamp(connection, result.path, identity) for result in results}
        plans = plan_tags(results, stamps, options)
        run_id = store.new_run_id() if write else None
        outcomes = {}
        if write:
            outcomes = {o.path: o for o in write_planned(connection, plans, run_id, id3_version=id3_version)}
    finally:
        connection.close()
    return TagRun(plans, outcomes, problems, settled, run_id, choice)
