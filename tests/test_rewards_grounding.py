"""Grounding rewards: IoU and point scores hand-checked, the resized frame, names, hedges,
and fuzzed completions that never raise."""
from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mapkit.errors import RewardError
from mapkit.rewards import MODES, breakdown, check_record, score
from mapkit.rewards.grounding import iou, point_detail

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def rec(kind="Grounding1", result=None, **extra):
    base = {"id": f"g-{kind}", "type": kind, "answer": -1, "station_1": "Ueno", "station_2": None, "line": None,
            "difficulty_city": "middle", "question_transfer_count": 0, "answer_text": "Ueno",
            "frame": {"width": 400, "height": 300}}
    program = {"op": "locate_station", "args": {"station": "ueno"}, "result": result or {"box": [10, 20, 30, 40]}}
    if kind == "Grounding3":
        base.update(station_1=None, line="Ginza Line", answer_text="Ginza Line")
        program = {"op": "identify_line", "args": {"point": [5, 5]}, "result": "G"}
    elif kind == "Grounding2":
        program = {"op": "read_label", "args": {"point": [20, 30]}, "result": "ueno"}
    base["program"] = json.dumps(program)
    base.update(extra)
    return base


# ----------------------------------------------------------------------------- boxes

def test_iou_hand_worked():
    assert iou([10, 20, 30, 40], [10, 20, 30, 40]) == 1.0
    assert iou([10, 20, 30, 40], [20, 30, 40, 50]) == pytest.approx(100 / 700)  # 10x10 over 400 + 400 - 100
    assert iou([10, 20, 30, 40], [15, 20, 35, 40]) == pytest.approx(300 / 500)  # 15x20 over 400 + 400 - 300
    assert iou([10, 20, 30, 40], [30, 20, 50, 40]) == 0.0  # touching edges share no area
    assert iou([0, 0, 10, 10], [2, 2, 4, 4]) == pytest.approx(4 / 100)  # inside: its own area over the big one


def test_box_reward_hand_worked():
    r = rec()
    exact = breakdown("The marker is here: \\boxed{[10, 20, 30, 40]}", r)
    assert (exact.correct, exact.detail, exact.format, exact.iou) == (10.0, 10.0, 1.0, 1.0)
    assert exact.reward == pytest.approx(1.2 * (1 + 10 + 0.5 * 10))  # middle map: W = 1.2
    shifted = breakdown("\\boxed{[15, 20, 35, 40]}", r)  # IoU 0.6: right, detail 6
    assert shifted.correct == 10.0 and shifted.iou == pytest.approx(0.6)
    assert shifted.reward == pytest.approx(1.2 * (1 + 10 + 0.5 * 6))
    off = breakdown("\\boxed{(20, 30, 40, 50)}", r)  # IoU 1/7 < 0.5: wrong, detail 10/7
    assert off.correct == 0.0 and off.detail == pytest.approx(10 / 7)
    assert off.reward == pytest.approx(1.2 * (1 + 0.5 * 10 / 7))
    assert breakdown("\\boxed{10 20 30 40}", r).iou == 1.0  # spaces instead of commas
    assert score("\\boxed{[15, 20, 35, 40]}", r, mode="paper") == pytest.approx(1.2 * (10 + 0.5 * 6))  # no R_format
    assert breakdown("\\boxed{[15, 20, 35, 40]}", r, detail=False).reward == pytest.approx(1.2 * 11)


@pytest.mark.parametrize("text", [
    "\\boxed{[10, 20, 30, 40]} \\boxed{[50, 60, 70, 80]}",  # two boxes
    "\\boxed{[10, 20, 30, 40], [50, 60, 70, 80]}",  # two boxes in one
    "\\boxed{[10, 20, 30, 40] or [12, 20, 30, 40]}",
    "\\boxed{[0, 0, 400, 300]} \\BOXED{[10, 20, 30, 40]}",  # the whole image, hedged behind a spelling
    "\\boxed{[30, 40, 10, 20]}",  # corners swapped
    "\\boxed{[10, 20, 30]}",
    "[10, 20, 30, 40]",  # not boxed
    "\\boxed{(20, 30)}",  # a point for a box
    "\\boxed{[-10, 20, 30, 40]}",
])
def test_box_hedges_and_malformed_answers_earn_nothing(text):
    parts = breakdown(text, rec())
    assert parts.reward == 0.0 and parts.iou == 0.0


# ----------------------------------------------------------------------------- the model's frame

def test_box_is_scored_in_the_resized_frame_non_square():
    # frame 400 x 300 seen at 280 x 112: x scales by 0.7, y by 0.3733
    r = rec(image_size=[280, 112])
    target = [10 * 0.7, 20 * 112 / 300, 30 * 0.7, 40 * 112 / 300]  # [7, 7.47, 21, 14.93]
    assert breakdown(f"\\boxed{{[{target[0]}, {target[1]:.4f}, {target[2]}, {target[3]:.4f}]}}", r).iou == pytest.approx(1.0, abs=1e-4)
    assert breakdown("\\boxed{[10, 20, 30, 40]}", r).correct == 0.0  # original-frame numbers are wrong for this model
    # IoU does not care about the anisotropy: half the target's width, shifted, in both frames
    same = breakdown("\\boxed{[14, 7.4667, 28, 14.9333]}", r).iou
    assert same == pytest.approx(iou([10, 20, 30, 40], [20, 20, 40, 40]), abs=1e-3)


