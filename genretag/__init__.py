"""genretag: an offline genre tagger for music libraries.

The small public API::

    import genretag
    result = genretag.classify("song.flac")          # a TrackResult
    model = genretag.load_model("bicrnn")             # a LoadedModel
"""

from __future__ import annotations

import sys
import types

__version__ = "0.1.0"


class _Package(types.ModuleType):
    """The package module: importing the submodule ``genretag.classify`` (numpy) leaves
    ``genretag.classify`` the public function below instead of rebinding it to the module,
    so that submodule is imported only when something is classified, and
    ``import genretag.cli`` stays light. Use ``from genretag.classify import``."""

    def __setattr__(self, name: str, value) -> None:
        if name == "classify" and isinstance(value, types.ModuleType):
            return  # the submodule stays in sys.modules, where ``from genretag.classify import`` finds it
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
