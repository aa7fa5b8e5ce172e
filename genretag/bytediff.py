"""The bytes a tag write changed, as the tag journal keeps them: what an exact undo needs, and no more.

A tag write changes a few small places of a file: the tag itself, a size field in a header
(RIFF's at offset 4), a trailer (ID3v1 at the end, a WAV's INFO or ID3 chunk), and when a tag
grows past its padding everything after it moves by the same amount. ``byte_changes`` finds
those places by comparing the original with the new file block by block under two alignments,
the same offset (before the place where the size changes) and the same distance from the end
(after it), and keeps only the original's bytes that differ: a 1 KB genre change to a 30 MB WAV
keeps a few bytes, whatever lies between its header and its tag (audio, a cover) is not kept.

``ByteChanges`` rebuilds the original from the new file: a list of pieces, each either a range of
the new file or bytes of the original kept in the journal.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass

import numpy as np

BLOCK = 1 << 16
# Equal runs shorter than this inside a changed block are kept with the changed bytes around them:
# one more piece would cost more than the bytes it saves.
MIN_EQUAL_RUN = 32
_RANGE, _KEPT = b"R", b"K"


@dataclass(frozen=True)
class ByteChanges:
    """How to turn the file a write left back into the exact original.

    ``pieces`` in order: ``(offset, length)``, a range of the new file, or ``bytes`` of the original.
    """

    pieces: tuple[tuple[int, int] | bytes, ...]

    @property
    def kept(self) -> int:
        """How many bytes of the original the journal keeps."""
        return sum(len(piece) for piece in self.pieces if isinstance(piece, bytes))

    def apply(self, content: bytes) -> bytes:
        """The original's bytes, from ``content``: the new file's bytes."""
        return b"".join(
            piece if isinstance(piece, bytes) else content[piece[0] : piece[0] + piece[1]] for piece in self.pieces
        )

    def original_sha256(self, new_path: str | os.PathLike) -> str:
        """The sha256 of the original, rebuilt piece by piece from the new file (which is not read whole)."""
        digest = hashlib.sha256()
        with open(new_path, "rb") as reader:
            for piece in self.pieces:
                if isinstance(piece, bytes):
                    digest.update(piece)
                    continue
                offset, length = piece
                while length:
                    chunk = os.pread(reader.fileno(), min(length, 1 << 20), offset)
                    if not chunk:
                        return ""  # the new file is shorter than a range: it cannot be the file these describe
                    digest.update(chunk)
                    offset, length = offset + len(chunk), length - len(chunk)
        return digest.hexdigest()

    def to_blob(self) -> bytes:
        """The journal's form: ``R`` offset length, or ``K`` length bytes, per piece (little-endian u64)."""
        parts = []
        for piece in self.pieces:
            if isinstance(piece, bytes):
                parts += [_KEPT, struct.pack("<Q", len(piece)), piece]
            else:
                parts += [_RANGE, struct.pack("<QQ", *piece)]
        return b"".join(parts)

    @classmethod
    def from_blob(cls, blob: bytes) -> ByteChanges:
        """The inverse of ``to_blob``."""
        pieces, position = [], 0
        while position < len(blob):
            kind, position = blob[position : position + 1], position + 1
            if kind == _RANGE:
                pieces.append(struct.unpack_from("<QQ", blob, position))
                position += 16
            else:
                (length,) = struct.unpack_from("<Q", blob, position)
                pieces.append(bytes(blob[position + 8 : position + 8 + length]))
                position += 8 + length
        return cls(tuple(pieces))


@dataclass(frozen=True)
class ByteRestore:
    """An older journal's form (one changed region): the original is ``new[:offset] + original_bytes + new[-tail:]``."""

    offset: int
    tail: int
    original_bytes: bytes

    @property
    def kept(self) -> int:
        return len(self.original_bytes)

    def apply(self, content: bytes) -> bytes:
        return content[: self.offset] + self.original_bytes + content[len(content) - self.tail :]


