"""Genre tags on real copies of real audio in every container: plans, safe writes, refusals, journal."""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
from pathlib import Path

import pytest
from conftest import CONTAINERS, VIBE_ACE, build, decoded, ffmpeg_genre, other_tags

from genretag import journal, store, tags
from genretag.classify import classify_file
from genretag.genres import display_name, load_display_names
from genretag.tagrules import Policy, TagOptions
from genretag.tags import Action, TagError
from genretag.weights import load_model


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> dict[str, Path]:
    """A tagged file (title, artist, album, track, cover, ReplayGain; no genre) in every container."""
    return build(tmp_path_factory.mktemp("pristine"), VIBE_ACE)


@pytest.fixture(scope="module")
def predictions(pristine) -> dict[str, object]:
    """The shipped v-kernel model's real result for each pristine file."""
    model = load_model("v-kernel")
    return {container: classify_file(path, model) for container, path in pristine.items()}


def copy_of(pristine, predictions, container: str, folder: Path):
    """A fresh copy of one pristine file, its result (same audio, so the same prediction) and stamp."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / pristine[container].name
    shutil.copy2(pristine[container], path)
    result = dataclasses.replace(predictions[container], path=str(path))
    return path, result, store.stamp_of(path)


def snapshot(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), os.stat(path).st_mtime_ns


def only_file_in_its_folder(path: Path) -> bool:
    """No temporary copy left beside it."""
    return os.listdir(path.parent) == [path.name]


@pytest.fixture
def connection():
    connection = store.connect()
    yield connection
    connection.close()


@pytest.mark.parametrize("container", CONTAINERS)
def test_write_two_genres_keeps_audio_other_tags_and_permissions(
    container, pristine, predictions, tmp_path, connection
):
    path, result, stamp = copy_of(pristine, predictions, container, tmp_path)
    os.chmod(path, 0o640)
    tags_before, audio_before = other_tags(path), decoded(path)
    second_probability = result.top_k(2)[1][1]
    plan = tags.plan_tag(result, stamp, TagOptions(Policy.FILL, min_confidence=second_probability, top_k=2))
    assert plan.action is Action.WRITE and plan.current == ()
    expected = tuple(display_name(label) for label, _ in result.top_k(2))
    assert plan.new_values == expected and len(set(expected)) == 2

    started = time.time_ns()
    [outcome] = tags.write_planned(connection, [plan], journal.new_run_id())

    assert outcome.written, outcome.reason
    assert tags.read_genres(path) == expected  # two separate values, as mutagen reads them
    # FFmpeg (ffprobe's reader) shows the first value, or for Vorbis comments all of them joined by ';'
    assert ffmpeg_genre(path).split(";") in ([expected[0]], list(expected))
    assert other_tags(path) == tags_before
    assert (decoded(path) == audio_before).all()
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert only_file_in_its_folder(path)
    [entry] = journal.journal_entries(connection)
    assert (entry.state, entry.kind, entry.path) == ("done", "tag", str(path))
    assert entry.previous_genres == () and entry.new_genres == expected
    assert entry.old_stamp == stamp and entry.new_stamp == store.stamp_of(path)
    assert entry.new_stamp.mtime_ns >= started  # documented mtime policy: the write time


def test_id3v23_joins_values_in_one_frame(pristine, predictions, tmp_path, connection):
    from mutagen.id3 import ID3

    path, result, stamp = copy_of(pristine, predictions, "mp3", tmp_path)
    tags_before = other_tags(path)
    plan = tags.plan_tag(result, stamp, TagOptions(Policy.FILL, min_confidence=0.0, top_k=2))
    [outcome] = tags.write_planned(connection, [plan], journal.new_run_id(), id3v23=True)
    assert outcome.written, outcome.reason
    assert ID3(path).version == (2, 3, 0)
    assert ID3(path).getall("TCON")[0].text == ["/".join(plan.new_values)]  # one string, as v2.3 has it
    assert tags.read_genres(path) == plan.new_values  # read back as the separate genres it holds
    assert ffmpeg_genre(path) == "/".join(plan.new_values)
    assert other_tags(path) == tags_before


@pytest.mark.parametrize(
    ("policy", "existing", "action", "after"),
    [
        (Policy.FILL, (), Action.WRITE, ("{best}",)),
        (Policy.FILL, ("Rock",), Action.HAS_GENRE, ("Rock",)),
        (Policy.REPLACE, (), Action.WRITE, ("{best}",)),
        (Policy.REPLACE, ("Rock", "Ambient"), Action.WRITE, ("{best}",)),
        (Policy.APPEND, (), Action.WRITE, ("{best}",)),
        (Policy.APPEND, ("Ambient", "Lo-Fi"), Action.WRITE, ("Ambient", "Lo-Fi", "{best}")),
        (Policy.APPEND, ("{BEST}",), Action.UNCHANGED, ("{BEST}",)),  # case-insensitive: no duplicate
    ],
)
@pytest.mark.parametrize("container", ["flac", "mp3", "m4a"])
def test_policies(container, policy, existing, action, after, pristine, predictions, tmp_path, connection):
    from conftest import add_tags

    path, result, _ = copy_of(pristine, predictions, container, tmp_path)
    best = display_name(result.genre)

    def spelled(values):
        return tuple(value.format(best=best, BEST=best.upper()) for value in values)

    if existing:
        add_tags(path, spelled(existing))
    stamp = store.stamp_of(path)
    plan = tags.plan_tag(result, stamp, TagOptions(policy, min_confidence=result.confidence))
    assert plan.action is action
    assert plan.current == spelled(existing)
    assert plan.proposed[0] == (best, result.confidence)  # shown in the preview, also when skipped
    before = snapshot(path)
    outcomes = tags.write_planned(connection, [plan], journal.new_run_id())
    assert len(outcomes) == (action is Action.WRITE)
    assert all(outcome.written for outcome in outcomes)
    assert tags.read_genres(path) == spelled(after)
    if action is not Action.WRITE:
        assert snapshot(path) == before


def test_low_confidence_is_skipped_and_names_the_best_genre(pristine, predictions, tmp_path):
    path, result, stamp = copy_of(pristine, predictions, "ogg", tmp_path)
    plan = tags.plan_tag(result, stamp, TagOptions(Policy.REPLACE, min_confidence=min(1.0, result.confidence + 0.01)))
    assert plan.action is Action.LOW_CONFIDENCE
    assert plan.proposed == ((display_name(result.genre), result.confidence),)
    assert f"{result.confidence:.2f} <" in plan.reason


def test_top_k_writes_only_genres_passing_the_threshold(pristine, predictions, tmp_path):
    path, result, stamp = copy_of(pristine, predictions, "flac", tmp_path)
    ranked = result.top_k(10)
    plan = tags.plan_tag(result, stamp, TagOptions(Policy.FILL, min_confidence=ranked[2][1], top_k=5))
    assert plan.new_values == tuple(display_name(label) for label, _ in ranked[:3])
    assert plan.proposed == tuple((display_name(label), p) for label, p in ranked[:3])


def test_mapping_file_lines_and_json(tmp_path, pristine, predictions):
    genres = predictions["mp3"].genres
    lines = tmp_path / "names.txt"
    lines.write_text("# my names\nhiphop = Hip Hop\n\nrock=Rock & Roll  # classic\n", encoding="utf-8")
    names = load_display_names(lines, genres)
    assert names["hiphop"] == "Hip Hop" and names["rock"] == "Rock & Roll" and names["jazz"] == "Jazz"
    as_json = tmp_path / "names.json"
    as_json.write_text('{"classical": "Klassik"}', encoding="utf-8")
    assert load_display_names(as_json, genres)["classical"] == "Klassik"

    path, result, stamp = copy_of(pristine, predictions, "mp3", tmp_path / "music")
    everything = tmp_path / "all.txt"
    everything.write_text("".join(f"{label} = Genre {label}\n" for label in genres), encoding="utf-8")
    plan = tags.plan_tag(result, stamp, TagOptions(names=load_display_names(everything, genres), min_confidence=0.0))
    assert plan.new_values == (f"Genre {result.genre}",)


def test_user_model_labels_are_written_as_the_library_spelt_them():
    assert display_name("hiphop") == "Hip-Hop"
    assert [display_name(label) for label in ("Drum & Bass", "IDM", "post-rock")] == [
        "Drum & Bass",
        "IDM",
        "post-rock",
    ]
    assert display_name("IDM", {"IDM": "Intelligent Dance Music"}) == "Intelligent Dance Music"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hiphop Hip Hop\n", "names.txt:1: expected 'label = Name'"),
        ("\nswing = Swing\n", "names.txt:2: unknown genre label 'swing'"),
        ("jazz =   \n", "names.txt:1: empty display name for 'jazz'"),
    ],
)
def test_mapping_file_errors_name_the_line(tmp_path, text, message):
    mapping = tmp_path / "names.txt"
    mapping.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        load_display_names(mapping, ["jazz", "hiphop"])


# ---------------------------------------------------------------- refusals: the original stays exactly as it was


def assert_untouched(path: Path, before: tuple[bytes, int], connection) -> None:
    assert snapshot(path) == before
    assert only_file_in_its_folder(path)
    assert journal.undoable_entries(connection) == []


def test_read_only_file_is_refused(pristine, predictions, tmp_path, connection):
    path, result, stamp = copy_of(pristine, predictions, "flac", tmp_path)
    os.chmod(path, 0o444)
    before = snapshot(path)
    plan = tags.plan_tag(result, stamp, TagOptions(min_confidence=0.0))
    [outcome] = tags.write_planned(connection, [plan], journal.new_run_id())
    assert not outcome.written and outcome.reason == "read-only file; not written"
    assert_untouched(path, before, connection)
    assert journal.journal_entries(connection) == []


def test_file_changed_after_analysis_is_refused(pristine, predictions, tmp_path, connection):
    from mutagen.flac import FLAC

    path, result, stamp = copy_of(pristine, predictions, "flac", tmp_path)
    plan = tags.plan_tag(result, stamp, TagOptions(min_confidence=0.0))
    edited = FLAC(path)  # another program edits the file between analysis and the write
    edited["title"] = "Edited elsewhere"
    edited.save()
    before = snapshot(path)
    [outcome] = tags.write_planned(connection, [plan], journal.new_run_id())
    assert "changed since it was analysed" in outcome.reason
    assert_untouched(path, before, connection)


def test_corrupt_file_is_an_error_in_the_plan_and_refused_by_the_writer(tmp_path, connection):
    from genretag import scan

    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"ID3\x04\x00\x00\x00\x00\x10\x00" + os.urandom(3000))
    before = snapshot(corrupt)
    [result], _ = scan.results_for([corrupt], options=scan.ScanOptions(jobs=1))
    assert not result.ok
    plan = tags.plan_tag(result, store.stamp_of(corrupt))
    assert plan.action is Action.ERROR and plan.reason == result.error
    with pytest.raises(TagError):
        tags.write_genres(corrupt, ["Jazz"])
    assert_untouched(corrupt, before, connection)


def test_failed_verification_leaves_the_original(pristine, predictions, tmp_path, connection):
    path, result, stamp = copy_of(pristine, predictions, "mp3", tmp_path)
    before = snapshot(path)
    # A NUL inside a value is ID3v2.4's value separator: it reads back as two values.
    plan = dataclasses.replace(
        tags.plan_tag(result, stamp, TagOptions(min_confidence=0.0)), new_values=("Jazz\x00Blues",)
    )
    [outcome] = tags.write_planned(connection, [plan], journal.new_run_id())
    assert outcome.reason.startswith("verification failed")
    assert_untouched(path, before, connection)


def test_failed_write_in_place_restores_the_original_and_marks_the_journal(
    pristine, predictions, tmp_path, connection, monkeypatch
):
    path, result, stamp = copy_of(pristine, predictions, "opus", tmp_path)
    before = snapshot(path)
    real_copy = journal._copy_into_descriptor

    def disk_full_halfway(source, descriptor):  # the disk fills up while the new content goes in
        if os.path.samestat(os.fstat(descriptor), os.stat(path)) and str(source).split(".")[-2] == "new":
            with open(source, "rb") as new:
                os.write(descriptor, new.read()[: os.stat(source).st_size // 2])
            monkeypatch.setattr(journal, "_copy_into_descriptor", real_copy)
            raise OSError(28, "No space left on device")
        real_copy(source, descriptor)

    monkeypatch.setattr(journal, "_copy_into_descriptor", disk_full_halfway)
    [outcome] = tags.write_planned(connection, [tags.plan_tag(result, stamp, TagOptions(min_confidence=0.0))], "run-1")
    monkeypatch.undo()
    assert outcome.reason == "write failed: No space left on device; original restored"
    assert_untouched(path, before, connection)  # the backup's bytes and the old mtime came back
    [entry] = journal.journal_entries(connection)
    assert entry.state == "failed" and entry.error == outcome.reason and entry.temp_path is None
    assert os.listdir(journal.write_area()) == []


def test_symbolic_link_stays_a_link(pristine, predictions, tmp_path, connection):
    target, result, stamp = copy_of(pristine, predictions, "ogg", tmp_path / "real")
    link = tmp_path / "link.ogg"
    link.symlink_to(target)
    plan = tags.plan_tag(dataclasses.replace(result, path=str(link)), stamp, TagOptions(min_confidence=0.0))
    [outcome] = tags.write_planned(connection, [plan], journal.new_run_id())
    assert outcome.written, outcome.reason
    assert link.is_symlink() and tags.read_genres(target) == plan.new_values


def test_the_cli_and_the_config_file_know_every_policy_tags_writes_by():
    from genretag import cli, config

    assert tuple(policy.value for policy in Policy) == cli.POLICIES
    assert all(config.KEYS["policy"](policy.value) is None for policy in Policy)
