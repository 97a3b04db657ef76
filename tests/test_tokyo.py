"""annotations/tokyo.json: the Tokyo subway (9 Tokyo Metro + 4 Toei lines), checked
against the official station numbering and a few facts worked out by hand."""
from __future__ import annotations

import math
import re

import pytest

from mapkit.annotation import load
from mapkit.graph import TransitMap


@pytest.fixture
def ann(tokyo_path):
    return load(tokyo_path)


@pytest.fixture
def tm(ann):
    return TransitMap.from_annotation(ann)


def codes(prefix: str, first: int, last: int) -> list[str]:
    return [f"{prefix}{n:02d}" for n in range(first, last + 1)]


# line id -> (name, colour, expected codes along each segment, loop)
LINES = {
    "G": ("Ginza Line", "#FF9500", [codes("G", 1, 19)], False),
    "M": ("Marunouchi Line", "#F62E36", [codes("M", 1, 25), ["M06"] + codes("Mb", 3, 5)], False),
    "H": ("Hibiya Line", "#B5B5AC", [codes("H", 1, 22)], False),
    "T": ("Tozai Line", "#009BBF", [codes("T", 1, 23)], False),
    "C": ("Chiyoda Line", "#00BB85", [codes("C", 1, 19), codes("C", 19, 20)], False),
    "Y": ("Yurakucho Line", "#C1A470", [codes("Y", 1, 24)], False),
    "Z": ("Hanzomon Line", "#8F76D6", [codes("Z", 1, 14)], False),
    "N": ("Namboku Line", "#00AC9B", [codes("N", 1, 19)], False),
    "F": ("Fukutoshin Line", "#9C5E31", [codes("F", 1, 16)], False),
    "A": ("Toei Asakusa Line", "#E85298", [codes("A", 1, 20)], False),
    "I": ("Toei Mita Line", "#0079C2", [codes("I", 1, 27)], False),
    "S": ("Toei Shinjuku Line", "#6CBB5A", [codes("S", 1, 21)], False),
    "E": ("Toei Oedo Line", "#B6007A", [codes("E", 1, 28), codes("E", 28, 38)], True),
}

# Tokyo's 23 wards plus the line ends in Saitama (Wakoshi) and Chiba (Nishi-funabashi, Motoyawata)
BBOX = (139.55, 35.55, 140.00, 35.85)  # lon_min, lat_min, lon_max, lat_max


def km(a, b) -> float:
    (lon1, lat1), (lon2, lat2) = a, b
    return math.hypot((lon2 - lon1) * 111.32 * math.cos(math.radians((lat1 + lat2) / 2)), (lat2 - lat1) * 110.57)


# ---------------------------------------------------------------- file level

def test_loads_without_warnings_and_counts(ann):
    assert ann.city == "tokyo" and ann.country == "Japan" and ann.language == "en"
    assert ann.image is None
    assert ann.warnings == ()
    assert [line.id for line in ann.lines] == list(LINES)
    # 291 line-station calls (the sum of every line's code count) merge into 216 physical stations
    assert sum(len(s.codes) for s in ann.stations.values()) == 291
    assert len(ann.stations) == 216


@pytest.mark.parametrize("line_id", list(LINES))
def test_line_name_colour_code_and_loop(ann, line_id):
    name, colour, _, loop = LINES[line_id]
    line = ann.line(line_id)
    assert (line.name, line.color, line.code, line.loop) == (name, colour, line_id, loop)
    assert not line.uncertain_segments


@pytest.mark.parametrize("line_id", list(LINES))
def test_segments_follow_the_official_numbering(ann, line_id):
    line = ann.line(line_id)
    expected = LINES[line_id][2]
    got = [[ann.station(sid).codes.get(line_id) for sid in seg] for seg in line.segments]
    assert got == expected
    # every code of the line is used by exactly one station, and only by stations on the line
    on_line = set(line.station_ids)
    holders = [sid for sid, st in ann.stations.items() if line_id in st.codes]
    assert set(holders) == on_line
    assert sorted(ann.station(s).codes[line_id] for s in holders) == sorted({c for seg in expected for c in seg})


def test_branches_and_loop_shape(ann):
    m = ann.line("M")
    assert m.segments[1][0] == "nakano-sakaue" and m.segments[1][-1] == "honancho"
    c = ann.line("C")
    assert c.segments[1] == ("ayase", "kita-ayase")
    e = ann.line("E")
    assert e.segments[0][0] == "shinjuku-nishiguchi" and e.segments[0][-1] == "tochomae"
    assert e.segments[1][0] == "tochomae" and e.segments[1][-1] == "hikarigaoka"
    assert ("tochomae", "shinjuku-nishiguchi", 0) in list(e.edges())  # the loop's closing edge
    assert len(e.station_ids) == 38


# ---------------------------------------------------------------- stations

