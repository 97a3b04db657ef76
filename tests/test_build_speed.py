"""What the build's speed-ups must not change: bytes across --jobs, validation verdicts and
messages, the candidates the engine looks at, the hop counts it labels with."""
from __future__ import annotations

import json
import random
from pathlib import Path

import networkx as nx
import pytest

import mapkit.dataset.records as records_mod
from mapkit.annotation import load, loads
from mapkit.dataset import assign_splits, build_dataset, record_problems, validate_records
from mapkit.errors import AnnotationError, DatasetError
from mapkit.graph import TransitMap
from mapkit.questions import generate, load_templates
from mapkit.questions.city import City

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "fixtures" / "mini.json"


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def three_cities(tmp_path) -> Path:
    """mini under three city names: no image, so each map is rendered (in the pool with --jobs 2)."""
    data = json.loads(MINI.read_text())
    folder = tmp_path / "ann"
    folder.mkdir()
    for name in ("mini", "minib", "minic"):
        (folder / f"{name}.json").write_text(json.dumps({**data, "city": name, "name": f"Mini {name}"}))
    return folder


def test_jobs_1_and_jobs_2_write_identical_bytes(run_cli, three_cities, tmp_path):
    outs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"jobs{jobs}"
        code, stdout, err = run_cli("build", "--all", "--annotations", three_cities, "--out", out, "--jobs", jobs)
        assert code == 0, err
        assert "maps: rendered" in stdout
        outs[jobs] = _files(out)
    assert {"maps/mini.png", "maps/minib.geometry.json", "maps/minic.png"} <= set(outs["1"])
    assert outs["1"] == outs["2"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left behind
    assert run_cli("build", "--all", "--annotations", three_cities, "--out", tmp_path / "x", "--jobs", "0")[0] == 2


def test_a_bad_city_fails_the_same_with_any_jobs(three_cities, tmp_path):
    bad = json.loads(MINI.read_text())
    bad["lines"][0]["segments"] = [["a", "nowhere"]]
    (three_cities / "minib.json").write_text(json.dumps({**bad, "city": "minib"}))
    messages = []
    for jobs in (1, 2):
        with pytest.raises(Exception) as e:
            build_dataset(sorted(three_cities.glob("*.json")), tmp_path / f"out{jobs}", jobs=jobs, warn=lambda m: None)
        messages.append((type(e.value), str(e.value)))
        assert not (tmp_path / f"out{jobs}").exists()
    assert messages[0] == messages[1] and "minib" in messages[0][1]
    with pytest.raises(DatasetError, match="--jobs must be at least 1"):
        build_dataset([MINI], tmp_path / "o", jobs=0)


def _records() -> list[dict]:
    data = json.loads(MINI.read_text())
    out = []
    for i in range(2):
        out.extend(generate(TransitMap.from_annotation(loads({**data, "city": f"mini{i}"})), seed=i))
    return assign_splits(out, seed=0)


def test_compiled_validator_agrees_with_jsonschema(monkeypatch):
    fast = records_mod._fast_validator()
    assert fast is not None, "jsonschema-rs is a core dependency"
    rows = _records()
    rng = random.Random(0)
    values = [None, True, 0, 1, -1, -2, 1.5, "", "x", "yes", "E", [], [1, 2, 3], [1, 1, 2, 3], [0, 1, 2, 3], {},
              "maps/x.png", "/abs/map.png", "medium", "0123456789abcdef", "{}", [[]]]
    checked = 0
    for row in rows[::3]:
        for key in list(row) + ["extra"]:
            for value in rng.sample(values, 5):
                mutated = {**row, key: value}
                generic = not any(True for _ in records_mod._validator().iter_errors(mutated))
                assert fast(mutated) == generic, (key, value)
                checked += 1
    assert checked > 500
    # the messages of the bad-record tests, with and without the compiled validator
    torf = next(r for r in rows if r["type"] == "TorF1")
    counting = next(r for r in rows if r["type"] == "Counting1")
    bad = [{**counting, "options": [1, 2, 3]}, {**counting, "options": [1, 1, 2, 3]}, {**torf, "answer": 5},
           {**torf, "figure": "/abs/map.png"}, {**torf, "extra": 1}, {**torf, "answer_text": "maybe"}]
    with_fast = [record_problems(r) for r in bad]
    monkeypatch.setattr(records_mod, "_fast_validator", lambda: None)
    assert [record_problems(r) for r in bad] == with_fast
    assert all(with_fast) and any("too short" in p for p in with_fast[0]) and any("non-unique" in p for p in with_fast[1])
    with pytest.raises(DatasetError, match=f"record {torf['id']} .*answer"):
        validate_records(rows[:3] + [bad[2]])


def _candidates_by_plain_loop(stations: list[str], rng: random.Random, limit: int) -> list[tuple[str, str]]:
    """The station-pair candidates as the engine drew them before its speed-ups: every ordered
    pair index shuffled (or `limit` of them sampled), each unordered pair once."""
    n = len(stations)
    order = list(range(n * n))
    if n * n <= limit:
        rng.shuffle(order)
    else:
        order = rng.sample(range(n * n), limit)
    seen, out = set(), []
    for i in order:
        a, b = stations[i // n], stations[i % n]
        if a != b and frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            out.append((a, b))
    return out


def test_pair_candidates_are_the_same_pairs_in_the_same_order(tokyo_path):
    for path in (MINI, tokyo_path):
        city = City(TransitMap.from_annotation(load(path)))
        for seed, limit in ((0, 20_000), (1, 500), (2, 10)):
            fast = list(city.pair_candidates(random.Random(seed), limit))
            assert fast == _candidates_by_plain_loop(city.stations, random.Random(seed), limit)
            rng = random.Random(seed)
            list(city.pair_candidates(rng, limit))
            plain = random.Random(seed)
            _candidates_by_plain_loop(city.stations, plain, limit)
            assert rng.random() == plain.random()  # the same draws: what comes after is unchanged


def test_hops_match_networkx(tokyo_path):
    city = City(TransitMap.from_annotation(load(tokyo_path)))
    graph = city.tm.station_graph
    for a in city.stations[::7]:
        expected = nx.single_source_shortest_path_length(graph, a)
        for b in city.stations:
            assert city.hops(a, b) == expected.get(b, float("inf"))


def test_generation_is_unchanged_by_the_planning_hint_cache():
    """The cached hint gives what the line graph says for every pair (plain recomputation)."""
    from mapkit.difficulty import question_difficulty
    from mapkit.questions.engine import _pair_hint

    city = City(TransitMap.from_annotation(load(MINI)))
    lines = city.tm.line_graph
    for a in city.stations:
        for b in city.stations:
            if a == b:
                continue
            best = min((nx.shortest_path_length(lines, x, y) if nx.has_path(lines, x, y) else float("inf"))
                       for x in city.tm.lines_through(a) for y in city.tm.lines_through(b))
            assert _pair_hint(city, a, b) == question_difficulty("planning", best)
    assert load_templates()  # templates load in this process too (workers share them)


def _plain_line_path(tm: TransitMap, lid: str, a: str, b: str):
    """The line's way from a to b as networkx lists it: (all shortest paths, uncertain edges on the first)."""
    paths = list(nx.all_shortest_paths(tm._line_graphs[lid], a, b))
    certain = tm._certain_graphs[lid]
    return paths, not all(certain.has_edge(x, y) for x, y in zip(paths[0], paths[0][1:]))


def test_cached_line_searches_match_networkx(tokyo_path):
    """Paths along a line from the cached per-station search: what networkx says, pair by
    pair, loop ties (mini's Orange Loop) and uncertain stretches included, asked twice."""
    from mapkit.errors import AmbiguousQueryError, UncertainTopologyError

    for path in (MINI, tokyo_path):
        tm = TransitMap.from_annotation(load(path))
        for line in tm.annotation.lines:
            if line.one_way:
                continue
            on = list(dict.fromkeys(line.station_ids))
            for a in on:
                for b in on:
                    if a == b:
                        continue
                    paths, uncertain = _plain_line_path(tm, line.id, a, b)
                    for _ in range(2):  # cold, then from the cache
                        if len(paths) > 1:
                            with pytest.raises(AmbiguousQueryError):
                                tm.line_path(line.id, a, b)
                        elif uncertain:
                            with pytest.raises(UncertainTopologyError):
                                tm.line_path(line.id, a, b)
                        else:
                            assert tm.line_path(line.id, a, b) == paths[0]
                    certain = tm._certain_graphs[line.id]
                    if nx.has_path(certain, a, b):
                        ways = list(nx.all_shortest_paths(certain, a, b))
                        assert tm._certain_path(line.id, a, b, allow_tie=True) == ways[0]
                        assert tm._certain_hops(line.id, a)[b] == nx.shortest_path_length(certain, a, b)
                        if len(ways) > 1:
                            with pytest.raises(AmbiguousQueryError):
                                tm._certain_path(line.id, a, b)


def test_line_sequences_match_a_search_on_a_copy(tokyo_path):
    """The riding-graph search, cached per pair of ride sets and run without copying the
    graph, gives the sequences a search on a copy gives, and leaves the graph as it was."""
    import itertools

    tm = TransitMap.from_annotation(load(tokyo_path))
    graph = tm._riding_graph_copy
    before = (list(graph.nodes), [list(graph[n]) for n in graph])
    stations = City(tm).stations
    for a, b in itertools.islice(itertools.permutations(stations[::9], 2), 300):
        g = tm._riding_graph.copy()
        for node in tm._ride_nodes_of(a):
            g.add_edge(("src", a), node)
        for node in tm._ride_nodes_of(b):
            g.add_edge(node, ("dst", b))
        try:
            expected = [tuple(p[1:-1]) for p in itertools.islice(nx.all_shortest_paths(g, ("src", a), ("dst", b)), 200)]
        except nx.NetworkXNoPath:
            expected = []
        assert list(tm._fewest_transfer_line_sequences(a, b)) == expected
    after = (list(graph.nodes), [list(graph[n]) for n in graph])
    assert after == before


def test_the_build_pauses_the_cyclic_gc_and_gives_it_back(tmp_path, monkeypatch):
    import gc

    import mapkit.dataset.build as build_mod

    during = []
    real = build_mod.assign_splits
    monkeypatch.setattr(build_mod, "assign_splits", lambda *a, **k: during.append(gc.isenabled()) or real(*a, **k))
    assert gc.isenabled()
    build_dataset([MINI], tmp_path / "ok", images=False, jobs=1, warn=lambda m: None)
    assert during == [False] and gc.isenabled()
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(AnnotationError, match="not valid JSON"):
        build_dataset([broken], tmp_path / "bad", images=False, jobs=1, warn=lambda m: None)
    assert gc.isenabled()  # a failed build gives it back too
    gc.disable()
    try:
        build_dataset([MINI], tmp_path / "ok2", images=False, jobs=1, warn=lambda m: None)
        assert not gc.isenabled()  # the caller's choice is left as it was
    finally:
        gc.enable()


def test_planning_sampler_shortcuts_pick_the_questions_of_the_plain_queue(tokyo_path, monkeypatch):
    """The planning sampler's pair queue (integer pairs, buckets per line-set pair, a stop as
    soon as every cell is full) against the plain queue it replaces: every candidate dict
    through the hint, all the order deferred or run. Same records for several seeds and counts."""
    import mapkit.questions.engine as engine_mod
    from mapkit.generate import generate_city, plan

    templates = load_templates()
    # a small generated city where one or two planning questions fill the easy cell while no
    # pair hints at a middle one: the queue's stop must not add an empty cell to the balance
    # (that once changed the draws that follow)
    synthetic = loads(generate_city(plan(12, difficulty="ladder")[3], seed=0, index=3))
    cases = [(load(MINI), ((0, 34), (1, 80), (2, 5), (3, 1))), (load(tokyo_path), ((0, 34), (1, 80), (2, 1))),
             (synthetic, ((3, 1), (3, 2), (2, 4)))]
    for annotation, runs in cases:
        tm_fast, tm_plain = (TransitMap.from_annotation(annotation) for _ in range(2))
        for seed, n in runs:
            fast = generate(tm_fast, templates=templates, seed=seed, counts={"planning": n}, figure="")
            with monkeypatch.context() as m:  # a hint that is not _transfer_hint: the plain queue runs
                m.setitem(engine_mod._HINTS, "planning", lambda city, params: engine_mod._transfer_hint(city, params))
                plain = generate(tm_plain, templates=templates, seed=seed, counts={"planning": n}, figure="")
            assert fast == plain and len(fast) >= min(n, 5), (annotation.city, seed, n)
