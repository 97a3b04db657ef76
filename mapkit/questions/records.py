"""QuestionRecords from chosen candidates: template and paraphrase picked evenly, slots
filled with display names, Counting1 options, planning reference routes, the program."""
from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from typing import Any

from mapkit.graph import Route
from mapkit.questions.city import Candidate, City
from mapkit.questions.templates import Template

LETTERS = "ABCD"


def record_head(a, ctx: dict[str, Any], record_type: str, template_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """The columns every record starts with; ``id`` is a stable hash of city, type and params."""
    key = json.dumps({"city": ctx["city"], "type": record_type, "params": params}, sort_keys=True, ensure_ascii=False)
    return {
        "id": hashlib.sha256(key.encode("utf-8")).hexdigest()[:16],
        "split": None,
        "city": a.city,
        "country": a.country,
        "map_id": a.city,
        "figure": ctx["figure"],
        "annotation": ctx["annotation"],
        "type": record_type,
        "template_id": template_id,
    }


def instantiate(city: City, record_type: str, templates: tuple[Template, ...], chosen: list[Candidate],
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
    [2, 3, 0, 1]
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
            lines.append(f"Via Stops: {', '.join(s['via_stops'])}".rstrip())
        blocks.append("\n".join(lines))
    return "\n--\n".join(blocks)


def _route_sections(city: City, route: Route) -> list[dict[str, Any]]:
    name = city.tm.name
    return [
        {"route_name": s.route_name, "departure_stop": name(s.departure), "arrival_stop": name(s.arrival),
         "via_stops": [name(v) for v in s.via_stops], "num_via_stops": s.num_via_stops}
        for s in route.sections
    ]


def _record(city: City, record_type: str, template: Template, paraphrase: int, cand: Candidate, letter: int,
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
    program = {"op": template.op, "args": dict(sorted(p.items())), "result": cand.result, "paraphrase": paraphrase}
    a = tm.annotation
    return {
        **record_head(a, ctx, record_type, template.id, p),
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
