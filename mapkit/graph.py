"""TransitMap: the station graph and the line graph of one annotation, with the queries
that question templates and rewards need.

Conventions, relied on by every caller:
- Stations and lines are named by their annotation ids.
- On a loop line, the stops "between" two stations are those on the shorter way round;
  when both ways are equally long the query raises ``AmbiguousQueryError``.
- Station order inside a segment marked uncertain is never used: queries that would
  need it raise ``UncertainTopologyError`` and routes do not ride through it.
- A line with stop ``patterns`` (schema v2) is one-way per pattern (``mapkit.directions``):
  "same line", "stops between" and routes hold for the direction of travel asked
  (station 1 to station 2); a pair no pattern runs in that order raises
  ``DirectionError`` rather than being answered.

Example::

    >>> from mapkit.annotation import load
    >>> tm = TransitMap.from_annotation(load("annotations/tokyo.json"))
    >>> tm.lines_through("shibuya")
    ['G', 'Z', 'F']
"""
from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterable

import networkx as nx

from mapkit.annotation import Annotation, Line
from mapkit.errors import AmbiguousQueryError, DirectionError, GraphError, UncertainTopologyError


@dataclass(frozen=True)
class Section:
    """One ride on one line, as ReasonMap writes route answers."""

    line: str  # line id
    route_name: str  # line display name
    departure: str  # station id
    arrival: str  # station id
    via_stops: tuple[str, ...]  # station ids strictly between departure and arrival

    @property
    def num_via_stops(self) -> int:
        return len(self.via_stops)


@dataclass(frozen=True)
class Route:
    sections: tuple[Section, ...]

    @property
    def transfers(self) -> int:
        return len(self.sections) - 1

    @property
    def stops(self) -> int:
        """Number of station-to-station hops ridden."""
        return sum(s.num_via_stops + 1 for s in self.sections)


@dataclass(frozen=True)
class CityStats:
    city: str
    line_count: int
    station_count: int
    transfer_count: int  # stations served by two or more lines
    longest_line: str
    longest_line_stations: int
    edge_count: int


