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
* Monkey's Audio, WavPack, Musepack: the APEv2 ``Genre`` item (values NUL-separated).

Second tags, where players also look (``secondtags``): an APEv2 tag in an MP3
(its ``Genre``), a freeform ``----:com.apple.iTunes:GENRE`` atom in an M4A, an ID3
tag before a FLAC's ``fLaC`` (its ``TCON``). Their genres are read with the main
tag's (so ``fill`` sees a genre a player shows), a file whose tags disagree is
rewritten even with the same values, and a write sets the same values in each of
them that the file has (none is created or removed): every player shows one genre.

Genres are compared ignoring case and surrounding space; a file's values are read
as a list without repeats. Only the genre is changed: other tags, pictures and the
audio stream are copied as they are.

Safe write (``write_genres``): the file is rewritten in place, so it stays the
same file (inode, owner, mode, extended attributes, ACLs), under a write-ahead
journal that the next run uses to complete or roll back a write a crash
interrupted; a write whose result equals the file writes nothing. The steps,
the recovery and the mtime policy: ``journal``.

A symbolic link is followed: its target is rewritten and the link stays a link.

Planning (``plan_tags``): the genres proposed for a file and what they do to the
genres it holds follow the tag rule (``tagrules.propose``, with ``TagOptions``).
A plan whose genres equal the file's (as a set, and held consistently by every
tag the file has) is ``unchanged`` and not written.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path

from genretag import store
from genretag.genres import distinct_genres, load_display_names, same_genres
from genretag.journal import (
    StoreJournal,
    TagError,
    WriteJournal,
    WriteOutcome,
    check_regular,
    new_run_id,
    resolve_interrupted_writes,
    rewrite,
    writable,
)
from genretag.results import ModelChoice, TrackResult
from genretag.secondtags import (
    ID3V23_SEPARATOR,
    ape_genres,
    file_magic,
    freeform_genre_keys,
    id3_genres,
    is_ape,
    second_genres,
    set_ape_genres,
    write_second_tags,
)
from genretag.store import FileStamp
from genretag.tagrules import Outcome, TagOptions, propose

# RF64 (and BW64) lift WAV's 4 GiB limit with a 64-bit size chunk, which mutagen cannot write.
RF64_MAGIC = (b"RF64", b"BW64")
RF64_REFUSED = "cannot write tags to RF64/over-4 GiB WAV (an RF64 file); skipped"
# A RIFF file's sizes are 32-bit: a WAV whose tags could push it past 4 GiB is refused before any copy.
RIFF_LIMIT = 0xFFFF_FFFF
RIFF_HEADROOM = 16 << 20
RIFF_INFO_SEPARATOR = ";"
# RIFF INFO field ↔ ID3 text frame, copied into the tag a WAV write creates.
INFO_ID3_FIELDS = {"INAM": "TIT2", "IART": "TPE1", "IPRD": "TALB", "ICRD": "TDRC", "ITRK": "TRCK", "ICOP": "TCOP"}


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
    from mutagen.monkeysaudio import MonkeysAudio
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.musepack import Musepack
    from mutagen.oggopus import OggOpus
    from mutagen.oggvorbis import OggVorbis
    from mutagen.wave import WAVE
    from mutagen.wavpack import WavPack

    return [MP3, FLAC, OggVorbis, OggOpus, MP4, WAVE, AIFF, MonkeysAudio, WavPack, Musepack]


def _uses_id3(audio) -> bool:
    from mutagen.id3 import ID3

    return isinstance(audio.tags, ID3) or type(audio).__name__ in ("MP3", "WAVE", "AIFF")


def _is_wave(audio) -> bool:
    return type(audio).__name__ == "WAVE"


def _open(path: str | Path, file_type=None):
    """The mutagen object for ``path`` (its container detected from content and name unless given)."""
    import mutagen

    info = check_regular(path)
    magic = file_magic(path)
    if magic in RF64_MAGIC:
        raise TagError(RF64_REFUSED)
    if magic == b"RIFF" and info.st_size > RIFF_LIMIT + 8:  # its 32-bit sizes are wrong: mutagen misreads it
        raise TagError("cannot write tags to RF64/over-4 GiB WAV (a RIFF file over 4 GiB); skipped")
    try:
        audio = file_type(path) if file_type else mutagen.File(path, options=_file_types())
    except mutagen.MutagenError as error:
        raise TagError(f"cannot read tags: {error}") from None
    except OSError as error:
        raise TagError(f"cannot read: {error.strerror or error}") from None
    except (ValueError, EOFError, struct.error) as error:  # mutagen's parsers raise these for damaged files too
        raise TagError(f"cannot read tags: {error}") from None
    if audio is None:
        raise TagError(
            "not a container genretag can tag (MP3, FLAC, Ogg Vorbis, Opus, M4A/MP4, WAV, AIFF, APE, WavPack, Musepack)"
        )
    return audio


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
        values = id3_genres(id3) if id3 is not None else ()
        version = id3.version[1] if id3 is not None else None
        if not _is_wave(audio):
            return _with_second(audio, path, GenreTags(values, version))
        info = _info_genres(_read_riff_info(path))
        return GenreTags(distinct_genres(values + info), version, consistent=same_genres(values, info))
    if audio.tags is None:
        return _with_second(audio, path, GenreTags(()))
    if type(audio).__name__ == "MP4":
        return _with_second(audio, path, GenreTags(distinct_genres(audio.tags.get("\xa9gen", []))))
    if is_ape(audio.tags):
        return GenreTags(ape_genres(audio.tags))
    return _with_second(audio, path, GenreTags(distinct_genres(audio.tags.get("genre", []))))


