"""Questions in the map's language (`mapkit build --lang`): Tokyo in Japanese from its
names.ja, generated Chinese cities from their names.zh; every answer re-derived by the
plain-loop checker of test_build over the annotation the folder keeps; rewards accept
answers in that script; English builds are untouched by the option."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mapkit.cli import main
from mapkit.dataset import read_dataset
from mapkit.rewards import breakdown, load_lines
from mapkit.rewards.names import normalize
from tests.test_build import check_folder

ROOT = Path(__file__).resolve().parent.parent
TOKYO = ROOT / "annotations" / "tokyo.json"
KANA_KANJI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def rows_of(folder: Path) -> list[dict]:
    return [r for rs in read_dataset(folder).values() for r in rs]


@pytest.fixture(scope="module")
def tokyo_ja(tmp_path_factory):
    out = tmp_path_factory.mktemp("ja") / "ds"
    assert main(["build", "--city", "tokyo", "--annotations", str(ROOT / "annotations"), "--lang", "ja",
                 "--no-images", "--per-type", "6", "--out", str(out)]) == 0
    return out


def test_english_is_the_default_and_lang_en_changes_no_byte(tmp_path):
    common = ["build", "--city", "tokyo", "--annotations", str(ROOT / "annotations"), "--no-images", "--per-type", "5"]
    assert main([*common, "--out", str(tmp_path / "a")]) == 0
    assert main([*common, "--lang", "en", "--out", str(tmp_path / "b")]) == 0
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert "language" not in manifest["options"]
    assert not any(KANA_KANJI.search(r["question"]) for r in rows_of(tmp_path / "a"))


def test_tokyo_in_japanese_uses_names_ja_and_every_answer_rederives(tokyo_ja):
    source = json.loads(TOKYO.read_text("utf-8"))
    ja_names = {st["names"]["ja"] for st in source["stations"].values()}
    rows = check_folder(tokyo_ja)  # the plain loop reads the folder's (Japanese) annotation
    assert {r["type"] for r in rows} == {"TorF1", "TorF2", "Counting1", "Counting2", "Counting3", "planning"}
    for r in rows:
        for name in (r["station_1"], r["station_2"]):
            if name is not None:
                assert name in ja_names and name in r["question"]
        assert KANA_KANJI.search(r["question"].split("\n")[0]), r["question"]
    kept = json.loads((tokyo_ja / "annotations" / "tokyo.json").read_text("utf-8"))
    assert kept["language"] == "ja"
    assert kept["stations"]["shibuya"]["name"] == source["stations"]["shibuya"]["names"]["ja"]
    assert kept["stations"]["shibuya"]["names"]["en"] == source["stations"]["shibuya"]["name"]
    manifest = json.loads((tokyo_ja / "manifest.json").read_text())
    assert manifest["options"]["language"] == "ja"
    assert set(manifest["templates"]) == {"counting.json", "planning.json", "torf.json"}
    assert "templates/ja/torf.json" in manifest["inputs"]


def test_rewards_read_japanese_answers(tokyo_ja):
    rows = rows_of(tokyo_ja)
    lines = load_lines(tokyo_ja / "annotations" / "tokyo.json")
    plan = next(r for r in rows if r["type"] == "planning" and r["reference_routes"][0][0]["via_stops"])
    good = "\\boxed{" + plan["answer_text"] + "}"
    assert breakdown(good, plan, lines).correct == 10
    # the same route with 駅 ("station") after every stop name is still the same stops
    suffixed = re.sub(r"(Departure Stop|Arrival Stop): (.+)", r"\1: \2駅", plan["answer_text"])
    assert breakdown("\\boxed{" + suffixed + "}", plan, lines).correct == 10
    # the English names of the same stops are not the asked stops in this dataset
    english = {st["names"]["ja"]: st["name"] for st in json.loads(TOKYO.read_text("utf-8"))["stations"].values()}
    in_english = re.sub(r"(Departure Stop|Arrival Stop): (.+)", lambda m: f"{m.group(1)}: {english[m.group(2)]}", plan["answer_text"])
    assert breakdown("\\boxed{" + in_english + "}", plan, lines).correct == 0
    assert normalize("渋谷駅") == normalize("渋谷") and normalize("西直门站") == normalize("西直门")
    torf = next(r for r in rows if r["type"] == "TorF1")
    assert breakdown("\\boxed{" + torf["answer_text"] + "}", torf, lines).correct == 10


def test_generated_chinese_cities_ask_in_chinese(tmp_path):
    out = tmp_path / "zh"
    assert main(["build", "--generated", "2", "--lang", "zh", "--no-images", "--per-type", "6", "--seed", "4", "--out", str(out)]) == 0
    rows = check_folder(out)
    hanzi = re.compile(r"^[\u4e00-\u9fff]+$")
    for r in rows:
        for name in (r["station_1"], r["station_2"]):
            assert name is None or hanzi.match(name), name
    kept = json.loads((out / "annotations" / "synth-4-0000.json").read_text("utf-8"))
    assert kept["language"] == "zh"
    assert all(hanzi.match(st["name"]) and re.match(r"^[A-Z][a-z]+( [A-Z][a-z]+)?$", st["names"]["en"]) for st in kept["stations"].values())


@pytest.mark.parametrize("lang, word", [("de", "Linie"), ("fr", "ligne"), ("es", "línea"), ("it", "linea")])
def test_generated_cities_in_latin_languages_ask_in_their_language(tmp_path, lang, word):
    out = tmp_path / lang
    assert main(["build", "--generated", "1", "--lang", lang, "--no-images", "--per-type", "8", "--seed", "1", "--out", str(out)]) == 0
    rows = check_folder(out)
    kept = json.loads((out / "annotations" / "synth-1-0000.json").read_text("utf-8"))
    assert kept["language"] == lang
    names = {st["name"] for st in kept["stations"].values()}
    for r in rows:
        assert r["station_1"] is None or r["station_1"] in names
    # the question text is the language's template: its word for "line" shows up, English "same line" never
    assert any(word in r["question"].casefold() or word in r["question"] for r in rows)
    assert not any("on the same line" in r["question"] for r in rows)


@pytest.mark.parametrize("args, words", [
    (["--generated", "1", "--lang", "ja", "--no-images"], None),  # generated Japanese cities: fine
    (["--generated", "1", "--lang", "ko", "--no-images"], "no ko templates"),
    (["--city", "tokyo", "--annotations", str(ROOT / "annotations"), "--lang", "zh", "--no-images"], "have no zh name"),
    (["--city", "tokyo", "--annotations", str(ROOT / "annotations"), "--lang", "ja"], "--font"),
])
def test_language_errors_are_readable(tmp_path, capsys, args, words):
    code = main(["build", *args, "--per-type", "3", "--out", str(tmp_path / "o")])
    if words is None:
        assert code == 0
        return
    assert code == 1
    assert words in capsys.readouterr().err.replace("\n", " ")
    assert not (tmp_path / "o").exists()


def test_reasonmap_chinese_city_asks_in_chinese(tmp_path, reasonmap_dir):
    import shutil

    from mapkit.importers.reasonmap import import_reasonmap

    src = tmp_path / "stations" / "china"
    src.mkdir(parents=True)
    shutil.copy(reasonmap_dir / "stations" / "china" / "hefei.json", src)
    import_reasonmap(tmp_path / "stations", tmp_path / "ann")
    out = tmp_path / "ds"
    assert main(["build", "--city", "hefei", "--annotations", str(tmp_path / "ann"), "--lang", "zh", "--no-images",
                 "--per-type", "6", "--out", str(out)]) == 0
    rows = check_folder(out)
    assert all(re.search(r"[\u4e00-\u9fff]", r["question"].split("\n")[0]) for r in rows)
    # the folder keeps the annotation as imported: its names already were Chinese
    assert (out / "annotations" / "hefei.json").read_bytes() == (tmp_path / "ann" / "hefei.json").read_bytes()