class _Pieces:
    def __init__(self, limit: int):
        self.pieces: list = []
        self.kept, self.limit = 0, limit

    def range(self, offset: int, length: int) -> None:
        if not length:
            return
        last = self.pieces[-1] if self.pieces else None
        if isinstance(last, tuple) and last[0] + last[1] == offset:
            self.pieces[-1] = (last[0], last[1] + length)
        else:
            self.pieces.append((offset, length))

    def keep(self, data: bytes) -> bool:
        """Keep ``data``; False when the limit is passed."""
        if not data:
            return True
        self.kept += len(data)
        if isinstance(self.pieces[-1] if self.pieces else None, bytearray):
            self.pieces[-1] += data
        else:
            self.pieces.append(bytearray(data))
        return self.kept <= self.limit

    def done(self) -> ByteChanges:
        return ByteChanges(tuple(bytes(piece) if isinstance(piece, bytearray) else piece for piece in self.pieces))


def _split(same_start: list[bool], same_end: list[bool]) -> int:
    """The first block compared from the end: fewest changed blocks in all (changes before it, from the start)."""
    changed_after = sum(not same for same in same_end)
    best, best_cost, changed_before = 0, changed_after, 0
    for index in range(len(same_start)):
        changed_before += not same_start[index]
        changed_after -= not same_end[index]
        if changed_before + changed_after <= best_cost:
            best, best_cost = index + 1, changed_before + changed_after
    return best


def _runs(equal: np.ndarray) -> list[tuple[int, int, bool]]:
    """``(start, end, equal)`` runs of a boolean array, equal runs shorter than ``MIN_EQUAL_RUN`` merged away."""
    if not equal.size:
        return []
    edges = np.flatnonzero(np.diff(equal.view(np.int8))) + 1
    starts = [0, *edges.tolist()]
    ends = [*edges.tolist(), equal.size]
    runs: list[tuple[int, int, bool]] = []
    for start, end in zip(starts, ends, strict=True):
        same = bool(equal[start]) and end - start >= MIN_EQUAL_RUN
        if runs and runs[-1][2] == same:
            runs[-1] = (runs[-1][0], end, same)
        else:
            runs.append((start, end, same))
    return runs


def byte_changes(original: str | os.PathLike, new: str | os.PathLike, limit: int) -> ByteChanges | None:
    """How to rebuild ``original`` from ``new`` (see the module docstring); None when it keeps over ``limit`` bytes."""
    with open(original, "rb") as old_file, open(new, "rb") as new_file:
        old_fd, new_fd = old_file.fileno(), new_file.fileno()
        old_size, new_size = os.fstat(old_fd).st_size, os.fstat(new_fd).st_size
        shift = new_size - old_size
        starts = range(0, old_size, BLOCK)
        same_start, same_end = [], []
        for start in starts:
            length = min(BLOCK, old_size - start)
            block = os.pread(old_fd, length, start)
            at_start = start + length <= new_size and os.pread(new_fd, length, start) == block
            same_start.append(at_start)
            if shift == 0:
                same_end.append(at_start)
            else:
                same_end.append(start + shift >= 0 and os.pread(new_fd, length, start + shift) == block)
        split = _split(same_start, same_end)
        pieces = _Pieces(limit)
        for index, start in enumerate(starts):
            length = min(BLOCK, old_size - start)
            offset = start if index < split else start + shift  # where this block's bytes lie in the new file
            if (same_start if index < split else same_end)[index]:
                pieces.range(offset, length)
                continue
            block = np.frombuffer(os.pread(old_fd, length, start), dtype=np.uint8)
            first, last = max(0, -offset), max(0, min(length, new_size - offset))
            equal = np.zeros(length, dtype=bool)
            if last > first:
                theirs = np.frombuffer(os.pread(new_fd, last - first, offset + first), dtype=np.uint8)
                equal[first:last] = block[first:last] == theirs
            for run_start, run_end, same in _runs(equal):
                if same:
                    pieces.range(offset + run_start, run_end - run_start)
                elif not pieces.keep(block[run_start:run_end].tobytes()):
                    return None
    return pieces.done()
