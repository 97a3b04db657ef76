"""Which stop patterns of a GTFS route to keep, and what that leaves out.

A route's trips, per direction, run a few distinct stop sequences (patterns): the
all-stops service, an express skipping stops, short workings, a branch. Every pattern
run by at least ``min_trip_share`` of the direction's trips is kept (the most common one
always is); a pattern that is a stretch of a kept one adds nothing new and is folded into
it, so its trips count as covered. A pattern that revisits a station is cut where it does
(each piece is still ridden in order by its trips); one that ends where it started is a
one-way loop and stays whole.

``RouteReport`` says per route what was kept: patterns, trips covered, and the stations
its trips serve that no kept pattern does.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

DEFAULT_MIN_TRIP_SHARE = 0.05  # a pattern run by 1 trip in 20 or more is service, not a garage run


@dataclass(frozen=True)
class RouteReport:
    route_id: str
    line_id: str
    name: str
    trips: int
    trips_covered: int
    patterns_kept: int
    patterns_seen: int
    stations_left_out: tuple[str, ...]  # station ids served by the route's trips but by no kept pattern

    def __str__(self) -> str:
        share = self.trips_covered / self.trips if self.trips else 1.0
        text = (f"route {self.route_id} -> line {self.line_id} ({self.name}): {self.patterns_kept} of {self.patterns_seen} "
                f"pattern(s) kept, {self.trips_covered} of {self.trips} trips covered ({share:.0%})")
        if self.stations_left_out:
            shown = ", ".join(self.stations_left_out[:8]) + (", ..." if len(self.stations_left_out) > 8 else "")
            text += f", {len(self.stations_left_out)} station(s) left out: {shown}"
        return text


@dataclass(frozen=True)
class KeptPattern:
    stops: tuple[str, ...]
    direction: int
    trips: int


def check_share(min_trip_share: float) -> float:
    from mapkit.errors import MapkitError

    if not 0 < min_trip_share <= 1:
        raise MapkitError(f"--min-trip-share must be in (0, 1], got {min_trip_share}: "
                          f"0.05 keeps every pattern run by at least 5% of a direction's trips")
    return float(min_trip_share)


def _contains(big: tuple[str, ...], small: tuple[str, ...]) -> bool:
    n = len(small)
    return len(big) >= n and any(big[i:i + n] == small for i in range(len(big) - n + 1))


def _pieces(seq: tuple[str, ...]) -> list[tuple[str, ...]]:
    """A trip's sequence as pieces without repeated stations (a loop stays whole)."""
    if len(seq) >= 4 and seq[0] == seq[-1] and len(set(seq[:-1])) == len(seq) - 1:
        return [seq]
    pieces: list[list[str]] = [[]]
    for sid in seq:
        if sid in pieces[-1]:
            pieces.append([pieces[-1][-1]])
        pieces[-1].append(sid)
    return [tuple(p) for p in pieces if len(p) >= 2 and len(set(p)) == len(p)]


def select(by_direction: dict[int, Counter], min_trip_share: float
           ) -> tuple[list[tuple[tuple[str, ...], int]], list[KeptPattern], int, int]:
    """(raw sequences kept with their trips, most used first; patterns; trips; trips covered)."""
    raw_kept: list[tuple[tuple[str, ...], int]] = []
    patterns: list[KeptPattern] = []
    total = covered = 0
    for direction in sorted(by_direction):
        counter = by_direction[direction]
        n = sum(counter.values())
        total += n
        ranked = sorted(counter.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))
        kept = [seq for i, (seq, trips) in enumerate(ranked) if i == 0 or trips >= min_trip_share * n]
        # a kept sequence inside a longer kept one adds no ride of its own
        kept = [s for s in kept if not any(o != s and _contains(o, s) for o in kept)]
        trips_of = {s: 0 for s in kept}
        for seq, trips in ranked:
            home = next((s for s in kept if _contains(s, seq)), None)
            if home is not None:
                trips_of[home] += trips
                covered += trips
        for seq in kept:
            raw_kept.append((seq, trips_of[seq]))
            for piece in _pieces(seq):
                if not any(p.stops == piece and p.direction == direction for p in patterns):
                    patterns.append(KeptPattern(piece, direction, trips_of[seq]))
    return raw_kept, patterns, total, covered