def _with_second(audio, path: str | Path, main: GenreTags) -> GenreTags:
    second = second_genres(audio, path)
    if second is None:
        return main
    return GenreTags(
        distinct_genres(main.values + second), main.id3_version, consistent=same_genres(main.values, second)
    )


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
    if is_ape(audio.tags):
        set_ape_genres(audio.tags, values)
        return
    key = "\xa9gen" if type(audio).__name__ == "MP4" else "GENRE"
    if key in audio.tags:
        del audio.tags[key]
    if values:
        audio.tags[key] = list(values)
    if type(audio).__name__ == "MP4":  # a freeform GENRE gets the same values (one item each)
        from mutagen.mp4 import MP4FreeForm

        for freeform in freeform_genre_keys(audio.tags):
            audio.tags[freeform] = [MP4FreeForm(value.encode("utf-8")) for value in values]
            if not values:
                del audio.tags[freeform]


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
    original, before = writable(target, expected)
    audio = _open(target)
    file_type = type(audio)
    if _is_wave(audio) and original.st_size > RIFF_LIMIT - RIFF_HEADROOM:
        raise TagError(
            f"cannot write tags to RF64/over-4 GiB WAV: at {original.st_size / (1 << 30):.2f} GiB, new tags could "
            "take it past RIFF's 4 GiB limit; skipped"
        )

    def build(temp: str) -> None:
        copy = _open(temp, file_type)
        info = _read_riff_info(temp) if _is_wave(copy) else None
        new_id3 = _is_wave(copy) and copy.tags is None
        _set_genres(copy, values, info)
        _save(copy, id3_version)
        if _is_wave(copy):
            _write_riff_info(temp, values, {} if info is not None or new_id3 else _id3_fields(copy))
        write_second_tags(temp, type(copy).__name__, values)
        written = _genre_tags(_open(temp, file_type), temp)
        if written.values != values or not written.consistent:
            raise TagError(f"verification failed: wrote {list(values)}, read back {list(written.values)}; not written")

    return rewrite(target, original, before, build, journal or WriteJournal())


def write_bytes(
    path: str | Path, content: bytes, expected: FileStamp | None = None, journal: WriteJournal | None = None
) -> FileStamp:
    """Give ``path`` exactly ``content`` by the same safe write (an exact undo); returns the new stamp."""
    target = os.path.realpath(path)
    original, before = writable(target, expected)

    def build(temp: str) -> None:
        with open(temp, "wb") as writer:
            writer.write(content)
        _open(temp)  # still a file genretag can read

    return rewrite(target, original, before, build, journal or WriteJournal())


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
    candidates: tuple[tuple[str, float], ...] = ()  # the top-k genres, passing or not (``Proposal.ranked``)


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
    plan["candidates"] = proposal.ranked
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
    recorder = StoreJournal(connection, run_id, kind, path, previous, new, id3_version_before, reverts)
    if content is None:
        return recorder.run(lambda steps: write_genres(path, new, expected, id3_version, steps))
    return recorder.run(lambda steps: write_bytes(path, content, expected, steps))


def write_planned(
    connection, plans: Iterable[TagPlan], run_id: str, id3v23: bool = False, id3_version: int | None = None
) -> list[WriteOutcome]:
    """Write every plan whose action is ``WRITE``, journalled under ``run_id``.

    ID3 files keep their version unless ``id3_version`` (3 or 4) asks for another;
    ``id3v23`` is the same as ``id3_version=3``.
    """
    version = 3 if id3v23 else id3_version
    outcomes, by_file = [], {}
    for plan in plans:
        if plan.action is not Action.WRITE:
            continue
        identity = _file_identity(plan.path)
        first = by_file.get(identity)
        if first is not None:  # another name (a hard link) of a file this run wrote: it holds the new genres
            outcomes.append(replace(first, path=plan.path))
            continue
        outcome = journalled_write(
            connection, run_id, "tag", plan.path, plan.current, plan.new_values, plan.id3_version, plan.stamp, version
        )
        if identity is not None:
            by_file[identity] = outcome
        outcomes.append(outcome)
    return outcomes


def _file_identity(path: str) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


# ---------------------------------------------------------------- the tag command


@dataclass
class TagRun:
    """What ``tag_library`` planned and did: one plan per file, the outcome of every write attempted."""

    plans: list[TagPlan]
    outcomes: dict[str, WriteOutcome]
    problems: list[tuple[Path, str]]  # folders the walk could not read
    settled: list  # journal.JournalEntry of writes an interrupted run left, completed or rolled back first
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
    from genretag.tagrules import model_open_set
    from genretag.weights import resolve_model

    connection = store.connect()
    try:
        if not paths:
            paths = store.last_scan_roots(connection)
            if not paths:
                raise ValueError("no PATH given and no earlier scan to take the paths from")
        choice = choose_model(paths, model)
        identity = resolve_model(choice.name)
        options = replace(options or TagOptions(), open_set=model_open_set(choice.name))
        if map_file:
            options = replace(options, names=load_display_names(map_file, identity.genres))
        settled = resolve_interrupted_writes(connection) if write else []
        results, problems = results_for(paths, identity, ScanOptions(jobs), progress)
        stamps = {result.path: store.stored_stamp(connection, result.path, identity) for result in results}
        plans = plan_tags(results, stamps, options)
        run_id = new_run_id() if write else None
        outcomes = {}
        if write:
            outcomes = {o.path: o for o in write_planned(connection, plans, run_id, id3_version=id3_version)}
    finally:
        connection.close()
    return TagRun(plans, outcomes, problems, settled, run_id, choice)
