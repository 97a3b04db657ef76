"""Instantiate templates over one TransitMap into balanced, de-duplicated QuestionRecords.

Per record type (in the spirit of CLEVR's question engine):

1. draw candidate parameter sets (stations, lines) in a random order from a seeded
   ``random.Random``: the whole space, shuffled, or a sample of it in big cities;
2. run the type's query on each candidate, dropping degenerate and ambiguous ones
   (colliding display names, equal ways round a loop, uncertain station order, same
   origin and destination, no route);
3. file each answered candidate under its balance bucket and reject it when that bucket
   already holds enough (rejection sampling): yes/no 50/50, Counting2 spread over the
   answer values the city allows, Counting1 and planning spread over difficulty;
4. spread the chosen candidates evenly over the type's templates and their paraphrases;
   Counting1's correct letter is spread evenly over A-D.

Every record keeps the query that answered it (``program``). Nothing is answered by hand.
"""
from __future__ import annotations

import hashlib
import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Iterator, Mapping

import networkx as nx

from mapkit.difficulty import LABELS, map_difficulty, question_difficulty
from mapkit.errors import GraphError, MapkitError
from mapkit.graph import Route, TransitMap
from mapkit.questions.queries import QUERIES
from mapkit.questions.templates import Template, TemplateSet, load_templates

TYPES = ("TorF1", "TorF2", "Counting1", "Counting2", "Counting3", "planning")
PLUS_TYPES = TYPES[:5]
# Per city, what ReasonMap-Plus has on average (4,018 questions over 30 cities) and
# ReasonMap's planning questions; Counting3 has one question per map by nature.
DEFAULT_COUNTS = {"TorF1": 35, "TorF2": 31, "Counting1": 35, "Counting2": 32, "Counting3": 1, "planning": 34}
LETTERS = "ABCD"
SCAN_LIMIT = 20_000  # candidates looked at per type and city, at most (big cities have ~80k pairs)
COLUMNS = (
    "id", "split", "city", "country", "map_id", "figure", "annotation", "type", "template_id", "question",
    "options", "answer", "answer_text", "station_1", "station_2", "line", "difficulty_city",
    "difficulty_question", "city_line_count", "city_transfer_count", "question_transfer_count",
    "reference_routes", "program",
)

# How each type is balanced: (primary key, its mode, its known values, secondary key).
# Primary "equal" buckets get the same count (yes/no 50/50); "spread" buckets are filled
# round-robin so that no value dominates (Counting2 over the answer values the city
# allows). Inside each primary bucket the secondary key (question difficulty) is spread.
# Known values let the sampler stop as soon as every cell holds its share.
_BALANCE: dict[str, tuple[str | None, str, tuple[Any, ...] | None, str | None]] = {
    "TorF1": ("result", "equal", (True, False), "difficulty"),
    "TorF2": ("result", "equal", (True, False), "difficulty"),
    "Counting1": (None, "spread", (None,), "difficulty"),
    "Counting2": ("result", "spread", None, None),
    "Counting3": (None, "spread", (None,), None),
    "planning": (None, "spread", (None,), "difficulty"),
}
_LINE_WORD = re.compile(r"line|线|線|ライン|linie|ligne|linea|línea|linha", re.IGNORECASE)


@dataclass
class Candidate:
    params: dict[str, str]
    raw: Any  # what the query returned
    result: Any  # its JSON form, kept in the program
    measure: float | None = None
    difficulty: str | None = None


@dataclass
class GenerationReport:
    """What happened while generating one city: kept and dropped counts by reason."""

    city: str
    wanted: dict[str, int] = field(default_factory=dict)
    made: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)  # (type, reason) -> count


