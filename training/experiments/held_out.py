"""The study's held-out networks: every fold's snippets with the network its fold trained without them."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

from torch import nn

from genretag import learn
from training.corpus import Clip
from training.experiments import recipes


def held_out_networks(recipe: str, model: str, seed: int, args) -> Iterator[tuple[int, nn.Module, list[Clip]]]:
    """``(fold, network, held-out snippet clips)`` for every fold of ``args.folds``.

    The network (an ensemble of ``args.ensemble`` networks with consecutive seeds from
    ``seed`` when that is over 1) comes from, or goes to, the study's cache, so a
    variant the study ran costs no training.
    """
    clips = recipes.real_clips()
    for fold in range(args.folds):
        train, snippets, _ = recipes.split(clips, fold, args.folds)
        if args.ensemble > 1:
            network = recipes.cached_ensemble(recipe, [model] * args.ensemble, train, seed, args)
        else:
            network = recipes.cached_recipe_network(recipe, model, train, seed, args)
        yield fold, network, snippets


def held_out_arguments(argv: list[str] | None, parser: argparse.ArgumentParser | None = None):
    """The study's options (``parser``: the study's own, or one that adds to it) for a held-out tool, its
    torch threads set; None (after a one-line error) unless they name one recipe and one model and none
    of the options that change more than how each network trains. ``args.seed_list`` holds ``--seeds`` as ints."""
    args = (parser or recipes.settings_parser()).parse_args(argv)
    refusal = None
    if "," in args.recipes or "," in args.models:
        refusal = "give one recipe (--recipes) and one model (--models)"
    elif args.members or args.distil or args.soup > 1 or args.snippet_share != 1:
        refusal = "--members, --distil, --soup and --snippet-share are the study's alone"
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return None
    learn.use_threads(args.threads)
    args.seed_list = [int(seed) for seed in args.seeds.split(",")]
    return args
