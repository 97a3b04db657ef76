"""The graph queries that answer questions. A template names one of these (``query.op``);
the engine runs it on a TransitMap and keeps ``{"op", "args", "result"}`` with the record
as its ``program``, so that any answer can be re-derived with ``execute``.

Arguments are station and line *ids*; results are plain JSON values.

Example::

    >>> from mapkit.annotation import load
    >>> tm = TransitMap.from_annotation(load("tests/fixtures/mini.json"))
    >>> execute({"op": "count_lines_through", "args": {"station": "c"}}, tm)
    3
"""
from __future__ import annotations

import weakref
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mapkit.errors import AmbiguousQueryError, TemplateError, UncertainTopologyError
from mapkit.graph import Route, TransitMap
from mapkit.names import name_key

REFERENCE_ROUTES = 3  # planning keeps up to this many fewest-transfer routes as references


@dataclass(frozen=True)
class Query:
    op: str
    params: Mapping[str, str]  # parameter name -> slot type it is shown as ("station", "line")
    run: Callable[..., Any]  # (tm, **params) -> raw result (may raise GraphError and subclasses)
    to_json: Callable[[Any], Any] = lambda raw: raw


def _on_line(tm: TransitMap, station: str, line: str) -> bool:
    tm.stations_of(line)  # unknown line ids raise GraphError instead of answering "no"
    return line in tm.lines_through(station)


def _plan_routes(tm: TransitMap, station_1: str, station_2: str) -> list[Route]:
    """Fewest-transfer routes whose every section has one way along its line: a section
    between opposite stations of a loop (two equally long ways) has no single list of via
    stops, so such routes are left out, and the question too when none is left."""
    routes = tm.routes(station_1, station_2, k=REFERENCE_ROUTES)
    shared = _shared_names(tm)
    kept = []
    for route in routes:
        if any(name_key(tm.name(s.arrival)) in shared for s in route.sections[:-1]):
            continue  # a transfer at a station whose name is not unique cannot be written down
        try:
            for s in route.sections:
                tm.line_path(s.line, s.departure, s.arrival)
        except (AmbiguousQueryError, UncertainTopologyError):
            continue
        kept.append(route)
    if not kept:
        raise AmbiguousQueryError(f"every fewest-transfer route from {station_1!r} to {station_2!r} rides an ambiguous section")
    return kept


_SHARED: weakref.WeakKeyDictionary[TransitMap, frozenset[str]] = weakref.WeakKeyDictionary()


def _shared_names(tm: TransitMap) -> frozenset[str]:
    """Display names (normalised) that more than one station of the map carries."""
    if tm not in _SHARED:
        seen = Counter(name_key(st.name) for st in tm.annotation.stations.values())
        _SHARED[tm] = frozenset(name for name, n in seen.items() if n > 1)
    return _SHARED[tm]


def _route_json(routes: list[Route]) -> dict[str, Any]:
    return {
        "min_transfers": routes[0].transfers,
        "routes": [[[s.line, s.departure, s.arrival] for s in route.sections] for route in routes],
    }


QUERIES: dict[str, Query] = {
    q.op: q
    for q in (
        Query("on_common_line", {"station_1": "station", "station_2": "station"},
              lambda tm, station_1, station_2: tm.on_common_line(station_1, station_2)),
        Query("on_line", {"station": "station", "line": "line"},
              lambda tm, station, line: _on_line(tm, station, line)),
        Query("count_stops_between", {"line": "line", "station_1": "station", "station_2": "station"},
              lambda tm, line, station_1, station_2: len(tm.stops_between(line, station_1, station_2))),
        Query("count_lines_through", {"station": "station"},
              lambda tm, station: len(tm.lines_through(station))),
        Query("count_lines", {}, lambda tm: tm.stats().line_count),
        Query("plan_routes", {"station_1": "station", "station_2": "station"},
              lambda tm, station_1, station_2: _plan_routes(tm, station_1, station_2), _route_json),
    )
}

# The query each record type is answered by: a template of that type must use it, so
# that balancing a type never depends on which of its templates was picked.
TYPE_QUERY = {
    "TorF1": "on_common_line",
    "TorF2": "on_line",
    "Counting1": "count_stops_between",
    "Counting2": "count_lines_through",
    "Counting3": "count_lines",
    "planning": "plan_routes",
    "Grounding1": "locate_station",
    "Grounding2": "read_label",
    "Grounding3": "identify_line",
}

# Grounding programs are answered from what is drawn (``mapkit.questions.grounding``),
# not from the graph: parameter -> the slot types that may show it.
GROUNDING_OPS: dict[str, Mapping[str, tuple[str, ...]]] = {
    "locate_station": {"station": ("station",)},
    "read_label": {"place": ("point", "box")},
    "identify_line": {"place": ("point",)},
}


def execute(program: Mapping[str, Any] | str, tm: TransitMap) -> Any:
    """Run a record's program again and return its JSON result (compare with ``program["result"]``).

    >>> from mapkit.annotation import load
    >>> tm = TransitMap.from_annotation(load("tests/fixtures/mini.json"))
    >>> execute('{"op": "count_lines", "args": {}}', tm)
    4
    """
    import json

    if isinstance(program, str):
        program = json.loads(program)
    try:
        query = QUERIES[program["op"]]
    except KeyError:
        raise TemplateError(f"unknown query {program.get('op')!r}; known: {', '.join(QUERIES)}") from None
    args = dict(program.get("args", {}))
    if set(args) != set(query.params):
        raise TemplateError(f"query {query.op!r} takes {sorted(query.params)}, got {sorted(args)}")
    return query.to_json(query.run(tm, **args))
