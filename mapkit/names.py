"""Names as data, in one module: display names, city names and ids made from names.

Display names are data: what counts as the same name, and what a name may not hold.

Names end up inside questions, answers and rewards, so they may not carry control
characters (a newline would split a question), and two names that differ only in
Unicode form, case or spacing read as one name to a person: the validator warns about
such twins and the question engine never asks about them.

City names are slugs: this is the one place that says what a city name may be.

A city name becomes a file name (``annotations/<city>.json``, ``out/<city>``,
``maps/<city>.png``), so it must never carry a path: lower-case letters, digits, ``_``
and ``-``, starting with a letter or digit (the annotation schema's ``city`` pattern).
Every command that takes ``--city`` or a new city name checks it here.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from typing import Any

from mapkit.errors import MapkitError, Problem


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


CITY_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]*")


class CityNameError(MapkitError):
    """A city name is not a slug (it could name a path outside the intended folder)."""


def slug_id(text: str, *, keep_case: bool = False, fallback: str = "x") -> str:
    """An id made from free text (a station or line name in a source feed): runs of
    characters other than letters and digits become one '-'; lower case unless asked.

    >>> slug_id("  Shin-Ōsaka (JR) "), slug_id("A Line", keep_case=True), slug_id("!!")
    ('shin-ōsaka-jr', 'A-Line', 'x')
    """
    text = text.strip() if keep_case else text.strip().casefold()
    return re.sub(r"[^\w]+", "-", text).strip("-") or fallback


def check_city(city: str) -> str:
    """``city`` unchanged when it is a slug; CityNameError (exit 1) otherwise."""
    if not isinstance(city, str) or not CITY_SLUG.fullmatch(city):
        raise CityNameError(f"city {city!r} is not a valid name: use lower-case letters, digits, '_' and '-', "
                            "e.g. new_york (a city name is a file name, never a path)")
    return city
