"""Evaluate a trained model on a GTZAN split or a folder-per-genre corpus.

    python -m training.evaluate --model v-kernel --gtzan PATH [--split test]
    python -m training.evaluate --model runs/crnn.json --folders PATH --out report/

Prints segment- and track-level accuracy and saves ``metrics.json``,
``confusion.csv`` (tracks; rows true genre, columns predicted) and
``confusion.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from genretag.fit import Evaluation


def write_evaluation(result: Evaluation, out_dir: Path, title: str) -> None:
    """Save metrics JSON, the track-level confusion matrix as CSV and PNG, and per-track predictions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(result.summary(), indent=2) + "\n", encoding="utf-8")
    frame = pd.DataFrame(result.confusion, index=list(result.genres), columns=list(result.genres))
    frame.index.name = "true \\ predicted"
    frame.to_csv(out_dir / "confusion.csv")
    predictions = pd.DataFrame(
        {
            "track": result.track_names,
            "true": [result.genres[i] for i in result.track_labels],
            "predicted": [result.genres[i] for i in result.track_probabilities.argmax(axis=1)],
            "confidence": result.track_probabilities.max(axis=1).round(4),
        }
    )
    predictions.to_csv(out_dir / "tracks.csv", index=False)
    figure, axes = plt.subplots(figsize=(7, 6))
    axes.imshow(result.confusion, cmap="Blues")
    axes.set_xticks(range(len(result.genres)), result.genres, rotation=45, ha="right")
    axes.set_yticks(range(len(result.genres)), result.genres)
    for (row, column), count in zip(
        [(r, c) for r in range(len(result.genres)) for c in range(len(result.genres))],
        result.confusion.flat,
        strict=True,
    ):
        if count:
            axes.text(column, row, str(count), ha="center", va="center", fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(f"{title}\ntrack acc {result.track_accuracy:.3f}, segment acc {result.segment_accuracy:.3f}")
    figure.tight_layout()
    figure.savefig(out_dir / "confusion.png", dpi=100)
    plt.close(figure)


def _load(model: str):
    from genretag.weights import load_model, load_model_card

    path = Path(model)
    return load_model_card(path) if path.suffix == ".json" else load_model(model)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(prog="python -m training.evaluate", description=__doc__.split("\n\n")[0])
    corpus = parser.add_mutually_exclusive_group(required=True)
    corpus.add_argument("--gtzan", type=Path, help="GTZAN folder (original or Kaggle layout)")
    corpus.add_argument("--folders", type=Path, help="folder-per-genre corpus (every file is evaluated)")
    parser.add_argument(
        "--split", choices=["train", "valid", "test"], default="test", help="fault-filtered GTZAN split"
    )
    parser.add_argument(
        "--model", default="v-kernel", help="shipped/user model name, or the path of a model card (runs/v-kernel.json)"
    )
    parser.add_argument("--out", type=Path, default=Path("evaluation"))
    parser.add_argument(
        "--cache", type=Path, default=None, help="feature cache folder (default: training/cache/features)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    from genretag import fit
    from genretag.weights import WeightsError
    from training.corpus import fault_filtered_split, folder_corpus, gtzan_corpus
    from training.features import DEFAULT_CACHE, build_feature_set

    try:
        loaded = _load(args.model)
        clips = (
            fault_filtered_split(gtzan_corpus(args.gtzan))[args.split] if args.gtzan else folder_corpus(args.folders)
        )
    except (WeightsError, FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    unknown = sorted({clip.genre for clip in clips} - set(loaded.genres))
    if unknown:
        print(f"error: genres unknown to model {loaded.name!r}: {', '.join(unknown)}", file=sys.stderr)
        return 2
    fit.use_threads()
    data = build_feature_set(clips, loaded.genres, cache_dir=args.cache or DEFAULT_CACHE)
    result = fit.evaluate(loaded.network, data)
    write_evaluation(result, args.out, f"{loaded.name} on {args.gtzan or args.folders}")
    print(f"segment accuracy {result.segment_accuracy:.4f} ({result.n_segments} segments)")
    print(f"track accuracy   {result.track_accuracy:.4f} ({result.n_tracks} tracks)")
    print(f"wrote {args.out}/metrics.json, confusion.csv, confusion.png, tracks.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
