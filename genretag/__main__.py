"""``python -m genretag`` runs the command-line interface."""

from genretag.cli import app

app(prog_name="genretag")
