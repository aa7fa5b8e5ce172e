"""genretag: an offline genre tagger for music libraries.

The small public API::

    import genretag
    result = genretag.classify("song.flac")          # a TrackResult
    model = genretag.load_model("bicrnn")             # a LoadedModel
"""

from __future__ import annotations

__version__ = "0.1.0"

# Load the submodule first: importing it later would rebind ``genretag.classify``
# from the public function below to the module. Use ``from genretag.classify import``.
import genretag.classify  # noqa: E402,F401  (numpy only; torch stays lazy)


def classify(path, model: str | None = None, whole_track: bool = False):
    """Classify one audio file with a shipped or user model (default: ``weights.DEFAULT_MODEL``);
    returns a ``TrackResult``."""
    from genretag.classify import classify_file

    return classify_file(path, load_model(model), whole_track=whole_track)


def load_model(name: str | None = None):
    """Load a shipped or user model by name (default: ``weights.DEFAULT_MODEL``), checking its hash and
    audio parameters."""
    from genretag.weights import load_model as load

    return load(name)


__all__ = ["__version__", "classify", "load_model"]