class _City:
    """One map prepared for sampling: usable stations and lines, labels, caches."""

    def __init__(self, tm: TransitMap):
        self.tm = tm
        a = tm.annotation
        self.annotation = a
        names = Counter(_norm(s.name) for s in a.stations.values())
        served = [sid for sid in sorted(a.stations) if tm.lines_through(sid)]
        # Stations whose display names collide cannot be named unambiguously: never asked.
        self.stations = [sid for sid in served if names[_norm(a.stations[sid].name)] == 1]
        self.collided = len(served) - len(self.stations)
        line_names = Counter(_norm(line.name) for line in a.lines)
        self.lines = sorted(line.id for line in a.lines if line_names[_norm(line.name)] == 1)
        stats = tm.stats()
        self.line_count, self.transfer_count = stats.line_count, stats.transfer_count
        self.difficulty = map_difficulty(stats.line_count, stats.transfer_count)
        self._bfs: dict[str, dict[str, int]] = {}

    def hops(self, a: str, b: str) -> float:
        if a not in self._bfs:
            self._bfs[a] = nx.single_source_shortest_path_length(self.tm.station_graph, a)
        return self._bfs[a].get(b, float("inf"))

    @cached_property
    def _line_hops(self) -> dict[str, dict[str, int]]:
        return dict(nx.all_pairs_shortest_path_length(self.tm.line_graph))

    def min_line_hops(self, a: str, b: str) -> float:
        """Fewest changes between a line through ``a`` and one through ``b`` (line graph)."""
        d = self._line_hops
        return min((d[x].get(y, float("inf")) for x in self.tm.lines_through(a) for y in self.tm.lines_through(b)),
                   default=float("inf"))

    @cached_property
    def map_text(self) -> str:
        name = re.sub(r"\s*\([^)]*\)\s*$", "", self.annotation.name).strip()
        return name or self.annotation.city.replace("_", " ").title()

    def line_text(self, lid: str) -> str:
        name = self.annotation.line(lid).name
        return name if _LINE_WORD.search(name) else f"line {name}"

    def candidates(self, op: str, rng: random.Random, limit: int = SCAN_LIMIT) -> Iterator[dict[str, str]]:
        """Parameter sets of a query over usable stations and lines, in random order, each
        unordered station pair once (its direction random). Spaces larger than ``limit``
        are sampled (``limit`` draws without replacement) instead of enumerated."""
        st, lines = self.stations, self.lines
        n = len(st)
        if op in ("on_common_line", "plan_routes"):
            size = n * n  # ordered pairs: the index gives the direction

            def decode(i: int) -> tuple[Any, dict[str, str]] | None:
                a, b = st[i // n], st[i % n]
                return None if a == b else (frozenset((a, b)), {"station_1": a, "station_2": b})
        elif op == "on_line":
            size = n * len(lines)

            def decode(i: int) -> tuple[Any, dict[str, str]] | None:
                s, lid = st[i // len(lines)], lines[i % len(lines)]
                return (s, lid), {"station": s, "line": lid}
        elif op == "count_stops_between":
            usable = set(st)
            ordered = [(lid, a, b) for lid in lines for on in [sorted(s for s in self.tm.stations_of(lid) if s in usable)]
                       for a in on for b in on if a != b]
            size = len(ordered)

            def decode(i: int) -> tuple[Any, dict[str, str]] | None:
                lid, a, b = ordered[i]
                return (lid, frozenset((a, b))), {"line": lid, "station_1": a, "station_2": b}
        elif op == "count_lines_through":
            size = n

            def decode(i: int) -> tuple[Any, dict[str, str]] | None:
                return st[i], {"station": st[i]}
        elif op == "count_lines":
            size = 1

            def decode(i: int) -> tuple[Any, dict[str, str]] | None:
                return (), {}
        else:
            raise MapkitError(f"no candidate enumerator for query {op!r}")
        if size <= limit:
            order = list(range(size))
            rng.shuffle(order)
        else:
            order = rng.sample(range(size), limit)
        seen: set[Any] = set()
        for i in order:
            found = decode(i)
            if found is not None and found[0] not in seen:
                seen.add(found[0])
                yield found[1]


def _norm(name: str) -> str:
    return " ".join(name.split()).casefold()


def generate(
    tm: TransitMap,
    *,
    templates: TemplateSet | None = None,
    seed: int = 0,
    counts: Mapping[str, int] | None = None,
    figure: str | None = None,
    annotation_path: str | None = None,
    report: GenerationReport | None = None,
) -> list[dict[str, Any]]:
    """QuestionRecords for one map (``split`` left None; ``dataset`` assigns it).

    ``counts`` maps record type -> how many to make (default ``DEFAULT_COUNTS``; types
    left out are not made). A city that cannot supply that many distinct, balanced
    questions gets fewer. The same map, templates, seed and counts give the same records.

    >>> records = generate(TransitMap.from_annotation(load("tests/fixtures/mini.json")), seed=1)  # doctest: +SKIP
    >>> records[0]["type"], records[0]["answer_text"]                                          # doctest: +SKIP
    ('TorF1', 'yes')
    """
    templates = templates or load_templates()
    counts = dict(DEFAULT_COUNTS if counts is None else counts)
    unknown = sorted(set(counts) - set(TYPES))
    if unknown:
        raise MapkitError(f"unknown record type(s) {unknown}; known: {', '.join(TYPES)}")
    city = _City(tm)
    report = report if report is not None else GenerationReport(tm.annotation.city)
    report.dropped["*", "display name shared by another station"] += city.collided
    ctx = {
        "city": tm.annotation.city,
        "figure": f"maps/{tm.annotation.city}.png" if figure is None else figure,
        "annotation": annotation_path or f"annotations/{tm.annotation.city}.json",
    }
    records = []
    for record_type in TYPES:
        n = counts.get(record_type, 0)
        if n <= 0:
            continue
        report.wanted[record_type] = n
        type_templates = templates.for_type(record_type)
        # One generator per (seed, city, type): changing one type's count or template
        # leaves the questions of the other types as they were.
        rng = random.Random(f"{seed}:{tm.annotation.city}:{record_type}")
        chosen = _sample(city, record_type, type_templates[0].op, n, rng, report)
        records.extend(_instantiate(city, record_type, type_templates, chosen, rng, ctx))
        report.made[record_type] += len(chosen)
    return records


# ------------------------------------------------------------------ sampling

def _sample(city: _City, record_type: str, op: str, n: int, rng: random.Random, report: GenerationReport) -> list[Candidate]:
    primary, mode, known, secondary = _BALANCE[record_type]
    query = QUERIES[op]
    pool = city.candidates(op, rng)
    seconds = LABELS if secondary else (None,)
    cells = [(p, q) for p in known for q in seconds] if known else None
    per_primary = -(-n // len(known)) if known and mode == "equal" else n
    share = -(-per_primary // len(seconds))  # what each known cell needs before sampling can stop
    collected: dict[tuple[Any, Any], list[Candidate]] = defaultdict(list)
    budget = max(400, 40 * n)  # query runs; small cities run out of candidates first
    deferred: list[dict[str, str]] = []
    hint = _HINTS.get(record_type)

    def queue() -> Iterator[dict[str, str]]:
        for params in pool:
            if hint is not None and len(collected[None, hint(city, params)]) >= share:
                deferred.append(params)  # its cell looks full: run it only if spares are needed
                continue
            yield params
        # Second pass: cells that could not fill leave room for spares from the full ones.
        while deferred and sum(map(len, collected.values())) < n:
            yield deferred.pop(0)

    for params in queue():
        if budget <= 0 or (cells and all(len(collected[c]) >= share for c in cells)):
            break
        budget -= 1
        try:
            raw = query.run(city.tm, **params)
        except GraphError as e:  # ambiguous loop, uncertain order, no route
            report.dropped[record_type, type(e).__name__] += 1
            continue
        cand = Candidate(params, raw, query.to_json(raw))
        _label(city, record_type, cand)
        cell = (cand.result if primary else None, cand.difficulty if secondary else None)
        if len(collected[cell]) < per_primary:
            collected[cell].append(cand)
        else:
            report.dropped[record_type, "balance"] += 1
    # Primary allocation first (equal halves or spread), then spread each over difficulty.
    totals: dict[Any, int] = defaultdict(int)
    for (p, _), cs in collected.items():
        totals[p] += len(cs)
    if known and mode == "equal":
        take_primary = _allocate_equal(known, totals, n, rng)
    else:
        take_primary = _allocate_spread(dict(totals), n, rng)
    chosen = []
    for p in sorted(take_primary, key=repr):
        sizes = {q: len(cs) for (pp, q), cs in collected.items() if pp == p}
        for q, k in sorted(_allocate_spread(sizes, take_primary[p], rng).items(), key=lambda kv: repr(kv[0])):
            chosen.extend(collected[p, q][:k])
    report.dropped[record_type, "balance"] += sum(len(c) for c in collected.values()) - len(chosen)
    rng.shuffle(chosen)
    return chosen


def _transfer_hint(city: _City, params: Mapping[str, str]) -> str:
    """Planning difficulty guessed from the line graph (a lower bound on transfers) before
    running the route search, so that full buckets cost no search."""
    return question_difficulty("planning", city.min_line_hops(params["station_1"], params["station_2"]))


_HINTS = {"planning": _transfer_hint}


def _allocate_equal(known: tuple[Any, Any], sizes: Mapping[Any, int], n: int, rng: random.Random) -> dict[Any, int]:
    """The same count from both buckets (one extra on a random side when n is odd)."""
    a, b = known
    half = n // 2
    k = min(sizes.get(a, 0), sizes.get(b, 0), half)
    take = {a: k, b: k}
    if n % 2 and k == half:
        spare = [x for x in (a, b) if sizes.get(x, 0) > half]
        if spare:
            take[rng.choice(spare)] += 1
    return take


def _allocate_spread(sizes: Mapping[Any, int], n: int, rng: random.Random) -> dict[Any, int]:
    """Round-robin water-filling: every bucket gets an equal share, capped by what it has."""
    take = dict.fromkeys(sizes, 0)
    order = sorted(sizes, key=repr)
    rng.shuffle(order)
    left = n
    while left > 0:
        progressed = False
        for b in order:
            if left and take[b] < sizes[b]:
                take[b] += 1
                left -= 1
                progressed = True
        if not progressed:
            break
    return take


def _label(city: _City, record_type: str, cand: Candidate) -> None:
    p, raw = cand.params, cand.raw
    if record_type == "TorF1":
        measure = city.hops(p["station_1"], p["station_2"])
    elif record_type == "TorF2":
        measure = len(city.tm.stations_of(p["line"]))
    elif record_type == "planning":
        measure = raw[0].transfers
    else:  # the counts themselves: stops, lines through, lines on the map
        measure = raw
    cand.measure = measure
    cand.difficulty = question_difficulty(record_type, measure)


# ------------------------------------------------------------------ records

def _instantiate(city: _City, record_type: str, templates: tuple[Template, ...], chosen: list[Candidate],
                 rng: random.Random, ctx: dict[str, str]) -> list[dict[str, Any]]:
    picks = _even_picks(templates, len(chosen), rng)
    letters = [i % 4 for i in range(len(chosen))]
    rng.shuffle(letters)
    records = []
    for cand, (template, paraphrase), letter in zip(chosen, picks, letters):
        records.append(_record(city, record_type, template, paraphrase, cand, letter, rng, ctx))
    return records


def _even_picks(templates: tuple[Template, ...], n: int, rng: random.Random) -> list[tuple[Template, int]]:
    """(template, paraphrase index) for n questions: templates, then paraphrases, used evenly."""
    t_order: list[int] = []
    p_orders: dict[int, list[int]] = defaultdict(list)
    picks = []
    for _ in range(n):
        if not t_order:
            t_order = rng.sample(range(len(templates)), len(templates))
        t = t_order.pop()
        if not p_orders[t]:
            p_orders[t] = rng.sample(range(len(templates[t].paraphrases)), len(templates[t].paraphrases))
        picks.append((templates[t], p_orders[t].pop()))
    return picks


def counting_options(correct: int, letter: int, rng: random.Random, other_way: int | None = None) -> list[int]:
    """Four distinct non-negative counts with ``correct`` at index ``letter``.

    Distractors are near misses: off by one or two (an end station counted, a stop
    skipped) and, on a loop, the count the other way round.

    >>> counting_options(0, 2, random.Random(0))
    [2, 1, 0, 3]
    """
    pool = {correct - 2, correct - 1, correct + 1, correct + 2}
    if other_way is not None:
        pool.add(other_way)
    pool = {x for x in pool if x >= 0 and x != correct}
    step = 3
    while len(pool) < 3:
        pool.add(correct + step)
        step += 1
    distractors = rng.sample(sorted(pool), 3)
    return distractors[:letter] + [correct] + distractors[letter:]


def route_text(sections: list[dict[str, Any]], form: str) -> str:
    """A route as ReasonMap writes answers: sections separated by a line ``--``."""
    blocks = []
    for s in sections:
        lines = [f"Route Name: {s['route_name']}", f"Departure Stop: {s['departure_stop']}", f"Arrival Stop: {s['arrival_stop']}"]
        if form == "long_num":
            lines.append(f"Number of Via Stops: {s['num_via_stops']}")
        elif form == "long_via":
            lines.append(f"Via Stops: {', '.join(s['via_stops'])}")
        blocks.append("\n".join(lines))
    return "\n--\n".join(blocks)


def _route_sections(city: _City, route: Route) -> list[dict[str, Any]]:
    name = city.tm.name
    return [
        {"route_name": s.route_name, "departure_stop": name(s.departure), "arrival_stop": name(s.arrival),
         "via_stops": [name(v) for v in s.via_stops], "num_via_stops": s.num_via_stops}
        for s in route.sections
    ]


def _record(city: _City, record_type: str, template: Template, paraphrase: int, cand: Candidate, letter: int,
            rng: random.Random, ctx: dict[str, str]) -> dict[str, Any]:
    tm, p = city.tm, cand.params
    slot_ids = {slot: p[param] for param, slot in template.args.items()}
    values: dict[str, str] = {}
    for slot, kind in template.slots.items():
        if kind == "station":
            values[slot] = tm.name(slot_ids[slot])
        elif kind == "line":
            values[slot] = city.line_text(slot_ids[slot])
        elif kind == "map":
            values[slot] = city.map_text
    options = None
    reference_routes = None
    transfers = 0
    if record_type in ("TorF1", "TorF2"):
        answer, answer_text = int(cand.result), "yes" if cand.result else "no"
    elif record_type == "Counting1":
        line = tm.annotation.line(p["line"])
        other = None
        if line.loop and len(line.segments) == 1:
            other = len(line.station_ids) - 2 - cand.result
        options = counting_options(cand.result, letter, rng, other)
        values[next(s for s, k in template.slots.items() if k == "options")] = "\n".join(
            f"{LETTERS[i]}. {v}" for i, v in enumerate(options))
        answer, answer_text = letter, LETTERS[letter]
    elif record_type == "planning":
        routes = [_route_sections(city, r) for r in cand.raw]
        reference_routes = routes
        transfers = cand.raw[0].transfers
        answer, answer_text = -1, route_text(routes[0], template.route_form or "short")
    else:
        answer, answer_text = int(cand.result), str(cand.result)
    station_1 = p.get("station_1", p.get("station"))
    station_2 = p.get("station_2")
    key = json.dumps({"city": ctx["city"], "type": record_type, "params": p}, sort_keys=True, ensure_ascii=False)
    program = {"op": template.op, "args": dict(sorted(p.items())), "result": cand.result, "paraphrase": paraphrase}
    a = tm.annotation
    return {
        "id": hashlib.sha256(key.encode("utf-8")).hexdigest()[:16],
        "split": None,
        "city": a.city,
        "country": a.country,
        "map_id": a.city,
        "figure": ctx["figure"],
        "annotation": ctx["annotation"],
        "type": record_type,
        "template_id": template.id,
        "question": template.render(paraphrase, values),
        "options": options,
        "answer": answer,
        "answer_text": answer_text,
        "station_1": tm.name(station_1) if station_1 else None,
        "station_2": tm.name(station_2) if station_2 else None,
        "line": a.line(p["line"]).name if "line" in p else None,
        "difficulty_city": city.difficulty,
        "difficulty_question": cand.difficulty,
        "city_line_count": city.line_count,
        "city_transfer_count": city.transfer_count,
        "question_transfer_count": transfers,
        "reference_routes": reference_routes,
        "program": json.dumps(program, sort_keys=True, ensure_ascii=False, separators=(",", ":")),
    }
