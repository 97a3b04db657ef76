"""Difficulty labels. Every threshold lives in the two tables below, so changing what
"hard" means is a one-line edit that the README documents.

A label is the first bucket whose upper bound the measure does not exceed:
``_bucket(5, (3, 7))`` is "middle" (5 > 3, 5 <= 7); anything above the last bound is
"hard".
"""
from __future__ import annotations

from mapkit.errors import MapkitError
from mapkit.vocab import DIFFICULTY_LABELS as LABELS

# Map difficulty from city statistics: a map is as hard as its harder measure.
# Chosen so that the 30 ReasonMap cities spread over all three labels
# (see tests/test_difficulty.py and `mapkit stats`).
MAP_THRESHOLDS = {
    "line_count": (4, 9),  # <= 4 lines easy, <= 9 middle, more hard
    "transfer_count": (12, 40),  # interchange stations
}

# Question difficulty per record type: (measure, upper bounds for easy and middle).
QUESTION_THRESHOLDS = {
    "Counting1": ("intermediate stops between the two stations", (3, 7)),
    "Counting2": ("lines through the station", (1, 2)),
    "Counting3": ("lines on the map", (4, 9)),
    "TorF1": ("hops between the two stations on the network", (4, 10)),
    "TorF2": ("stations on the asked line", (18, 28)),
    "planning": ("fewest transfers between origin and destination", (0, 1)),
    # Grounding: clutter around the target, within 5% of the map's longer side
    # (mapkit.questions.grounding.CLUTTER_RADIUS); bounds chosen on the rendered Tokyo map
    # so that its questions spread over the three labels.
    "Grounding1": ("other stations (marker or label) near the station", (3, 5)),
    "Grounding2": ("other stations (marker or label) near the station", (3, 5)),
    "Grounding3": ("other lines near the point", (0, 2)),
}


def _bucket(value: float, bounds: tuple[float, float]) -> str:
    easy, middle = bounds
    return "easy" if value <= easy else "middle" if value <= middle else "hard"


def map_difficulty(line_count: int, transfer_count: int) -> str:
    """Label of a whole map.

    >>> map_difficulty(line_count=3, transfer_count=4)
    'easy'
    >>> map_difficulty(line_count=13, transfer_count=90)
    'hard'
    """
    labels = [
        _bucket(line_count, MAP_THRESHOLDS["line_count"]),
        _bucket(transfer_count, MAP_THRESHOLDS["transfer_count"]),
    ]
    return max(labels, key=LABELS.index)


def question_difficulty(record_type: str, measure: float) -> str:
    """Label of one question from the measure its type is judged by (see the table).

    >>> question_difficulty("planning", 1)
    'middle'
    """
    try:
        _, bounds = QUESTION_THRESHOLDS[record_type]
    except KeyError:
        raise MapkitError(f"no difficulty rule for record type {record_type!r}; known: {', '.join(QUESTION_THRESHOLDS)}") from None
    return _bucket(measure, bounds)


# Visual difficulty (mapkit.render.visual): each measure is divided by its reference and capped
# at 1; ``difficulty_visual`` is their mean. References are about the 90th percentile
# over Tokyo, generated maps at 4000 px and ReasonMap images, so maps spread over [0, 1].
VISUAL_REFERENCES = {
    "local_edges": 0.08,  # share of edge pixels near the asked stations
    "label_density": 0.10,  # share of the map area under station labels
    "crossings": 40,  # crossings of two lines away from any station
}
VISUAL_THRESHOLDS = (0.35, 0.6)  # difficulty_visual <= 0.35 easy, <= 0.6 middle, else hard


def visual_difficulty(score: float) -> str:
    """Label of a ``difficulty_visual`` figure (see VISUAL_THRESHOLDS).

    >>> visual_difficulty(0.5)
    'middle'
    """
    return _bucket(score, VISUAL_THRESHOLDS)
