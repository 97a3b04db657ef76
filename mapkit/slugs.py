"""City names are slugs: the one place that says what a city name may be.

A city name becomes a file name (``annotations/<city>.json``, ``out/<city>``,
``maps/<city>.png``), so it must never carry a path: lower-case letters, digits, ``_``
and ``-``, starting with a letter or digit (the annotation schema's ``city`` pattern).
Every command that takes ``--city`` or a new city name checks it here.
"""
from __future__ import annotations

import re

from mapkit.errors import MapkitError

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
