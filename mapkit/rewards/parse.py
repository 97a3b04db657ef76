"""Default-mode parsing: one boxed answer, admissible values, route sections, stop lists.

Everything is a single left-to-right scan with ``str`` methods or regular expressions
without nested quantifiers, so the cost is linear in the completion's length whatever
it contains. Nothing here raises on any string.
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# --------------------------------------------------------------------------- text


def as_text(completion: Any) -> str:
    """A completion as one string: a plain string, or chat messages (TRL's
    conversational format: ``[{"role": "assistant", "content": ...}]``, where content
    is a string or a list of ``{"type": "text", "text": ...}`` parts)."""
    if isinstance(completion, str):
        return completion
    if completion is None:
        return ""
    if isinstance(completion, (bytes, bytearray)):
        return bytes(completion).decode("utf-8", "replace")
    if isinstance(completion, Mapping):
        if "content" in completion:
            return as_text(completion["content"])
        return as_text(completion.get("text", ""))
    if isinstance(completion, (list, tuple)):
        return "\n".join(as_text(part) for part in completion)
    return str(completion)


# --------------------------------------------------------------------------- boxes

_BRACE = re.compile(r"[{}]")


def _matching_brace(text: str, start: int) -> int:
    """Index of the "}" closing a "{" that ends just before ``start``; -1 if unbalanced."""
    depth = 1
    for m in _BRACE.finditer(text, start):
        depth += 1 if m.group() == "{" else -1
        if depth == 0:
            return m.start()
    return -1


@dataclass(frozen=True)
class Boxes:
    count: int  # answer boxes (an empty "\boxed{}" is a format echo, not an answer)
    content: str | None  # the one box's content, when count == 1 and its braces balance


# Any spelling a reader would take for a box counts, so a hedge cannot hide a second
# answer behind "\boxed {no}" or "\BOXED{no}". Linear: no nested quantifiers.
_BOX_OPEN = re.compile(r"\\boxed\s*\{", re.IGNORECASE)
_EMPTY_THEN_GROUP = re.compile(r"\}\s*\{")


_SYNTAX = re.compile(r"[{}\\]")


def literal_names(names: Iterable[Any]) -> tuple[str, ...]:
    """The names among ``names`` that contain box syntax (``{``, ``}``, a backslash),
    longest first: what ``find_box`` must read as plain text."""
    found = {n for n in names if isinstance(n, str) and n and _SYNTAX.search(n)}
    return tuple(sorted(found, key=lambda n: (-len(n), n)))


def _mask(text: str, names: tuple[str, ...]) -> str:
    # Same length, no braces: box positions found in the masked text are valid in the
    # original, whose content (names included) is then read unchanged.
    for name in names:
        if name in text:
            text = text.replace(name, "_" * len(name))
    return text


def find_box(text: str, names: tuple[str, ...] = ()) -> Boxes:
    r"""Count the answer boxes and read the content of the only one.

    "\boxed{}" alone echoes the format and is not counted; "\boxed{}{X}" puts its
    answer in the group after the empty braces, so it counts (as X). Every spelling
    counts towards the number of boxes, but only "\boxed{" is read. Braces are matched
    by depth, and occurrences of ``names`` (station and line names of the map, from
    ``literal_names``) are plain text: a "}" or "\boxed{" inside a name neither ends
    nor opens a box.
    """
    scan = _mask(text, names) if names else text
    count, start, exact = 0, -1, False
    for m in _BOX_OPEN.finditer(scan):
        at = m.end()
        if scan.startswith("}", at):
            group = _EMPTY_THEN_GROUP.match(scan, at)
            if group is None:
                continue  # an empty echo of the format
            at = group.end()
        count += 1
        start, exact = at, m.group() == "\\boxed{"
    if count != 1 or not exact:  # a lone misspelt box still blocks a hedge but earns nothing
        return Boxes(count, None)
    end = _matching_brace(scan, start)
    return Boxes(1, text[start:end] if end != -1 else None)


# --------------------------------------------------------------------------- choices

# LaTeX wrappers a model may put around a plain answer: \text{yes}, \mathrm{B}, ...
_WRAPPER = re.compile(r"\\(?:text|textbf|textrm|textsf|texttt|mathrm|mathbf|mathsf|mbox|bf)\s*\{(.*)\}", re.DOTALL)
_YES_NO = {"yes": "yes", "no": "no"}
_LETTER = re.compile(r"\(?([A-Da-d])\)?\.?")
_INTEGER = re.compile(r"[0-9]+", re.ASCII)

KINDS = {"TorF1": "yesno", "TorF2": "yesno", "Counting1": "letter", "Counting2": "integer", "Counting3": "integer"}


def strip_wrappers(content: str) -> str:
    """``content`` NFKC-normalised without the LaTeX wrappers and math dollars a model may
    put around a plain answer (at most a few nested ones, so the work stays linear)."""
    s = unicodedata.normalize("NFKC", content).strip()
    for _ in range(3):
        m = _WRAPPER.fullmatch(s)
        if m:
            s = m.group(1).strip()
        elif len(s) >= 2 and s[0] == "$" and s[-1] == "$":
            s = s.strip("$").strip()
        else:
            break
    return s


def admissible(content: str, kind: str) -> str | None:
    """The one admissible answer in ``content`` in canonical form ("yes"/"no", "A".."D",
    digits without leading zeros), or None when it is anything else: several options
    ("A or B", "yes/no", "ABCD"), a sentence, a negative or non-integer number."""
    s = strip_wrappers(content)
    s = s.rstrip(".").strip() if kind != "letter" else s
    if kind == "yesno":
        return _YES_NO.get(s.casefold())
    if kind == "letter":
        m = _LETTER.fullmatch(s)
        return m.group(1).upper() if m else None
    if kind == "integer":
        return (s.lstrip("0") or "0") if _INTEGER.fullmatch(s) else None
    return None


# "the answer is X" fallbacks (no box): every occurrence is read, and they must agree.
# Case-insensitive regexes cannot use the engine's fast literal scan, so the scan looks
# for "answer is" / "answer should be" with character classes (fast) and checks the
# words before it by hand.
_ANSWER = re.compile(r"[Aa][Nn][Ss][Ww][Ee][Rr] (?:[Ii][Ss]|[Ss][Hh][Oo][Uu][Ll][Dd] [Bb][Ee])")
_LEADS = ("the ", "the final ", "the correct ")


def phrase_answers(text: str, kind: str) -> list[str | None]:
    """The answer after each "the (final|correct) answer is|should be" phrase (to the
    end of its line or sentence), admissible or None."""
    out = []
    for m in _ANSWER.finditer(text):
        before = text[max(0, m.start() - 13):m.start()].lower()
        if not any(before.endswith(lead) and not before[:-len(lead)][-1:].isalnum() for lead in _LEADS):
            continue  # "breathe answer is" is not a phrase
        rest = text[m.end():m.end() + 200]  # an answer is a word; never read further
        rest = rest.partition("\n")[0].partition(". ")[0].strip().lstrip(":").strip()
        out.append(admissible(rest, kind))
    return out


# --------------------------------------------------------------------------- routes

# A label is found from its colon: the fast charset scan finds colons, then the label
# regex is tried on the few characters before each one (anchored at the colon).
_COLON = re.compile(r"[:：]")
_LABEL_AT_COLON = re.compile(r"(?<!\w)(route\s*name|departure\s*stop|arrival\s*stop|number\s*of\s*via\s*stops|via\s*stops)\s*[:：]\Z",
                             re.IGNORECASE)
_LABEL_WINDOW = 48
_SEPARATOR = re.compile(r"-{2,}|—+|–{2,}")
_LIST_SPLIT = re.compile(r"\s*[,，、;；]\s*")
_CANON = {"routename": "route", "departurestop": "departure", "arrivalstop": "arrival",
          "numberofviastops": "via_count", "viastops": "via_stops"}
_NONE_WORDS = frozenset({"", "none", "n/a", "na", "-", "nil", "无", "0"})


@dataclass
class Section:
    route: str | None = None
    departure: str | None = None
    arrival: str | None = None
    via_count: int | None = None
    via_stops: tuple[str, ...] | None = None
    problems: list[str] = field(default_factory=list)

    def add(self, key: str, value: str) -> None:
        if getattr(self, key) is not None:
            self.problems.append(f"{key} given twice")
        elif key == "via_count":
            digits = value.rstrip(".").strip()
            if _INTEGER.fullmatch(digits):
                self.via_count = int(digits) if len(digits) <= 18 else 10**18  # int() of a huge string is slow
            else:
                self.problems.append(f"number of via stops {value[:40]!r} is not a number")
        elif key == "via_stops":
            items = [v.strip().strip(".") for v in _LIST_SPLIT.split(value.strip("[]() "))]
            self.via_stops = tuple(v for v in items if v.casefold() not in _NONE_WORDS)
        else:
            setattr(self, key, value)

    @property
    def complete(self) -> bool:
        return bool(self.route and self.departure and self.arrival) and not self.problems

    def as_dict(self) -> dict[str, Any]:
        d = {"route_name": self.route, "departure_stop": self.departure, "arrival_stop": self.arrival}
        if self.via_count is not None:
            d["num_via_stops"] = self.via_count
        if self.via_stops is not None:
            d["via_stops"] = list(self.via_stops)
        return d


def parse_route(text: str) -> list[Section]:
    """Sections of a route answer, read line by line.

    A section is the labelled values ``Route Name`` / ``Departure Stop`` / ``Arrival
    Stop`` (+ ``Number of Via Stops`` or ``Via Stops``): labels in any case, anywhere
    in a line (a value runs to the end of the line or to the next label), markdown
    bold ignored; sections are separated by a line of dashes, or start at a new
    ``Route Name``. Text without labels (reasoning, remarks) is ignored. A label given
    twice within one section, or a via count that is not a number, is recorded in
    ``problems``.
    """
    sections: list[Section] = []
    current: Section | None = None
    for raw in text.splitlines():
        line = raw.replace("*", "").strip()
        if not line:
            continue
        if _SEPARATOR.fullmatch(line):
            current = None
            continue
        labels = []
        for colon in _COLON.finditer(line):
            m = _LABEL_AT_COLON.search(line, max(0, colon.start() - _LABEL_WINDOW), colon.end())
            if m is not None:
                labels.append(m)
        for n, m in enumerate(labels):
            end = labels[n + 1].start() if n + 1 < len(labels) else len(line)
            key = _CANON[re.sub(r"\s+", "", m.group(1)).lower()]
            value = line[m.end():end].strip().rstrip(",;|").strip()
            if current is None or (key == "route" and current.route is not None):
                current = Section()
                sections.append(current)
            current.add(key, value)
    return sections


# --------------------------------------------------------------------------- stop lists

_COLON_BRACKET = re.compile(r"[:：]\s*\[")
_BRACKET = re.compile(r"[\[\]]")
_LIST_TOKEN = re.compile(r"[(),，、;；（）]")


def stops_list(text: str) -> list[str]:
    """Names in the first ``Stops: [a, b, ...]`` of the completion (Counting1).

    "Stops" in any case, spaces allowed around the colon. Items are split at commas
    outside parentheses; "and " before the last item and "..." placeholders are
    dropped. No list, or an unclosed one, gives [].
    """
    start = -1
    for m in _COLON_BRACKET.finditer(text):  # fast scan for ":[" then look back for "stops"
        if text[max(0, m.start() - 32):m.start()].rstrip()[-5:].lower() == "stops":
            start = m.end()
            break
    if start == -1:
        return []
    depth, end = 1, -1
    for b in _BRACKET.finditer(text, start):
        depth += 1 if b.group() == "[" else -1
        if depth == 0:
            end = b.start()
            break
    if end == -1:
        return []
    inner = text[start:end]
    items, start, paren = [], 0, 0
    for t in _LIST_TOKEN.finditer(inner):
        ch = t.group()
        if ch in "(（":
            paren += 1
        elif ch in ")）":
            paren = max(paren - 1, 0)
        elif paren == 0:
            items.append(inner[start:t.start()])
            start = t.end()
    items.append(inner[start:])
    out = []
    for item in items:
        item = item.strip().strip(".;").strip()
        if item[:4].casefold() == "and ":
            item = item[4:].strip()
        if item and item not in ("...", "…"):
            out.append(item)
    return out
