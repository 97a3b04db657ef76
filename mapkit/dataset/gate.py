"""Answerability gate: an item is kept only when what its question names can be read
off the item's image.

Evidence per map:

- a rendered map: its geometry JSON. A named station needs a placed label
  (``geometry["labels"]``); a named line must not be in ``geometry["indistinct_lines"]``
  (drawn in a colour too close to another line's, see ``mapkit.render.colors``).
- a supplied map image whose annotation gives ``xy`` for its stations: a named station
  needs its ``xy`` (the annotator found it on the image). Lines are taken as printed.
- a supplied map image whose annotation gives no ``xy`` at all (the ReasonMap cities):
  an official map, trusted as it is; nothing is dropped.
- no image (``--no-images``): nothing to read, nothing dropped.

Items that fail are dropped and counted by reason; ``--keep-unreadable`` keeps them.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mapkit.annotation import Annotation

NO_LABEL = "station label not on the map"
NO_XY = "station not located on the map image (no xy)"
LINE_INDISTINCT = "line colour not distinguishable"
REASONS = (NO_LABEL, NO_XY, LINE_INDISTINCT)
_STATION_ARGS = ("station", "station_1", "station_2")


@dataclass(frozen=True)
class Evidence:
    """What a reader can find on one map image; None means "everything"."""

    stations: frozenset[str] | None
    lines: frozenset[str] | None
    station_reason: str = NO_LABEL


def from_geometry(annotation: Annotation, geometry: Mapping[str, Any]) -> Evidence:
    indistinct = set(geometry.get("indistinct_lines", ()))
    drawn = set(geometry.get("lines", {})) or {ln.id for ln in annotation.lines}
    return Evidence(frozenset(geometry.get("labels", {})), frozenset(drawn - indistinct), NO_LABEL)


def from_image(annotation: Annotation) -> Evidence:
    located = frozenset(sid for sid, st in annotation.stations.items() if st.xy is not None)
    if not located:  # an official map traced without positions: trusted as printed
        return Evidence(None, None)
    return Evidence(located, None, NO_XY)


def reasons(record: Mapping[str, Any], evidence: Evidence) -> list[str]:
    """Why the record cannot be answered from its image (empty: it can)."""
    args = json.loads(record["program"])["args"]
    out = []
    if evidence.stations is not None and any(args[k] not in evidence.stations for k in _STATION_ARGS if k in args):
        out.append(evidence.station_reason)
    if evidence.lines is not None and "line" in args and args["line"] not in evidence.lines:
        out.append(LINE_INDISTINCT)
    return out


def apply(records: list[dict[str, Any]], evidence: Evidence | None, dropped: Counter, keep: bool = False) -> list[dict[str, Any]]:
    """Records that pass; ``dropped[reason]`` counts the others (the first reason of each)."""
    if evidence is None:
        return records
    kept = []
    for r in records:
        why = reasons(r, evidence)
        if why:
            dropped[why[0]] += 1
            if not keep:
                continue
        kept.append(r)
    return kept


def named_stations(records: list[dict[str, Any]]) -> list[str]:
    """Station ids the records' questions name, in first-use order (for label priority)."""
    seen: dict[str, None] = {}
    for r in records:
        args = json.loads(r["program"])["args"]
        seen.update(dict.fromkeys(args[k] for k in _STATION_ARGS if k in args))
    return list(seen)
