"""musicnn (MSD) embeddings of the student's 10 s windows, for the teacher's linear probe.

Runs in a TensorFlow side environment (see ``training/teacher/README.md``), never in
the project's venv; its output, ``training/data/teacher/musicnn-<name>.npz``, is all the
rest of ``training`` needs.

Windows are the student's: each file is decoded with ``genretag.audio.load`` (22.05 kHz
mono), optionally pitch-shifted exactly as ``training.features.clip_segments`` does
(``librosa.effects.pitch_shift``, ``res_type="soxr_hq"``) and cut with
``genretag.audio.segment_array`` (silent windows are already left out there, so the
segment index of a key is the row of that array, as in ``training.features``).

Per window, musicnn's own front end: resample to 16 kHz (soxr HQ, as ``librosa.load``
does), a power mel spectrogram (n_fft 512, hop 256, 96 Slaney mel bands, librosa
defaults otherwise), cast to float16, ``log10(10000 x + 1)``; 187-frame (3 s) patches
every ``PATCH_HOP_FRAMES`` = 61 frames (musicnn's own conversion of a 1 s
``input_overlap``), which gives 8 patches per 10 s window covering frames 0-613 of 626.
The MSD_musicnn graph is built and its checkpoint restored once; patches are fed in
batches with ``is_training=False``. Stored per window: the mean over its patches of the
200-d penultimate layer (``bn_dense``, after batch norm) and of the 50 sigmoid tag
probabilities, as float16.

Usage (from the repository root)::

    /work/teacher-venv/bin/python training/teacher/musicnn_embeddings.py \\
        --root ../shared/data/gtzan-full --glob '*/*.opus' --name gtzan-full --semitones 0
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from genretag import audio  # noqa: E402

OUT_DIR = REPO / "training" / "data" / "teacher"
SCRATCH = Path(os.environ.get("TEACHER_SCRATCH", "/tmp/genretag-teacher"))

MODEL = "MSD_musicnn"
MUSICNN_SR = 16_000
FFT_SIZE = 512
FFT_HOP = 256
N_MELS = 96
PATCH_FRAMES = 187  # librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1, as musicnn
PATCH_HOP_FRAMES = 61  # librosa.time_to_frames(1, ...): musicnn's conversion of input_overlap=1 s
BATCH_PATCHES = 64
CHECKPOINT_EVERY_FILES = 25


def window_key(relative_path: str, semitones: int, segment: int) -> str:
    return f"{relative_path}|{semitones}|{segment}"


def student_windows(samples: np.ndarray, semitones: int) -> np.ndarray:
    """The student's windows ``(n, SEGMENT_SAMPLES)`` of ``audio.load``'s output, as
    ``training.features.clip_segments`` cuts them."""
    if semitones:
        import librosa

        samples = librosa.effects.pitch_shift(
            samples, sr=audio.SAMPLE_RATE, n_steps=semitones, res_type="soxr_hq"
        ).astype(np.float32)
    return audio.segment_array(samples)


def musicnn_patches(windows: np.ndarray) -> np.ndarray:
    """musicnn's input for each window: ``(n_windows, patches, PATCH_FRAMES, N_MELS)`` float32."""
    import librosa

    resampled = librosa.resample(windows, orig_sr=audio.SAMPLE_RATE, target_sr=MUSICNN_SR, res_type="soxr_hq", axis=-1)
    mel = librosa.feature.melspectrogram(
        y=resampled, sr=MUSICNN_SR, hop_length=FFT_HOP, n_fft=FFT_SIZE, n_mels=N_MELS
    )  # (n, mels, frames)
    logc = np.log10(10000 * mel.astype(np.float16) + 1)  # float16, as musicnn's batch_data
    logc = np.swapaxes(logc, 1, 2)  # (n, frames, mels)
    starts = range(0, logc.shape[1] - PATCH_FRAMES + 1, PATCH_HOP_FRAMES)
    return np.stack([logc[:, s : s + PATCH_FRAMES] for s in starts], axis=1).astype(np.float32)