class TransitMap:
    """Graphs over one annotation. Build with ``TransitMap.from_annotation``."""

    def __init__(self, annotation: Annotation):
        self.annotation = annotation
        self._lines = {line.id: line for line in annotation.lines}
        # station -> line ids, in annotation line order
        self._served: dict[str, list[str]] = {sid: [] for sid in annotation.stations}
        for line in annotation.lines:
            for sid in line.station_ids:
                self._served[sid].append(line.id)
        self._line_graphs = {line.id: _line_graph(line, certain_only=False) for line in annotation.lines}
        self._certain_graphs = {line.id: _line_graph(line, certain_only=True) for line in annotation.lines}
        self.has_one_way = any(line.one_way for line in annotation.lines)
        # Route searches ask the same small questions again and again (a line's paths
        # between two stations, hops from a station along a line, the line sequences
        # between two sets of rides): answers kept per map, computed as before.
        self._memo: dict[tuple[Any, ...], Any] = {}

    @classmethod
    def from_annotation(cls, annotation: Annotation) -> "TransitMap":
        return cls(annotation)

    # ------------------------------------------------------------ graphs
    @cached_property
    def station_graph(self) -> nx.MultiGraph:
        """Nodes are station ids; one edge per consecutive pair per line (key = line id)."""
        g = nx.MultiGraph()
        for sid, st in self.annotation.stations.items():
            g.add_node(sid, name=st.name)
        for line in self.annotation.lines:
            for a, b, seg in line.edges():
                g.add_edge(a, b, key=line.id, line=line.id, certain=seg not in line.uncertain_segments)
        return g

    @cached_property
    def line_graph(self) -> nx.Graph:
        """Nodes are line ids; lines are adjacent when they share a station (edge attr ``stations``)."""
        g = nx.Graph()
        g.add_nodes_from(self._lines)
        for sid, lines in self._served.items():
            for a, b in itertools.combinations(lines, 2):
                if g.has_edge(a, b):
                    g.edges[a, b]["stations"].append(sid)
                else:
                    g.add_edge(a, b, stations=[sid])
        return g

    # ------------------------------------------------------------ validation
    def _station(self, sid: str) -> str:
        if sid not in self._served:
            raise GraphError(f"{self.annotation.city}: unknown station {sid!r}")
        return sid

    def _line(self, lid: str) -> Line:
        try:
            return self._lines[lid]
        except KeyError:
            raise GraphError(f"{self.annotation.city}: unknown line {lid!r}; lines are {', '.join(self._lines)}") from None

    # ------------------------------------------------------------ queries
    def name(self, sid: str) -> str:
        return self.annotation.stations[self._station(sid)].name

    def lines_through(self, sid: str) -> list[str]:
        """Ids of the lines serving a station, in annotation order."""
        return list(self._served[self._station(sid)])

    def stations_of(self, lid: str) -> list[str]:
        """Station ids of a line in order (trunk, then each branch without its fork)."""
        return list(self._line(lid).station_ids)

    def is_transfer(self, sid: str) -> bool:
        return len(self.lines_through(sid)) >= 2

    def common_lines(self, a: str, b: str) -> list[str]:
        lines_b = set(self.lines_through(b))
        return [lid for lid in self.lines_through(a) if lid in lines_b]

    def on_common_line(self, a: str, b: str) -> bool:
        """Whether one line takes a rider from ``a`` to ``b``. A pair that shares only
        one-way lines none of which runs from ``a`` to ``b`` raises DirectionError."""
        common = self.common_lines(a, b)
        if not self.has_one_way or not common:
            return bool(common)
        from mapkit.directions import serves_in_order

        for lid in common:
            line = self._lines[lid]
            if not line.one_way or serves_in_order(line, a, b):
                return True
        raise DirectionError(f"{self.annotation.city}: {a!r} and {b!r} share only one-way lines, none running from {a!r} to {b!r}")

    def line_path(self, lid: str, a: str, b: str) -> list[str]:
        """Stations from ``a`` to ``b`` along one line, both included.

        Raises GraphError when either station is not on the line, AmbiguousQueryError on
        a loop where both ways round are equally long, UncertainTopologyError when the
        way between them runs through a segment of uncertain order.
        """
        line = self._line(lid)
        for sid in (a, b):
            if lid not in self._served[self._station(sid)]:
                raise GraphError(f"{self.annotation.city}: station {sid!r} is not on line {lid!r}")
        if a == b:
            return [a]
        if line.one_way:
            return self._pattern_path(line, a, b)
        key = ("line path", lid, a, b)
        found = self._memo.get(key)
        if found is None:
            count, path = self._shortest(self._line_graphs, lid, a, b)
            certain = self._certain_graphs[lid]
            found = self._memo[key] = (count, path, all(certain.has_edge(x, y) for x, y in zip(path, path[1:])))
        count, path, is_certain = found
        if count > 1:
            raise AmbiguousQueryError(f"{self.annotation.city}: {a!r} and {b!r} are equally far both ways round line {lid!r}")
        if not is_certain:
            raise UncertainTopologyError(f"{self.annotation.city}: the order of stations between {a!r} and {b!r} on line {lid!r} is uncertain")
        return list(path)

    def _pattern_path(self, line: Line, a: str, b: str) -> list[str]:
        from mapkit.directions import pattern_paths

        paths = pattern_paths(line, a, b)
        if not paths:
            raise DirectionError(f"{self.annotation.city}: no pattern of line {line.id!r} runs from {a!r} to {b!r}")
        if len(paths) > 1:
            raise AmbiguousQueryError(f"{self.annotation.city}: patterns of line {line.id!r} stop at different stations "
                                      f"between {a!r} and {b!r}")
        return list(paths[0])

    def stops_between(self, lid: str, a: str, b: str) -> list[str]:
        """Intermediate stations between ``a`` and ``b`` on one line, both excluded."""
        return self.line_path(lid, a, b)[1:-1]

    def routes(self, a: str, b: str, k: int = 3) -> list[Route]:
        """Up to ``k`` routes with the fewest transfers, fewest stops first.

        Alternatives differ in their sequence of lines or transfer stations; all have
        the minimum number of transfers. Only segments of certain order are ridden.
        """
        self._station(a), self._station(b)
        if a == b:
            raise GraphError(f"{self.annotation.city}: origin and destination are the same station {a!r}")
        if k < 1:
            raise GraphError("k must be at least 1")
        if self.has_one_way:
            found_rides = self._rides.routes(a, b, k)
            if not found_rides:
                raise GraphError(f"{self.annotation.city}: no route from {a!r} to {b!r}")
            return found_rides
        found: list[tuple[int, tuple[str, ...], Route]] = []
        for line_seq in self._fewest_transfer_line_sequences(a, b):
            for route in self._routes_along(line_seq, a, b):
                found.append((route.stops, tuple(s.line for s in route.sections), route))
        found.sort(key=lambda t: (t[0], t[1], [(s.departure, s.arrival) for s in t[2].sections]))
        unique: list[Route] = []
        for _, _, route in found:
            if route not in unique:
                unique.append(route)
            if len(unique) == k:
                break
        if not unique:
            raise GraphError(f"{self.annotation.city}: no route from {a!r} to {b!r}")
        return unique

    def min_transfers(self, a: str, b: str) -> int:
        return self.routes(a, b, k=1)[0].transfers

    def stats(self) -> CityStats:
        longest = max(self.annotation.lines, key=lambda ln: len(ln.station_ids))
        served = [sid for sid, lines in self._served.items() if lines]
        return CityStats(
            city=self.annotation.city,
            line_count=len(self._lines),
            station_count=len(served),
            transfer_count=sum(1 for sid in served if len(self._served[sid]) >= 2),
            longest_line=longest.id,
            longest_line_stations=len(longest.station_ids),
            edge_count=self.station_graph.number_of_edges(),
        )

    # ------------------------------------------------------------ routing helpers
    @cached_property
    def _rides(self):
        from mapkit.directions import Rides

        return Rides(self)

    def _fewest_transfer_line_sequences(self, a: str, b: str) -> Iterable[tuple[str, ...]]:
        # Riding graph: a line is usable between two of its stations only through certain
        # edges, so the line graph is built per connected certain component of each line.
        # The sequences depend only on the ride nodes of a and b (in order): kept per pair of them.
        key = ("line sequences", tuple(self._ride_nodes_of(a)), tuple(self._ride_nodes_of(b)))
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = list(self._search_line_sequences(a, b))
        return found

    def _search_line_sequences(self, a: str, b: str) -> Iterable[tuple[str, ...]]:
        # On a copy of the riding graph (a copy lists neighbours in its own order, which
        # orders the paths), made once: the two end nodes are added for this search and
        # taken out after, which leaves it as copied.
        g = self._riding_graph_copy
        try:
            for node in self._ride_nodes_of(a):
                g.add_edge(("src", a), node)
            for node in self._ride_nodes_of(b):
                g.add_edge(node, ("dst", b))
            try:
                paths = nx.all_shortest_paths(g, ("src", a), ("dst", b))
                return [tuple(path[1:-1]) for path in itertools.islice(paths, 200)]
            except nx.NetworkXNoPath:
                return []
        finally:
            g.remove_nodes_from([n for n in (("src", a), ("dst", b)) if n in g])

    @cached_property
    def _component_of(self) -> dict[tuple[str, str], tuple[str, int]]:
        """(line id, station id) -> ride node (line id, index of certain component)."""
        out = {}
        for lid, g in self._certain_graphs.items():
            for idx, comp in enumerate(sorted(nx.connected_components(g), key=min)):
                for sid in comp:
                    out[(lid, sid)] = (lid, idx)
        return out

    def _ride_nodes_of(self, sid: str) -> list[tuple[str, int]]:
        return [self._component_of[(lid, sid)] for lid in self._served[sid] if (lid, sid) in self._component_of]

    @cached_property
    def _riding_graph(self) -> nx.Graph:
        g = nx.Graph()
        g.add_nodes_from(set(self._component_of.values()))
        for sid in self._served:
            for x, y in itertools.combinations(self._ride_nodes_of(sid), 2):
                if x[0] != y[0]:
                    g.add_edge(x, y)
        return g

    @cached_property
    def _riding_graph_copy(self) -> nx.Graph:
        return self._riding_graph.copy()

    def _routes_along(self, ride_seq: tuple[tuple[str, int], ...], a: str, b: str) -> list[Route]:
        """Best transfer stations for a fixed sequence of rides (dynamic programme).

        Returns the cheapest choice and, for variety, the cheapest choice through each
        distinct first transfer station (sorted later by the caller).
        """
        lines = [lid for lid, _ in ride_seq]
        # candidates[i]: transfer stations between ride i and ride i+1
        candidates = []
        for (l1, c1), (l2, c2) in zip(ride_seq, ride_seq[1:]):
            shared = [s for s in self._lines[l1].station_ids
                      if self._component_of.get((l1, s)) == (l1, c1) and self._component_of.get((l2, s)) == (l2, c2)]
            candidates.append(shared)
        # layered shortest path: states are stations where ride i starts
        best: list[tuple[int, list[str]]] = []
        heap: list[tuple[int, int, list[str]]] = [(0, 0, [a])]
        settled: set[tuple[int, str]] = set()
        while heap:
            cost, i, stops = heapq.heappop(heap)
            here = stops[-1]
            if (i, here) in settled:
                continue
            settled.add((i, here))
            lid = lines[i]
            nexts = candidates[i] if i < len(candidates) else [b]
            for nxt in nexts:
                if nxt == here:
                    continue
                hops = self._certain_hops(lid, here).get(nxt)
                if hops is None:  # not connected: let networkx say so, as before
                    hops = nx.shortest_path_length(self._certain_graphs[lid], here, nxt)
                if i == len(candidates):
                    best.append((cost + hops, stops + [nxt]))
                else:
                    heapq.heappush(heap, (cost + hops, i + 1, stops + [nxt]))
        routes = []
        for _, points in sorted(best)[:3]:
            sections = []
            for lid, dep, arr in zip(lines, points, points[1:]):
                path = self._certain_path(lid, dep, arr, allow_tie=True)
                sections.append(Section(lid, self._lines[lid].name, dep, arr, tuple(path[1:-1])))
            routes.append(Route(tuple(sections)))
        return routes

    def _line_bfs(self, graphs: dict[str, nx.Graph], lid: str, source: str) -> tuple[dict[str, int], dict[str, int], dict[str, str]]:
        """Breadth-first search of one line's graph from ``source``, kept per map: hops,
        number of shortest paths and one predecessor of every station it reaches."""
        key = ("line bfs", id(graphs), lid, source)
        found = self._memo.get(key)
        if found is None:
            adj = self._neighbours(graphs, lid)
            dist, count, parent = {source: 0}, {source: 1}, {}
            frontier = [source]
            while frontier:
                nxt = []
                for u in frontier:
                    du = dist[u] + 1
                    for v in adj[u]:
                        if v not in dist:
                            dist[v], count[v], parent[v] = du, count[u], u
                            nxt.append(v)
                        elif dist[v] == du:
                            count[v] += count[u]
                frontier = nxt
            found = self._memo[key] = (dist, count, parent)
        return found

    def _neighbours(self, graphs: dict[str, nx.Graph], lid: str) -> dict[str, list[str]]:
        """One line's graph as plain neighbour lists, in networkx's order, kept per map:
        walking networkx's adjacency views cost more than the searches themselves."""
        key = ("neighbours", id(graphs), lid)
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = {u: list(nbrs) for u, nbrs in graphs[lid].adj.items()}
        return found

    def _shortest(self, graphs: dict[str, nx.Graph], lid: str, a: str, b: str) -> tuple[int, list[str]]:
        """(how many shortest paths join a and b on the line, the first networkx lists).
        A unique path is read off the cached search; ties (a loop's two ways round) and
        unreachable stations go to networkx, whose order and errors stay the reference."""
        _, count, parent = self._line_bfs(graphs, lid, a)
        if count.get(b) == 1:
            path = [b]
            while path[-1] != a:
                path.append(parent[path[-1]])
            return 1, path[::-1]
        paths = nx.all_shortest_paths(graphs[lid], a, b)
        first = next(paths)
        return (1 if next(paths, None) is None else 2), first

    def _certain_hops(self, lid: str, source: str) -> dict[str, int]:
        return self._line_bfs(self._certain_graphs, lid, source)[0]

    def _certain_path(self, lid: str, a: str, b: str, allow_tie: bool = False) -> list[str]:
        count, first = self._shortest(self._certain_graphs, lid, a, b)
        if not allow_tie and count > 1:
            raise AmbiguousQueryError(f"tie on line {lid}")
        return list(first)


def _line_graph(line: Line, *, certain_only: bool) -> nx.Graph:
    g = nx.Graph()
    g.add_nodes_from(line.station_ids)
    g.add_edges_from((a, b) for a, b, _ in line.edges(certain_only=certain_only))  # one call: same graph, same order
    return g
