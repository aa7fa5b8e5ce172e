"""The bytes a tag write changed, as the tag journal keeps them: what an exact undo needs, and no more.

A tag write changes a few small places of a file: the tag itself, a size field in a header
(RIFF's at offset 4), a trailer (ID3v1 at the end, a WAV's INFO or ID3 chunk); a genre that
grows moves what follows it (a cover after the genre frame), up to the padding that takes the
growth back, or to the end of the file. ``byte_changes`` walks the original block by block
comparing it with the new file at the current shift; where they differ it looks for the
original's next bytes in the new file nearby (an anchor), takes the new shift, and keeps only
the original's bytes in between: a 1 KB genre change to a 30 MB WAV keeps a few bytes, and
whatever lies around the tag (audio, a cover) is never kept.

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
# Where the original and the new file differ, an anchor of ANCHOR bytes of the original is looked
# for in the new file: every ANCHOR bytes for the first NEAR bytes past the change, then every
# FAR_STEP, up to RESYNC_SPAN; within RESYNC_WINDOW (plus the change in size) of where it was.
ANCHOR = 64
NEAR = 4096
FAR_STEP = 4096
RESYNC_SPAN = 1 << 20
RESYNC_WINDOW = 1 << 20
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


def _common_prefix(first: bytes, second: bytes) -> int:
    """How many leading bytes ``first`` and ``second`` share."""
    length = min(len(first), len(second))
    if first[:length] == second[:length]:
        return length
    differ = np.frombuffer(first, np.uint8, length) != np.frombuffer(second, np.uint8, length)
    return int(np.argmax(differ))


def _anchor_offsets(span: int):
    # Close to the change byte by byte (a size field, a CRC, a genre frame), further on coarser.
    yield from range(0, min(span, NEAR), ANCHOR)
    yield from range(NEAR, span, FAR_STEP)


def _resync(old_fd: int, new_fd: int, sizes: tuple[int, int], start: int, shift: int) -> tuple[int, int] | None:
    """Where the original, from ``start`` on, matches the new file again: ``(position, shift)``, or None.

    The original's bytes at an anchor position are looked for in the new file: first where the
    current ``shift`` or the end alignment puts them, then anywhere near (a tag that grew moved
    what follows it by its growth, and padding may take the growth back further on).
    """
    old_size, new_size = sizes
    end_shift = new_size - old_size
    span = min(old_size - start, RESYNC_SPAN)
    mine = os.pread(old_fd, span + ANCHOR, start)
    reach = RESYNC_WINDOW + abs(end_shift)
    low = max(0, start + shift - reach)
    high = min(new_size, start + span + shift + reach + ANCHOR)
    theirs = os.pread(new_fd, high - low, low) if high > low else b""
    for offset in _anchor_offsets(span):
        anchor = mine[offset : offset + ANCHOR]
        position = start + offset
        found = None
        for candidate in (shift, end_shift):
            at = position + candidate - low
            if at >= 0 and theirs[at : at + len(anchor)] == anchor and at + len(anchor) <= len(theirs):
                found = candidate
                break
        if found is None:
            at = theirs.find(anchor)
            if at < 0:
                continue
            found = low + at - position
        # Back to the first byte of the match: only the bytes that differ are kept.
        while position > start and position - 1 + found >= low:
            if mine[position - 1 - start] != theirs[position - 1 + found - low]:
                break
            position -= 1
        return position, found
    return None


def byte_changes(original: str | os.PathLike, new: str | os.PathLike, limit: int) -> ByteChanges | None:
    """How to rebuild ``original`` from ``new`` (see the module docstring); None when it keeps over ``limit`` bytes."""
    with open(original, "rb") as old_file, open(new, "rb") as new_file:
        old_fd, new_fd = old_file.fileno(), new_file.fileno()
        sizes = os.fstat(old_fd).st_size, os.fstat(new_fd).st_size
        pieces = _Pieces(limit)
        position, shift = 0, 0  # the original's bytes at ``position`` are the new file's at ``position + shift``
        while position < sizes[0]:
            length = min(BLOCK, sizes[0] - position)
            mine = os.pread(old_fd, length, position)
            theirs = os.pread(new_fd, length, position + shift) if position + shift >= 0 else b""
            same = _common_prefix(mine, theirs)
            pieces.range(position + shift, same)  # only bytes compared equal are taken from the new file
            position += same
            if same == length:
                continue
            match = _resync(old_fd, new_fd, sizes, position, shift)
            if match is None or match == (position, shift):
                step = min(sizes[0] - position, RESYNC_SPAN if match is None else ANCHOR)
                if not pieces.keep(os.pread(old_fd, step, position)):
                    return None
                position += step
                continue
            matched_at, shift = match
            if not pieces.keep(os.pread(old_fd, matched_at - position, position)):
                return None
            position = matched_at
    return pieces.done()
