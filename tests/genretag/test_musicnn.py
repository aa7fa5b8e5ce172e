"""musicnn in PyTorch against TensorFlow's own outputs, and the shipped musicnn model end to end.

The references (``data/musicnn_parity.npz``) were made once by ``training/musicnn/convert.py``
with the original TensorFlow graph and checkpoint, on three CC clips of ``examples/``;
nothing here imports TensorFlow or the musicnn package.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import EXAMPLES, TRUMPET

from genretag import audio
from genretag.classify import classify_file
from genretag.musicnn import FastMusicnn
from genretag.weights import load_model

REFERENCES = np.load(Path(__file__).parent / "data" / "musicnn_parity.npz")
PARITY_TOLERANCE = 1e-3  # the bound; measured: 8.2e-6 (network alone), 3.6e-5 (from the file)


@pytest.fixture(scope="module")
def model():
    return load_model("musicnn")


def _outputs(trunk, patches: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    with torch.inference_mode():
        embedding, tag_logits = trunk(patches)
    return embedding.numpy(), torch.sigmoid(tag_logits).numpy()


def test_network_matches_tensorflow_on_its_own_input(model):
    # musicnn's extractor: float16 mel power, then log10(10000 x + 1) in float32.
    patches = torch.log10(10000 * torch.from_numpy(REFERENCES["mel16"]).float() + 1)
    for trunk in (model.network.trunk, FastMusicnn(model.network.trunk)):
        penultimate, tags = _outputs(trunk.eval(), patches)
        assert np.abs(penultimate - REFERENCES["penultimate"]).max() <= PARITY_TOLERANCE
        assert np.abs(tags - REFERENCES["tags"]).max() <= PARITY_TOLERANCE


def test_front_end_and_network_match_tensorflow_from_the_file(model):
    # The patch of each clip's second segment, decoded and cut by genretag, against musicnn's
    # librosa.load + extractor of the whole file at the same frames.
    start = int(REFERENCES["pipeline_patch_start"])
    segment_frames = int(audio.MUSICNN_SAMPLE_RATE * audio.SEGMENT_SECONDS) // audio.MUSICNN_HOP_LENGTH
    assert start == segment_frames + audio.musicnn_patch_starts(1)[0]
    segments = []
    for clip in REFERENCES["clips"]:
        samples = audio.load(EXAMPLES / str(clip), rate=audio.MUSICNN_SAMPLE_RATE)
        segments.append(audio.segment_array(samples, audio.MUSICNN_SAMPLE_RATE)[1])
    penultimate, tags = _outputs(model.network.trunk, audio.musicnn_patches(np.stack(segments), [start - 625]))
    assert np.abs(penultimate - REFERENCES["pipeline_penultimate"]).max() <= PARITY_TOLERANCE
    assert np.abs(tags - REFERENCES["pipeline_tags"]).max() <= PARITY_TOLERANCE


def test_fast_copy_gives_the_eager_networks_outputs(model):
    # The converted weights have norm scales of both signs: the max-before-norm reordering must hold for both.
    segments = audio.segment_array(audio.load(EXAMPLES / "lets-go-fishin.ogg", rate=16_000), 16_000)
    patches = audio.musicnn_patches(segments, audio.musicnn_patch_starts(3))
    eager = model.network.eval()
    fast = eager.inference_copy()
    with torch.inference_mode():
        torch.testing.assert_close(fast.trunk(patches), eager.trunk(patches), rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(fast(patches), eager(patches), rtol=1e-4, atol=1e-5)
    assert isinstance(fast.trunk, FastMusicnn) and not isinstance(eager.trunk, FastMusicnn)


def test_patches_are_centred_and_do_not_overlap():
    for patches in (1, 2, 3):
        starts = audio.musicnn_patch_starts(patches)
        assert np.all(np.diff(starts) == audio.MUSICNN_PATCH_FRAMES)
        before, after = starts[0], 626 - (starts[-1] + audio.MUSICNN_PATCH_FRAMES)
        assert abs(before - after) <= 1


def test_shipped_model_classifies_real_music(model):
    result = classify_file(EXAMPLES / "brahms-hungarian-dance-5.ogg", model)
    assert model.front_end == audio.MUSICNN
    assert result.segment_probabilities.shape == (3, 10)
    assert np.allclose(result.segment_probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert result.genre == "classical"


def test_a_clip_shorter_than_one_patch_is_looped_and_classified(model, tmp_path):
    # 2 s of a real recording: musicnn's own extractor makes no patch of it; genretag loops it.
    import soundfile

    samples = audio.load(TRUMPET, rate=audio.MUSICNN_SAMPLE_RATE)[: 2 * audio.MUSICNN_SAMPLE_RATE]
    short = tmp_path / "two-seconds.wav"
    soundfile.write(short, samples, audio.MUSICNN_SAMPLE_RATE)
    result = classify_file(short, model)
    assert result.segment_probabilities.shape == (1, 10)
    assert result.duration_s == pytest.approx(2.0, abs=0.01)


def test_msd_taxonomy_gives_independent_genre_probabilities_from_the_same_trunk(model):
    msd = load_model("musicnn-msd")
    assert msd.front_end == audio.MUSICNN and len(msd.genres) == 30
    assert {"Electronic", "Folk", "Soul", "Punk", "House", "R&B", "Hard Rock"} <= set(msd.genres)
    result = classify_file(EXAMPLES / "vibe-ace.mp3", msd)  # a jazz tune
    assert result.genre == "Jazz"
    assert np.all((result.segment_probabilities >= 0) & (result.segment_probabilities <= 1))
    assert not np.allclose(result.segment_probabilities.sum(axis=1), 1.0, atol=0.05)  # several may apply
    # Its tags are the trunk's own outputs, recalibrated: the same trunk as the genre model's.
    for name, parameter in msd.network.trunk.state_dict().items():
        assert torch.equal(parameter, model.network.trunk.state_dict()[name]), name
