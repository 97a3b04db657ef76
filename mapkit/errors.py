"""Every failure a user can cause is a MapkitError; the CLI prints it and exits.

Exit codes (README.md): 1 invalid input, 2 usage, 3 network/Hub failure.
"""
from __future__ import annotations

from dataclasses import dataclass


class MapkitError(Exception):
    """Base class of every user-facing error. ``exit_code`` is what the CLI returns."""

    exit_code = 1


@dataclass(frozen=True)
class Problem:
    """One finding about an input file: where it is, what is wrong, how to fix it."""

    file: str
    path: str
    message: str
    hint: str = ""
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        text = f"{where}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


class AnnotationError(MapkitError):
    """An annotation file failed the schema or the semantic checks.

    ``problems`` holds every error found (warnings are on the Annotation instead), so
    an annotator sees all of them at once rather than one per run.
    """

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class GraphError(MapkitError):
    """A graph query named a station or line the map does not have."""


class AmbiguousQueryError(GraphError):
    """A query has no single answer (a loop where both ways round are equally long)."""


class UncertainTopologyError(GraphError):
    """A query needs the order of stations that the annotation marks as uncertain."""


class DirectionError(GraphError):
    """On a one-way line, no stop pattern runs between two stations in the asked order."""


class SourceError(MapkitError):
    """A source file for an importer (ReasonMap JSON, GTFS feed) could not be read."""


class TemplateError(MapkitError):
    """A question template is malformed."""


class DatasetError(MapkitError):
    """A dataset folder is missing, incomplete or inconsistent."""


class RenderError(MapkitError):
    """A map could not be drawn (no coordinates, missing font, bad image)."""


class UsageError(MapkitError):
    """Options that cannot go together or are malformed (the CLI's exit code 2)."""

    exit_code = 2


class HubError(MapkitError):
    """The Hub could not be reached or refused the request."""

    exit_code = 3


class ConfigError(MapkitError):
    """A training or evaluation configuration is inconsistent."""


class RewardError(MapkitError):
    """A record cannot be scored (unknown type, missing field)."""


class HubUnreachableError(HubError):
    """The Hub could not be reached at all (network down, HF_HUB_OFFLINE): nothing was read."""


class GenerateError(MapkitError):
    """Synthetic cities cannot be made as asked (contradictory ranges, unknown language)."""
