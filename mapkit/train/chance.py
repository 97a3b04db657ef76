"""Chance: the mean reward of a question-blind guesser that writes a perfectly formatted
answer drawn uniformly from the question type's answer space on the record's map.

It is the yardstick a smoke run's rewards are read against (``chance_reward_mean`` in
metrics.jsonl): a model at or below it has learnt nothing about the questions, whatever
its reward. The answer spaces:

* TorF1/TorF2: yes, no;
* Counting1: one letter per option (A-D);
* Counting2/Counting3: the integers 1 .. the map's line count;
* planning: one section on a line of the map between two distinct stations of the map,
  with a random number of via stops (0-9) or 0-3 random via stations when the question
  asks for them. The guesser does not read the question, so its endpoints are right only
  by luck (about one draw in the number of stations squared).

Enumerable spaces are averaged exactly; planning is averaged over ``draws`` seeded draws
per record. Grounding types have no chance figure (None). No torch here.
"""
from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from mapkit.rewards import route_form

RewardFn = Callable[[str, dict, Any], dict]


def answer_space(record: Mapping[str, Any]) -> list[str] | None:
    """Every admissible answer of an enumerable type, boxed; None for planning and Grounding."""
    kind = record["type"]
    if kind in ("TorF1", "TorF2"):
        values: Sequence[Any] = ("yes", "no")
    elif kind == "Counting1":
        values = "ABCD"[: max(1, min(4, len(record.get("options") or "ABCD")))]
    elif kind in ("Counting2", "Counting3"):
        values = range(1, max(1, int(record.get("city_line_count") or 1)) + 1)
    else:
        return None
    return [f"\\boxed{{{v}}}" for v in values]


def one_section(record: Mapping[str, Any], line: str, departure: str, arrival: str, stations: Sequence[str],
                rng: random.Random) -> str:
    """A one-section route answer in the record's route form: a random via count (0-9) or
    0-3 random ``stations`` as via stops when the form asks for them."""
    text = f"Route Name: {line}\nDeparture Stop: {departure}\nArrival Stop: {arrival}"
    form = route_form(record)
    if form == "long_num":
        text += f"\nNumber of Via Stops: {rng.randint(0, 9)}"
    elif form == "long_via":
        text += "\nVia Stops: " + ", ".join(rng.sample(stations, min(len(stations), rng.randint(0, 3))))
    return text


def random_route(record: Mapping[str, Any], lines: Mapping[str, Sequence[str]], rng: random.Random) -> str:
    """One question-blind planning answer: a random line, two random stations of the map."""
    names = sorted(lines)
    stations = sorted({s for on in lines.values() for s in on})
    a, b = rng.sample(stations, 2) if len(stations) >= 2 else (stations * 2)[:2]
    return one_section(record, rng.choice(names), a, b, stations, rng)


def chance_reward(record: dict, lines: Mapping[str, Sequence[str]], reward_fn: RewardFn, draws: int = 64) -> float | None:
    """Expected reward of the guesser on ``record`` (None for types without a chance figure)."""
    space = answer_space(record)
    if space is not None:
        return statistics.fmean(reward_fn(answer, record, lines)["reward"] for answer in space)
    if record["type"] != "planning" or not lines:  # no map to draw a route on: no figure
        return None
    rng = random.Random(f"chance:{record['id']}")
    return statistics.fmean(reward_fn(random_route(record, lines, rng), record, lines)["reward"] for _ in range(draws))


class ChanceMeter:
    """Chance per record, computed once and cached by record id."""

    def __init__(self, reward_fn: RewardFn, lines_for: Callable[[dict], Any]):
        self.reward_fn, self.lines_for = reward_fn, lines_for
        self._cache: dict[str, float | None] = {}

    def mean(self, records: Iterable[dict]) -> float | None:
        values = []
        for r in records:
            if r["id"] not in self._cache:
                self._cache[r["id"]] = chance_reward(r, self.lines_for(r), self.reward_fn)
            if self._cache[r["id"]] is not None:
                values.append(self._cache[r["id"]])
        return statistics.fmean(values) if values else None