class Musicnn:
    """The MSD_musicnn graph and session, built and restored once."""

    def __init__(self, model: str = MODEL):
        import tensorflow as tf

        tf.compat.v1.disable_eager_execution()
        tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.ERROR)
        import warnings

        warnings.filterwarnings("ignore", message=".*is deprecated", category=UserWarning)
        from musicnn import configuration, models

        self.tag_names = list(configuration.MSD_LABELS if "MSD" in model else configuration.MTT_LABELS)
        self.graph = tf.Graph()
        with self.graph.as_default():
            with tf.name_scope("model"):  # the checkpoint's variable names need musicnn's scope
                self.x = tf.compat.v1.placeholder(tf.float32, [None, PATCH_FRAMES, N_MELS])
                self.is_training = tf.compat.v1.placeholder(tf.bool)
                outputs = models.define_model(self.x, self.is_training, model, len(self.tag_names))
                logits, penultimate = outputs[0], outputs[-1]
                self.fetch = [tf.nn.sigmoid(logits), penultimate]
            saver = tf.compat.v1.train.Saver()
        config = tf.compat.v1.ConfigProto(intra_op_parallelism_threads=1, inter_op_parallelism_threads=1)
        self.session = tf.compat.v1.Session(graph=self.graph, config=config)
        # The stored checkpoint prefix is the model folder itself (files ".index", ".data-...").
        saver.restore(self.session, str(Path(models.__file__).parent / model) + "/")

    def run(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Tag probabilities ``(n, 50)`` and penultimate embeddings ``(n, 200)`` of patches ``(n, 187, 96)``."""
        tags, embeddings = [], []
        for start in range(0, len(patches), BATCH_PATCHES):
            t, e = self.session.run(
                self.fetch, feed_dict={self.x: patches[start : start + BATCH_PATCHES], self.is_training: False}
            )
            tags.append(t)
            embeddings.append(e)
        return np.concatenate(tags), np.concatenate(embeddings)


def embed_windows(model: Musicnn, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per window: mean penultimate ``(n, D)`` and mean tag probabilities ``(n, 50)`` over its patches."""
    patches = musicnn_patches(windows)
    n, per_window = patches.shape[:2]
    tags, embeddings = model.run(patches.reshape(n * per_window, PATCH_FRAMES, N_MELS))
    return (
        embeddings.reshape(n, per_window, -1).mean(axis=1),
        tags.reshape(n, per_window, -1).mean(axis=1),
    )


def metadata(args, tag_count: int, dims: int, seconds: float, audio_seconds: float, skipped: list) -> dict:
    from importlib.metadata import version

    import librosa
    import tensorflow as tf

    return {
        "teacher": "musicnn",
        "musicnn_version": version("musicnn"),
        "model": args.model,
        "tensorflow_version": tf.__version__,
        "librosa_version": librosa.__version__,
        "corpus_root": args.root.name,
        "glob": args.glob,
        "semitones": args.semitones,
        "window": "genretag.audio.segment_array of genretag.audio.load (22050 Hz, 10 s), pitch-shifted as "
        "training.features.clip_segments; segment index = row of that array (silent windows left out)",
        "musicnn_input": {
            "sample_rate": MUSICNN_SR,
            "n_fft": FFT_SIZE,
            "hop": FFT_HOP,
            "n_mels": N_MELS,
            "log": "log10(10000 * float16(mel power) + 1)",
        },
        "patch_frames": PATCH_FRAMES,
        "patch_hop_frames": PATCH_HOP_FRAMES,
        "patches_per_window": 1
        + (1 + audio.SEGMENT_SAMPLES * MUSICNN_SR // audio.SAMPLE_RATE // FFT_HOP - PATCH_FRAMES) // PATCH_HOP_FRAMES,
        "pooling": "mean over patches",
        "penultimate": f"bn_dense ({dims} units, after batch norm)",
        "tags": f"sigmoid of the {tag_count} MSD tag logits",
        "min_file_seconds": args.min_seconds,
        "skipped_files": skipped,
        "compute_seconds": round(seconds, 1),
        "audio_seconds": round(audio_seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="corpus root; keys are relative to it")
    parser.add_argument("--glob", action="append", required=True, help="file pattern(s) under root")
    parser.add_argument("--name", required=True, help="output: training/data/teacher/musicnn-<name>.npz")
    parser.add_argument("--semitones", type=int, nargs="+", default=[0])
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--min-seconds", type=float, default=0.0, help="skip files shorter than this")
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    args = parser.parse_args(argv)

    files = sorted({p for pattern in args.glob for p in args.root.glob(pattern) if p.is_file()})
    if not files:
        parser.error(f"{args.root}: nothing matches {args.glob}")
    out = args.out_dir / f"musicnn-{args.name}.npz"
    partial = SCRATCH / f"musicnn-{args.name}.partial.npz"
    done: dict[str, tuple] = {}  # "relative|semitones" → (keys, penultimate, tags)
    skipped: list[str] = []
    compute = audio_seconds = 0.0
    if partial.is_file():  # resume
        with np.load(partial, allow_pickle=False) as stored:
            state = json.loads(str(stored["state"]))
            keys = stored["keys"].tolist()
            for unit in state["done"]:
                rows = [i for i, k in enumerate(keys) if k.rsplit("|", 1)[0] == unit]
                done[unit] = ([keys[i] for i in rows], stored["penultimate"][rows], stored["tags"][rows])
            skipped, compute, audio_seconds = state["skipped"], state["compute"], state["audio"]
        print(f"resuming: {len(done)} file×shift units done", flush=True)

    model = Musicnn(args.model)

    def save(path: Path, final: bool) -> None:
        units = sorted(done)
        keys = [k for u in units for k in done[u][0]]
        dims = next((done[u][1].shape[1] for u in units if len(done[u][0])), 200)
        penultimate = np.concatenate([done[u][1] for u in units]) if keys else np.zeros((0, dims))
        tags = np.concatenate([done[u][2] for u in units]) if keys else np.zeros((0, len(model.tag_names)))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + f".{os.getpid()}.tmp.npz")
        extra = {}
        if final:
            extra["metadata"] = np.array(
                json.dumps(metadata(args, len(model.tag_names), penultimate.shape[1], compute, audio_seconds, skipped))
            )
        else:
            extra["state"] = np.array(
                json.dumps({"done": units, "skipped": skipped, "compute": compute, "audio": audio_seconds})
            )
        np.savez_compressed(
            tmp,
            keys=np.array(keys, dtype=np.str_),
            penultimate=penultimate.astype(np.float16),
            tags=tags.astype(np.float16),
            tag_names=np.array(model.tag_names, dtype=np.str_),
            **extra,
        )
        tmp.replace(path)

    since_checkpoint = 0
    for semitones in args.semitones:
        for path in files:
            relative = path.relative_to(args.root).as_posix()
            unit = f"{relative}|{semitones}"
            if unit in done:
                continue
            started = time.process_time()
            try:
                samples = audio.load(path)
                if samples.size < args.min_seconds * audio.SAMPLE_RATE:
                    if semitones == args.semitones[0]:
                        skipped.append(f"{relative}: {samples.size / audio.SAMPLE_RATE:.2f} s")
                    done[unit] = ([], np.zeros((0, 200)), np.zeros((0, len(model.tag_names))))
                    continue
                windows = student_windows(samples, semitones)
            except audio.AudioDecodeError as error:
                if semitones == args.semitones[0]:
                    skipped.append(f"{relative}: {error}")
                done[unit] = ([], np.zeros((0, 200)), np.zeros((0, len(model.tag_names))))
                continue
            penultimate, tags = embed_windows(model, windows)
            compute += time.process_time() - started
            audio_seconds += samples.size / audio.SAMPLE_RATE
            done[unit] = (
                [window_key(relative, semitones, i) for i in range(len(windows))],
                penultimate.astype(np.float16),
                tags.astype(np.float16),
            )
            since_checkpoint += 1
            if since_checkpoint >= CHECKPOINT_EVERY_FILES:
                save(partial, final=False)
                since_checkpoint = 0
                print(
                    f"{len(done)} units, {audio_seconds / 60:.1f} audio min, "
                    f"{compute / max(audio_seconds / 60, 1e-9):.1f} s per audio min",
                    flush=True,
                )
    save(out, final=True)
    partial.unlink(missing_ok=True)
    n = sum(len(v[0]) for v in done.values())
    print(
        f"{out}: {n} windows from {len(files)} files × {len(args.semitones)} shifts; "
        f"{audio_seconds / 60:.1f} audio min in {compute:.0f} s CPU "
        f"({compute / max(audio_seconds / 60, 1e-9):.1f} s per audio min); skipped {len(skipped)}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
