"""Convert musicnn's MSD_musicnn checkpoint to ``genretag.musicnn``'s layout, and make the parity references.

Runs once, in the TensorFlow side environment (``training/musicnn/README.md``); nothing
of genretag's product, tests or CI imports TensorFlow or the musicnn package. Writes:

* ``training/cache/musicnn/msd_musicnn.npz``: the trunk's weights as numpy arrays named
  by ``genretag.musicnn.Musicnn``'s state-dict keys, already in PyTorch's layouts; the
  head rebuild (``python -m training.musicnn.head``) turns it into ``weights/musicnn.pt``.
* ``tests/genretag/data/musicnn_parity.npz``: TensorFlow's outputs on three real CC clips
  of ``examples/`` (Ogg Vorbis twice, Opus): for the network alone, two patches' float16 mel powers (the
  input exactly as musicnn's extractor makes it) with their penultimate features and tag
  probabilities; for the whole pipeline, the patch each clip's second 10 s segment reads
  (track frames 844-1030) through musicnn's own front end (``librosa.load`` at 16 kHz).

Usage, from the repository root::

    /work/teacher-venv/bin/python training/musicnn/convert.py
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
PARITY_CLIPS = ("brahms-hungarian-dance-5.ogg", "lets-go-fishin.ogg", "sugar-plum-fairy.opus")
NETWORK_PATCH_STARTS = (32, 1031)  # track frames: an edge patch of segment 0 and one of segment 1
PIPELINE_PATCH_START = 844  # segment 1 starts at frame 625 (160 000 samples); its centred patch at 625 + 219
PATCH_FRAMES = 187
TRUNK_OUT = REPO / "training" / "cache" / "musicnn" / "msd_musicnn.npz"
PARITY_OUT = REPO / "tests" / "genretag" / "data" / "musicnn_parity.npz"

# TensorFlow layer name → genretag.musicnn.Musicnn module, in the order the original graph creates them.
CONVOLUTIONS = {
    "conv2d": "timbral.0.conv",
    "conv2d_1": "timbral.1.conv",
    "conv2d_2": "temporal.0.conv",
    "conv2d_3": "temporal.1.conv",
    "conv2d_4": "temporal.2.conv",
    "conv2d_5": "mid.0.conv",
    "conv2d_6": "mid.1.conv",
    "conv2d_7": "mid.2.conv",
}
NORMS = {
    "batch_normalization": "input_norm",
    "batch_normalization_1": "timbral.0.norm",
    "batch_normalization_2": "timbral.1.norm",
    "batch_normalization_3": "temporal.0.norm",
    "batch_normalization_4": "temporal.1.norm",
    "batch_normalization_5": "temporal.2.norm",
    "batch_normalization_6": "mid.0.norm",
    "batch_normalization_7": "mid.1.norm",
    "batch_normalization_8": "mid.2.norm",
    "batch_normalization_9": "pooled_norm",
    "batch_normalization_10": "embedding_norm",
}
DENSE = {"dense": "dense", "dense_1": "tags"}
NORM_FIELDS = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}


def checkpoint_dir(model: str = "MSD_musicnn") -> Path:
    import musicnn

    return Path(musicnn.__file__).parent / model


def convert(reader) -> dict[str, np.ndarray]:
    """The trunk's state dict (numpy) from a checkpoint reader."""
    state: dict[str, np.ndarray] = {}
    for tf_name, name in CONVOLUTIONS.items():
        kernel = reader.get_tensor(f"{tf_name}/kernel")  # (height=time, width=mel or channels, in, out)
        if name.startswith("mid."):  # a Conv1d over time whose channels were the 2-D input's width
            state[f"{name}.weight"] = kernel[:, :, 0, :].transpose(2, 1, 0)
        else:
            state[f"{name}.weight"] = kernel.transpose(3, 2, 0, 1)
        state[f"{name}.bias"] = reader.get_tensor(f"{tf_name}/bias")
    for tf_name, name in NORMS.items():
        for tf_field, field in NORM_FIELDS.items():
            state[f"{name}.{field}"] = reader.get_tensor(f"{tf_name}/{tf_field}")
        state[f"{name}.num_batches_tracked"] = np.zeros((), dtype=np.int64)
    for tf_name, name in DENSE.items():
        state[f"{name}.weight"] = reader.get_tensor(f"{tf_name}/kernel").T
        state[f"{name}.bias"] = reader.get_tensor(f"{tf_name}/bias")
    return {key: np.ascontiguousarray(value) for key, value in state.items()}


