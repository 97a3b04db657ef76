"""RewardMap rewards: the released reward bit for bit, and a corrected default.

    R = W_difficulty * (R_format + R_correct + alpha * R_detail),   alpha = 0.5

    >>> from mapkit.rewards import load_lines, score           # doctest: +SKIP
    >>> lines = load_lines("out/tokyo/annotations/tokyo.json")  # doctest: +SKIP
    >>> score(completion, record, lines)                        # doctest: +SKIP
    11.0

``score`` / ``breakdown`` take ``mode="paper" | "default"`` and ``weighting=
"difficulty_aware" | "baseline"`` (W = 1); ``mapkit.rewards.trl`` wraps them as TRL
reward functions. Pure Python: no torch anywhere in this package.

Both modes
----------
* R_correct = 10 when right. TorF: yes/no (record answer 1/0). Counting1: letter A-D
  (answer = option index). Counting2/3: the integer. planning: the route is *valid*
  (first departure = station_1, last arrival = station_2, every line exists, both stops
  of every section lie on it, each arrival is the next departure).
* Planning R_detail, only when both endpoints are right: +2; per section +4
  (0-transfer question, the named line holds both endpoints) or +3 (question with
  transfers, known line); +1 per correctly chained transfer (first
  ``question_transfer_count`` sections); -5 per section beyond the allowed count;
  capped at 10.
* W: map easy 1.0 / middle 1.2 / hard 1.5, +0.5 for planning with >= 1 transfer.

mode="paper": the released code's behaviour, quirks included
------------------------------------------------------------
===  ==================================================================================
 #   quirk (where: paper.py unless noted)
===  ==================================================================================
 1   No R_format: an unreadable answer scores 0, a readable wrong one 0 too.
 2   Last box wins: several ``\\boxed{}`` are not a hedge ("\\boxed{no} \\boxed{yes}" is
     "yes"); the box text runs to the LAST "}" of the completion, cut at its first "}".
 3   Without "oxed{" (case-sensitive test), four "the answer is" phrases (and their
     "The" forms) cut the text one after another; "\\BOXED{yes}" still reads "yes".
 4   Extraction lower-cases, deletes "{}" and all spaces ("y e s" is "yes"), keeps what
     follows "=" or "\\approx", deletes "\\text" but not its braces ("\\text{yes}" is
     "{yes}": never right), drops units ("3 km", "3 units", "3^\\circ", "3\\%" are "3"),
     strips trailing "." and a leading ":"; a lone "." becomes the integer 0.
 5   Counting2/3 compare with Python int(): "+3", "03", "3_0" (30), "٣", "３" are
     integers, "3.0" and "3 lines" are not. Counting1 accepts "b" or "B." not "(B)".
 6   Counting1's stop-list detail reward exists but is not applied.
 7   Planning reads the whole completion (no box) split at EVERY "--"; correctness
     needs the three labels in exact case, the detail any case; "Route Name: " and
     "Departure Stop: " need one space and a newline after the value ("Wrong"
     otherwise); the arrival is everything after the section's last "Arrival Stop:",
     so text after the last section, a closing "}" or a via line spoils it (long-form
     answers are never correct).
 8   Names (names.py, paper_clean): substring rules inside words ("Metropolitan" ->
     "politan", "Broadway" -> "bluway"), "Univ." -> "universityersity", Beijing alias
     "Asian Games Village" -> "yayuncun", "(...)" groups dropped, spaces/hyphens
     dropped, lower-cased. Not idempotent, and answer names are cleaned twice while
     map names are cleaned once: "BROADWAY" typed as on the map does not match.
 9   Line names match exactly (case-sensitive); any name containing 八通 is read as
     "Line 1" and 大兴 as "Line 4" (Beijing).
10   Off-by-one: -5 for every section whose 1-based index exceeds
     question_transfer_count, so the last section of every correct route pays it (a
     perfect 0-transfer answer: 2 - 5 + 4 = 1).
11   The +4 tests the question's endpoints, not the section's stops; the detail is
     capped at 10 but not floored (every extra section costs 5 more).
===  ==================================================================================

mode="default": the same design, quirks fixed
---------------------------------------------
* Exactly one non-empty ``\\boxed{}`` holding exactly one admissible answer (yes|no; one
  letter A-D, optionally "(B)" / "B."; one non-negative integer; ``\\text{}`` and ``$``
  wrappers allowed) earns R_format = 1. Several boxes, several options in one box
  ("A or B", "yes/no", "ABCD") or an inadmissible value earn nothing at all; every
  spelling of a box ("\\boxed {x}", "\\BOXED{x}", "\\boxed{}{x}") counts as one. Without a
  box, "the answer is X" may still be right (no R_format) if every such phrase agrees.
* Planning: the one box's content, else the whole completion, read line by line
  (labels in any case, "--" lines or a new Route Name between sections); R_format
  when every section parses (and long forms give their via lines). Names go through
  ``normalize`` once (idempotent: case, accents, spaces, punctuation, "(...)" notes,
  the words station/metro and a trailing 站 ignored); line names compare the same way.
* -5 only for sections beyond question_transfer_count + 1; detail floored at -10.
* Counting1 detail: +0.5 per distinct correct intermediate stop in ``Stops: [...]``,
  -0.5 per wrong or repeated one, within [-10, 10] (so alpha * it < R_correct), only
  next to a well-formed answer.
* Long forms (record ``route_form``, else ``template_id``, else the question's
  instruction; never the completion): + ReasonMap's map-score via credit against the
  best reference route (count: 4 per exact section, partial by relative error, cap
  10; list: (10 * IoU + min(10, matched)) / 2, a rightly empty list matching), for
  sections on the reference's line. Planning detail and via credit share one cap of
  10, so a made-up route with the right endpoints stays far below a valid one.

Grounding1-3 (perception in pixels) are scored by ``mapkit.rewards.grounding``: box IoU
(detail 10 x IoU, right at IoU >= 0.5), a point on the marker, or a name through the
normalisers, in the frame of the image the model saw; paper mode scores them without R_format.

``map_score`` (mapkit.rewards.mapscore) is ReasonMap's evaluation metric of the same
name, computed with this parser: short answers out of 20, long ones out of 40.
"""
from mapkit.rewards.lines import Lines, lines_from_reasonmap, load_lines
from mapkit.rewards.mapscore import MapScore, map_score
from mapkit.rewards.names import normalize, paper_clean
from mapkit.rewards.score import (
    ALPHA,
    MODES,
    TYPES,
    WEIGHTINGS,
    Breakdown,
    breakdown,
    check_record,
    check_records,
    difficulty_weight,
    route_form,
    score,
)
from mapkit.rewards.trl import reward_function, reward_functions

__all__ = [
    "ALPHA", "MODES", "TYPES", "WEIGHTINGS", "Breakdown", "Lines", "MapScore", "breakdown", "check_record", "check_records",
    "difficulty_weight", "lines_from_reasonmap", "load_lines", "map_score", "normalize", "paper_clean", "reward_function", "reward_functions",
    "route_form", "score",
]
