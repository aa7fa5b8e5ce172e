"""Undoing genre writes from the tag journal.

An undo gives a file back the exact bytes it had before genretag's writes (so
every frame comes back as it was: an ID3v2.3 ``(17)(13)`` stays that text, a file
without a tag loses the one genretag added), by the same safe write in place as
``tags.write_genres``, and is itself journalled. Each write keeps in the journal
the original bytes it changed and the sha256 of the file before and after; the
exact way is taken when the file still has the bytes genretag's newest write left.
Otherwise (``force`` on a file changed since, or a write whose changed region was
too large to keep) the genre values are restored instead. A selection
(``--last`` run, files under some paths, or all) always takes, per file, its
newest writes not yet undone, and restores the values from before the oldest of
them. A file whose size or mtime differs from what genretag's last write left
has been changed since: it is reported and not touched, unless ``force``, which
restores the genre values anyway and keeps everything else as it now is.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from genretag import journal, store
from genretag.journal import TagError, WriteOutcome, undo_bytes
from genretag.store import FileStamp
from genretag.tags import journalled_write, read_genre_tags


@dataclass(frozen=True)
class UndoPlan:
    """What undoing one file's writes would do."""

    path: str
    restore: tuple[str, ...]  # the genre values before genretag's oldest undone write
    written: tuple[str, ...]  # the genre values genretag's newest write left
    id3_version: int | None  # the file's ID3 version before genretag's oldest undone write
    expected: FileStamp  # the file as genretag's newest write left it
    reverts: tuple[int, ...]  # the tag journal entries this undo reverts
    problem: str = ""  # why the file will not be restored (empty: it will)


