"""Commands for annotators: validate, import, stats."""
from __future__ import annotations

import typer

from mapkit.cli._app import app

import_app = typer.Typer(help="Convert other formats (ReasonMap JSON, GTFS) into native annotations.", no_args_is_help=True)
app.add_typer(import_app, name="import")
