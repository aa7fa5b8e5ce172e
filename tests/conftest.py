"""Shared helpers and fixtures of every test: the real audio (the CC recordings in examples/, the GTZAN
material in ../shared), an isolated genretag home, and real audio in every taggable container with a
full set of tags (for the tag and undo tests).

The product's tests use the CC recordings committed in examples/ (20-40 s excerpts; a 5 s loop) and
audio generated in the tests, so a clone alone runs them. ../shared (the GTZAN material) lies beside
the repository in CI; a clone alone lacks it. Tests that need it carry ``requires_shared``: they are
skipped, with the reason in the summary, only when it is missing. ``GENRETAG_TEST_SHARED`` points
elsewhere (a missing folder shows what a bare clone runs). Training tests (tests/training/) carry
the ``training`` marker.

The tagged files: short excerpts of the CC recordings, written by soundfile (WAV, AIFF, FLAC, Ogg
Vorbis, Opus, MP3) or PyAV (M4A), then tagged by mutagen with title, artist, album, track number,
cover art and ReplayGain, like a real library.
"""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile

from genretag import audio, store
from genretag.journal import JournalEntry, journal_entries

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GENRETAG_TEST_SHARED") or REPO.parent / "shared")
# GTZAN material of the fault-filtered train and valid splits only: the test split is held back.
GTZAN_FULL = SHARED / "data" / "gtzan-full"
SNIPPETS = SHARED / "data" / "gtzan-snippets"
GTZAN_CLASSICAL = SHARED / "data" / "gtzan-classical"
PROTOTYPES = SHARED / "data" / "prototypes"

# The CC recordings of examples/ (examples/README.md: source, cut, licence), in the repository.
EXAMPLES = REPO / "examples"
BRAHMS = EXAMPLES / "brahms-hungarian-dance-5.ogg"  # string orchestra, 30 s, Ogg Vorbis 22.05 kHz
VIBE_ACE = EXAMPLES / "vibe-ace.mp3"  # jazz, 30 s, MP3 22.05 kHz
FISHIN = EXAMPLES / "lets-go-fishin.ogg"  # 40 s, Ogg Vorbis 22.05 kHz
SUGAR_PLUM = EXAMPLES / "sugar-plum-fairy.opus"  # 20 s, Ogg Opus 48 kHz
TRUMPET = EXAMPLES / "solo-trumpet.m4a"  # a 5.4 s loop, AAC in MP4


HAS_SHARED = (SHARED / "data").is_dir()
SHARED_MISSING = f"{SHARED} (the GTZAN material) is not beside the repository"
requires_shared = pytest.mark.skipif(not HAS_SHARED, reason=f"NOT RUN: {SHARED_MISSING}")

# Frames of one 10 s segment's log-mel.
SEGMENT_FRAMES = 1 + audio.SEGMENT_SAMPLES // audio.HOP_LENGTH


def count_segments(n_samples: int) -> int:
    """How many segments ``audio.segments`` cuts from ``n_samples`` of sound, silent ones included."""
    if n_samples < audio.MIN_TRACK_SECONDS * audio.SAMPLE_RATE:
        return 0
    full, tail = divmod(n_samples, audio.SEGMENT_SAMPLES)
    if full == 0:
        return 1
    return full + (1 if tail >= audio.MIN_TAIL_SECONDS * audio.SAMPLE_RATE else 0)


