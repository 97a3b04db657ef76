"""ReasonMap importer: all 30 cities import and validate; every known quirk is handled."""
from __future__ import annotations

import json

import pytest

from mapkit.annotation import load
from mapkit.errors import SourceError
from mapkit.importers.reasonmap import convert, import_reasonmap, slug, strip_markers


def test_strip_markers_both_languages():
    assert strip_markers("Metro Center Station (Transfer Station)") == ("Metro Center Station", True, False)
    assert strip_markers("Promenade Station (Transfer Station) (Branch-starting Station)") == ("Promenade Station", True, True)
    assert strip_markers("大连站（换乘站）") == ("大连站", True, False)
    assert strip_markers("开发区站（支线起始站）") == ("开发区站", False, True)
    assert strip_markers("Glenmont Station") == ("Glenmont Station", False, False)


def test_slugs_are_stable():
    assert slug("Shady Grove Station") == "shady-grove"
    assert slug("Union Station Station") == "union-station"
    assert slug("L'Enfant Plaza Station") == "l-enfant-plaza"
    assert slug("大连站") == "大连"


def test_convert_loop_branch_duplicate_and_markers():
    data = {
        "Loop": ["A站（换乘站）", "B站", "C站", "D站", "A站（换乘站）"],
        "Forked": ["E站", "A站（换乘站）", "F站（支线起始站）", "G站", "H站", "I站"],
        "Twice": ["J站", "K站", "J站", "L站"],
        "Lonely": ["B站（换乘站）", "M站"],
    }
    native, warnings = convert(data, city="t", country="Test")
    lines = {line["name"]: line for line in native["lines"]}
    assert lines["Loop"]["loop"] is True and lines["Loop"]["segments"] == [["a", "b", "c", "d"]]
    assert lines["Forked"]["segments"] == [["e", "a", "f"], ["f", "g", "h", "i"]]
    assert lines["Forked"]["uncertain_segments"] == [1]
    assert lines["Twice"]["segments"] == [["j", "k", "j-2", "l"]]
    assert native["stations"]["j-2"]["name"] == "J站"
    assert native["language"] == "zh"
    joined = "\n".join(warnings)
    assert "imported as a loop" in joined and "unknown trunk end" in joined and "appears twice" in joined
    assert "'B站' is marked as a transfer" not in joined  # B is on Loop and Lonely: the marker agrees
    assert "'E站' lies on" not in joined


def test_convert_rejects_garbage():
    with pytest.raises(SourceError):
        convert([], city="x", country="y")
    with pytest.raises(SourceError, match="list of station names"):
        convert({"L": "not a list"}, city="x", country="y")


def test_all_thirty_cities_import_and_validate(reasonmap_dir, tmp_path):
    results = import_reasonmap(reasonmap_dir / "stations", tmp_path, maps=reasonmap_dir / "maps")
    assert len(results) == 30
    assert sum(1 for r in results if r.annotation.image) == 17
    for r in results:
        again = load(r.path)  # what was written validates on its own
        assert again.to_dict() == r.annotation.to_dict()
        assert all(not s.name.endswith(("(Transfer Station)", "（换乘站）")) for s in again.stations.values())
    by_city = {r.city: r.annotation for r in results}
    kl = by_city["kl"]
    assert (kl.image.width, kl.image.height) == (14032, 19843)
    assert kl.image_path().is_file() and len(kl.image.sha256) == 64
    shanghai4 = next(line for line in by_city["shanghai"].lines if line.name == "Line 4")
    assert shanghai4.loop and len(set(shanghai4.segments[0])) == len(shanghai4.segments[0])
    ny_r = next(line for line in by_city["new_york"].lines if line.name == "R")
    assert {"36-st", "36-st-2"} <= set(ny_r.station_ids)
    dubai_red = next(line for line in by_city["dubai"].lines if line.name == "Red Line")
    assert dubai_red.uncertain_segments == {1} and dubai_red.segments[1][0] == "jabal-ali"
    assert by_city["beijing"].language == "zh" and by_city["washington"].language == "en"


def test_import_writes_nothing_when_a_city_is_bad(tmp_path):
    src = tmp_path / "stations" / "land"
    src.mkdir(parents=True)
    (src / "good.json").write_text(json.dumps({"L1": ["A Station", "B Station"]}))
    (src / "bad.json").write_text("{oops")
    out = tmp_path / "out"
    with pytest.raises(SourceError, match="bad.json"):
        import_reasonmap(tmp_path / "stations", out)
    assert not list(out.glob("*.json"))
