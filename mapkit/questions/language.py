"""Questions in the map's language: an annotation whose display names are in one language.

``localize(annotation, "ja")`` returns the annotation with every station's ``name`` taken
from ``names["ja"]`` (the previous name kept under ``names[<old language>]``) and
``language`` set to ``ja``. A build with ``--lang ja`` generates, checks, stores and later
rewards questions against that annotation, so questions, answers, reference routes, the
map drawn from it and the reward's line lists all use the same script. Line names stay
as annotated (the schema has no per-language line names).

    >>> from mapkit.annotation import load
    >>> tokyo = localize(load("annotations/tokyo.json"), "ja")   # doctest: +SKIP
    >>> tokyo.station("shibuya").name                             # doctest: +SKIP
    '渋谷'
"""
from __future__ import annotations

import dataclasses
from types import MappingProxyType

from mapkit.annotation import Annotation
from mapkit.errors import DatasetError


def base_language(tag: str) -> str:
    """``zh-Latn`` -> ``zh``."""
    return tag.split("-")[0].lower()


def localize(annotation: Annotation, language: str) -> Annotation:
    """The annotation with station names in ``language`` (see the module docstring).

    Unchanged when its names already are in that language (``language`` equals the
    annotation's own tag, e.g. ReasonMap's Chinese cities for ``zh``). Raises
    DatasetError naming the stations that have no name in ``language``.
    """
    if annotation.language == language:
        return annotation
    served = {s for line in annotation.lines for s in line.station_ids}
    missing = sorted(s for s in served if not annotation.stations[s].names.get(language))
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise DatasetError(
            f"{annotation.path or annotation.city}: {len(missing)} of {len(served)} stations have no {language} name "
            f"(stations.<id>.names.{language}: {shown}); add them, or build this city without --lang {language}")
    old = annotation.language if base_language(annotation.language) != language else "en"
    stations = {}
    for sid, st in annotation.stations.items():
        native = st.names.get(language)
        if not native:
            stations[sid] = st
            continue
        names = {**st.names}
        names.setdefault(old, st.name)
        stations[sid] = dataclasses.replace(st, name=native, names=MappingProxyType(names))
    return dataclasses.replace(annotation, stations=MappingProxyType(stations), language=language)
