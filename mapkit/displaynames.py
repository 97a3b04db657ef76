"""Display names are data: what counts as the same name, and what a name may not hold.

Names end up inside questions, answers and rewards, so they may not carry control
characters (a newline would split a question), and two names that differ only in
Unicode form, case or spacing read as one name to a person: the validator warns about
such twins and the question engine never asks about them.
"""
from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from mapkit.errors import Problem


def name_key(name: str) -> str:
    """What two display names must share to read as the same name: NFC, runs of
    whitespace as one space, case folded. "Café" typed in NFC and NFD, "Shin  juku" and
    "shinjuku " are twins; the validator warns about them and questions avoid them."""
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold()


def control_characters(text: str) -> list[str]:
    """Control, line and paragraph separator characters in ``text`` (as U+XXXX)."""
    return sorted({f"U+{ord(c):04X}" for c in text if unicodedata.category(c) in ("Cc", "Zl", "Zp")})


def control_problems(data: dict[str, Any], source: str) -> Iterator[Problem]:
    """Names are data that ends up inside questions and answers: no control characters."""
    fields = [(f"stations.{sid}.name", st["name"]) for sid, st in data["stations"].items()]
    fields += [(f"stations.{sid}.names.{lang}", v) for sid, st in data["stations"].items() for lang, v in st.get("names", {}).items()]
    fields += [(f"lines[{i}].name", line["name"]) for i, line in enumerate(data["lines"])]
    fields += [(f"lines[{i}].code", line["code"]) for i, line in enumerate(data["lines"]) if isinstance(line.get("code"), str)]
    fields += [(f"lines[{i}].id", line["id"]) for i, line in enumerate(data["lines"])]
    for where, text in fields:
        bad = control_characters(text)
        if bad:
            yield Problem(source, where, f"{text!r} contains control character(s) {', '.join(bad)}",
                          "remove line breaks, tabs and other control characters from names")
