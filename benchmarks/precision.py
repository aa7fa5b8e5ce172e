"""bfloat16 against float32 inference for the log-mel models: agreement on real audio, and network time.

    python benchmarks/precision.py FOLDER... [--models v-kernel crnn ...]

Each file is decoded and turned into log-mels once; every model then classifies its
segments in both precisions (``models.inference_network``), batch by batch in turn, on one
thread; bicrnn is also read whole-track, as ``scan --whole-track`` reads it. Printed per
reading: tracks whose top genre agrees, the largest difference of a track probability, and
the network's CPU seconds in each precision. A card may declare ``"inference_precision":
"bfloat16"`` when these say it keeps the answers and saves time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genretag import audio, library, models, weights  # noqa: E402
from genretag.classify import SEGMENT_BATCH  # noqa: E402

SHIPPED_LOG_MEL_MODELS = ("v-kernel", "v-kernel-l2", "crnn", "bicrnn")
PRECISIONS = (models.FLOAT32, models.BFLOAT16)


def track_probabilities(network, mels: torch.Tensor, seconds: list[float]) -> np.ndarray:
    """Mean segment probabilities of one track, adding the network's CPU time to ``seconds[0]``."""
    rows = []
    for start in range(0, len(mels), SEGMENT_BATCH):
        rows.append(timed_probabilities(network, mels[start : start + SEGMENT_BATCH], seconds))
    return np.concatenate(rows).mean(axis=0)


def whole_track_probabilities(network, mels: torch.Tensor, seconds: list[float]) -> np.ndarray:
    """One pass over the track's contiguous segments joined in time, as ``scan --whole-track`` reads it."""
    return timed_probabilities(network, torch.cat(list(mels), dim=-1)[None], seconds)[0]


def timed_probabilities(network, mels: torch.Tensor, seconds: list[float]) -> np.ndarray:
    batch = mels.unsqueeze(1).contiguous(memory_format=torch.channels_last)
    clock = time.process_time()
    with torch.inference_mode():
        probabilities = torch.softmax(network(batch), dim=1).numpy()
    seconds[0] += time.process_time() - clock
    return probabilities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--models", nargs="+", default=list(SHIPPED_LOG_MEL_MODELS))
    settings = parser.parse_args()
    if not models.native_bfloat16():
        sys.exit("this CPU has no native bfloat16 (AVX512-BF16 or AMX): nothing to compare")
    torch.set_num_threads(1)
    loaded = [weights.load_model(name) for name in settings.models]
    # Each reading: (model, how a track's probabilities are read); bicrnn is also read whole-track.
    readings = {model.name: (model, track_probabilities) for model in loaded}
    readings |= {
        f"{m.name} --whole-track": (m, whole_track_probabilities) for m in loaded if m.architecture == "bicrnn"
    }
    networks = {
        name: {precision: models.inference_network(model.network, precision) for precision in PRECISIONS}
        for name, (model, _) in readings.items()
    }
    agree = dict.fromkeys(readings, 0)
    largest = dict.fromkeys(readings, 0.0)
    seconds = {name: {precision: [0.0] for precision in PRECISIONS} for name in readings}
    tracks = 0
    for path in library.walk_audio_files(settings.folders).files:
        try:  # the segments a scan classifies
            segments = list(audio.segments(path))
        except audio.AudioDecodeError as error:
            print(f"skipped: {error}", file=sys.stderr)
            continue
        tracks += 1
        samples = np.stack([segment.samples for segment in segments])
        contiguous = torch.tensor([segment.on_the_grid for segment in segments])
        mels = {model.front_end: audio.log_mel(samples, audio.hop_length_of(model.front_end)) for model in loaded}
        for name, (model, read) in readings.items():
            spectrograms = mels[model.front_end] if read is track_probabilities else mels[model.front_end][contiguous]
            full, half = (
                read(networks[name][precision], spectrograms, seconds[name][precision]) for precision in PRECISIONS
            )
            agree[name] += int(full.argmax() == half.argmax())
            largest[name] = max(largest[name], float(np.abs(full - half).max()))
    print(f"{tracks} tracks from {', '.join(str(folder) for folder in settings.folders)}")
    print("| model | same top genre | largest probability difference | network CPU s float32 | bfloat16 | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name in readings:
        full, half = (seconds[name][precision][0] for precision in PRECISIONS)
        times = f"{full:.2f} | {half:.2f} | {half / full:.2f}"
        print(f"| {name} | {agree[name]} of {tracks} | {largest[name]:.4f} | {times} |")


if __name__ == "__main__":
    main()
