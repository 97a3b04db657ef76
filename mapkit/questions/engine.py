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

import random
from collections import Counter, defaultdict, deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mapkit.difficulty import LABELS, question_difficulty
from mapkit.errors import GraphError, MapkitError
from mapkit.graph import TransitMap
from mapkit.questions.city import Candidate, City
from mapkit.questions.queries import QUERIES
from mapkit.questions.records import instantiate
from mapkit.questions.templates import TemplateSet, load_templates
from mapkit.vocab import ALL_TYPES, GROUNDING_TYPES
from mapkit.vocab import RECORD_TYPES as TYPES

# Grounding questions are made only when asked for (`--types Grounding`), 30 of each.
GROUNDING_COUNTS = dict.fromkeys(GROUNDING_TYPES, 30)
# Per city, what ReasonMap-Plus has on average (4,018 questions over 30 cities) and
# ReasonMap's planning questions; Counting3 has one question per map by nature.
DEFAULT_COUNTS = {"TorF1": 35, "TorF2": 31, "Counting1": 35, "Counting2": 32, "Counting3": 1, "planning": 34}
COLUMNS = (
    "id", "split", "city", "country", "map_id", "figure", "annotation", "type", "template_id", "question",
    "options", "answer", "answer_text", "station_1", "station_2", "line", "difficulty_city",
    "difficulty_question", "city_line_count", "city_transfer_count", "question_transfer_count",
    "reference_routes", "program", "frame",
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


@dataclass
class GenerationReport:
    """What happened while generating one city: kept and dropped counts by reason."""

    city: str
    wanted: dict[str, int] = field(default_factory=dict)
    made: Counter = field(default_factory=Counter)
    dropped: Counter = field(default_factory=Counter)  # (type, reason) -> count


def generate(
    tm: TransitMap,
    *,
    templates: TemplateSet | None = None,
    seed: int = 0,
    counts: Mapping[str, int] | None = None,
    figure: str | None = None,
    annotation_path: str | None = None,
    report: GenerationReport | None = None,
    scene: Any = None,
) -> list[dict[str, Any]]:
    """QuestionRecords for one map (``split`` left None; ``dataset`` assigns it).

    ``counts`` maps record type -> how many to make (default ``DEFAULT_COUNTS``; types
    left out are not made). A city that cannot supply that many distinct, balanced
    questions gets fewer. The same map, templates, seed and counts give the same records.
    Grounding types read what the map image shows from ``scene``
    (``mapkit.questions.grounding.Scene``; None: none are made, and the report says why).

    >>> from mapkit.annotation import load
    >>> records = generate(TransitMap.from_annotation(load("tests/fixtures/mini.json")), seed=1)
    >>> records[0]["type"], records[0]["answer_text"]
    ('TorF1', 'yes')
    """
    templates = templates or load_templates()
    counts = dict(DEFAULT_COUNTS if counts is None else counts)
    unknown = sorted(set(counts) - set(ALL_TYPES))
    if unknown:
        raise MapkitError(f"unknown record type(s) {unknown}; known: {', '.join(ALL_TYPES)}")
    city = City(tm)
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
        records.extend(instantiate(city, record_type, type_templates, chosen, rng, ctx))
        report.made[record_type] += len(chosen)
    if any(counts.get(t, 0) > 0 for t in GROUNDING_TYPES):
        from mapkit.questions.grounding import generate_grounding

        records.extend(generate_grounding(city, scene, templates=templates, counts=counts, seed=seed, ctx=ctx, report=report))
    return records


# ------------------------------------------------------------------ sampling

def _sample(city: City, record_type: str, op: str, n: int, rng: random.Random, report: GenerationReport) -> list[Candidate]:
    primary, mode, known, secondary = _BALANCE[record_type]
    query = QUERIES[op]
    pool = city.candidates(op, rng)
    seconds = LABELS if secondary else (None,)
    cells = [(p, q) for p in known for q in seconds] if known else None
    per_primary = -(-n // len(known)) if known and mode == "equal" else n
    share = -(-per_primary // len(seconds))  # what each known cell needs before sampling can stop
    collected: dict[tuple[Any, Any], list[Candidate]] = defaultdict(list)
    budget = max(400, 40 * n)  # query runs; small cities run out of candidates first
    deferred: deque[Any] = deque()  # popped from the front: a list would make that O(n)
    hint = _HINTS.get(record_type)

    def queue() -> Iterator[dict[str, str]]:
        for params in pool:
            if hint is not None and len(collected[None, hint(city, params)]) >= share:
                deferred.append(params)  # its cell looks full: run it only if spares are needed
                continue
            yield params
        # Second pass: cells that could not fill leave room for spares from the full ones.
        while deferred and sum(map(len, collected.values())) < n:
            yield deferred.popleft()

    def pair_queue() -> Iterator[dict[str, str]]:
        # queue() for the station-pair types with a hint (planning), over the indices of
        # city.pair_candidates (same pairs, same order, same draws) with the hint's bucket
        # kept per pair of line sets: most pairs are deferred and never asked, so they
        # cost a few integer operations, and their dicts are made only when run.
        st, line_set = city.stations, city.line_set_ids
        width, one_way = len(st), city.tm.has_one_way
        buckets: dict[int, list[Candidate]] = {}  # line-set pair -> its hint's bucket in collected
        seen: set[int] = set()
        for i in city.pair_order(rng):
            x, y = divmod(i, width)
            if x == y:
                continue
            key = i if one_way or x < y else y * width + x
            if key in seen:
                continue
            seen.add(key)
            sets = line_set[x] * width + line_set[y]
            bucket = buckets.get(sets)
            if bucket is None:
                bucket = buckets[sets] = collected[None, _pair_hint(city, st[x], st[y])]
            if len(bucket) >= share:
                deferred.append((x, y))
                continue
            yield {"station_1": st[x], "station_2": st[y]}
            if cells and all(len(collected.get(c, ())) >= share for c in cells):  # .get: adds no cell
                # Every cell is full, so the sampler stops at the next pair; the rest of the
                # order would only be deferred, and the second pass would yield nothing.
                return
        while deferred and sum(map(len, collected.values())) < n:
            x, y = deferred.popleft()
            yield {"station_1": st[x], "station_2": st[y]}

    if hint is _transfer_hint and op in ("on_common_line", "plan_routes"):
        queue = pair_queue  # noqa: F811 - the same candidates in the same order, cheaper

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


def _transfer_hint(city: City, params: Mapping[str, str]) -> str:
    """Planning difficulty guessed from the line graph (a lower bound on transfers) before
    running the route search, so that full buckets cost no search."""
    return _pair_hint(city, params["station_1"], params["station_2"])


def _pair_hint(city: City, a: str, b: str) -> str:
    key = ("planning hint", city.line_sets[a], city.line_sets[b])  # it depends only on the lines through a and b
    label = city.memo.get(key)
    if label is None:
        label = city.memo[key] = question_difficulty("planning", city.min_line_hops(a, b))
    return label


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


def _label(city: City, record_type: str, cand: Candidate) -> None:
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
