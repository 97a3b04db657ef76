"""QuestionRecords as stored: the Arrow schema of the parquet files, validation against
``mapkit/schemas/record.schema.json`` plus consistency checks, and parquet I/O."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq

from mapkit.errors import DatasetError

_SECTION = pa.struct([
    ("route_name", pa.string()), ("departure_stop", pa.string()), ("arrival_stop", pa.string()),
    ("via_stops", pa.list_(pa.string())), ("num_via_stops", pa.int64()),
])
ARROW_SCHEMA = pa.schema([
    ("id", pa.string()), ("split", pa.string()), ("city", pa.string()), ("country", pa.string()),
    ("map_id", pa.string()), ("figure", pa.string()), ("annotation", pa.string()), ("type", pa.string()),
    ("template_id", pa.string()), ("question", pa.string()), ("options", pa.list_(pa.int64())),
    ("answer", pa.int64()), ("answer_text", pa.string()), ("station_1", pa.string()), ("station_2", pa.string()),
    ("line", pa.string()), ("difficulty_city", pa.string()), ("difficulty_question", pa.string()),
    ("city_line_count", pa.int64()), ("city_transfer_count", pa.int64()), ("question_transfer_count", pa.int64()),
    ("reference_routes", pa.list_(pa.list_(_SECTION))), ("program", pa.string()),
    ("frame", pa.struct([("width", pa.int64()), ("height", pa.int64())])),  # Grounding: pixels of `figure`
    ("difficulty_visual", pa.float64()),
])
COLUMNS = tuple(ARROW_SCHEMA.names)


# ------------------------------------------------------------------ records

@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(resources.files("mapkit.schemas").joinpath("record.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


@lru_cache(maxsize=1)
def _fast_validator() -> Callable[[dict[str, Any]], bool] | None:
    """The record schema compiled by jsonschema-rs (Rust): it only tells valid from invalid,
    at about 10 us a record against jsonschema's ~1 ms (fastjsonschema's generated Python
    took ~80 us; benchmarks/bench_build.py), so valid records, nearly all of them, skip
    the generic validator. A rejected record goes through jsonschema for the messages,
    which therefore read exactly as before."""
    try:
        import jsonschema_rs
    except ImportError:  # an optional speed-up: jsonschema alone gives the same answers
        return None
    schema = json.loads(resources.files("mapkit.schemas").joinpath("record.schema.json").read_text("utf-8"))
    return jsonschema_rs.validator_for(schema).is_valid


def _schema_problems(record: dict[str, Any]) -> list[str]:
    fast = _fast_validator()
    if fast is not None and fast(record):
        return []
    return [f"{'.'.join(map(str, e.absolute_path)) or '(record)'}: {e.message}" for e in _validator().iter_errors(record)]


def record_problems(record: Mapping[str, Any]) -> list[str]:
    """What is wrong with one record: schema errors, then consistency checks the schema cannot state."""
    problems = _schema_problems(dict(record))
    if problems:
        return problems
    t, answer, text = record["type"], record["answer"], record["answer_text"]
    if t in ("TorF1", "TorF2") and text != ("yes" if answer == 1 else "no"):
        problems.append(f"answer {answer} does not match answer_text {text!r}")
    if t == "Counting1" and text != "ABCD"[answer]:
        problems.append(f"answer {answer} does not match answer_text {text!r}")
    if t in ("Counting2", "Counting3") and text != str(answer):
        problems.append(f"answer {answer} does not match answer_text {text!r}")
    if t == "planning":
        routes = record["reference_routes"]
        for route in routes:
            if route[0]["departure_stop"] != record["station_1"] or route[-1]["arrival_stop"] != record["station_2"]:
                problems.append("a reference route does not run from station_1 to station_2")
            if any(s["num_via_stops"] != len(s["via_stops"]) for s in route):
                problems.append("num_via_stops differs from the number of via_stops")
        transfers = len(routes[0]) - 1
        if record["question_transfer_count"] != transfers:
            problems.append(f"question_transfer_count {record['question_transfer_count']} but the route has {transfers} transfers")
    try:
        program = json.loads(record["program"])
        if not {"op", "args", "result"} <= set(program):
            problems.append("program lacks op, args or result")
        elif t.startswith("Grounding"):
            problems.extend(grounding_problems(record, program))
    except json.JSONDecodeError as e:
        problems.append(f"program is not JSON ({e})")
    if record["question"].count("\\boxed{}") == 0 and t != "planning":
        problems.append("question does not ask for the answer in \\boxed{}")
    return problems


def grounding_problems(record: Mapping[str, Any], program: Mapping[str, Any]) -> list[str]:
    """A Grounding record's answer agrees with its program, and its coordinates lie in its frame."""
    from mapkit.frames import SHOWN, fmt_box, fmt_point

    w, h = record["frame"]["width"], record["frame"]["height"]
    result, args = program["result"], program["args"]
    shown = []
    try:
        if record["type"] == "Grounding1":
            want = fmt_box(result["box"]) if "box" in result else fmt_point(result["point"])
            shown = [result.get("box") or result["point"]]
            if record["answer_text"] != want:
                return [f"answer_text {record['answer_text']!r} is not the program's {want!r}"]
        shown += [v for k, v in args.items() if k in ("point", "box")]
        coords = [c for v in shown for c in v]
        if any(not isinstance(c, (int, float)) for c in coords):
            return ["program coordinates are not numbers"]
        if any(not (0 <= x <= w and 0 <= y <= h) for v in shown for x, y in zip(v[::2], v[1::2])):
            return [f"program coordinates lie outside the {w}x{h} frame"]
        place = args.get("point") or args.get("box")
        if record["type"] != "Grounding1":
            # the rescaling of the question (mapkit.frames.in_model_frame) rewrites the first
            # coordinates of its first line: they must be the program's
            first = SHOWN.search(record["question"].partition("\n")[0])
            want = fmt_point(place) if "point" in args else fmt_box(place)
            if first is None or first.group() != want:
                return [f"the question's first coordinates are not the program's {want}"]
    except (KeyError, TypeError, AttributeError) as e:
        return [f"program does not hold a Grounding target ({e!r})"]
    return []


