"""Question templates as data: load ``templates/<family>.json`` and check it.

A file is first checked against ``mapkit/schemas/template.schema.json``, then by rules a
schema cannot state (every placeholder is a declared slot, the query exists and fits the
record type, slot types match the query's parameters, ids are unique). A broken template
raises TemplateError naming the file and the template id.

The folder is, in order: the ``directory`` argument, ``$MAPKIT_TEMPLATES``, then
``templates/`` at the repository root (beside the ``mapkit`` package).

Example::

    >>> ts = load_templates()
    >>> [t.id for t in ts.by_type["planning"]]
    ['planning_long_num', 'planning_long_via', 'planning_short']
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

import mapkit
from mapkit.errors import TemplateError
from mapkit.questions.queries import GROUNDING_OPS, QUERIES, TYPE_QUERY

PLACEHOLDER = re.compile(r"\{(\w+)\}")
ENV_VAR = "MAPKIT_TEMPLATES"


@dataclass(frozen=True)
class Template:
    id: str
    type: str
    family: str
    file: str
    slots: Mapping[str, str]  # placeholder -> slot type
    paraphrases: tuple[str, ...]
    instruction: str  # answer-format text appended to every question
    answer_format: str
    op: str
    args: Mapping[str, str]  # query parameter -> slot name
    route_form: str | None = None  # planning only: short | long_num | long_via
    coords: str | None = None  # Grounding only: box | point, the coordinates shown or asked for

    def render(self, paraphrase: int, values: Mapping[str, str]) -> str:
        """Question text: the paraphrase with its slots filled, then the instruction."""
        text = PLACEHOLDER.sub(lambda m: values[m.group(1)], self.paraphrases[paraphrase])
        return f"{text}\n{self.instruction}"


@dataclass(frozen=True)
class TemplateSet:
    directory: Path
    by_type: Mapping[str, tuple[Template, ...]]  # sorted by id
    hashes: Mapping[str, str]  # file name -> sha256 of its bytes (for the manifest)

    def for_type(self, record_type: str) -> tuple[Template, ...]:
        found = self.by_type.get(record_type, ())
        if not found:
            raise TemplateError(f"{self.directory}: no template produces type {record_type!r}; add one to a templates/*.json file")
        return found


def templates_dir(directory: str | Path | None = None) -> Path:
    if directory is not None:
        return Path(directory)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    return Path(mapkit.__file__).resolve().parents[1] / "templates"


def _read_template_file(file: Path) -> bytes:
    if not file.is_file():
        raise TemplateError(f"{file}: named like a template file but is not a regular file (a folder?); "
                            "rename or move it out of the templates folder")
    try:
        return file.read_bytes()
    except OSError as e:
        raise TemplateError(f"{file}: cannot be read ({e.strerror}); check its permissions") from None


def template_languages(directory: str | Path | None = None) -> list[str]:
    """Languages with templates: en (the folder itself) and every ``<folder>/<language>/``."""
    folder = templates_dir(directory)
    return ["en"] + sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.json"))) if folder.is_dir() else ["en"]


def load_templates(directory: str | Path | None = None, language: str = "en") -> TemplateSet:
    """Load and check every ``*.json`` template file of the folder; a ``language`` other
    than en reads ``<folder>/<language>/`` (same template ids, questions in that language)."""
    base = templates_dir(directory)
    folder = base if language == "en" else base / language
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files and language != "en":
        raise TemplateError(f"{folder}: no {language} templates; languages with templates: "
                            f"{', '.join(template_languages(base))} (add {folder}/<family>.json to ask in {language})")
    if not files:
        raise TemplateError(f"{folder}: no template files found (expected templates/<family>.json); "
                            f"pass --templates DIR or set {ENV_VAR}")
    by_type: dict[str, list[Template]] = {}
    seen: dict[str, str] = {}
    hashes = {}
    for file in files:
        raw = _read_template_file(file)
        hashes[file.name] = hashlib.sha256(raw).hexdigest()
        for template in _parse_file(raw, file.name, language):
            if template.id in seen:
                raise TemplateError(f"{file.name}: template {template.id!r}: id already used in {seen[template.id]}")
            seen[template.id] = file.name
            by_type.setdefault(template.type, []).append(template)
    return TemplateSet(folder, {t: tuple(sorted(ts, key=lambda x: x.id)) for t, ts in by_type.items()}, hashes)


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(resources.files("mapkit.schemas").joinpath("template.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _parse_file(raw: bytes, name: str, language: str = "en") -> list[Template]:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TemplateError(f"{name}: not valid UTF-8 JSON ({e})") from None
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        e = errors[0]
        path = list(e.absolute_path)
        where = "(top level)"
        if len(path) >= 2 and path[0] == "templates" and isinstance(path[1], int):
            tid = data["templates"][path[1]].get("id", f"#{path[1]}") if isinstance(data["templates"][path[1]], dict) else f"#{path[1]}"
            where = f"template {tid!r}"
        field = ".".join(map(str, path[2:] if where != "(top level)" else path)) or "(whole)"
        raise TemplateError(f"{name}: {where}: {field}: {e.message} (see mapkit/schemas/template.schema.json)")
    if data.get("language", "en") != language:
        raise TemplateError(f"{name}: says language {data.get('language', 'en')!r} but sits in the {language} folder; "
                            "move it or fix its `language`")
    return [_check(t, data, name) for t in data["templates"]]


def _check(t: dict[str, Any], data: dict[str, Any], name: str) -> Template:
    def fail(message: str) -> TemplateError:
        return TemplateError(f"{name}: template {t['id']!r}: {message}")

    if t["answer_format"] not in data["instructions"]:
        raise fail(f"answer_format {t['answer_format']!r} is not one of the file's instructions ({', '.join(data['instructions'])})")
    expected_op = TYPE_QUERY[t["type"]]
    op = t["query"]["op"]
    if op != expected_op:
        raise fail(f"type {t['type']} is answered by query {expected_op!r}, not {op!r}")
    params = GROUNDING_OPS[op] if op in GROUNDING_OPS else {k: (v,) for k, v in QUERIES[op].params.items()}
    args = t["query"]["args"]
    if set(args) != set(params):
        raise fail(f"query {op!r} takes arguments {sorted(params)}, the template gives {sorted(args)}")
    slots = t["slots"]
    for param, slot in args.items():
        if slot not in slots:
            raise fail(f"query argument {param!r} is shown by slot {slot!r}, which is not declared in slots")
        if slots[slot] not in params[param]:
            raise fail(f"slot {slot!r} is a {slots[slot]} but query argument {param!r} needs a {' or '.join(params[param])}")
    coords = t.get("coords")
    if (coords is None) != (op not in GROUNDING_OPS):
        raise fail("a Grounding template needs coords (box or point), and only a Grounding template has it")
    shown = [kind for kind in slots.values() if kind in ("point", "box")]
    if op in GROUNDING_OPS and op != "locate_station" and shown != [coords]:
        raise fail(f"coords is {coords!r} but the question shows {shown or 'no coordinates'}; show exactly one {coords} slot")
    if op == "locate_station" and shown:
        raise fail("a locate_station question names the station and shows no coordinates")
    wants_options = t["type"] == "Counting1"
    has_options = [s for s, kind in slots.items() if kind == "options"]
    if wants_options and len(has_options) != 1:
        raise fail("a Counting1 template needs exactly one slot of type options")
    if not wants_options and has_options:
        raise fail(f"slot type options is for Counting1 only, not {t['type']}")
    for i, text in enumerate(t["paraphrases"]):
        used = PLACEHOLDER.findall(text)
        unknown = sorted(set(used) - set(slots))
        if unknown:
            raise fail(f"paraphrases[{i}] uses undeclared slot(s) {unknown}; declare them in slots")
        missing = sorted(set(slots) - set(used))
        if missing:
            raise fail(f"paraphrases[{i}] does not show slot(s) {missing}; every paraphrase must ask the same question")
    return Template(
        id=t["id"], type=t["type"], family=data["family"], file=name, slots=dict(slots),
        paraphrases=tuple(t["paraphrases"]), instruction=data["instructions"][t["answer_format"]],
        answer_format=t["answer_format"], op=op, args=dict(args), route_form=t.get("route_form"), coords=coords,
    )
