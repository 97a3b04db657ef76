"""`mapkit new`: start an annotation file for a city, ready for stations and lines.

The scaffold has every required field, the image block (path relative to the file,
size and sha256 read from the image) and empty ``stations``/``lines``; it validates as
soon as lines and their stations are added. Fields only a person can fill in
(country, licence, source) say so in their value.

Example::

    >>> scaffold("oslo", image="maps/oslo.png", out="annotations/oslo.json")   # doctest: +SKIP
    PosixPath('annotations/oslo.json')
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from mapkit.errors import MapkitError
from mapkit.files import atomic_write, sha256_file
from mapkit.names import check_city
from mapkit.render.images import image_size

TODO = "TODO"


def scaffold_dict(city: str, *, image: str | Path | None = None, out: str | Path, country: str | None = None,
                  name: str | None = None, language: str = "en", license: str | None = None,
                  source: str | None = None) -> dict[str, Any]:
    """The scaffold as a dict (what ``scaffold`` writes)."""
    check_city(city)
    if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z]{2,4})?", language):
        raise MapkitError(f"language {language!r} is not a language tag such as en, zh or ja")
    data: dict[str, Any] = {
        "schema_version": 1,
        "city": city,
        "country": country or f"{TODO}: country",
        "name": name or f"{city.replace('_', ' ').replace('-', ' ').title()} transit map",
        "language": language,
        "license": license or f"{TODO}: licence of the map and of this annotation",
        "source": source or f"{TODO}: where the map comes from (URL)",
        "notes": ["scaffolded by `mapkit new`: add stations (with xy on the map image) and lines, "
                  "then check with `mapkit validate` and `mapkit preview`"],
    }
    if image is not None:
        image = Path(image)
        if not image.is_file():
            raise MapkitError(f"map image {str(image)!r} not found")
        width, height = image_size(image)
        rel = os.path.relpath(image.resolve(), Path(out).resolve().parent)
        data["image"] = {"file": Path(rel).as_posix(), "width": int(width), "height": int(height), "sha256": sha256_file(image)}
    data["stations"] = {}
    data["lines"] = []
    return data


def load_scaffold(path: str | Path):
    """The Annotation of a file ``mapkit new`` wrote and nobody filled in yet (no stations,
    no lines), which ``mapkit.annotation.load`` refuses, so ``mapkit preview`` can draw the
    bare map; None for any other file (``load`` it and report its problems)."""
    from mapkit.annotation import _build, loads
    from mapkit.errors import AnnotationError

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("stations") != {} or data.get("lines") != []:
        return None
    try:
        return loads(data, source=str(path), path=path)
    except AnnotationError as e:
        if all(p.path in ("stations", "lines") for p in e.problems):  # only "empty": the rest is sound
            return _build(data, path, ())
    return None


def scaffold(city: str, *, out: str | Path, image: str | Path | None = None, force: bool = False, **fields: Any) -> Path:
    """Write the scaffold to ``out``; refuses to overwrite an existing file unless ``force``."""
    out = Path(out)
    if out.exists() and not force:
        raise MapkitError(f"{out} already exists; pass --force to overwrite it, or choose another --out")
    data = scaffold_dict(city, image=image, out=out, **fields)
    out.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(out, (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
