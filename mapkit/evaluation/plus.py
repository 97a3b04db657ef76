"""The released ReasonMap-Plus evaluation (``main_plus.py``) for TorF1/2 and Counting1/2/3.

Extraction, in the released order (rules E1-E8 pinned by hand-worked tests in
tests/test_scoring_plus.py; the code is ``mapkit.rewards.paper.paper_answer``, which the
RewardMap reward shares with this script):

E1  Without "oxed{" (case-sensitive) the phrases "the final answer is", "the answer
    is", "the correct answer is", "the answer should be", each as written and then with
    "The", cut the text one after another: keep what follows the last occurrence,
    stripped, and when the phrase was there, only up to the first newline and the
    first ". ".
E2  With several "oxed{" the last box wins ("\\boxed{no} ... \\boxed{yes}" is "yes").
E3  The answer is lower-cased, "{}" deleted, then the box runs from the first
    "oxed{" to the LAST "}" of the text, cut at its first "}" when no "{" precedes it.
E4  What follows "=" or "\\approx" is kept ("x = 3" is "3").
E5  All spaces go ("y e s" is "yes"); "\\text" goes but not its braces
    ("\\text{yes}" is "{yes}", never right); units "km", "units", "m^3", degrees,
    "\\%" and "$" go.
E6  A trailing "." and a leading ":" are stripped (": yes." is "yes").
E7  Verdict: TorF compares with "yes" (answer 1) / "no" (anything else); Counting1
    needs exactly one of a, b, c, d (its index is the answer); Counting2/3 use
    Python's int(): "+3", "03", "3_0" (30) and non-ASCII digits count, "3.0" does not.
E8  The text graded is the final answer (after the last "</think>" / "◁/think▷" by
    default, see ``mapkit.evaluation.answer``).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mapkit.rewards.paper import paper_answer, paper_choice_correct
from mapkit.vocab import PLUS_TYPES  # noqa: F401  (the types this scorer covers)


def score_choice(answer: str, record: Mapping[str, Any]) -> tuple[bool, str]:
    """(correct, parsed answer) as main_plus.py computes them for one question."""
    kind = record["type"]
    parsed = paper_answer(answer)
    family = "TorF" if "TorF" in kind else ("Counting1" if kind == "Counting1" else "Counting")
    return paper_choice_correct(family, parsed, int(record["answer"])), parsed
