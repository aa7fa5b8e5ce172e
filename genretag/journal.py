"""The tag journal: the crash-safe write of a file's genre tags and its recovery, in one place.

Safe write (``rewrite``, through ``tags.write_genres``): the file is rewritten in place, so it stays the
same file: same inode (its other hard links and open handles see the new tag),
owner, group, mode bits (setuid, setgid, sticky), extended attributes and ACLs.
A rename-over-the-original would give a new inode with none of those; writing in
place instead needs a backup to stay crash-safe. Steps, under a write-ahead
journal (``tag_journal``, below):

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
next ``tag`` or ``undo`` run (``resolve_interrupted_writes``): before step 4
the original was never touched and the temporary files are removed; after it the
file either holds the whole new content (the write is completed in the journal)
or gets the backup's bytes and its old mtime back. A file whose size or mtime
differs from what was analysed, a read-only file (no write permission bit, even
for root), a special file (FIFO, socket, device) or a failed check is left
exactly as it was.

mtime policy: a written file's mtime becomes the time of the write (backup and
sync tools then see the change). The store records the new size and mtime for
the file's results (``journal_done``), so the file is not re-analysed.

A symbolic link is followed: its target is rewritten and the link stays a link.
What the new content is (a copy tagged by mutagen, or an undo's exact bytes) is
``tags``' business: it hands ``rewrite`` a function that builds it. The journal's
table, ``tag_journal``, is created with the store's others (``store.SCHEMA``).
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from genretag import store
from genretag.bytediff import ByteChanges, ByteRestore, byte_changes
from genretag.config import write_area_dir
from genretag.library import special_file_kind
from genretag.store import FileStamp, stamp_of

# An exact undo keeps the original bytes a write changed in the journal (``bytediff``), up to this much.
MAX_RESTORE_BYTES = 16 << 20
HASH_CHUNK = 1 << 20
COPY_CHUNK = 1 << 20


class TagError(Exception):
    """One file's genre could not be read or written; the message is the reason."""


class RollbackFailed(TagError):
    """The original was being rewritten and its backup could not be copied back: the next run will."""


# Every genre write by `genretag tag` or `genretag undo` is one row, a write-ahead
# record of a rewrite in place (``rewrite``):
#
#   'pending'  recorded before the temporary files (new content, backup) exist;
#              the original is not touched in this state;
#   'writing'  the backup is a verified, durable copy of the original and the new
#              content is checked; the original is being overwritten in place;
#   'done' / 'failed'  settled; the temporary files are gone.
#
# A process killed in between leaves 'pending' or 'writing';
# ``resolve_interrupted_writes`` settles such rows: pending ones by removing their
# temporary files, writing ones by completing the write (the file already holds the
# whole new content) or by copying the backup's bytes back into the file.


@dataclass(frozen=True)
class JournalEntry:
    """One genre write recorded in the tag journal."""

    id: int
    run_id: str
    kind: str
    path: str
    previous_genres: tuple[str, ...]
    new_genres: tuple[str, ...]
    id3_version: int | None
    old_stamp: FileStamp
    new_stamp: FileStamp
    state: str
    error: str | None
    temp_path: str | None
    reverts: tuple[int, ...]
    undone_by: int | None
    written_at: float
    backup_path: str | None = None
    writer_pid: int | None = None
    old_sha256: str | None = None
    new_sha256: str | None = None
    restore: ByteChanges | ByteRestore | None = None


_JOURNAL_COLUMNS = (
    "id, run_id, kind, path, previous_genres, new_genres, id3_version, old_size, old_mtime_ns, new_size, "
    "new_mtime_ns, state, error, temp_path, reverts, undone_by, written_at, backup_path, writer_pid, "
    "old_sha256, new_sha256, restore_offset, restore_tail, restore_bytes, restore_ranges"
)


def _journal_entry(row: tuple) -> JournalEntry:
    (id_, run_id, kind, path, previous, new, id3_version, old_size, old_mtime, new_size, new_mtime) = row[:11]
    state, error, temp_path, reverts, undone_by, written_at, backup_path, writer_pid = row[11:19]
    old_sha256, new_sha256, restore_offset, restore_tail, restore_bytes, restore_ranges = row[19:]
    restore = None
    if restore_ranges is not None:
        restore = ByteChanges.from_blob(bytes(restore_ranges))
    elif restore_bytes is not None:  # written by an older genretag
        restore = ByteRestore(restore_offset, restore_tail, bytes(restore_bytes))
    return JournalEntry(
        id_,
        run_id,
        kind,
        path,
        tuple(json.loads(previous)),
        tuple(json.loads(new)),
        id3_version,
        FileStamp(old_size, old_mtime),
        FileStamp(new_size, new_mtime),
        state,
        error,
        temp_path,
        tuple(json.loads(reverts)) if reverts else (),
        undone_by,
        written_at,
        backup_path,
        writer_pid,
        old_sha256,
        new_sha256,
        restore,
    )