def test_every_station_has_japanese_name_slug_id_and_position(ann):
    for sid, st in ann.stations.items():
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", sid), sid
        assert sid == st.name.lower().replace(" ", "-"), sid
        ja = st.names.get("ja", "")
        assert ja and not ja.isascii(), sid
        assert st.lonlat is not None, sid
        lon, lat = st.lonlat
        assert BBOX[0] < lon < BBOX[2] and BBOX[1] < lat < BBOX[3], sid
    names = [st.name.casefold() for st in ann.stations.values()]
    assert len(names) == len(set(names))


def test_neighbouring_stations_are_plausibly_spaced(ann):
    # catches a swapped or mistyped coordinate: no metro hop here is under 250 m or over 3.2 km
    for line in ann.lines:
        for a, b, _ in line.edges():
            d = km(ann.station(a).lonlat, ann.station(b).lonlat)
            assert 0.25 < d < 3.2, (line.id, a, b, round(d, 2))


def test_known_positions(ann):
    # a few stations whose positions are well known, to within 500 m
    known = {
        "shibuya": (139.7016, 35.6580), "tokyo": (139.7671, 35.6812), "ueno": (139.7774, 35.7138),
        "ikebukuro": (139.7109, 35.7295), "nishi-funabashi": (139.9586, 35.7074), "wakoshi": (139.6122, 35.7880),
        "nishi-magome": (139.7057, 35.5867), "hikarigaoka": (139.6287, 35.7583),
    }
    for sid, pos in known.items():
        assert km(ann.station(sid).lonlat, pos) < 0.5, sid


INTERCHANGES = {
    "shibuya": {"G": "G01", "Z": "Z01", "F": "F16"},
    "otemachi": {"M": "M18", "T": "T09", "C": "C11", "Z": "Z08", "I": "I09"},
    "ikebukuro": {"M": "M25", "Y": "Y09", "F": "F09"},
    "shinjuku": {"M": "M08", "S": "S01", "E": "E27"},
    "shinjuku-sanchome": {"M": "M09", "F": "F13", "S": "S02"},
    "nihombashi": {"G": "G11", "T": "T10", "A": "A13"},
    "ginza": {"G": "G09", "M": "M16", "H": "H09"},
    "kasumigaseki": {"M": "M15", "H": "H07", "C": "C08"},
    "hibiya": {"H": "H08", "C": "C09", "I": "I08"},
    "iidabashi": {"T": "T06", "Y": "Y13", "N": "N10", "E": "E06"},
    "nagatacho": {"Y": "Y16", "Z": "Z04", "N": "N07"},
    "ichigaya": {"Y": "Y14", "N": "N09", "S": "S04"},
    "kudanshita": {"T": "T07", "Z": "Z06", "S": "S05"},
    "jimbocho": {"Z": "Z07", "I": "I10", "S": "S06"},
    "aoyama-itchome": {"G": "G04", "Z": "Z03", "E": "E24"},
    "omote-sando": {"G": "G02", "Z": "Z02", "C": "C04"},
    "kita-senju": {"H": "H22", "C": "C18"},
    "asakusa": {"G": "G19", "A": "A18"},
    "oshiage": {"Z": "Z14", "A": "A20"},
    "nakano-sakaue": {"M": "M06", "E": "E30"},
    "kasuga": {"I": "I12", "E": "E07"},
    "korakuen": {"M": "M22", "N": "N11"},
    "mita": {"A": "A08", "I": "I04"},
    "daimon": {"A": "A09", "E": "E20"},
    "kuramae": {"A": "A17", "E": "E11"},
    "morishita": {"S": "S11", "E": "E13"},
    "kiyosumi-shirakawa": {"Z": "Z11", "E": "E14"},
    "monzen-nakacho": {"T": "T12", "E": "E15"},
    "higashi-shinjuku": {"F": "F12", "E": "E02"},
    "meiji-jingumae": {"C": "C03", "F": "F15"},
    # shared track: one station each, both codes
    "wakoshi": {"Y": "Y01", "F": "F01"},
    "kotake-mukaihara": {"Y": "Y06", "F": "F06"},
    "kanamecho": {"Y": "Y08", "F": "F08"},
    "meguro": {"N": "N01", "I": "I01"},
    "shirokane-takanawa": {"N": "N03", "I": "I03"},
    # single-line stations that are easy to get wrong
    "toranomon-hills": {"H": "H06"},
    "tochomae": {"E": "E28"},
    "shinjuku-nishiguchi": {"E": "E01"},
    "honancho": {"M": "Mb05"},
    "ayase": {"C": "C19"},
    "kita-ayase": {"C": "C20"},
    "azabu-juban": {"N": "N04", "E": "E22"},
}


@pytest.mark.parametrize("sid", list(INTERCHANGES))
def test_interchange_codes(ann, sid):
    assert dict(ann.station(sid).codes) == INTERCHANGES[sid]


