"""Pixel frames: the coordinates a Grounding question is written in, and the one the
model actually sees.

A Grounding record's coordinates (in its question, ``answer_text`` and ``program``) are
pixels of its map image as stored (``figure``), whose size the record keeps in
``frame`` = ``{"width": W, "height": H}``. Qwen2.5-VL reads and writes *absolute* pixel
coordinates of the image after its processor resized it (``smart_resize``: both sides
multiples of 28, the pixel count within [min_pixels, max_pixels], aspect kept), so the
prompt must show, and the reward must expect, coordinates in that resized frame.

``in_model_frame(record, (w, h))`` returns the record as the model sees it: the
question's coordinates rescaled and ``image_size`` set to ``[w, h]``; the reward reads
``image_size`` (default: the record's own frame) and rescales its targets the same way.
Torch-free: the data half, the rewards and the trainer all use it.

    >>> smart_resize(4000, 4029, max_pixels=112 * 112)  # floor keeps it under budget: 3 x 28 by 4 x 28
    (84, 112)
    >>> to_frame((2000, 1000), (4000, 2000), (1400, 700))
    (700.0, 350.0)
"""
from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from mapkit.errors import MapkitError
from mapkit.vocab import GROUNDING_TYPES

FACTOR = 28  # Qwen2.5-VL: 14 px patches merged 2 x 2
MIN_PIXELS = 56 * 56
MAX_PIXELS = 28 * 28 * 16384


def smart_resize(width: int, height: int, factor: int = FACTOR, min_pixels: int = MIN_PIXELS,
                 max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """(width, height) of the image the model sees: Qwen2.5-VL's ``smart_resize`` (sides
    rounded to multiples of ``factor``, then scaled down to ``max_pixels`` or up to
    ``min_pixels`` with the aspect kept), never a side below ``factor``."""
    if width < 1 or height < 1:
        raise MapkitError(f"an image of {width}x{height} pixels has no frame")
    w = max(factor, round(width / factor) * factor)
    h = max(factor, round(height / factor) * factor)
    if w * h > max_pixels:
        beta = math.sqrt(width * height / max_pixels)
        w = max(factor, math.floor(width / beta / factor) * factor)
        h = max(factor, math.floor(height / beta / factor) * factor)
    elif w * h < min_pixels:
        beta = math.sqrt(min_pixels / (width * height))
        w = math.ceil(width * beta / factor) * factor
        h = math.ceil(height * beta / factor) * factor
    return w, h


def frame_size(record: Mapping[str, Any]) -> tuple[int, int]:
    """(W, H) of the record's own frame; MapkitError when it has none."""
    frame = record.get("frame")
    try:
        w, h = int(frame["width"]), int(frame["height"])
    except (TypeError, KeyError, ValueError):
        raise MapkitError(f"record {record.get('id', '<no id>')}: no pixel frame (a Grounding record needs "
                          "frame = {width, height}); rebuild the dataset") from None
    if w < 1 or h < 1:
        raise MapkitError(f"record {record.get('id', '<no id>')}: frame {w}x{h} is empty")
    return w, h


def seen_size(record: Mapping[str, Any]) -> tuple[int, int]:
    """(w, h) the model saw: ``image_size`` when the record went through
    ``in_model_frame``, else the record's own frame."""
    size = record.get("image_size")
    if size is None:
        return frame_size(record)
    try:
        w, h = (int(v) for v in size)
    except (TypeError, ValueError):
        raise MapkitError(f"record {record.get('id', '<no id>')}: image_size {size!r} is not [width, height]") from None
    if w < 1 or h < 1:
        raise MapkitError(f"record {record.get('id', '<no id>')}: image_size {w}x{h} is empty")
    return w, h


def to_frame(point: Sequence[float], src: Sequence[int], dst: Sequence[int]) -> tuple[float, float]:
    """A point from frame ``src`` (W, H) to frame ``dst`` (w, h): each axis scales on its own."""
    return point[0] * dst[0] / src[0], point[1] * dst[1] / src[1]


def box_to_frame(box: Sequence[float], src: Sequence[int], dst: Sequence[int]) -> tuple[float, float, float, float]:
    x1, y1 = to_frame(box[:2], src, dst)
    x2, y2 = to_frame(box[2:], src, dst)
    return x1, y1, x2, y2


def fmt_point(point: Sequence[float]) -> str:
    """Coordinates as the questions write them: whole pixels, ``(x, y)``."""
    return f"({round(point[0])}, {round(point[1])})"


def fmt_box(box: Sequence[float]) -> str:
    return f"[{', '.join(str(round(v)) for v in box)}]"


# what fmt_point / fmt_box write: the text in_model_frame rewrites
SHOWN = re.compile(r"\((\d+), (\d+)\)|\[(\d+), (\d+), (\d+), (\d+)\]")


def answer_in_frame(record: Mapping[str, Any]) -> str:
    """A Grounding record's answer text in the frame it is seen at (``seen_size``): a
    located box or point rescaled from its program; a name as it is."""
    if record.get("type") != "Grounding1":
        return str(record["answer_text"])
    import json

    result = json.loads(record["program"])["result"]
    src, dst = frame_size(record), seen_size(record)
    if "box" in result:
        return fmt_box(box_to_frame(result["box"], src, dst))
    return fmt_point(to_frame(result["point"], src, dst))


def in_model_frame(record: Mapping[str, Any], size: Sequence[int]) -> dict[str, Any]:
    """The record as a model sees it at image size ``size`` = (w, h): the coordinates
    shown in the question rescaled from the record's frame, ``image_size`` set so the
    reward rescales its targets the same way. Other records come back unchanged (a copy).

    The question shows at most one point or box (the one in ``program.args``), written
    by ``fmt_point`` / ``fmt_box``; that exact text is what is replaced.
    """
    out = dict(record)
    if record.get("type") not in GROUNDING_TYPES:
        return out
    src = frame_size(record)
    dst = (int(size[0]), int(size[1]))
    question = str(record["question"])

    def scale(m: re.Match) -> str:
        if m.group(1) is not None:
            return fmt_point(to_frame((int(m.group(1)), int(m.group(2))), src, dst))
        return fmt_box(box_to_frame([int(m.group(k)) for k in range(3, 7)], src, dst))

    # Only the first paragraph holds the question's own coordinates; the instruction
    # after it gives the answer format with placeholders, never numbers.
    head, sep, tail = question.partition("\n")
    if record["type"] != "Grounding1":  # Grounding1 names a station and shows no coordinates
        out["question"] = SHOWN.sub(scale, head, count=1) + sep + tail
    out["image_size"] = [dst[0], dst[1]]
    return out
