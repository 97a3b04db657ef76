"""`--scorer reasonmap-plus`: main_plus.py's extraction (E1-E8 in mapkit/evaluation/plus.py)
and verdict per type, each worked out by hand from the released script."""
from __future__ import annotations

import pytest

from mapkit.evaluation.plus import score_choice
from mapkit.evaluation.scorers import AnswerCut, Scorer


def rec(kind, answer):
    return {"id": "q", "type": kind, "answer": answer}


@pytest.mark.parametrize("text,parsed", [
    ("I looked at it. I think the answer is yes. Because both lines stop there.", "yes"),  # E1: up to ". "
    ("The answer is No\nsince line 2 ...", "no"),  # E1: "The" form, up to the newline
    ("the final answer is B. the answer is C", "b"),  # E1: phrases chain; the first cut leaves "B"
    ("no phrase at all: yes", "nophraseatall:yes"),  # E1: no phrase: the whole text, spaces gone (E5)
])
def test_e1_phrases_without_a_box(text, parsed):
    assert score_choice(text, rec("TorF1", 1))[1] == parsed


def test_e2_last_box_wins():
    assert score_choice("\\boxed{no} hmm, rather \\boxed{yes}", rec("TorF1", 1)) == (True, "yes")


def test_e3_case_and_the_box_span():
    # "oxed{" is looked for case-sensitively, but the text is lower-cased before extraction
    assert score_choice("\\BOXED{Yes}", rec("TorF2", 1)) == (True, "yes")
    # the box runs to the LAST "}" and is cut at a "}" that no "{" precedes
    assert score_choice("\\boxed{3} lines {in total}", rec("Counting2", 3)) == (True, "3")
    assert score_choice("\\boxed{a} or {b}", rec("Counting1", 0))[1] == "a"


def test_e4_after_equals():
    assert score_choice("\\boxed{x = 3}", rec("Counting2", 3)) == (True, "3")


def test_e5_spaces_text_and_units():
    assert score_choice("\\boxed{y e s}", rec("TorF1", 1)) == (True, "yes")
    assert score_choice("\\boxed{\\text{yes}}", rec("TorF1", 1)) == (False, "{yes}")  # \text goes, its braces stay
    assert score_choice("\\boxed{3 km}", rec("Counting3", 3)) == (True, "3")
    assert score_choice("\\boxed{$4$}", rec("Counting3", 4)) == (True, "4")


def test_e6_trailing_dot_leading_colon():
    assert score_choice("\\boxed{: yes.}", rec("TorF1", 1)) == (True, "yes")


@pytest.mark.parametrize("kind,text,truth,correct", [
    ("TorF1", "\\boxed{no}", 0, True), ("TorF2", "\\boxed{no}", 5, True),  # anything but 1 means "no"
    ("Counting1", "\\boxed{B}", 1, True), ("Counting1", "\\boxed{(B)}", 1, False), ("Counting1", "\\boxed{B. 4 stops}", 1, False),
    ("Counting2", "\\boxed{3_0}", 30, True), ("Counting2", "\\boxed{+3}", 3, True), ("Counting2", "\\boxed{٣}", 3, True),
    ("Counting2", "\\boxed{3.0}", 3, False), ("Counting3", "\\boxed{3 lines}", 3, False),
])
def test_e7_verdicts(kind, text, truth, correct):
    assert score_choice(text, rec(kind, truth))[0] is correct


def test_e8_text_after_the_reasoning_trace():
    text = "<think>\\boxed{yes}</think> so the answer is no"
    assert Scorer("reasonmap-plus").score(rec("TorF1", 0), text, None)["correct"] is True
    assert Scorer("reasonmap-plus", cut=AnswerCut.from_options(full_text=True)).score(rec("TorF1", 0), text, None)["parsed"] == "yes"
    kimi = "◁think▷\\boxed{yes}◁/think▷\\boxed{no}"
    assert Scorer("reasonmap-plus").score(rec("TorF1", 0), kimi, None)["parsed"] == "no"
    custom = Scorer("reasonmap-plus", cut=AnswerCut.from_options(answer_after="FINAL:"))
    assert custom.score(rec("Counting2", 2), "draft \\boxed{7} FINAL: \\boxed{2}", None)["correct"] is True