# stations joined only by a walkway, or close by under another name: separate ids
WALKWAY_PAIRS = [
    ("kokkai-gijidomae", "tameike-sanno"),
    ("ginza", "higashi-ginza"),
    ("ginza", "hibiya"),
    ("ginza", "yurakucho"),
    ("hibiya", "yurakucho"),
    ("shinjuku", "shinjuku-sanchome"),
    ("shinjuku", "shinjuku-nishiguchi"),
    ("kasuga", "korakuen"),
    ("akasaka-mitsuke", "nagatacho"),
    ("ueno", "ueno-okachimachi"),
    ("ueno-hirokoji", "ueno-okachimachi"),
    ("nishi-shinjuku", "tochomae"),
    ("toranomon", "toranomon-hills"),
    ("awajicho", "ogawamachi"),
    ("awajicho", "shin-ochanomizu"),
    ("higashi-nihombashi", "bakuro-yokoyama"),
    ("shimbashi", "shiodome"),
]


@pytest.mark.parametrize("a, b", WALKWAY_PAIRS)
def test_walkway_pairs_stay_separate(ann, tm, a, b):
    assert a in ann.stations and b in ann.stations and a != b
    assert ann.station(a).name != ann.station(b).name
    # close to each other (under 700 m), yet distinct places in the graph
    assert km(ann.station(a).lonlat, ann.station(b).lonlat) < 0.7
    assert not set(ann.station(a).codes.items()) & set(ann.station(b).codes.items())


# ---------------------------------------------------------------- graph facts worked by hand

def test_stats(tm):
    s = tm.stats()
    assert (s.line_count, s.station_count, s.longest_line, s.longest_line_stations) == (13, 216, "E", 38)


def test_lines_through(tm):
    assert tm.lines_through("otemachi") == ["M", "T", "C", "Z", "I"]
    assert tm.lines_through("shibuya") == ["G", "Z", "F"]
    assert tm.lines_through("iidabashi") == ["T", "Y", "N", "E"]
    assert tm.common_lines("wakoshi", "kanamecho") == ["Y", "F"]
    assert tm.common_lines("meguro", "shirokanedai") == ["N", "I"]
    assert not tm.is_transfer("toranomon")


def test_shibuya_to_asakusa_is_the_whole_ginza_line(tm):
    routes = tm.routes("shibuya", "asakusa")
    best = routes[0]
    assert best.transfers == 0
    (section,) = best.sections
    assert (section.line, section.departure, section.arrival) == ("G", "shibuya", "asakusa")
    assert section.num_via_stops == 17
    assert section.via_stops[0] == "omote-sando" and section.via_stops[-1] == "tawaramachi"
    assert all(r.transfers == 0 for r in routes)


def test_nishi_funabashi_to_naka_meguro_changes_once_at_kayabacho(tm):
    # Nishi-funabashi is only on the Tozai Line, Naka-meguro only on the Hibiya Line, and
    # the two lines meet only at Kayabacho (T11 / H13): T23 -> T11 is 12 hops, H13 -> H01 is 12.
    routes = tm.routes("nishi-funabashi", "naka-meguro")
    assert len(routes) == 1
    (route,) = routes
    assert route.transfers == 1
    t, h = route.sections
    assert (t.line, t.departure, t.arrival, t.num_via_stops) == ("T", "nishi-funabashi", "kayabacho", 11)
    assert (h.line, h.departure, h.arrival, h.num_via_stops) == ("H", "kayabacho", "naka-meguro", 11)
    assert route.stops == 24


def test_kita_ayase_to_hikarigaoka_needs_two_transfers(tm):
    # no Chiyoda Line station is on the Oedo Line
    assert not set(tm.stations_of("C")) & set(tm.stations_of("E"))
    assert tm.min_transfers("kita-ayase", "hikarigaoka") == 2


def test_oedo_loop_and_tail(tm):
    # the short way round the loop from E01 to E27 passes only Tochomae
    assert tm.stops_between("E", "shinjuku-nishiguchi", "shinjuku") == ["tochomae"]
    # from the tail end, E37 .. E29 then Tochomae
    assert len(tm.stops_between("E", "hikarigaoka", "shinjuku-nishiguchi")) == 10
    # Shiodome (E19) to Iidabashi (E06): the long way round (via Tochomae) is 15 hops, the short way 13
    assert len(tm.stops_between("E", "shiodome", "iidabashi")) == 12


def test_marunouchi_branch(tm):
    path = tm.line_path("M", "honancho", "ogikubo")
    assert path == ["honancho", "nakano-fujimicho", "nakano-shimbashi", "nakano-sakaue",
                    "shin-nakano", "higashi-koenji", "shin-koenji", "minami-asagaya", "ogikubo"]
    assert tm.stops_between("M", "honancho", "nishi-shinjuku") == ["nakano-fujimicho", "nakano-shimbashi", "nakano-sakaue"]
