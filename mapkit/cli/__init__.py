"""`mapkit` command line. Commands live in the modules of this package, grouped by area;
each parses options and calls library functions. ``main`` turns every MapkitError into a
readable message and an exit code (README.md: 1 invalid input, 2 usage, 3 network)."""
from __future__ import annotations

import sys
from typing import Sequence

import typer

# Importing a module registers its commands on `app`. Heavy dependencies (torch,
# transformers) are imported inside the commands that need them.
from mapkit.cli import annotate, build, evaluate, generate, maps, publish, train  # noqa: E402,F401
from mapkit.cli._app import app, err, error
from mapkit.errors import MapkitError


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        result = app(args=args, prog_name="mapkit", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except MapkitError as e:
        for line in str(e).splitlines() or [type(e).__name__]:
            error(line)
        return e.exit_code
    except typer.Exit as e:
        return e.exit_code
    except typer.Abort:
        err.print("aborted")
        return 130
    except typer.TyperException as e:  # usage errors: unknown command, bad option value
        e.show(file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
