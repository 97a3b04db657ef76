"""One vocabulary: the record types, modes and curricula are defined in mapkit.vocab only,
and the JSON schemas (data, not code) list the same record types."""
from __future__ import annotations

import json
import re
from pathlib import Path

from mapkit import vocab

PACKAGE = Path(vocab.__file__).resolve().parent


def test_no_module_but_vocab_spells_out_the_type_list():
    pattern = re.compile(r"""["']TorF1["']\s*,\s*["']TorF2["']\s*,\s*["']Counting1["']""")
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if p.name != "vocab.py" and pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_schemas_enumerate_the_vocabulary_types():
    for name in ("record.schema.json", "template.schema.json"):
        text = (PACKAGE / "schemas" / name).read_text(encoding="utf-8")
        enums = [e for e in _enums(json.loads(text)) if "planning" in e]  # the full lists, not the per-type rules
        assert enums, name
        for enum in enums:
            assert tuple(enum) == vocab.ALL_TYPES, name


def _enums(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "enum" and isinstance(value, list):
                yield value
            else:
                yield from _enums(value)
    elif isinstance(node, list):
        for value in node:
            yield from _enums(value)


def test_curricula_cover_every_type_once_and_plus_is_every_type_but_planning():
    for name, stages in vocab.CURRICULA.items():
        types = [t for _, ts in stages for t in ts]
        # Grounding types only ever in the perception stage, which every curriculum accepts by name
        perception = [ts for stage, ts in stages if stage == vocab.PERCEPTION_STAGE[0]]
        assert perception in ([], [vocab.GROUNDING_TYPES]), name
        assert sorted(types) == sorted(vocab.RECORD_TYPES + (vocab.GROUNDING_TYPES if perception else ())), name
    assert vocab.ALL_TYPES == vocab.RECORD_TYPES + vocab.GROUNDING_TYPES == vocab.RECORD_TYPES + vocab.FAMILIES["Grounding"]
    assert vocab.PLUS_TYPES == tuple(t for t in vocab.RECORD_TYPES if t != "planning")
    assert set(vocab.REWARD_CITY_WEIGHTS) == set(vocab.ACCURACY_WEIGHTS) == set(vocab.DIFFICULTY_LABELS)