class TensorFlowMusicnn:
    """The original graph with its checkpoint restored: log-mel patches → (penultimate, tag probabilities)."""

    def __init__(self, model: str = "MSD_musicnn"):
        import tensorflow as tf

        tf.compat.v1.disable_eager_execution()
        from musicnn import configuration, models

        n_tags = len(configuration.MSD_LABELS if "MSD" in model else configuration.MTT_LABELS)
        self.graph = tf.Graph()
        with self.graph.as_default():
            with tf.name_scope("model"):
                self.x = tf.compat.v1.placeholder(tf.float32, [None, PATCH_FRAMES, 96])
                self.is_training = tf.compat.v1.placeholder(tf.bool)
                outputs = models.define_model(self.x, self.is_training, model, n_tags)
                self.fetch = [outputs[-1], tf.nn.sigmoid(outputs[0])]
            saver = tf.compat.v1.train.Saver()
        self.session = tf.compat.v1.Session(graph=self.graph)
        saver.restore(self.session, str(checkpoint_dir(model)) + "/")

    def __call__(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.session.run(self.fetch, feed_dict={self.x: patches, self.is_training: False})


def mel_power16(path: Path) -> np.ndarray:
    """musicnn's extractor's front end up to its float16 cast: ``(frames, 96)`` float16."""
    import librosa

    samples, rate = librosa.load(str(path), sr=16000)
    mel = librosa.feature.melspectrogram(y=samples, sr=rate, hop_length=256, n_fft=512, n_mels=96).T
    return mel.astype(np.float16)


def log_compress(mel16: np.ndarray) -> np.ndarray:
    """musicnn's ``np.log10(10000 * x + 1)`` of its float16 mel (numpy 1.x promotes it to float32)."""
    return np.log10(10000 * mel16.astype(np.float32) + 1).astype(np.float32)


def parity_references(network: TensorFlowMusicnn) -> dict[str, np.ndarray]:
    mels, pipeline = [], []
    for clip in PARITY_CLIPS:
        mel16 = mel_power16(EXAMPLES / clip)
        mels += [mel16[start : start + PATCH_FRAMES] for start in NETWORK_PATCH_STARTS]
        pipeline.append(log_compress(mel16[PIPELINE_PATCH_START : PIPELINE_PATCH_START + PATCH_FRAMES]))
    mel16 = np.stack(mels)
    penultimate, tags = network(log_compress(mel16))
    pipeline_penultimate, pipeline_tags = network(np.stack(pipeline))
    return {
        "clips": np.array(PARITY_CLIPS),
        "mel16": mel16,
        "penultimate": penultimate.astype(np.float32),
        "tags": tags.astype(np.float32),
        "pipeline_patch_start": np.array(PIPELINE_PATCH_START),
        "pipeline_penultimate": pipeline_penultimate.astype(np.float32),
        "pipeline_tags": pipeline_tags.astype(np.float32),
    }


def main() -> int:
    import tensorflow as tf

    reader = tf.compat.v1.train.NewCheckpointReader(str(checkpoint_dir()) + "/")
    TRUNK_OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez(TRUNK_OUT, **convert(reader))
    print(f"wrote {TRUNK_OUT.relative_to(REPO)}")
    PARITY_OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(PARITY_OUT, **parity_references(TensorFlowMusicnn()))
    print(f"wrote {PARITY_OUT.relative_to(REPO)} ({PARITY_OUT.stat().st_size // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