def test_point_is_scored_in_the_resized_frame_non_square():
    r = rec(result={"point": [200, 150], "radius": 10}, image_size=[280, 112])
    centre = breakdown("\\boxed{(140, 56)}", r)  # (200 * 0.7, 150 * 0.3733)
    assert (centre.correct, centre.detail, centre.format) == (10.0, 10.0, 1.0) and centre.iou is None
    # 30 px to the right in the original frame = 21 px here; 3 radii: detail 10 * (1 - 2/4) = 5
    right = breakdown("\\boxed{(161, 56)}", r)
    assert right.correct == 0.0 and right.detail == pytest.approx(5.0)
    # 30 px down in the original frame = 11.2 px here: the same distance, the same score
    down = breakdown("\\boxed{(140, 67.2)}", r)
    assert down.detail == pytest.approx(5.0)
    assert breakdown("\\boxed{(140, 56)}", rec(result={"point": [200, 150], "radius": 10})).correct == 0.0  # unscaled frame


def test_point_detail_hand_worked():
    assert point_detail(0, 5) == point_detail(5, 5) == 10.0  # on the marker
    assert point_detail(10, 5) == pytest.approx(7.5)  # one radius past it: 1 - 1/4
    assert point_detail(25, 5) == 0.0 and point_detail(100, 5) == 0.0  # five radii and beyond


# ----------------------------------------------------------------------------- names

def test_label_and_line_names_use_the_normalisers():
    assert breakdown("\\boxed{UENO station}", rec("Grounding2")).correct == 10.0
    assert breakdown("\\boxed{\\text{Ueno}}", rec("Grounding2")).format == 1.0
    assert breakdown("\\boxed{Ueno or Asakusa}", rec("Grounding2")).correct == 0.0
    assert breakdown("\\boxed{Ueno} \\boxed{Asakusa}", rec("Grounding2")).reward == 0.0
    assert breakdown("\\boxed{ginza-line}", rec("Grounding3")).correct == 10.0
    assert breakdown("\\boxed{Ginza Line / Hibiya Line}", rec("Grounding3")).correct == 0.0
    wrong = breakdown("\\boxed{Hibiya Line}", rec("Grounding3"))
    assert wrong.format == 1.0 and wrong.correct == 0.0 and wrong.detail == 0.0


def test_bad_grounding_records_fail_loudly():
    with pytest.raises(RewardError, match="frame"):
        check_record({**rec(), "frame": None})
    with pytest.raises(RewardError, match="target"):
        check_record(rec(result={"box": [30, 20, 10, 40]}))
    with pytest.raises(RewardError, match="image_size"):
        check_record(rec(image_size=[0, 10]))
    with pytest.raises(RewardError, match="line"):
        check_record({**rec("Grounding3"), "line": None})


# ----------------------------------------------------------------------------- fuzz

KINDS = ["Grounding1", "Grounding1p", "Grounding2", "Grounding3"]
FRAGMENTS = ["\\boxed{", "\\BOXED{", "{", "}", "[", "]", "(", ")", ",", " ", "10", "20.5", "-3", "1e9", "9" * 40, ".",
             "Ueno", "Ginza Line", "\\text{", "$", "or", "\n", "\x00", "\ud800", "３", "٣", "ﬁ", "nan", "inf"]
texts = st.one_of(st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=5)), max_size=40).map("".join),
                  st.text(max_size=300))


def _record(kind):
    if kind == "Grounding1p":
        return rec(result={"point": [200, 150], "radius": 7.5}, image_size=[280, 112])
    return rec(kind)


@SETTINGS
@given(text=texts, kind=st.sampled_from(KINDS), mode=st.sampled_from(MODES))
def test_fuzzed_completions_never_raise(text, kind, mode):
    parts = breakdown(text, _record(kind), mode=mode)
    assert math.isfinite(parts.reward) and 0.0 <= parts.reward <= 1.2 * (1 + 10 + 0.5 * 10)
    if parts.iou is not None:
        assert 0.0 <= parts.iou <= 1.0


@pytest.mark.parametrize("text", [
    "\\boxed{" * 50_000, "[" * 200_000, "\\boxed{" + "1, " * 100_000 + "}", "\\boxed{" + " " * 200_000 + "1}",
    "\\boxed{[" + "9" * 200_000 + ", 1, 2, 3]}", "(" * 100_000 + ")" * 100_000,
])
def test_adversarial_completions_score_finite(text):
    for kind in KINDS:
        for mode in MODES:
            assert math.isfinite(score(text, _record(kind), mode=mode))


def test_trl_reward_function_rescales_grounding_rows_to_the_processor_frame(tmp_path):
    from mapkit.rewards import reward_function

    row = rec(frame={"width": 4000, "height": 2000},
              program=json.dumps({"op": "locate_station", "args": {"station": "u"}, "result": {"box": [1000, 500, 1400, 900]}}))
    columns = {k: [v] for k, v in row.items()}
    answer = ["\\boxed{[315, 154, 441, 277.2]}"]  # the box in the 1260 x 616 image smart_resize makes at 28*28*1024 pixels
    fn = reward_function(root=tmp_path, max_pixels=28 * 28 * 1024)
    assert fn(completions=answer, **columns) == [pytest.approx(1.2 * (1 + 10 + 0.5 * 10))]
    assert reward_function(root=tmp_path)(completions=answer, **columns) == [pytest.approx(1.2 * 1)]  # read in the 4000 x 2000 frame
    assert fn(completions=answer, **{**columns, "image_size": [[4000, 2000]]}) == [pytest.approx(1.2)]  # a row's own size wins
