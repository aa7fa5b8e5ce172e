"""genretag.learn: genre spellings, choosing genres, the album-aware split, real tags and features."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import CONTAINERS, SUGAR_PLUM, VIBE_ACE, build, excerpt, recording, write_audio

from genretag import audio, learn
from genretag.learn import DroppedGenre, TaggedTrack
from genretag.weights import resolve_model


def test_spellings_of_one_genre_share_a_key():
    assert len({learn.name_key(g) for g in ("Hip-Hop", "hip hop", "HipHop", " HIP_HOP ")}) == 1
    assert learn.name_key("Drum & Bass") == learn.name_key("drum and bass")
    assert learn.name_key("Rock") != learn.name_key("Pop")


def test_genre_values_are_split_trimmed_and_deduplicated():
    values = ["Rock; Pop", "rock", "Jazz/Funk, Soul", "  Drum   &  Bass ", "", "Pop|Indie"]
    assert learn.split_genre_values(values) == ["Rock", "Pop", "Jazz", "Funk", "Soul", "Drum & Bass", "Indie"]


def test_mapping_file_merges_synonyms_and_ignores_genres(tmp_path):
    mapping_file = tmp_path / "genres.map"
    mapping_file.write_text("# my synonyms\nHip Hop = Rap  \nOST = Soundtrack # films\nOther =\n\n", encoding="utf-8")
    mapping = learn.read_genre_map(mapping_file)
    assert learn.apply_genre_map(["hip-hop", "Other", "ost", "Rap", "Jazz"], mapping) == [
        "Rap",
        "Soundtrack",
        "Jazz",
    ]
    mapping_file.write_text("Rock = Rock\njust a genre\n", encoding="utf-8")
    with pytest.raises(learn.GenreMapError, match=r"genres.map:2: expected 'alias = genre'"):
        learn.read_genre_map(mapping_file)


def tracks_of(*genre_lists: list[str]) -> list[TaggedTrack]:
    return [TaggedTrack(Path(f"/music/{i}.flac"), genres, f"track:{i}") for i, genres in enumerate(genre_lists)]


def test_a_track_counts_for_its_first_genre_that_survives():
    tracks = tracks_of(
        *[["Bossa Nova", "Jazz"]] * 3, *[["jazz"]] * 7, *[["Jazz"]] * 2, *[["Rock"]] * 12, *[["Polka"]] * 2
    )
    choice = learn.choose_genres(tracks, min_tracks=10)
    # Jazz is first on only 9 tracks; once Bossa Nova (the smaller genre) is dropped, its 3 tracks count for Jazz.
    assert choice.genres == ("jazz", "Rock")
    assert choice.counts == {"jazz": 12, "Rock": 12}
    assert choice.spellings == {"jazz": ["Jazz", "jazz"]}
    assert choice.dropped == {"Bossa Nova": DroppedGenre(3, 3), "Polka": DroppedGenre(2, 2)}
    assert choice.labels[Path("/music/0.flac")] == "jazz"
    assert choice.unlabelled == [Path("/music/24.flac"), Path("/music/25.flac")]


def albums_library(albums_per_genre: dict[str, int], tracks_per_album: int = 5):
    labels, groups = {}, {}
    for genre, albums in albums_per_genre.items():
        for album in range(albums):
            for number in range(tracks_per_album):
                path = Path(f"/music/{genre}/{album}/{number}.flac")
                labels[path], groups[path] = genre, f"album:{genre}/{album}"
    return labels, groups


def test_split_keeps_every_album_on_one_side():
    labels, groups = albums_library({"rock": 8, "jazz": 5, "folk": 3})
    split = learn.group_split(labels, groups)
    sides = defaultdict(set)
    for path in split.train:
        sides[groups[path]].add("train")
    for path in split.valid:
        sides[groups[path]].add("valid")
    assert all(len(side) == 1 for side in sides.values())
    assert sorted(split.train + split.valid) == sorted(labels)
    for genre in ("rock", "jazz", "folk"):
        valid = sum(labels[p] == genre for p in split.valid)
        total = sum(labels[p] == genre for p in labels)
        assert 1 <= valid <= 0.4 * total, (genre, valid, total)
    assert split.unit == "album or artist"
    assert learn.group_split(labels, groups) == split  # seeded: the same split every run


def test_a_genre_from_a_single_album_is_split_by_track():
    labels, groups = albums_library({"rock": 6, "opera": 1}, tracks_per_album=10)
    split = learn.group_split(labels, groups)
    assert sum(labels[p] == "opera" for p in split.valid) == 2
    assert "by track for opera" in split.unit


def test_read_library_reads_every_container_and_reports_what_it_cannot_use(tmp_path):
    import mutagen
    from mutagen.id3 import TALB, TCON

    samples = excerpt(VIBE_ACE, 20, 2.0)
    id3v23 = write_audio(tmp_path / "a.mp3", samples)
    tags = mutagen.File(id3v23)
    if tags.tags is None:
        tags.add_tags()
    tags.tags.add(TCON(encoding=3, text=["Acid Jazz", "Funk"]))
    tags.tags.add(TALB(encoding=3, text="Grooves"))
    tags.save(v2_version=3, v23_sep="/")  # ID3v2.3 stores "Acid Jazz/Funk"
    m4a = write_audio(tmp_path / "b.m4a", samples)
    tags = mutagen.File(m4a)
    if tags.tags is None:
        tags.add_tags()
    tags.tags["\xa9gen"] = ["Jazz; Fusion", "jazz"]
    tags.save()
    untagged = write_audio(tmp_path / "c.flac", samples)
    (tmp_path / "d.ogg").write_bytes(b"OggS" + bytes(500))
    library = learn.read_library([tmp_path])
    assert [(t.path.name, t.genres) for t in library.tracks] == [
        ("a.mp3", ["Acid Jazz", "Funk"]),
        ("b.m4a", ["Jazz", "Fusion"]),
    ]
    assert library.tracks[0].group == "album:/grooves"
    assert library.tracks[1].group == f"track:{m4a}"
    assert library.untagged == [untagged]
    ((path, reason),) = library.unreadable
    assert path.name == "d.ogg" and reason.startswith("not a container genretag can tag")


def test_genre_and_album_are_read_from_every_container(tmp_path):
    build(tmp_path, VIBE_ACE, ("Acid Jazz; Funk",), seconds=1.5)
    library = learn.read_library([tmp_path])
    assert sorted(t.path.suffix[1:] for t in library.tracks) == sorted(CONTAINERS)
    assert {(tuple(t.genres), t.group) for t in library.tracks} == {
        (("Acid Jazz", "Funk"), "album:kevinmacleod/testlibraryü")
    }


def test_features_of_a_track_with_silent_stretches_spread_over_its_audible_segments(tmp_path):
    music = np.resize(recording(SUGAR_PLUM), 400 * audio.SAMPLE_RATE)  # the 20 s recording looped
    for start in range(0, music.size, 2 * audio.SEGMENT_SAMPLES):
        music[start : start + audio.SEGMENT_SAMPLES] = 0  # every other 10 s is digital silence
    track = tmp_path / "gaps.wav"
    soundfile.write(track, music, audio.SAMPLE_RATE)
    picked = learn._evenly_spread_segments(track, audio.SAMPLE_RATE)
    assert len(picked) == learn.MAX_SEGMENTS_PER_TRACK
    assert all(segment.index % 2 == 1 for segment in picked)  # only the audible ones
    assert picked[0].start_s == 10 and picked[-1].start_s >= 300


def test_features_spread_over_a_long_track_and_come_from_the_cache_next_time(tmp_path, genretag_home):
    long_track = tmp_path / "long.wav"
    # 400 s of real music (the recording looped), so 40 segments to choose from.
    soundfile.write(long_track, np.resize(recording(SUGAR_PLUM), 400 * audio.SAMPLE_RATE), audio.SAMPLE_RATE)
    picked = learn._evenly_spread_segments(long_track, audio.SAMPLE_RATE)
    starts = [segment.start_s for segment in picked]
    assert len(picked) == learn.MAX_SEGMENTS_PER_TRACK
    assert starts[0] == 0 and starts[-1] >= 300 and starts == sorted(starts)

    broken = tmp_path / "broken.flac"
    broken.write_bytes(b"fLaC" + bytes(100))
    base = resolve_model("v-kernel")
    features, failures = learn.extract_features([long_track, broken], base, jobs=1)
    mels = features[long_track]
    frames = 1 + audio.SEGMENT_SAMPLES // audio.hop_length_of(base.front_end)  # at the base's own frame rate
    assert mels.shape == (6, audio.N_MELS, frames) and mels.dtype == np.float16
    assert [path for path, _ in failures] == [broken]
    cache = genretag_home / "features"
    (cached,) = cache.glob("*.npy")
    again, _ = learn.extract_features([long_track], resolve_model("v-kernel"), jobs=1)
    assert np.array_equal(again[long_track], mels)
    assert list(cache.glob("*.npy")) == [cached]
    os.utime(long_track, ns=(1_000_000_000, 1_000_000_000))  # a changed file is decoded again
    learn.extract_features([long_track], resolve_model("v-kernel"), jobs=1)
    assert len(list(cache.glob("*.npy"))) == 2


def test_a_musicnn_base_gives_one_embedding_per_patch_cached_apart_from_log_mels(tmp_path, genretag_home):
    track = tmp_path / "long.wav"
    soundfile.write(track, np.resize(recording(SUGAR_PLUM), 400 * audio.SAMPLE_RATE), audio.SAMPLE_RATE)
    base = resolve_model("musicnn")
    features, failures = learn.extract_features([track], base, jobs=1)
    per_patch = features[track]
    assert not failures and per_patch.dtype == np.float16
    assert per_patch.shape == (learn.MAX_SEGMENTS_PER_TRACK * audio.MUSICNN_PATCHES_PER_SEGMENT, 200)
    learn.extract_features([track], resolve_model("v-kernel"), jobs=1)
    assert len(list((genretag_home / "features").glob("*.npy"))) == 2  # one cache entry per kind of feature
    again, _ = learn.extract_features([track], base, jobs=1)
    assert np.array_equal(again[track], per_patch)
