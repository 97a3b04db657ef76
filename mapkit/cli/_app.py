"""The typer app that every command module registers on, and shared CLI helpers."""
from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

app = typer.Typer(
    name="mapkit",
    help="Build visual-reasoning datasets from transit maps and train VLMs on them (ReasonMap / RewardMap).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Results go to stdout, diagnostics (warnings, progress, errors) to stderr so output
# can be piped.
out = Console(highlight=False, soft_wrap=True, markup=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)


def warn(message: str) -> None:
    # Messages quote user data ("[lon, lat]", file names): escape so rich shows them verbatim.
    err.print(f"[yellow]warning:[/yellow] {escape(message)}", markup=True)


def error(message: str) -> None:
    err.print(f"[red]error:[/red] {escape(message)}", markup=True)


def fail(message: str, code: int = 1) -> "typer.Exit":
    """Print an error and return the Exit to raise: ``raise fail("...")``."""
    error(message)
    return typer.Exit(code)


def isatty() -> bool:
    return sys.stderr.isatty()
