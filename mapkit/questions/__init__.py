"""Question generation: templates as data (``templates/*.json``), graph queries that
answer them, and the engine that turns a TransitMap into QuestionRecords.

Example::

    >>> from mapkit.annotation import load
    >>> from mapkit.graph import TransitMap
    >>> from mapkit.questions import generate
    >>> records = generate(TransitMap.from_annotation(load("annotations/tokyo.json")), seed=0)  # doctest: +SKIP
"""
from mapkit.questions.engine import (
    ALL_TYPES,
    COLUMNS,
    DEFAULT_COUNTS,
    GROUNDING_COUNTS,
    GROUNDING_TYPES,
    TYPES,
    GenerationReport,
    generate,
)
from mapkit.questions.queries import QUERIES, TYPE_QUERY, execute
from mapkit.questions.records import counting_options, route_text
from mapkit.questions.templates import Template, TemplateSet, load_templates, templates_dir
from mapkit.vocab import PLUS_TYPES

__all__ = [
    "ALL_TYPES",
    "COLUMNS",
    "DEFAULT_COUNTS",
    "GROUNDING_COUNTS",
    "GROUNDING_TYPES",
    "PLUS_TYPES",
    "QUERIES",
    "TYPES",
    "TYPE_QUERY",
    "GenerationReport",
    "Template",
    "TemplateSet",
    "counting_options",
    "execute",
    "generate",
    "load_templates",
    "route_text",
    "templates_dir",
]
