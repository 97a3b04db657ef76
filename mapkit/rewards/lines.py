"""A city's lines for the reward: line name -> ordered station names, plus lookup tables.

``load_lines(path)`` reads the annotation copy inside a dataset folder (or a ReasonMap
``stations/<country>/<city>.json`` file, markers stripped as the released code does)
once per file and returns an immutable :class:`Lines`. The normalised station sets the
scorers need are built lazily, once per ``Lines``; plain dicts passed to ``score`` get
the same tables through a small identity-keyed cache (do not mutate a dict after
scoring with it).
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from mapkit.errors import RewardError
from mapkit.rewards.names import line_key, normalize, paper_clean

# Markers inside ReasonMap station names (removed by the released reward manager).
REASONMAP_MARKERS = (" (Transfer Station)", " (Branch-starting Station)", "（换乘站）", "（支线起始站）")


class Lines(Mapping[str, tuple[str, ...]]):
    """Read-only line name -> tuple of station names (marker-free, in line order)."""

    def __init__(self, mapping: Mapping[str, Sequence[str]]):
        self._data = {str(name): tuple(str(s) for s in stations) for name, stations in mapping.items()}

    def __getitem__(self, name: str) -> tuple[str, ...]:
        return self._data[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Lines({len(self._data)} lines, {sum(map(len, self._data.values()))} stations)"

    @cached_property
    def index(self) -> LineIndex:
        return LineIndex(self)


class LineIndex:
    """Lookup tables over one city's lines, each built on first use."""

    def __init__(self, lines: Mapping[str, Sequence[str]]):
        self.lines = lines

    @cached_property
    def paper_sets(self) -> dict[str, frozenset[str]]:
        """Line name -> released clean_string of its stations (map side: cleaned once)."""
        return {name: frozenset(paper_clean(s) for s in stations) for name, stations in self.lines.items()}

    @cached_property
    def literal_names(self) -> tuple[str, ...]:
        """Line and station names with box syntax in them (parse.literal_names)."""
        from mapkit.rewards.parse import literal_names

        return literal_names([*self.lines, *(s for stations in self.lines.values() for s in stations)])

    @cached_property
    def norm_lists(self) -> dict[str, tuple[str, ...]]:
        return {name: tuple(normalize(s) for s in stations) for name, stations in self.lines.items()}

    @cached_property
    def norm_sets(self) -> dict[str, frozenset[str]]:
        return {name: frozenset(keys) - {""} for name, keys in self.norm_lists.items()}

    @cached_property
    def line_keys(self) -> dict[str, str | None]:
        """line_key -> line name; None where two lines share a key (then only exact names match)."""
        out: dict[str, str | None] = {}
        for name in self.lines:
            key = line_key(name)
            out[key] = None if key in out and out[key] != name else name
        return out

    def resolve(self, name: str | None) -> str | None:
        """The map's line for a line name written in an answer (default mode)."""
        if not name:
            return None
        if name in self.lines:
            return name
        key = line_key(name)
        return self.line_keys.get(key) if key else None


_FOREIGN: OrderedDict[int, tuple[Any, tuple[int, int], LineIndex]] = OrderedDict()
_FOREIGN_MAX = 64
_FOREIGN_LOCK = threading.Lock()


def index_for(lines: Mapping[str, Sequence[str]]) -> LineIndex:
    if isinstance(lines, Lines):
        return lines.index
    key = id(lines)
    stamp = (len(lines), sum(len(v) for v in lines.values()))
    with _FOREIGN_LOCK:  # reward workers may share the cache across threads
        hit = _FOREIGN.get(key)
        # the entry holds the mapping itself, so its id cannot be reused while cached
        if hit is not None and hit[0] is lines and hit[1] == stamp:
            _FOREIGN.move_to_end(key)
            return hit[2]
        index = LineIndex(lines)
        _FOREIGN[key] = (lines, stamp, index)
        if len(_FOREIGN) > _FOREIGN_MAX:
            _FOREIGN.popitem(last=False)
    return index


# --------------------------------------------------------------------------- loading

def load_lines(path: str | Path) -> Lines:
    """Line name -> station names of one city, from its annotation file (cached per file).

    Accepts a native mapkit annotation (what a dataset folder's ``annotations/`` holds)
    or a ReasonMap stations file. Raises RewardError (missing file) or AnnotationError.

    >>> lines = load_lines("tests/fixtures/mini.json")
    >>> lines["Red Line"][:3]
    ('Alpha', 'Bravo', 'Central')
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError as e:
        raise RewardError(f"annotation {path} cannot be read ({e.strerror}); the record's `annotation` is "
                          "relative to the dataset folder: pass the folder as root") from None
    return _load_cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=128)
def _load_cached(path: str, mtime_ns: int, size: int) -> Lines:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RewardError(f"annotation {path} is not readable JSON: {e}") from None
    if isinstance(data, dict) and isinstance(data.get("stations"), dict) and isinstance(data.get("lines"), list):
        from mapkit.annotation import loads  # validates the annotation (raises AnnotationError)

        return Lines(loads(data, source=path, path=Path(path)).line_stations_by_name())
    if isinstance(data, dict) and all(isinstance(v, list) and all(isinstance(s, str) for s in v) for v in data.values()):
        return lines_from_reasonmap(data)
    raise RewardError(f"{path} is neither a mapkit annotation nor a ReasonMap stations file")


def lines_from_reasonmap(data: Mapping[str, Sequence[str]]) -> Lines:
    """A ReasonMap stations mapping with its markers stripped, as the released code does."""
    out = {}
    for name, stations in data.items():
        cleaned = []
        for s in stations:
            for marker in REASONMAP_MARKERS:
                s = s.replace(marker, "")
            cleaned.append(s)
        out[name] = cleaned
    return Lines(out)
