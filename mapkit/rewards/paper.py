"""The released RewardMap reward, reproduced behaviour for behaviour (mode="paper").

Everything here mirrors what the released code computes, quirks included; each quirk
is named in a comment where it happens and listed in the package docstring. What is
not mirrored is its running time: the released regular expressions backtrack
quadratically on adversarial text (thousands of ``\\boxed{``, unclosed parentheses,
repeated labels without a newline), so each is replaced by a linear scan with the same
result.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from mapkit.rewards.names import paper_clean

# --------------------------------------------------------------------------- answers

# Fallback phrases when the completion has no "oxed{", tried in this order, each first
# as written and then with every "the" capitalised.
_PHRASES = ("the final answer is", "the answer is", "the correct answer is", "the answer should be")

# Rewrites the released find_math_answer applies after cutting out the box, in order.
_MATH_REPLACEMENTS = (
    (" ", ""), ("\\,", ""), ("∞", "\\infty"), ("+\\infty", "\\infty"), ("\\\\", "\\"), ("\n", ""),
    ("\\text", ""), ("\\mbox", ""), ("bmatrix", "pmatrix"), ("\\left", ""), ("\\right", ""),
    ("^{\\circ}", ""), ("^\\circ", ""), ("{m}^3", ""), ("m^3", ""),
    ("{units}", ""), ("units", ""), ("{km}", ""), ("km", ""),
)
# ... and then its _strip_string, before the "\\text{ " cut.
_STRIP_REPLACEMENTS = (
    ("\n", ""), ("\\!", ""), ("\\\\", "\\"), ("tfrac", "frac"), ("dfrac", "frac"),
    ("\\left", ""), ("\\right", ""), ("^{\\circ}", ""), ("^\\circ", ""), ("\\$", ""), ("$", ""),
)


def paper_answer(response: str) -> str:
    """The answer string the released code compares, for TorF and Counting questions."""
    text = response
    # Quirk: the box test is case-sensitive here ("\\BOXED{" does not count) but the
    # later extraction lower-cases first, so "\\BOXED{yes}" still yields "yes".
    if "oxed{" not in text:
        for phrase in _PHRASES:
            for flag in (phrase, phrase.replace("the", "The")):
                found = flag in text
                # Quirk: every pass strips the text even when the phrase is absent, and
                # the phrases chain: each cuts what the previous one left.
                text = text.rpartition(flag)[2].strip()
                if found:
                    text = text.partition("\n")[0].partition(". ")[0]
    elif text.count("oxed{") > 1:
        # Quirk: several boxes are not a hedge; the last one wins ("\\boxed{no} ...
        # \\boxed{yes}" is read as "yes").
        text = "\\boxed{" + text.rpartition("oxed{")[2]
    return _find_math_answer(text).rstrip(".").lstrip(":").strip()


def _find_math_answer(s: str) -> str:
    s = s.lower()
    if "{}" in s:
        s = s.replace("{}", "")  # an empty box vanishes before the box is looked for
    # The released regex 'oxed{(.*)}' (DOTALL, greedy) captures from the FIRST "oxed{"
    # to the LAST "}" of the whole text, provided that "}" comes after it; otherwise
    # the whole text is the answer. (Quirk: text after the box is kept when it holds a
    # brace, e.g. "\\boxed{a} or {b}" gives "a} or {b" before the next cut.)
    start, end = s.find("oxed{"), s.rfind("}")
    ans = s[start + 5:end] if start != -1 and end >= start + 5 else s
    close = ans.find("}")
    if close != -1:
        opener = ans.find("{")
        if opener == -1 or close < opener:
            ans = ans[:close]
    ans = ans.rpartition("=")[2]  # "x = 3" -> "3"
    ans = ans.rpartition("\\approx")[2]
    # Quirk: spaces are removed everywhere, so "y e s" reads as "yes", and "\\text" is
    # removed but not its braces, so "\\text{yes}" reads as "{yes}" and is never right.
    # Units go too: "3 units", "3 km", "3^\\circ" read as "3".
    for old, new in _MATH_REPLACEMENTS:
        ans = ans.replace(old, new)
    return _strip_string(ans)


def _strip_string(s: str) -> str:
    for old, new in _STRIP_REPLACEMENTS:
        s = s.replace(old, new)
    s = s.partition("\\text{ ")[0]
    s = s.replace("\\%", "")  # "3\\%" -> "3" (the released code repeats this no-op)
    s = s.replace(" .", " 0.").replace("{.", "{0.")
    if not s:
        return s
    if s[0] == ".":
        # Quirk: a lone "." becomes "0." and, after the final rstrip('.'), the integer 0.
        s = "0" + s
    if s.count("=") == 1:
        s = s.partition("=")[2]
    if s.count("\\approx") == 1:
        s = s.partition("\\approx")[2]
    if "sqrt" in s:
        s = _fix_sqrt(s)
    s = s.replace(" ", "")
    if "sqrt" in s:
        s = _fix_fracs(s)  # quirk: fractions are only repaired when a sqrt is present
    if s == "0.5":
        s = "\\frac{1}{2}"
    return _fix_a_slash_b(s)
    # (None of the last four rewrites can move a string into or out of the admissible
    # answers; they are kept so that the parsed answer logged is the released one too.)


def _fix_sqrt(s: str) -> str:
    head, *rest = s.split("\\sqrt")
    out = [head]
    for piece in rest:
        out.append("\\sqrt{" + piece[0] + "}" + piece[1:] if piece and piece[0] != "{" else "\\sqrt" + piece)
    return "".join(out)


def _fix_fracs(s: str) -> str:
    head, *rest = s.split("\\frac")
    out = [head]
    for piece in rest:
        out.append("\\frac")
        if piece and piece[0] == "{":
            out.append(piece)
        elif len(piece) < 2:
            return s  # released behaviour: give up and return the input unchanged
        elif piece[1] != "{":
            out.append("{" + piece[0] + "}{" + piece[1] + "}" + piece[2:])
        else:
            out.append("{" + piece[0] + "}" + piece[1:])
    return "".join(out)


def _fix_a_slash_b(s: str) -> str:
    parts = s.split("/")
    if len(parts) != 2:
        return s
    try:
        a, b = int(parts[0]), int(parts[1])
    except ValueError:
        return s
    return f"\\frac{{{a}}}{{{b}}}" if s == f"{a}/{b}" else s


def paper_choice_correct(kind: str, parsed: str, truth: int) -> bool:
    """The released comparison for TorF1/TorF2 ("TorF"), Counting1, Counting2/3."""
    if kind == "TorF":
        return parsed.lower() == ("yes" if truth == 1 else "no")  # any truth other than 1 means "no"
    if kind == "Counting1":
        letter = parsed.lower()
        return len(letter) == 1 and letter in "abcd" and "abcd".index(letter) == truth
    # Counting2/3. Quirk: Python's int() decides, so "+3", "03", "3_0" (= 30) and
    # non-ASCII digits ("٣", "３") are integers, "3.0" is not.
    try:
        return int(parsed) == truth
    except ValueError:
        return False


# --------------------------------------------------------------------------- planning

_LABELS = ("Route Name:", "Departure Stop:", "Arrival Stop:")
_LABELS_LOWER = tuple(label.lower() for label in _LABELS)


@dataclass(frozen=True)
class PaperSection:
    route: str  # stripped text after "Route Name: " up to the newline, or "Wrong"
    departure: str  # paper_clean of the text after "Departure Stop: ", or "Wrong"
    arrival: str  # paper_clean of everything after the last "Arrival Stop:" in the section
    strict: bool  # all three labels present with their exact capitalisation


def _value_to_newline(section: str, label: str) -> str | None:
    # Same as re.search(label + "(.*?)\n", section).group(1): the first occurrence of
    # the label, up to the first newline after it; no newline after it -> no match.
    start = section.find(label)
    if start == -1:
        return None
    start += len(label)
    end = section.find("\n", start)
    return None if end == -1 else section[start:end]


def paper_sections(text: str) -> list[PaperSection]:
    """Route sections as the released code reads them (the whole completion, no box).

    Quirks: sections are split at every "--" anywhere in the text (a "---" rule or
    "A--B" in the reasoning splits too); the correctness check keeps only sections with
    the three labels in exact case, the detail reward any case; the values of Route
    Name and Departure Stop need exactly one space after the colon and a newline after
    the value; the Arrival Stop value runs to the end of the section, so text after the
    last section (a closing "}" of a box, a "Number of Via Stops:" line, any remark)
    becomes part of the last arrival station.
    """
    out = []
    for section in text.split("--"):
        if not section.strip():
            continue
        lowered = section.lower()
        if any(label not in lowered for label in _LABELS_LOWER):
            continue
        route = _value_to_newline(section, "Route Name: ")
        departure = _value_to_newline(section, "Departure Stop: ")
        out.append(PaperSection(
            route=route.strip() if route is not None else "Wrong",
            departure=paper_clean(departure) if departure is not None else "Wrong",
            arrival=paper_clean(section.rpartition("Arrival Stop:")[2].strip()),
            strict=all(label in section for label in _LABELS),
        ))
    return out


def route_alias(name: str) -> str:
    # Beijing-specific aliases of the released code: the Batong line is looked up as
    # Line 1 and the Daxing line as Line 4.
    if "八通" in name:
        name = "Line 1"
    if "大兴" in name:
        name = "Line 4"
    return name


def paper_route_correct(sections: Sequence[PaperSection], station_sets: Mapping[str, frozenset[str]],
                        station_1: str, station_2: str) -> bool:
    """Route validity as released: endpoints, known lines, stops on them, chained.

    ``station_sets`` maps each line name to the paper_clean of its stations. Quirk:
    answer-side names are cleaned twice (once when read, once when compared) and
    map/record names once; as clean_string is not idempotent, a station such as
    "BROADWAY" typed exactly as on the map does not match ("broadway" vs "bluway").
    """
    route = [s for s in sections if s.strict]
    if not route:
        return False
    if paper_clean(route[0].departure) != paper_clean(station_1) or paper_clean(route[-1].arrival) != paper_clean(station_2):
        return False
    for i, section in enumerate(route):
        stations = station_sets.get(route_alias(section.route))  # quirk: exact, case-sensitive line names
        departure, arrival = paper_clean(section.departure), paper_clean(section.arrival)
        if stations is None or departure not in stations or arrival not in stations:
            return False
        if i < len(route) - 1 and arrival != paper_clean(route[i + 1].departure):
            return False
    return True


def paper_planning_detail(sections: Sequence[PaperSection], station_sets: Mapping[str, frozenset[str]],
                          station_1: str, station_2: str, transfers: int) -> float:
    """The released planning detail reward R_detail (before alpha), quirks included."""
    if not sections:
        return 0.0
    s1, s2 = paper_clean(station_1), paper_clean(station_2)
    if paper_clean(sections[0].departure) != s1 or paper_clean(sections[-1].arrival) != s2:
        return 0.0
    score = 2.0  # endpoints right; everything below is only reached then
    for i, section in enumerate(sections):
        if i + 1 > transfers:
            # Quirk (the off-by-one): a route with `transfers` transfers has
            # transfers + 1 sections, so its last section always pays -5 here; a
            # perfect 0-transfer answer scores 2 - 5 + 4 = 1.
            score -= 5
        stations = station_sets.get(route_alias(section.route))
        if stations is None:
            continue
        if transfers == 0:
            # +4 when the named line holds both endpoints of the QUESTION (not this
            # section's own stops).
            if s1 in stations and s2 in stations:
                score += 4
        else:
            score += 3  # any known line name
        departure, arrival = paper_clean(section.departure), paper_clean(section.arrival)
        if departure in stations and arrival in stations and i < len(sections) - 1:
            if arrival == paper_clean(sections[i + 1].departure) and i + 1 <= transfers:
                score += 1  # a correctly chained transfer, counted for the first `transfers` sections only
    # Quirk: capped at 10 but not floored; every extra section costs 5 more.
    return min(score, 10.0)
