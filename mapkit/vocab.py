"""The project's vocabulary: every name that more than one stage uses, defined once.

Record types, their families and the ReasonMap-Plus subset; difficulty labels and the two
weight tables built on them; reward modes and weightings; the curricula. The data half,
the rewards, the trainer and the evaluation all import these; none re-types them.

    >>> PLUS_TYPES
    ('TorF1', 'TorF2', 'Counting1', 'Counting2', 'Counting3')
    >>> [name for name, _ in CURRICULA["rewardmap"]]
    ['torf', 'counting23', 'counting1', 'planning']
"""
from __future__ import annotations

# Record types in the order tables and cards list them (ReasonMap-Plus's five, then
# ReasonMap's route planning).
RECORD_TYPES: tuple[str, ...] = ("TorF1", "TorF2", "Counting1", "Counting2", "Counting3", "planning")
PLUS_TYPES: tuple[str, ...] = ("TorF1", "TorF2", "Counting1", "Counting2", "Counting3")
# Perception questions answered in pixels of the map image (mapkit.questions.grounding):
# built only when named, trained in their own stage ahead of the others.
GROUNDING_TYPES: tuple[str, ...] = ("Grounding1", "Grounding2", "Grounding3")
ALL_TYPES: tuple[str, ...] = RECORD_TYPES + GROUNDING_TYPES
FAMILIES: dict[str, tuple[str, ...]] = {
    "TorF": ("TorF1", "TorF2"),
    "Counting": ("Counting1", "Counting2", "Counting3"),
    "planning": ("planning",),
    "Grounding": GROUNDING_TYPES,
}

DIFFICULTY_LABELS: tuple[str, ...] = ("easy", "middle", "hard")  # "middle", not "medium": ReasonMap's spelling
# RewardMap's difficulty-aware reward weight by map difficulty (planning with a transfer adds 0.5).
REWARD_CITY_WEIGHTS: dict[str, float] = {"easy": 1.0, "middle": 1.2, "hard": 1.5}
# ReasonMap-Plus weighted accuracy: sum(w * correct) / sum(w) with w by map difficulty.
ACCURACY_WEIGHTS: dict[str, float] = {"easy": 1.0, "middle": 1.5, "hard": 2.0}

REWARD_MODES: tuple[str, ...] = ("paper", "default")  # as released, quirks included / quirks fixed
WEIGHTINGS: tuple[str, ...] = ("difficulty_aware", "baseline")

# Curriculum name -> stages, each (stage name, record types shuffled together), run in order.
# Every curriculum accepts the perception stage by name (`--stages perception,1,2,3,4`),
# always first; the perception curriculum has it built in.
PERCEPTION_STAGE: tuple[str, tuple[str, ...]] = ("perception", GROUNDING_TYPES)
CURRICULA: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    # released order: TorF1+TorF2 -> Counting2+Counting3 -> Counting1 -> planning
    "rewardmap": (("torf", ("TorF1", "TorF2")), ("counting23", ("Counting2", "Counting3")),
                  ("counting1", ("Counting1",)), ("planning", ("planning",))),
    "coarse": (("plus", PLUS_TYPES), ("planning", ("planning",))),
    "fine": tuple((t.lower(), (t,)) for t in ("TorF1", "TorF2", "Counting3", "Counting2", "Counting1", "planning")),
    "shuffled": (("all", RECORD_TYPES),),  # the SFT->RL-style baseline: everything shuffled together
    "perception": (PERCEPTION_STAGE, ("torf", ("TorF1", "TorF2")), ("counting23", ("Counting2", "Counting3")),
                   ("counting1", ("Counting1",)), ("planning", ("planning",))),
    # every type, run as easy -> middle -> hard maps by difficulty_city (train.curriculum.MAP_LEVELS)
    "map": (("maps", RECORD_TYPES),),
}
