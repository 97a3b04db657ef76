"""Licence ids for dataset cards: an annotation's free-text licence as a Hub licence id.

The Hub's ``license`` metadata takes short ids (``mit``, ``cc-by-4.0``, ...) or a list of
them; ``other`` needs a ``license_name`` slug and a ``license_link``. Annotations state
their licence in words, usually starting with the id and going on to say what it covers.

    >>> hub_license("CC0-1.0 for this compilation, written by mapkit contributors")
    'cc0-1.0'
    >>> license_metadata({"tokyo": {"license": "CC0-1.0"}, "beijing": {"license": "MIT, Copyright ..."}})
    {'license': ['cc0-1.0', 'mit']}
"""
from __future__ import annotations

import re
from typing import Any

HUB_LICENSES = {
    "apache-2.0", "mit", "afl-3.0", "artistic-2.0", "bsl-1.0", "bsd", "bsd-2-clause", "bsd-3-clause", "cc",
    "cc0-1.0", "cc-by-2.0", "cc-by-2.5", "cc-by-3.0", "cc-by-4.0", "cc-by-sa-3.0", "cc-by-sa-4.0", "cc-by-nc-2.0",
    "cc-by-nc-3.0", "cc-by-nc-4.0", "cc-by-nd-4.0", "cc-by-nc-nd-3.0", "cc-by-nc-nd-4.0", "cc-by-nc-sa-2.0",
    "cc-by-nc-sa-3.0", "cc-by-nc-sa-4.0", "cdla-sharing-1.0", "cdla-permissive-1.0", "cdla-permissive-2.0",
    "wtfpl", "ecl-2.0", "epl-1.0", "epl-2.0", "etalab-2.0", "eupl-1.1", "eupl-1.2", "agpl-3.0", "gfdl", "gpl",
    "gpl-2.0", "gpl-3.0", "lgpl", "lgpl-2.1", "lgpl-3.0", "isc", "mpl-2.0", "odc-by", "odbl", "pddl",
    "unlicense", "zlib", "ofl-1.1", "unknown", "other",
}
_LICENSE_ALIASES = {"odbl-1.0": "odbl", "odc-by-1.0": "odc-by", "pddl-1.0": "pddl", "cc0": "cc0-1.0",
                    "public-domain": "cc0-1.0", "apache": "apache-2.0"}


def hub_license(text: str | None) -> str:
    """A free-text licence as a Hub licence id, else "other".

    The id may be the whole text ("CC BY-SA 4.0" -> "cc-by-sa-4.0") or lead it, as in
    annotations that go on to say what it covers ("MIT, Copyright (c) ...",
    "CC0-1.0 for this compilation ...").
    """
    if not text:
        return "unknown"
    text = str(text).strip()
    head = re.split(r"[,;(]|\s+(?:for|by|from|applies|covers|-)\s+", text, maxsplit=1)[0]
    for candidate in (text, head):
        key = re.sub(r"[\s_]+", "-", candidate.strip().lower())
        key = _LICENSE_ALIASES.get(key, key)
        if key in HUB_LICENSES and key not in ("other", "unknown"):
            return key
    return "other"


LICENSE_LINK = "README.md#licence"  # for `license: other`: the card's section that gives each source's terms


def license_metadata(annotations: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The card's licence fields: one Hub id, or the list of ids when the cities' sources
    differ; ``other`` (with ``license_name`` and ``license_link``) only for a licence
    that has no Hub id."""
    ids = sorted({hub_license(a.get("license")) for a in annotations.values()} or {"unknown"})
    if "other" not in ids:
        return {"license": ids[0] if len(ids) == 1 else ids}
    return {"license": ids if len(ids) > 1 else "other", "license_name": "per-source-see-card", "license_link": LICENSE_LINK}