def new_run_id() -> str:
    """A fresh, sortable id for one tag or undo run."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(3)


def write_area() -> Path:
    """The folder of the temporary files of writes in progress (created when missing).

    It is in the data home, not beside the music: names there are short whatever the
    file's name, the music folder need not be writable, and a backup or sync tool of the
    library never sees a half-finished copy.
    """
    folder = write_area_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _durably(connection: sqlite3.Connection):
    # A journal row that promises a backup must be on disk before the original is touched:
    # in WAL mode with synchronous=NORMAL a commit may be lost on power failure, FULL syncs it.
    connection.execute("PRAGMA synchronous=FULL")
    return connection


def journal_begin(
    connection: sqlite3.Connection,
    run_id: str,
    kind: str,
    path: str,
    previous: Iterable[str],
    new: Iterable[str],
    id3_version: int | None,
    old_stamp: FileStamp,
    temp_path: str,
    backup_path: str,
    reverts: Iterable[int] = (),
) -> int:
    """Record a write before its temporary files exist (state 'pending'); returns its entry id."""
    with _durably(connection):
        cursor = connection.execute(
            f"INSERT INTO tag_journal ({_JOURNAL_COLUMNS}) VALUES (NULL, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 'pending', "
            "NULL, ?, ?, NULL, ?, ?, ?, NULL, NULL, NULL, NULL, NULL, NULL)",
            (
                run_id,
                kind,
                path,
                json.dumps(list(previous)),
                json.dumps(list(new)),
                id3_version,
                old_stamp.size,
                old_stamp.mtime_ns,
                temp_path,
                json.dumps(list(reverts)) if kind == "undo" else None,
                time.time(),
                backup_path,
                os.getpid(),
            ),
        )
    return cursor.lastrowid


def journal_writing(
    connection: sqlite3.Connection,
    entry_id: int,
    new_size: int,
    old_sha256: str,
    new_sha256: str,
    restore: ByteChanges | None,
) -> None:
    """Record that the backup is verified and the original is about to be rewritten in place ('writing')."""
    with _durably(connection):
        connection.execute(
            """UPDATE tag_journal SET state = 'writing', new_size = ?, old_sha256 = ?, new_sha256 = ?,
               restore_ranges = ? WHERE id = ?""",
            (new_size, old_sha256, new_sha256, restore.to_blob() if restore else None, entry_id),
        )


def _settle_done(connection: sqlite3.Connection, entry: JournalEntry) -> None:
    connection.execute(
        "UPDATE tag_journal SET state = 'done', temp_path = NULL, backup_path = NULL WHERE id = ?", (entry.id,)
    )
    # Only the tags changed, not the audio: results of the old file describe the new one, under each
    # of its names (another hard link is the same file: it is not "changed since it was analysed").
    for path in _names_of(connection, entry.path, entry.old_stamp):
        connection.execute(
            "UPDATE track_results SET size = ?, mtime_ns = ? WHERE path = ? AND size = ? AND mtime_ns = ?",
            (entry.new_stamp.size, entry.new_stamp.mtime_ns, path, entry.old_stamp.size, entry.old_stamp.mtime_ns),
        )
    for reverted in entry.reverts:
        connection.execute("UPDATE tag_journal SET undone_by = ? WHERE id = ?", (entry.id, reverted))


def _names_of(connection: sqlite3.Connection, path: str, stamp: FileStamp) -> list[str]:
    """``path`` and every other stored path of the same file (device and inode) stored with ``stamp``."""
    try:
        target = os.stat(path)
    except OSError:
        return [path]
    names = [path]
    rows = connection.execute(
        "SELECT DISTINCT path FROM track_results WHERE size = ? AND mtime_ns = ? AND path != ?",
        (stamp.size, stamp.mtime_ns, path),
    )
    for (other,) in rows:
        try:
            info = os.stat(other)
        except OSError:
            continue
        if (info.st_dev, info.st_ino) == (target.st_dev, target.st_ino):
            names.append(other)
    return names


def journal_entry(connection: sqlite3.Connection, entry_id: int) -> JournalEntry:
    """One journal entry by id."""
    row = connection.execute(f"SELECT {_JOURNAL_COLUMNS} FROM tag_journal WHERE id = ?", (entry_id,)).fetchone()
    return _journal_entry(row)


def journal_done(connection: sqlite3.Connection, entry_id: int, new_stamp: FileStamp | None = None) -> None:
    """Mark a write as done (with the file's stamp after it): restamp the file's stored results, mark reverts."""
    with _durably(connection):
        if new_stamp is not None:
            connection.execute(
                "UPDATE tag_journal SET new_size = ?, new_mtime_ns = ? WHERE id = ?",
                (new_stamp.size, new_stamp.mtime_ns, entry_id),
            )
        _settle_done(connection, journal_entry(connection, entry_id))


def journal_failed(connection: sqlite3.Connection, entry_id: int, reason: str) -> None:
    """Mark a write as failed (the file was left as it was, or given its original bytes back)."""
    with _durably(connection):
        connection.execute(
            "UPDATE tag_journal SET state = 'failed', error = ?, temp_path = NULL, backup_path = NULL, "
            "restore_bytes = NULL, restore_ranges = NULL WHERE id = ?",
            (reason, entry_id),
        )


def copy_into(source: str | Path, target: str | Path) -> None:
    """Overwrite ``target``'s content with ``source``'s in place (same inode), truncate, and fsync.

    Nothing about ``target`` but its bytes (and so its size and times) changes: owner,
    mode, extended attributes, ACLs and its other hard links stay as they are.
    """
    descriptor = os.open(target, os.O_WRONLY)
    try:
        _copy_into_descriptor(source, descriptor)
    finally:
        os.close(descriptor)


def _copy_into_descriptor(source: str | Path, descriptor: int) -> None:
    os.lseek(descriptor, 0, os.SEEK_SET)
    with open(source, "rb") as reader:
        while chunk := reader.read(COPY_CHUNK):
            view = memoryview(chunk)
            while view:
                view = view[os.write(descriptor, view) :]
        os.ftruncate(descriptor, reader.tell())
    os.fsync(descriptor)


def same_bytes(first: str | Path, second: str | Path) -> bool:
    """Whether two files hold exactly the same bytes."""
    return filecmp.cmp(first, second, shallow=False)


def _remove(*paths: str | None) -> None:
    for path in paths:
        if path:
            Path(path).unlink(missing_ok=True)


def _settle_interrupted(connection: sqlite3.Connection, entry: JournalEntry) -> None:
    if entry.state == "pending":  # the original was never touched
        _remove(entry.temp_path, entry.backup_path)
        journal_failed(connection, entry.id, "interrupted before the file was replaced; file left as it was")
        return
    # 'writing': the file holds the new content, the original, or a mix of both.
    temp_ok = entry.temp_path and os.path.isfile(entry.temp_path)
    if temp_ok and os.path.isfile(entry.path) and same_bytes(entry.temp_path, entry.path):
        _remove(entry.temp_path, entry.backup_path)
        journal_done(connection, entry.id, stamp_of(entry.path))
        return
    backup_ok = entry.backup_path and os.path.isfile(entry.backup_path) and os.path.isfile(entry.path)
    if backup_ok and same_bytes(entry.backup_path, entry.path):  # the file holds its original bytes
        with contextlib.suppress(OSError):  # and its old mtime, if a rollback wrote them back
            os.utime(entry.path, ns=(entry.old_stamp.mtime_ns, entry.old_stamp.mtime_ns))
        _remove(entry.temp_path, entry.backup_path)
        journal_failed(connection, entry.id, "not written: the file could not be rewritten; file left as it was")
        return
    if backup_ok:
        copy_into(entry.backup_path, entry.path)
        # The same bytes as before the write: the same mtime, so stored results stay fresh.
        os.utime(entry.path, ns=(entry.old_stamp.mtime_ns, entry.old_stamp.mtime_ns))
        _remove(entry.temp_path, entry.backup_path)
        journal_failed(connection, entry.id, "interrupted while the file was rewritten; original bytes restored")
        return
    journal_failed(connection, entry.id, "interrupted while the file was rewritten; its backup is missing")


def resolve_interrupted_writes(connection: sqlite3.Connection) -> list[JournalEntry]:
    """Settle entries left 'pending' or 'writing' by a killed process; returns them as settled.

    Entries of a writer still running are left to it. Files in the write area that no
    unsettled entry names (none should exist: each is journalled before it is created)
    are removed too.
    """
    unsettled = journal_entries(connection, states=("pending", "writing"))
    settled = []
    for entry in unsettled:
        if store.process_alive(entry.writer_pid):
            continue
        # A file that cannot be given its bytes back now keeps its backup for a later run.
        with contextlib.suppress(OSError):
            _settle_interrupted(connection, entry)
        settled.append(journal_entry(connection, entry.id))
    folder = write_area_dir()
    # Listed before the journal is read: a file listed here was journalled before it was
    # created, so a running writer's file is in ``in_use``.
    present = list(folder.iterdir()) if folder.is_dir() else []
    in_use = {
        path
        for entry in journal_entries(connection, states=("pending", "writing"))
        for path in (entry.temp_path, entry.backup_path)
        if path
    }
    for leftover in present:
        if str(leftover) not in in_use:
            leftover.unlink(missing_ok=True)
    return settled


def journal_entries(
    connection: sqlite3.Connection,
    kind: str | None = None,
    states: Iterable[str] | None = None,
    path: str | None = None,
) -> list[JournalEntry]:
    """Journal entries, oldest first, optionally only of one kind, some states, or one path."""
    conditions, parameters = [], []
    if kind:
        conditions.append("kind = ?")
        parameters.append(kind)
    if states:
        states = list(states)
        conditions.append(f"state IN ({', '.join('?' * len(states))})")
        parameters.extend(states)
    if path:
        conditions.append("path = ?")
        parameters.append(path)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = connection.execute(f"SELECT {_JOURNAL_COLUMNS} FROM tag_journal {where} ORDER BY id", parameters)
    return [_journal_entry(row) for row in rows]


def undoable_entries(connection: sqlite3.Connection) -> list[JournalEntry]:
    """Tag writes that are done and not yet undone, oldest first."""
    return [entry for entry in journal_entries(connection, "tag", ("done",)) if entry.undone_by is None]


# ---------------------------------------------------------------- the safe write


def check_regular(path: str | Path) -> os.stat_result:
    """``path``'s stat (following links); raises ``TagError`` when it cannot be read or is a special file."""
    try:
        info = os.stat(path)
    except OSError as error:
        raise TagError(f"cannot read: {error.strerror or error}") from None
    kind = special_file_kind(info.st_mode)
    if kind:
        # Opening a FIFO for reading blocks until a writer comes: never open one.
        raise TagError(f"not a regular file ({kind}); not read")
    return info


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


def undo_bytes(content: bytes, restore: ByteChanges | ByteRestore) -> bytes:
    """The bytes of the file before a write, from the bytes that write left and what the journal kept."""
    return restore.apply(content)


class WriteJournal:
    """Where a safe write records its steps: nowhere here; ``StoreJournal`` records them in the store."""

    def begin(self, temp: str, backup: str) -> None:
        """Before the temporary files exist."""

    def writing(self, new_size: int, old_sha256: str, new_sha256: str, restore: ByteChanges | None) -> None:
        """The backup is on disk and checked; the original is about to be rewritten."""


def _temporary_names(target: str) -> tuple[str, str]:
    # Short names whatever the original's: the suffix is kept (mutagen reads containers by it too).
    area = write_area()
    token = secrets.token_hex(8)
    suffix = Path(target).suffix[:16]
    return str(area / f"{token}.new{suffix}"), str(area / f"{token}.old{suffix}")


def writable(target: str, expected: FileStamp | None) -> tuple[os.stat_result, FileStamp]:
    original = check_regular(target)
    before = FileStamp(original.st_size, original.st_mtime_ns)
    if expected is not None and before != expected:
        raise TagError("changed since it was analysed (size or modification time differs); not written")
    # Root may write anything; a file without any write bit still says "do not change me".
    if not original.st_mode & 0o222 or not os.access(target, os.W_OK):
        raise TagError("read-only file; not written")
    # Opening for writing changes nothing, and fails for what access() lets through: an append-only
    # or immutable file (chattr +a / +i), a read-only mount. Found now, the file is never touched.
    descriptor = _open_for_rewrite(target)
    os.close(descriptor)
    return original, before


def _open_for_rewrite(target: str) -> int:
    """A descriptor to rewrite ``target`` in place; raises ``TagError`` (the file untouched) when it cannot be."""
    try:
        return os.open(target, os.O_WRONLY)
    except OSError as error:
        hint = " (an append-only or immutable file: see lsattr)" if error.errno == errno.EPERM else ""
        raise TagError(f"cannot write: {error.strerror or error}{hint}; not written") from None


def rewrite(
    target: str,
    original: os.stat_result,
    before: FileStamp,
    build: Callable[[str], None],
    journal: WriteJournal,
) -> FileStamp:
    """Rewrite ``target`` in place with what ``build(temp)`` makes of a copy of it (see the module docstring).

    ``original`` and ``before`` come from ``writable``; ``journal`` records each step. Returns the
    file's new stamp; raises ``TagError`` with the reason when the file was left as it was (or given
    its bytes back), ``RollbackFailed`` when it could not be given them back yet.
    """
    temp, backup = _temporary_names(target)
    journal.begin(temp, backup)
    descriptor, touched = None, False
    try:
        shutil.copyfile(target, temp)
        build(temp)
        if same_bytes(temp, target):  # nothing to write: the file already holds this content
            new_stamp = before
        else:
            shutil.copyfile(target, backup)
            _fsync(backup)
            _fsync(temp)
            if stamp_of(target) != before or not same_bytes(backup, target):
                raise TagError("changed while genretag was writing it; not written")
            old_sha256, new_sha256 = _sha256(backup), _sha256(temp)
            restore = byte_changes(backup, temp, MAX_RESTORE_BYTES)
            if restore is not None and restore.original_sha256(temp) != old_sha256:
                restore = None  # never the case; if it were, an undo restores the genre values instead
            # Opened before the journal says 'writing': a file that cannot be opened is never touched.
            descriptor = _open_for_rewrite(target)
            journal.writing(os.stat(temp).st_size, old_sha256, new_sha256, restore)
            touched = True
            _copy_into_descriptor(temp, descriptor)
            if not same_bytes(temp, target):
                raise TagError("verification failed: the file does not hold what was written; original restored")
            new_stamp = stamp_of(target)
    except BaseException as error:
        if touched:
            try:
                _copy_into_descriptor(backup, descriptor)
                os.utime(target, ns=(original.st_atime_ns, original.st_mtime_ns))
            except OSError as rollback:
                raise RollbackFailed(
                    f"write failed ({error}) and the original could not be restored yet "
                    f"({rollback.strerror or rollback}); the next genretag run restores it from {backup}"
                ) from None
            finally:
                os.close(descriptor)
        elif descriptor is not None:
            os.close(descriptor)
        for path in (temp, backup):
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)
        if isinstance(error, TagError):
            raise
        after = "original restored" if touched else "original left as it was"
        if isinstance(error, OSError):
            raise TagError(f"write failed: {error.strerror or error}; {after}") from None
        if isinstance(error, sqlite3.Error):  # the store, not this file: every write would fail the same way
            raise
        if isinstance(error, Exception):  # one file's failure (a mutagen or struct error) never stops the run
            raise TagError(f"write failed: {error}; {after}") from None
        raise
    if descriptor is not None:
        os.close(descriptor)
    for path in (temp, backup):
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
    return new_stamp


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