@pytest.fixture(autouse=True)
def genretag_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own empty ``$GENRETAG_HOME`` (store, user models)."""
    home = tmp_path_factory.mktemp("genretag-home")
    monkeypatch.setenv("GENRETAG_HOME", str(home))
    return home


def pytest_report_header(config) -> list[str]:
    if HAS_SHARED:
        return [f"test audio: {SHARED}"]
    return [f"WARNING: {SHARED_MISSING}: the tests that need it are skipped (see the summary)"]


# ---------------------------------------------------------------- tagged files in every container

RATE = 22_050
CONTAINERS = ("mp3", "flac", "ogg", "opus", "m4a", "wav", "aiff")


@functools.cache
def recording(source: Path) -> np.ndarray:
    """A whole real recording, mono float32 at 22.05 kHz: FFmpeg (PyAV) decodes, soxr resamples.

    Decoded once per session (read-only); not through genretag.audio, whose decoding is under test.
    """
    import av
    import soxr

    with av.open(str(source)) as container:
        stream = container.streams.audio[0]
        to_float = av.AudioResampler(format="fltp", layout="mono", rate=stream.rate)
        frames = [
            converted.to_ndarray().reshape(-1)
            for frame in container.decode(stream)
            for converted in to_float.resample(frame)
        ]
        frames += [converted.to_ndarray().reshape(-1) for converted in to_float.resample(None)]
        rate = stream.rate
    samples = np.concatenate(frames).astype(np.float32)
    if rate != RATE:
        samples = soxr.resample(samples, rate, RATE, quality="HQ").astype(np.float32)
    samples.setflags(write=False)
    return samples


def excerpt(source: Path, start_s: float, seconds: float) -> np.ndarray:
    """A mono float32 excerpt at 22.05 kHz of a real recording; the recording must be long enough."""
    samples = recording(source)
    start, length = int(start_s * RATE), int(seconds * RATE)
    assert start + length <= samples.size, f"{source.name} has {samples.size / RATE:.1f} s, not {start_s + seconds} s"
    return samples[start : start + length].copy()


def _write_m4a(path: Path, samples: np.ndarray) -> None:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=RATE)
        stream.layout = "mono"
        for start in range(0, len(samples), 1024):
            frame = av.AudioFrame.from_ndarray(samples[None, start : start + 1024], format="fltp", layout="mono")
            frame.sample_rate = RATE
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def write_audio(path: Path, samples: np.ndarray) -> Path:
    """Write ``samples`` in the container ``path``'s suffix names (no tags)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix == ".m4a":
        _write_m4a(path, samples)
    elif suffix == ".opus":
        import soxr

        soundfile.write(path, soxr.resample(samples, RATE, 48_000), 48_000, format="OGG", subtype="OPUS")
    elif suffix == ".mp3":
        soundfile.write(path, samples, RATE, format="MP3")
    else:
        soundfile.write(path, samples, RATE)
    return path


def cover_jpeg() -> bytes:
    """A small real JPEG image for cover art."""
    from PIL import Image

    image = Image.fromarray((np.indices((24, 24)).sum(axis=0) * 5 % 256).astype(np.uint8))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG")
    return buffer.getvalue()


TEXT_TAGS = {
    "title": "Vibe Ace (excerpt)",
    "artist": "Kevin MacLeod",
    "album": "Test Library ü",
    "tracknumber": "3/12",
    "replaygain_track_gain": "-6.50 dB",
    "replaygain_track_peak": "0.891250",
}


def add_tags(path: Path, genres: tuple[str, ...] = ()) -> Path:
    """Give ``path`` title, artist, album, track number, cover art, ReplayGain and (optionally) genres."""
    import mutagen
    from mutagen.flac import Picture
    from mutagen.id3 import APIC, TALB, TCON, TIT2, TPE1, TRCK, TXXX, PictureType
    from mutagen.mp4 import MP4Cover, MP4FreeForm

    audio = mutagen.File(path)
    if audio.tags is None:
        audio.add_tags()
    cover = cover_jpeg()
    kind = type(audio).__name__
    if kind in ("MP3", "WAVE", "AIFF"):
        tags = audio.tags
        tags.add(TIT2(encoding=3, text=TEXT_TAGS["title"]))
        tags.add(TPE1(encoding=3, text=TEXT_TAGS["artist"]))
        tags.add(TALB(encoding=3, text=TEXT_TAGS["album"]))
        tags.add(TRCK(encoding=3, text=TEXT_TAGS["tracknumber"]))
        tags.add(APIC(encoding=3, mime="image/jpeg", type=PictureType.COVER_FRONT, desc="cover", data=cover))
        for key in ("replaygain_track_gain", "replaygain_track_peak"):
            tags.add(TXXX(encoding=3, desc=key.upper(), text=TEXT_TAGS[key]))
        if genres:
            tags.add(TCON(encoding=3, text=list(genres)))
    elif kind == "MP4":
        audio.tags["\xa9nam"] = TEXT_TAGS["title"]
        audio.tags["\xa9ART"] = TEXT_TAGS["artist"]
        audio.tags["\xa9alb"] = TEXT_TAGS["album"]
        audio.tags["trkn"] = [(3, 12)]
        audio.tags["covr"] = [MP4Cover(cover, imageformat=MP4Cover.FORMAT_JPEG)]
        for key in ("replaygain_track_gain", "replaygain_track_peak"):
            audio.tags[f"----:com.apple.iTunes:{key}"] = [MP4FreeForm(TEXT_TAGS[key].encode())]
        if genres:
            audio.tags["\xa9gen"] = list(genres)
    else:
        for key, value in TEXT_TAGS.items():
            audio.tags[key] = value
        picture = Picture()
        picture.type, picture.mime, picture.desc, picture.data = 3, "image/jpeg", "cover", cover
        picture.width = picture.height = 24
        picture.depth = 24
        if kind == "FLAC":
            audio.add_picture(picture)
        else:
            audio.tags["metadata_block_picture"] = base64.b64encode(picture.write()).decode("ascii")
        if genres:
            audio.tags["genre"] = list(genres)
    audio.save()
    return path


