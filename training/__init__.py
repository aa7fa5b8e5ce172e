"""Rebuilds genretag's weights: corpora, features, recipes. Not installed; imports genretag, never the reverse."""
