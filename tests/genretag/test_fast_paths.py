"""The fast inference paths compute what the plain reference computations compute.

The front end decodes with FFmpeg, builds its own mel filterbank, uses torch's real
FFT of the framed signal with a banded mel product, and the networks run with
BatchNorm folded into the convolutions and ReLU after max pooling. Each is checked
here against the straightforward computation it replaces (libsndfile, librosa, ``torch.stft``, the eager network).
"""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import soundfile
import torch
from conftest import BRAHMS, FISHIN, SEGMENT_FRAMES, excerpt

from genretag import audio, models, weights
from genretag.models import inference_network


def reference_log_mel(samples: np.ndarray) -> torch.Tensor:
    """The textbook computation: torch.stft, librosa's dense filterbank, per-spectrogram peak scaling."""
    signal = torch.as_tensor(samples, dtype=torch.float32)
    window = torch.hann_window(audio.N_FFT)
    spectrum = torch.stft(signal, audio.N_FFT, audio.HOP_LENGTH, window=window, center=True, return_complex=True)
    bank = librosa.filters.mel(sr=audio.SAMPLE_RATE, n_fft=audio.N_FFT, n_mels=audio.N_MELS, fmin=audio.F_MIN)
    mel = torch.from_numpy(bank) @ spectrum.abs().square()
    db = 10.0 * torch.log10(mel.clamp_min(1e-10))
    db = torch.maximum(db - db.amax(dim=(-2, -1), keepdim=True), torch.tensor(-audio.TOP_DB))
    return db / (audio.TOP_DB / 2) + 1.0


@pytest.fixture(scope="module")
def brahms_segments() -> np.ndarray:
    return audio.segment_array(audio.load(BRAHMS))[:3]


def test_mel_filterbank_matches_librosa_slaney():
    expected = librosa.filters.mel(sr=audio.SAMPLE_RATE, n_fft=audio.N_FFT, n_mels=audio.N_MELS, fmin=audio.F_MIN)
    ours = audio.mel_filterbank()
    assert ours.shape == expected.shape == (audio.N_MELS, 1 + audio.N_FFT // 2)
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-9)


def test_log_mel_matches_the_stft_reference_on_real_music(brahms_segments):
    ours = audio.log_mel(brahms_segments)
    expected = reference_log_mel(brahms_segments)
    assert ours.shape == expected.shape == (3, audio.N_MELS, SEGMENT_FRAMES)
    assert float((ours - expected).abs().max()) < 1e-4
    # A whole track in one spectrogram (the BICRNN whole-track pass) too.
    joined = brahms_segments.reshape(-1)
    assert float((audio.log_mel(joined) - reference_log_mel(joined)).abs().max()) < 1e-4


@pytest.mark.parametrize(
    ("suffix", "subtype", "channels"),
    [
        (".flac", "PCM_16", 2),
        (".flac", "PCM_24", 2),
        (".ogg", "VORBIS", 2),
        (".mp3", "MPEG_LAYER_III", 2),
        (".wav", "PCM_16", 2),
        (".wav", "PCM_U8", 2),
        (".wav", "PCM_32", 1),
        (".wav", "FLOAT", 6),
        (".wav", "DOUBLE", 3),
    ],
)
def test_ffmpeg_decoding_equals_libsndfile_channel_mean(tmp_path, suffix, subtype, channels):
    # Different recordings in the channels, so the channel mean is not one channel; every sample
    # format FFmpeg's decoders give (planar and interleaved, integer and float) is downmixed the same way.
    rate = audio.SAMPLE_RATE
    sources = [excerpt(BRAHMS, 2, 12), excerpt(FISHIN, 2, 12), 0.5 * excerpt(BRAHMS, 5, 12)]
    signal = np.stack([sources[index % 3] * (1 - 0.1 * index) for index in range(channels)], axis=1)
    path = tmp_path / f"clip{suffix}"
    soundfile.write(path, signal, rate, subtype=subtype)
    expected, _ = soundfile.read(path, dtype="float64", always_2d=True)
    blocks = list(audio._decoded_blocks(path))
    decoded = np.concatenate([block for block, _ in blocks])
    assert {block_rate for _, block_rate in blocks} == {rate}
    assert all(block.dtype == np.float32 for block, _ in blocks)
    assert decoded.shape == (expected.shape[0],)
    np.testing.assert_allclose(decoded, expected.mean(axis=1), atol=1e-5)


