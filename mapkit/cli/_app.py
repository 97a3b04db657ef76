"""The typer app that every command module registers on, and shared CLI helpers."""
from __future__ import annotations

import sys

import typer
from rich.console import Console

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
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def warn(message: str) -> None:
    err.print(f"[yellow]warning:[/yellow] {message}", markup=True)


def fail(message: str, code: int = 1) -> "typer.Exit":
    """Print an error and return the Exit to raise: ``raise fail("...")``."""
    err.print(f"[red]error:[/red] {message}", markup=True)
    return typer.Exit(code)


def isatty() -> bool:
    return sys.stderr.isatty()