def _is_under(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _problem(path: str, expected: FileStamp) -> str:
    try:
        changed = store.stamp_of(path) != expected
    except OSError as error:
        return f"cannot read: {error.strerror or error}"
    if changed:
        return "changed since genretag wrote it (size or modification time differs); not restored"
    try:
        read_genre_tags(path)
    except TagError as error:
        return str(error)
    return ""


def plan_undo(connection: sqlite3.Connection, last: bool = False, paths: Iterable[str | Path] = ()) -> list[UndoPlan]:
    """Plans for the latest run's writes (``last``), the writes to files under ``paths``, or else all writes."""
    entries = journal.undoable_entries(connection)
    roots = [os.path.abspath(path) for path in paths]
    if last and entries:
        entries = [entry for entry in entries if entry.run_id == entries[-1].run_id]
    elif roots:
        entries = [entry for entry in entries if _is_under(entry.path, roots)]
    by_path: dict[str, list[journal.JournalEntry]] = {}
    for entry in entries:
        by_path.setdefault(entry.path, []).append(entry)
    plans = []
    for path, selected in by_path.items():
        newest = journal.journal_entries(connection, states=("done",), path=path)[-1]
        plans.append(
            UndoPlan(
                path=path,
                restore=selected[0].previous_genres,
                written=newest.new_genres,
                id3_version=selected[0].id3_version,
                expected=newest.new_stamp,
                reverts=tuple(entry.id for entry in selected),
                problem=_problem(path, newest.new_stamp),
            )
        )
    return plans


def _exact_original(connection: sqlite3.Connection, plan: UndoPlan) -> bytes | None:
    """The file's bytes before the oldest reverted write, rebuilt from its current bytes; None when it cannot be."""
    entries = [journal.journal_entry(connection, entry_id) for entry_id in plan.reverts]
    try:
        content = Path(plan.path).read_bytes()
    except OSError:
        return None
    for entry in reversed(entries):
        if entry.restore is None or hashlib.sha256(content).hexdigest() != entry.new_sha256:
            return None
        content = undo_bytes(content, entry.restore)
        if hashlib.sha256(content).hexdigest() != entry.old_sha256:
            return None
    return content


def apply_undo(
    connection: sqlite3.Connection, plans: Iterable[UndoPlan], run_id: str, force: bool = False
) -> list[WriteOutcome]:
    """Restore every plan without a problem (with ``force``, also those changed since), journalled under ``run_id``."""
    outcomes = []
    for plan in plans:
        changed_since = plan.problem.startswith("changed since")
        if plan.problem and not (force and changed_since):
            outcomes.append(WriteOutcome(plan.path, reason=plan.problem))
            continue
        try:
            before = read_genre_tags(plan.path)
        except TagError as error:
            outcomes.append(WriteOutcome(plan.path, reason=str(error)))
            continue
        outcomes.append(
            journalled_write(
                connection,
                run_id,
                "undo",
                plan.path,
                before.values,
                plan.restore,
                before.id3_version,
                None if force else plan.expected,
                plan.id3_version,
                plan.reverts,
                content=None if changed_since else _exact_original(connection, plan),
            )
        )
    return outcomes


@dataclass
class UndoRun:
    """What ``undo_writes`` planned and did; ``outcomes`` is empty for a dry run."""

    plans: list[UndoPlan]
    outcomes: dict[str, WriteOutcome]
    settled: list[journal.JournalEntry]  # writes an interrupted run left, completed or rolled back first
    dry_run: bool
    force: bool

    @property
    def failures(self) -> list[tuple[str, str]]:
        """``(path, reason)`` of every file that is not (or, in a dry run, would not be) restored."""
        if self.dry_run:
            return [
                (plan.path, plan.problem)
                for plan in self.plans
                if plan.problem and not (self.force and plan.problem.startswith("changed"))
            ]
        return [(o.path, o.reason) for o in self.outcomes.values() if not o.written]


def undo_writes(
    last: bool = False, paths: Iterable[str | Path] = (), dry_run: bool = False, force: bool = False
) -> UndoRun:
    """``genretag undo``: restore the files of the ``last`` run, or under ``paths``, or (neither) every file."""
    connection = store.connect()
    try:
        settled = [] if dry_run else journal.resolve_interrupted_writes(connection)
        plans = plan_undo(connection, last=last, paths=paths)
        outcomes = {}
        if plans and not dry_run:
            run_id = journal.new_run_id()
            outcomes = {o.path: o for o in apply_undo(connection, plans, run_id, force)}
    finally:
        connection.close()
    return UndoRun(plans, outcomes, settled, dry_run, force)


# ---------------------------------------------------------------- pruning the journal


@dataclass(frozen=True)
class Pruned:
    """What ``prune_journal`` removed and what the journal holds after it."""

    removed: int
    remaining: store.JournalSize


def _prunable(entries: list[journal.JournalEntry], cutoff: float | None) -> list[int]:
    """The ids of one file's entries no undo needs: all but its undoable writes and its newest done entry."""
    settled = [entry for entry in entries if entry.state in ("done", "failed")]
    undoable = {
        entry.id
        for entry in settled
        if entry.kind == "tag"
        and entry.state == "done"
        and entry.undone_by is None
        and (cutoff is None or entry.written_at >= cutoff)
    }
    if not undoable:
        return [entry.id for entry in settled]
    # ``plan_undo`` takes the file's newest done entry as what the file should hold now.
    newest = max(entry.id for entry in settled if entry.state == "done")
    return [entry.id for entry in settled if entry.id not in undoable and entry.id != newest]


def prune_journal(older_than_days: float | None = None) -> Pruned:
    """``genretag undo --prune``: remove journal entries no undo can use; keep every write that can be undone.

    Removed: failed writes, writes already undone and the undos themselves (a file's newest
    entry stays while it has writes to undo), and with ``older_than_days`` also the writes made
    longer ago than that, which can then no longer be undone. Writes in progress are never
    touched. The store file is compacted afterwards.
    """
    cutoff = None if older_than_days is None else time.time() - older_than_days * 86_400
    connection = store.connect()
    try:
        by_path: dict[str, list[journal.JournalEntry]] = {}
        for entry in journal.journal_entries(connection):
            by_path.setdefault(entry.path, []).append(entry)
        doomed = [entry_id for entries in by_path.values() for entry_id in _prunable(entries, cutoff)]
        with connection:
            connection.executemany("DELETE FROM tag_journal WHERE id = ?", [(entry_id,) for entry_id in doomed])
        if doomed:
            connection.execute("VACUUM")
        return Pruned(len(doomed), store.journal_size(connection))
    finally:
        connection.close()
