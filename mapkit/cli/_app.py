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


TRAIN_EXTRA_MODULES = ("torch", "transformers", "accelerate")
TRAIN_INSTALL = "pip install 'mapkit[train]'   (in a checkout: pip install -e '.[train]', or `make setup-full`)"


def require_train_extra(command: str) -> None:
    """Exit 1 with the install line when the [train] extra is missing, before any import
    of it can end in a traceback. (`make tokyo` installs the data half only.)"""
    import importlib.util

    def installed(name: str) -> bool:  # found, without importing it (torch takes seconds)
        if name in sys.modules:
            return sys.modules[name] is not None
        return importlib.util.find_spec(name) is not None

    missing = [name for name in TRAIN_EXTRA_MODULES if not installed(name)]
    if missing:
        raise fail(f"`mapkit {command}` needs the [train] extra, and {', '.join(missing)} "
                   f"{'is' if len(missing) == 1 else 'are'} not installed. Install it with:\n  {TRAIN_INSTALL}")

