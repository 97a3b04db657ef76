"""What a generated city should look like: ranges for its size, and difficulty presets.

A map's difficulty (``mapkit.difficulty.MAP_THRESHOLDS``) is a function of its line and
transfer counts, so asking for a difficulty is asking for ranges of those two; the
presets below are chosen inside the thresholds' buckets, and a config checks that
explicit ranges can all be met together.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from mapkit.difficulty import LABELS, MAP_THRESHOLDS, map_difficulty
from mapkit.errors import GenerateError
from mapkit.generate.names import LANGUAGES

Range = tuple[int, int]

# lines, transfers, stations per difficulty: every (lines, transfers) pair inside a
# preset's ranges gets that preset's label from map_difficulty.
_E_LINES, _M_LINES = MAP_THRESHOLDS["line_count"]
_E_TRANSFERS, _M_TRANSFERS = MAP_THRESHOLDS["transfer_count"]
PRESETS: dict[str, dict[str, Range]] = {
    "easy": {"lines": (2, _E_LINES), "transfers": (1, _E_TRANSFERS), "stations": (20, 55)},
    "middle": {"lines": (_E_LINES + 1, _M_LINES), "transfers": (_E_TRANSFERS + 1, _M_TRANSFERS), "stations": (60, 140)},
    "hard": {"lines": (_M_LINES + 1, _M_LINES + 3), "transfers": (_M_TRANSFERS + 1, _M_TRANSFERS + 25), "stations": (150, 230)},
}
DIFFICULTIES = (*LABELS, "ladder", "any")


def parse_range(text: str | None, option: str) -> Range | None:
    """``"4-9"`` -> (4, 9), ``"6"`` -> (6, 6); None stays None."""
    if text is None:
        return None
    parts = text.replace(" ", "").split("-")
    try:
        lo, hi = (int(parts[0]), int(parts[-1])) if len(parts) in (1, 2) else (None, None)
    except ValueError:
        lo = hi = None
    if lo is None or hi is None or lo < 0 or hi < lo:
        raise GenerateError(f"{option} {text!r}: write a range as A-B with 0 <= A <= B (e.g. 4-9), or one number")
    return lo, hi


@dataclass(frozen=True)
class CityConfig:
    """Ranges one city must land in (inclusive), its structure and its language."""

    lines: Range = (3, 8)
    stations: Range = (30, 120)
    transfers: Range = (2, 30)
    loops: int = 0
    branches: int = 0
    language: str = "en"

    def check(self) -> "CityConfig":
        if self.language not in LANGUAGES:
            raise GenerateError(f"--lang {self.language!r} has no name generator; choose from {', '.join(LANGUAGES)}")
        if self.lines[0] < 1:
            raise GenerateError("--lines: a city needs at least one line")
        if self.lines[0] < 2 and self.transfers[1] > 0 and self.transfers[0] > 0:
            raise GenerateError("--transfers above 0 needs at least two lines (--lines 2-...)")
        if self.loops < 0 or self.branches < 0:
            raise GenerateError("--loops and --branches count lines, so they are 0 or more")
        if self.loops + self.branches > self.lines[1]:
            raise GenerateError(f"--loops {self.loops} plus --branches {self.branches} is more than the "
                                f"{self.lines[1]} lines asked for; raise --lines or lower them")
        if self.stations[1] < 4 * self.lines[0]:
            raise GenerateError(f"--stations {self.stations[0]}-{self.stations[1]} is too few for {self.lines[0]} "
                                f"lines (each needs about 4); raise --stations or lower --lines")
        # Two lines cross at most a few times and each interchange takes a station from each.
        pairs = self.lines[1] * (self.lines[1] - 1) // 2
        if self.transfers[0] > 3 * pairs + self.lines[1]:
            raise GenerateError(f"--transfers {self.transfers[0]}-{self.transfers[1]} cannot be reached with at most "
                                f"{self.lines[1]} lines; raise --lines or lower --transfers")
        if self.transfers[0] * 2 > self.stations[1]:
            raise GenerateError(f"--transfers from {self.transfers[0]} needs more than {self.stations[1]} stations; "
                                "raise --stations")
        return self

    def difficulties(self) -> set[str]:
        """Map difficulties a city inside these ranges can get (both ends of each range)."""
        return {map_difficulty(n, t) for n in self.lines for t in self.transfers}


def plan(count: int, *, difficulty: str = "any", lines: Range | None = None, stations: Range | None = None,
         transfers: Range | None = None, loops: int | None = None, branches: int | None = None,
         language: str = "en") -> list[CityConfig]:
    """One checked CityConfig per city: a preset by ``difficulty`` (``ladder`` goes easy ->
    middle -> hard in equal thirds over the cities), overridden by explicit ranges."""
    if count < 1:
        raise GenerateError(f"--count must be at least 1, got {count}")
    if difficulty not in DIFFICULTIES:
        raise GenerateError(f"--difficulty {difficulty!r} is not one of {', '.join(DIFFICULTIES)}")
    out = []
    for i in range(count):
        label = LABELS[min(2, i * 3 // count)] if difficulty == "ladder" else difficulty
        base = CityConfig(**PRESETS[label]) if label in PRESETS else CityConfig()
        cfg = replace(
            base,
            lines=lines or base.lines,
            stations=stations or base.stations,
            transfers=transfers or base.transfers,
            loops=_default(loops, base, "loops", label),
            branches=_default(branches, base, "branches", label),
            language=language,
        )
        out.append(cfg.check())
    if difficulty in PRESETS or difficulty == "ladder":
        for i, cfg in enumerate(out):
            label = LABELS[min(2, i * 3 // count)] if difficulty == "ladder" else difficulty
            if cfg.difficulties() != {label}:
                raise GenerateError(f"--difficulty {difficulty} and the explicit ranges disagree: lines "
                                    f"{cfg.lines[0]}-{cfg.lines[1]} and transfers {cfg.transfers[0]}-{cfg.transfers[1]} "
                                    f"can give {', '.join(sorted(cfg.difficulties()))} maps (see mapkit.difficulty.MAP_THRESHOLDS)")
    return out


def _default(value: int | None, base: CityConfig, name: str, label: str) -> int:
    if value is not None:
        return value
    # Presets: bigger maps get a loop and a branch, as big real systems tend to.
    return {"easy": 0, "middle": 1, "hard": 1}.get(label, getattr(base, name))
