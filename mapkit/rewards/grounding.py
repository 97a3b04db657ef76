"""Rewards of the Grounding questions, in pixels of the image the model saw.

Same shape as the other types: R = W * (R_format + R_correct + alpha * R_detail), W the
map difficulty weight, and exactly one ``\\boxed{}`` holding exactly one admissible
answer (several boxes, two points in one box, "A or B": nothing at all; no phrase
fallback, a Grounding answer must be boxed).

* Grounding1, box target: the answer is ``[x1, y1, x2, y2]`` (brackets or parentheses,
  commas or spaces; x1 < x2, y1 < y2). R_detail = 10 * IoU with the marker box, and
  R_correct = 10 when IoU >= 0.5.
* Grounding1, point target: the answer is ``(x, y)``. R_correct = 10 when it lies on the
  station's marker (the disc of ``radius`` around its point); R_detail = 10 there, else
  10 * max(0, 1 - (d - r) / (4 r)): the distance past the marker in marker radii, zero
  from five radii on.
* Grounding2 / Grounding3: a name; right when ``normalize`` (stations) or ``line_key``
  (lines) of it equals the record's. No detail.

Coordinates are read in the frame the model saw (``mapkit.frames.seen_size``: the
record's ``image_size``, set by ``in_model_frame``, else its own ``frame``), and the
targets are rescaled into it; each axis scales on its own (a non-square resize), so a
point's distance is measured back in the record's frame, where the marker is round.
``mode="paper"``: the released reward has no Grounding questions; they score the same
without R_format. Parsing reads at most ``MAX_ANSWER`` characters of the box, so it is
linear in the completion, and nothing here raises on any string.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from mapkit.errors import RewardError
from mapkit.frames import GROUNDING_TYPES, box_to_frame, frame_size, seen_size, to_frame
from mapkit.rewards.names import line_key, normalize
from mapkit.rewards.parse import find_box, literal_names, strip_wrappers

CORRECT = 10.0
FORMAT = 1.0
IOU_CORRECT = 0.5
FALLOFF = 4.0  # marker radii past the marker at which a point's detail reaches 0
MAX_ANSWER = 200  # a box, a point or a name is short; longer box contents are not answers

_NUM = r"(\d{1,7}(?:\.\d{1,6})?)"
_SEP = r"(?:\s*,\s*|\s+)"
_BOX = re.compile(rf"[\[(]?\s*{_NUM}{_SEP}{_NUM}{_SEP}{_NUM}{_SEP}{_NUM}\s*[\])]?")
_POINT = re.compile(rf"[\[(]?\s*{_NUM}{_SEP}{_NUM}\s*[\])]?")


@lru_cache(maxsize=1 << 14)
def _program(text: str) -> dict[str, Any]:
    return json.loads(text)


def target(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record's drawn target from its program: {"box": [...]}, {"point": [...],
    "radius": r}, or the name to read; RewardError when the record has none."""
    rid = record.get("id", "<no id>")
    kind = record["type"]
    try:
        frame_size(record)
        program = _program(record["program"]) if isinstance(record.get("program"), str) else dict(record["program"])
        result = program["result"]
        if kind == "Grounding1":
            if "box" in result:
                box = [float(v) for v in result["box"]]
                if len(box) != 4 or not (box[0] < box[2] and box[1] < box[3]):
                    raise ValueError(f"box {box}")
                return {"box": box}
            point = [float(v) for v in result["point"]]
            radius = float(result["radius"])
            if len(point) != 2 or not radius > 0:
                raise ValueError(f"point {point} radius {radius}")
            return {"point": point, "radius": radius}
    except Exception as e:  # noqa: BLE001 - any malformed program is one readable error
        raise RewardError(f"record {rid}: {kind} needs frame {{width, height}} and a program with its target "
                          f"(result.box, or result.point and result.radius): {e}") from None
    name = record.get("line") if kind == "Grounding3" else record.get("answer_text")
    if not isinstance(name, str) or not name.strip():
        field = "line" if kind == "Grounding3" else "answer_text"
        raise RewardError(f"record {rid}: {kind} needs {field} as the name to read, got {name!r}")
    return {"name": name}