def validate_records(records: Iterable[Mapping[str, Any]]) -> None:
    """Raise DatasetError naming the first bad records (id, city, type, problem)."""
    bad = []
    seen: set[str] = set()
    for r in records:
        problems = record_problems(r)
        if r.get("id") in seen:
            problems.append("id used by an earlier record")
        seen.add(r.get("id"))
        if problems:
            bad.append(f"record {r.get('id')} ({r.get('city')}, {r.get('type')}): {'; '.join(problems)}")
    if bad:
        more = f"\n... and {len(bad) - 10} more" if len(bad) > 10 else ""
        raise DatasetError(f"{len(bad)} record(s) fail mapkit/schemas/record.schema.json:\n" + "\n".join(bad[:10]) + more)



def write_parquet(records: list[Mapping[str, Any]], path: Path) -> None:
    """Fixed schema and row order, no timestamps: the same records give the same bytes."""
    # Column by column: the same table as from_pylist, built in a fraction of the time.
    table = pa.Table.from_pydict({c: [r.get(c) for r in records] for c in COLUMNS}, schema=ARROW_SCHEMA)
    pq.write_table(table, path, compression="zstd", write_statistics=False)


def read_parquet(path: Path) -> list[dict[str, Any]]:
    """The rows of one parquet file as plain dicts; a damaged file is a DatasetError naming it."""
    try:
        return pq.read_table(path).to_pylist()
    except (pa.ArrowException, OSError, ValueError) as e:
        raise DatasetError(f"{path}: not a readable parquet file ({e}); rebuild the folder with `mapkit build`") from None