def other_tags(path: Path) -> dict:
    """Every tag of ``path`` except the genre, as comparable values (pictures as their bytes)."""
    import mutagen

    audio = mutagen.File(path)
    snapshot = {}
    for key, value in (audio.tags or {}).items():
        if key.upper() in ("TCON", "GENRE", "\xa9GEN"):
            continue
        if hasattr(value, "text"):
            value = [str(text) for text in value.text]
        elif hasattr(value, "data"):
            value = (getattr(value, "mime", None), bytes(value.data))
        elif isinstance(value, list):
            value = [bytes(item) if isinstance(item, bytes) else item for item in value]
        snapshot[key.lower()] = value
    if type(audio).__name__ == "FLAC":
        snapshot["pictures"] = [picture.data for picture in audio.pictures]
    return snapshot


def decoded(path: Path) -> np.ndarray:
    """The decoded audio samples of ``path`` (FFmpeg through PyAV), every channel, every frame."""
    import av

    with av.open(str(path)) as container:
        frames = [frame.to_ndarray().reshape(-1) for frame in container.decode(audio=0)]
    return np.concatenate(frames)


def ffmpeg_genre(path: Path) -> str | None:
    """The genre FFmpeg's own demuxer reads (what ffprobe prints), from the container or the audio stream."""
    import av

    with av.open(str(path)) as container:
        for metadata in (container.metadata, container.streams.audio[0].metadata):
            for key, value in metadata.items():
                if key.lower() == "genre":
                    return value
    return None


def build(folder: Path, source: Path, genres: tuple[str, ...] = (), seconds: float = 3.0) -> dict[str, Path]:
    """One tagged file per container under ``folder`` (``<container>/track.<container>``), named by container."""
    samples = excerpt(source, 20, seconds)
    return {
        container: add_tags(write_audio(folder / container / f"track.{container}", samples), genres)
        for container in CONTAINERS
    }


def journal() -> list[JournalEntry]:
    """Every entry of the tag journal in the store of the current genretag home."""
    connection = store.connect()
    try:
        return journal_entries(connection)
    finally:
        connection.close()


def user_model(name: str, threshold: float | None, metrics: dict | None = None) -> None:
    """The shipped v-kernel's weights as user model ``name`` (a learnt model to genretag), its card with an
    open-set threshold (``genretag learn`` writes one; None: none, as in a model learnt before it did)."""
    from genretag import config, weights

    card = json.loads((weights.shipped_weights_dir() / "v-kernel.json").read_text())
    card["name"] = name
    if threshold is not None:
        card["open_set"] = {"threshold": threshold, "rule": "test"}
    if metrics is not None:
        card["metrics"] = metrics
    folder = config.user_models_dir()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights.shipped_weights_dir() / "v-kernel.pt", folder / f"{name}.pt")
    (folder / f"{name}.json").write_text(json.dumps(card))