def check(record: Mapping[str, Any]) -> None:
    target(record)
    try:
        seen_size(record)
    except Exception as e:  # noqa: BLE001
        raise RewardError(str(e)) from None


def _unwrap(content: str) -> str:
    return strip_wrappers(content).rstrip(".").strip()


def read_answer(text: str, shape: str, names: tuple[str, ...] = ()) -> tuple[Any, str]:
    """(answer, reason): a box as 4 floats, a point as 2, a name as a string; None and
    why when there is no single admissible answer. ``shape``: box | point | name.
    ``names`` (``parse.literal_names``) are read as text, so braces in them never end a box."""
    boxes = find_box(text, names)
    if boxes.count == 0:
        return None, "no \\boxed{} answer"
    if boxes.count > 1:
        return None, f"{boxes.count} boxed answers (a hedge earns nothing)"
    if boxes.content is None:
        return None, "unbalanced braces in \\boxed{}"
    if len(boxes.content) > MAX_ANSWER:
        return None, "boxed answer too long to be one answer"
    s = _unwrap(boxes.content)
    if shape == "name":
        return (s, "") if s else (None, "empty answer")
    m = (_BOX if shape == "box" else _POINT).fullmatch(s)
    if m is None:
        return None, f"boxed answer is not one {shape}"
    values = [float(v) for v in m.groups()]
    if shape == "box" and not (values[0] < values[2] and values[1] < values[3]):
        return None, "box corners are not top-left then bottom-right"
    return values, ""


def iou(a: list[float] | tuple[float, ...], b: list[float] | tuple[float, ...]) -> float:
    """Intersection over union of two [x1, y1, x2, y2] boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = w * h if w > 0 and h > 0 else 0.0
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def point_detail(distance: float, radius: float) -> float:
    """R_detail of a point ``distance`` from the marker's centre (radius ``radius``)."""
    if distance <= radius:
        return 10.0
    return 10.0 * max(0.0, 1.0 - (distance - radius) / (FALLOFF * radius))


def grade(text: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """format / correct / detail (before alpha) / parsed / reason / iou of one answer."""
    goal = target(record)
    shape = "box" if "box" in goal else "point" if "point" in goal else "name"
    names = literal_names([record.get("station_1"), record.get("station_2"), record.get("line"), goal.get("name")])
    value, reason = read_answer(text, shape, names)
    out = {"format": 0.0, "correct": 0.0, "detail": 0.0, "parsed": value, "reason": reason, "iou": None}
    if value is None:
        if shape == "box":
            out["iou"] = 0.0
        return out
    out["format"] = FORMAT
    if shape == "name":
        if record["type"] == "Grounding3":
            right = bool(line_key(value)) and line_key(value) == line_key(goal["name"])
        else:
            right = bool(normalize(value)) and normalize(value) == normalize(goal["name"])
        out["correct"] = CORRECT if right else 0.0
        out["reason"] = "" if right else "wrong name"
        return out
    frame, seen = frame_size(record), seen_size(record)
    if shape == "box":
        overlap = iou(value, box_to_frame(goal["box"], frame, seen))
        out.update(iou=overlap, detail=10.0 * overlap, correct=CORRECT if overlap >= IOU_CORRECT else 0.0,
                   reason="" if overlap >= IOU_CORRECT else f"IoU {overlap:.2f} below {IOU_CORRECT}")
        return out
    x, y = to_frame(value, seen, frame)  # back to the record's frame, where the marker is a disc
    d = math.hypot(x - goal["point"][0], y - goal["point"][1])
    inside = d <= goal["radius"]
    out.update(detail=point_detail(d, goal["radius"]), correct=CORRECT if inside else 0.0,
               reason="" if inside else f"point {d / goal['radius']:.1f} marker radii from the station")
    return out


__all__ = ["GROUNDING_TYPES", "check", "grade", "iou", "point_detail", "read_answer", "target"]
