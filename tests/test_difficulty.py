"""Difficulty tables: each threshold pinned at its edges, and the README's spread of the
30 ReasonMap cities over the three map labels."""
from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from mapkit.difficulty import LABELS, map_difficulty, question_difficulty
from mapkit.errors import MapkitError


@pytest.mark.parametrize(
    ("lines", "transfers", "label"),
    [
        (1, 0, "easy"), (4, 12, "easy"),  # both at the easy edge
        (5, 0, "middle"), (4, 13, "middle"), (9, 40, "middle"),  # either measure past easy
        (10, 0, "hard"), (1, 41, "hard"), (9, 41, "hard"),  # the harder measure wins
    ],
)
def test_map_difficulty_edges(lines, transfers, label):
    assert map_difficulty(line_count=lines, transfer_count=transfers) == label


@pytest.mark.parametrize(
    ("rtype", "easy_max", "middle_max"),
    [("TorF1", 4, 10), ("TorF2", 18, 28), ("Counting1", 3, 7), ("Counting2", 1, 2), ("Counting3", 4, 9), ("planning", 0, 1)],
)
def test_question_difficulty_edges_match_the_readme_table(rtype, easy_max, middle_max):
    assert question_difficulty(rtype, easy_max) == "easy"
    assert question_difficulty(rtype, easy_max + 1) == "middle"
    assert question_difficulty(rtype, middle_max) == "middle"
    assert question_difficulty(rtype, middle_max + 1) == "hard"
    assert question_difficulty(rtype, 10_000) == "hard"


def test_unknown_type_is_a_mapkit_error_naming_the_known_ones():
    with pytest.raises(MapkitError, match="no difficulty rule for record type 'Counting9'.*TorF1"):
        question_difficulty("Counting9", 1)
    assert LABELS == ("easy", "middle", "hard")


def _raw_counts(path) -> tuple[int, int]:
    """Lines and transfer stations of a ReasonMap city file, counted without mapkit:
    a station is a transfer when its marker-free name is on two or more lines."""
    data = json.loads(path.read_text(encoding="utf-8"))
    seen: Counter[str] = Counter()
    for stations in data.values():
        names = {re.sub(r" ?(\(Transfer Station\)|（换乘站）|\(Branch-starting Station\)|（支线起始站）)", "", s).strip() for s in stations}
        seen.update(names)
    return len(data), sum(1 for n in seen.values() if n >= 2)


def test_thirty_reasonmap_cities_spread_as_the_readme_says(reasonmap_dir, tmp_path):
    from mapkit.annotation import load
    from mapkit.graph import TransitMap
    from mapkit.importers.reasonmap import import_reasonmap

    results = import_reasonmap(reasonmap_dir / "stations", tmp_path)
    assert len(results) == 30
    labels = Counter()
    for path in sorted(tmp_path.glob("*.json")):
        stats = TransitMap.from_annotation(load(path)).stats()
        labels[map_difficulty(stats.line_count, stats.transfer_count)] += 1
    assert labels == {"easy": 12, "middle": 11, "hard": 7}  # README, "Map difficulty"

    # The same spread from a plain count of the source files.
    raw = Counter()
    for path in sorted((reasonmap_dir / "stations").glob("*/*.json")):
        lines, transfers = _raw_counts(path)
        raw["easy" if lines <= 4 and transfers <= 12 else "hard" if lines >= 10 or transfers >= 41 else "middle"] += 1
    assert raw == labels