def test_a_long_stream_decodes_block_after_block_into_the_same_samples(tmp_path):
    # 75 s: many full blocks and a partial last one, each emptied from the same FFmpeg FIFO.
    left = np.tile(excerpt(BRAHMS, 0, 25), 3)
    right = np.tile(excerpt(FISHIN, 0, 25), 3)
    path = tmp_path / "long.flac"
    soundfile.write(path, np.stack([left, right], axis=1), audio.SAMPLE_RATE, subtype="PCM_16")
    expected, _ = soundfile.read(path, dtype="float64", always_2d=True)
    blocks = [block for block, _ in audio._decoded_blocks(path)]
    seconds = [block.size / audio.SAMPLE_RATE for block in blocks]
    full = audio.DECODE_BLOCK_SECONDS
    assert len(seconds) >= 75 // (full + 0.5)
    assert all(full <= block < full + 0.5 for block in seconds[:-1])  # a block overshoots by under one FLAC frame
    assert 0 < seconds[-1] < full + 0.5
    np.testing.assert_allclose(np.concatenate(blocks), expected.mean(axis=1), atol=1e-6)


def test_a_stream_whose_rate_changes_is_resampled_piece_by_piece(tmp_path):
    # Two MP3 files at different rates joined byte for byte: FFmpeg decodes each frame at its own rate.
    first, second = tmp_path / "first.mp3", tmp_path / "second.mp3"
    soundfile.write(first, excerpt(BRAHMS, 2, 6), audio.SAMPLE_RATE)
    faster = librosa.resample(excerpt(FISHIN, 2, 6), orig_sr=audio.SAMPLE_RATE, target_sr=44_100)
    soundfile.write(second, faster, 44_100)
    chained = tmp_path / "chained.mp3"
    chained.write_bytes(first.read_bytes() + second.read_bytes())
    rates = [rate for _, rate in audio._decoded_blocks(chained)]
    assert rates[0] == audio.SAMPLE_RATE and rates[-1] == 44_100
    # 12 s, and each MP3's encoder delay and padding (a few frames) decoded as audio.
    assert 12.0 <= audio.load(chained).size / audio.SAMPLE_RATE < 12.15


# musicnn reads its own patches, not log-mels: its fast copy is checked in test_musicnn.py.
@pytest.mark.parametrize("name", sorted(set(models.ARCHITECTURES) - {"musicnn", "musicnn-tags"}))
def test_inference_network_gives_the_eager_networks_outputs(name, brahms_segments):
    torch.manual_seed(0)
    network = models.build(name)
    for module in network.modules():
        if isinstance(module, torch.nn.BatchNorm2d):  # non-trivial statistics, as after training
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    network.eval()
    fast = inference_network(network)
    spectrograms = audio.log_mel(brahms_segments).unsqueeze(1)
    with torch.inference_mode():
        expected = network(spectrograms)
        ours = fast(spectrograms.contiguous(memory_format=torch.channels_last))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in network.modules())  # the original is untouched
    torch.testing.assert_close(ours, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(models.POSTER_NETWORKS))
def test_a_card_that_declares_bfloat16_runs_in_it_where_the_cpu_has_it_and_keeps_the_answers(name, brahms_segments):
    model = weights.load_model(name)
    assert model.card["inference_precision"] == models.BFLOAT16  # the four shipped cards declare it
    spectrograms = model.log_mel(brahms_segments).unsqueeze(1).contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        single = torch.softmax(inference_network(model.network)(spectrograms), dim=1)
        declared = model._fast()
        assert isinstance(declared, models.InBfloat16) == models.native_bfloat16()
        halved = torch.softmax(declared(spectrograms), dim=1)
    assert halved.dtype == torch.float32
    assert torch.equal(halved.argmax(dim=1), single.argmax(dim=1))
    torch.testing.assert_close(halved, single, rtol=0, atol=0.02)
    if models.native_bfloat16():
        assert not torch.equal(halved, single)  # it did run in bfloat16


def test_a_card_without_a_precision_runs_in_float32(tmp_path):
    network = models.build("v-kernel", 3, audio.LOG_MEL_HALF)
    card = weights.save_model(network, "plain", tmp_path, {"architecture": "v-kernel", "genres": ["a", "b", "c"]})
    fast = weights.load_model_card(card)._fast()
    assert not isinstance(fast, models.InBfloat16)
    assert all(parameter.dtype == torch.float32 for parameter in fast.parameters())


def test_a_card_with_an_unknown_precision_is_refused_with_its_path(tmp_path):
    network = models.build("v-kernel", 3, audio.LOG_MEL_HALF)
    card = {"architecture": "v-kernel", "genres": ["a", "b", "c"], "inference_precision": "float16"}
    card_path = weights.save_model(network, "odd", tmp_path, card)
    with pytest.raises(weights.WeightsError, match=r"odd\.json: inference_precision 'float16' is neither"):
        weights.load_model_card(card_path)
