"""The ``genretag`` command line: parse, call the library, render with rich.

Heavy modules (torch, librosa) are imported inside commands, never at import time,
so ``genretag --help`` stays fast.
"""

from __future__ import annotations

import typer

app = typer.Typer(
    name="genretag",
    help="Offline genre tagger for music libraries.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def models() -> None:
    """List shipped and user models with their model cards."""
    from rich.console import Console
    from rich.table import Table

    from genretag.weights import list_cards

    table = Table("name", "architecture", "source", "genres", "parameters", "trained on")
    for card in list_cards():
        table.add_row(
            card["name"],
            card["architecture"],
            card["source"],
            str(len(card["genres"])),
            f"{card['parameters']['pytorch']:,}",
            str(card.get("training", {}).get("summary", "")),
        )
    Console().print(table)