class StoreJournal(WriteJournal):
    """Records a write's steps in the tag journal (one row per write; see the comment above ``JournalEntry``)."""

    def __init__(self, connection, run_id, kind, path, previous, new, id3_version_before, reverts):
        self.connection, self.entry_id = connection, None
        self.row = (run_id, kind, path, previous, new, id3_version_before)
        self.reverts = reverts

    def begin(self, temp: str, backup: str) -> None:
        run_id, kind, path, previous, new, id3_version = self.row
        self.entry_id = journal_begin(
            self.connection, run_id, kind, path, previous, new, id3_version, stamp_of(path), temp, backup, self.reverts
        )

    def writing(self, new_size: int, old_sha256: str, new_sha256: str, restore: ByteChanges | None) -> None:
        journal_writing(self.connection, self.entry_id, new_size, old_sha256, new_sha256, restore)

    def run(self, write: Callable[[WriteJournal], FileStamp]) -> WriteOutcome:
        """Make the safe write ``write(self)`` (which records its steps here) and settle its entry."""
        path = self.row[2]
        if journal_entries(self.connection, states=("pending", "writing"), path=path):
            reason = "an earlier write to it is not settled yet (its backup is kept for the next run); not written"
            return WriteOutcome(path, None, reason)
        try:
            new_stamp = write(self)
        except RollbackFailed as error:  # the entry stays 'writing': the next run restores from the backup
            return WriteOutcome(path, None, str(error))
        except TagError as error:
            if self.entry_id is not None:
                journal_failed(self.connection, self.entry_id, str(error))
            return WriteOutcome(path, self.entry_id, str(error))
        journal_done(self.connection, self.entry_id, new_stamp)
        return WriteOutcome(path, self.entry_id)
