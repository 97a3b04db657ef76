"""TransitMap queries on the hand-made fixture, with values worked out by hand from
tests/fixtures/mini.json (R: a-b-c-d-e with branch d-i; B: f-c-g-h; O loop c-f-k-l;
G: e-j-h), and spot checks on a real ReasonMap city."""
from __future__ import annotations

import json

import pytest

from mapkit.annotation import load, loads
from mapkit.errors import AmbiguousQueryError, GraphError, UncertainTopologyError
from mapkit.graph import TransitMap
from mapkit.importers.reasonmap import import_reasonmap


@pytest.fixture
def mini(mini_path):
    return TransitMap.from_annotation(load(mini_path))


def test_membership_queries(mini):
    assert mini.lines_through("c") == ["R", "B", "O"]
    assert mini.lines_through("a") == ["R"]
    assert mini.stations_of("R") == ["a", "b", "c", "d", "e", "i"]
    assert mini.common_lines("c", "f") == ["B", "O"]
    assert mini.on_common_line("a", "i") and not mini.on_common_line("a", "h")
    assert mini.is_transfer("e") and not mini.is_transfer("d")


def test_graphs(mini):
    g = mini.station_graph
    assert g.number_of_nodes() == 12
    assert set(g["c"]["d"]) == {"R"}
    assert g.has_edge("l", "c", key="O")  # the loop closes
    assert sorted(mini.line_graph["R"]) == ["B", "G", "O"]
    assert mini.line_graph.edges["B", "O"]["stations"] == ["c", "f"]


def test_stops_between_with_branch_and_loop(mini):
    assert mini.stops_between("R", "a", "i") == ["b", "c", "d"]  # onto the branch at its fork
    assert mini.stops_between("R", "i", "e") == ["d"]
    assert mini.stops_between("R", "e", "a") == ["d", "c", "b"]
    assert mini.stops_between("O", "c", "l") == []  # neighbours across the loop's closing edge
    with pytest.raises(AmbiguousQueryError):
        mini.stops_between("O", "c", "k")
    with pytest.raises(AmbiguousQueryError):
        mini.stops_between("O", "l", "f")


def test_bad_arguments_are_clear(mini):
    with pytest.raises(GraphError, match="unknown station 'zz'"):
        mini.lines_through("zz")
    with pytest.raises(GraphError, match="unknown line 'X'"):
        mini.stations_of("X")
    with pytest.raises(GraphError, match="not on line 'B'"):
        mini.stops_between("B", "a", "c")
    with pytest.raises(GraphError, match="same station"):
        mini.routes("a", "a")


def test_routes_fewest_transfers_then_stops(mini):
    routes = mini.routes("a", "h", k=3)
    assert [r.transfers for r in routes] == [1, 1]
    best, other = routes
    assert [(s.line, s.departure, s.arrival, s.via_stops) for s in best.sections] == [("R", "a", "c", ("b",)), ("B", "c", "h", ("g",))]
    assert best.stops == 4 and other.stops == 6
    assert [(s.line, s.departure, s.arrival) for s in other.sections] == [("R", "a", "e"), ("G", "e", "h")]
    assert best.sections[0].route_name == "Red Line" and best.sections[1].num_via_stops == 1
    # b -> j: one transfer at e beats two transfers through c and h
    (only,) = mini.routes("b", "j")
    assert [(s.line, s.departure, s.arrival, s.via_stops) for s in only.sections] == [("R", "b", "e", ("c", "d")), ("G", "e", "j", ())]
    assert mini.min_transfers("a", "e") == 0 and mini.min_transfers("i", "k") == 1


def test_uncertain_segments_are_never_ridden(mini_path):
    data = json.loads(mini_path.read_text())
    data["lines"][0]["uncertain_segments"] = [1]
    tm = TransitMap.from_annotation(loads(data))
    assert tm.lines_through("i") == ["R"]  # membership still holds
    with pytest.raises(UncertainTopologyError):
        tm.stops_between("R", "e", "i")
    assert tm.stops_between("R", "a", "d") == ["b", "c"]
    with pytest.raises(GraphError, match="no route"):
        tm.routes("a", "i")


def test_stats(mini):
    s = mini.stats()
    assert (s.line_count, s.station_count, s.transfer_count) == (4, 12, 4)  # c, e, f, h
    assert (s.longest_line, s.longest_line_stations) == ("R", 6)


def test_real_city_spot_checks(reasonmap_dir, tmp_path):
    (wash,) = import_reasonmap(reasonmap_dir / "stations" / "america" / "washington.json", tmp_path)
    tm = TransitMap.from_annotation(wash.annotation)
    metro_center = "metro-center"
    assert tm.name(metro_center) == "Metro Center Station"
    assert tm.lines_through(metro_center) == ["red-line", "orange-line", "blue-line", "silver-line"]
    # Red Line: Shady Grove is first, Dupont Circle 13th: 11 stations between them.
    assert len(tm.stops_between("red-line", "shady-grove", "dupont-circle")) == 11
    # Shady Grove -> Vienna: Red to Metro Center (14 hops), Orange to Vienna (12 hops).
    best = tm.routes("shady-grove", "vienna")[0]
    assert [(s.line, s.departure, s.arrival, s.num_via_stops) for s in best.sections] == [
        ("red-line", "shady-grove", "metro-center", 13),
        ("orange-line", "metro-center", "vienna", 11),
    ]
