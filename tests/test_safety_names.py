"""Names are data, not syntax: control characters are refused, Unicode twins are
ambiguous, braces or \\boxed in a name never change a reward, and the missing-glyph hint
never recommends a font that lacks the glyph (issue: safe by construction)."""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from mapkit.annotation import loads
from mapkit.errors import AnnotationError

MINI = Path(__file__).resolve().parent / "fixtures" / "mini.json"


def mini(**renames: str) -> dict:
    data = json.loads(MINI.read_text())
    for sid, name in renames.items():
        data["stations"][sid]["name"] = name
    return data


@pytest.mark.parametrize("bad", ["Al\npha", "Al\tpha", "Al\x00pha", "Al\u2028pha", "Alpha\r"])
def test_control_characters_in_names_are_refused(bad, tmp_path, run_cli):
    with pytest.raises(AnnotationError, match=r"stations\.a\.name: .* contains control character"):
        loads(mini(a=bad))
    data = json.loads(MINI.read_text())
    data["lines"][0]["name"] = bad
    with pytest.raises(AnnotationError, match=r"lines\[0\]\.name: .* contains control character"):
        loads(data)
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(mini(a=bad)))
    code, _, err = run_cli("validate", path)
    assert code == 1 and "mini.json: stations.a.name" in err and "Traceback" not in err


@pytest.mark.parametrize("twin", [unicodedata.normalize("NFD", "Café"), "CAFÉ", " Café  ", "Caf\u00e9"])
def test_names_that_collide_after_normalisation_warn(twin):
    a = loads(mini(a="Café", b=twin))
    messages = [str(w) for w in a.warnings if w.path in ("stations.a.name", "stations.b.name")]
    assert len(messages) == 2, a.warnings
    if twin != "Café":
        assert any("reads the same as" in m for m in messages)


def test_the_question_engine_treats_unicode_twins_as_ambiguous(tmp_path):
    from mapkit.dataset import build_dataset, read_dataset

    nfc, nfd = "Café", unicodedata.normalize("NFD", "Café")
    assert nfc != nfd
    path = tmp_path / "mini.json"
    path.write_text(json.dumps(mini(a=nfc, e=nfd)), "utf-8")
    build_dataset([path], tmp_path / "ds", seed=0, images=False, warn=lambda m: None)
    rows = [r for rs in read_dataset(tmp_path / "ds").values() for r in rs]
    assert rows
    for r in rows:
        asked = unicodedata.normalize("NFC", " ".join(filter(None, [r["station_1"], r["station_2"], r["question"]])))
        assert "Café" not in asked, r["question"]


SYNTAX_NAMES = {"a": "Al{pha}", "b": "Bra}vo", "c": "C\\boxed{x}", "d": "De{lta", "e": "Ec}}ho", "f": "F{o\\boxed{"}


def records_and_lines(tmp_path: Path, renames: dict[str, str]):
    from mapkit.dataset import build_dataset, read_dataset
    from mapkit.rewards import load_lines

    folder = tmp_path / ("syntax" if renames else "plain")
    folder.mkdir()
    (folder / "mini.json").write_text(json.dumps(mini(**renames)), "utf-8")
    build_dataset([folder / "mini.json"], folder / "ds", seed=0, images=False, warn=lambda m: None)
    rows = [r for rs in read_dataset(folder / "ds").values() for r in rs]
    return rows, load_lines(folder / "ds" / "annotations" / "mini.json")


def test_braces_and_boxed_in_names_never_change_the_default_verdict(tmp_path):
    from mapkit.rewards import breakdown

    rows, lines = records_and_lines(tmp_path, SYNTAX_NAMES)
    named = [r for r in rows if any(n in (r["station_1"] or "", r["station_2"] or "") or n in r["answer_text"]
                                    for n in SYNTAX_NAMES.values())]
    assert len(named) >= 20  # the renamed stations are really asked about
    for r in rows:
        mention = f"From {r['station_1']} to {r['station_2']} on {r['line']}: "
        if r["type"] == "planning":
            right = [r["answer_text"], f"\\boxed{{{r['answer_text']}}}", mention + f"\\boxed{{{r['answer_text']}}}"]
        else:
            right = [f"\\boxed{{{r['answer_text']}}}", mention + f"\\boxed{{{r['answer_text']}}}"]
        for text in right:
            b = breakdown(text, r, lines)
            assert b.correct == 10, (r["type"], text, b.reason)
        if r["type"] in ("TorF1", "TorF2"):
            wrong = "no" if r["answer_text"] == "yes" else "yes"
            assert breakdown(mention + f"\\boxed{{{wrong}}}", r, lines).correct == 0
            # a real second box is still a hedge
            assert breakdown(mention + "\\boxed{yes} \\boxed{no}", r, lines).correct == 0


def test_plain_names_give_the_same_verdicts(tmp_path):
    """The oracle: the same map with plain names, scored the same way."""
    from mapkit.rewards import breakdown

    plain, plain_lines = records_and_lines(tmp_path, {})
    syntax, syntax_lines = records_and_lines(tmp_path, SYNTAX_NAMES)
    assert len(plain) == len(syntax)
    for p, s in zip(plain, syntax, strict=True):
        for mode in ("default",):
            text_p = p["answer_text"] if p["type"] == "planning" else f"\\boxed{{{p['answer_text']}}}"
            text_s = s["answer_text"] if s["type"] == "planning" else f"\\boxed{{{s['answer_text']}}}"
            assert breakdown(text_p, p, plain_lines, mode=mode).reward == breakdown(text_s, s, syntax_lines, mode=mode).reward


# ------------------------------------------------------------------ fonts

def draws(path: Path | None, ch: str) -> bool:
    """Independent of mapkit: does the font map ``ch`` to a glyph other than .notdef?"""
    from PIL import ImageFont

    font = ImageFont.load_default(size=32) if path is None else ImageFont.truetype(str(path), 32)
    notdef = font.getmask("\U000F0000")
    mask = font.getmask(ch)
    return (mask.size, bytes(mask)) != (notdef.size, bytes(notdef))


def test_glyph_hint_names_an_installed_font_that_has_the_glyph(tmp_path, monkeypatch):
    import shutil

    from mapkit.errors import RenderError
    from mapkit.render import fonts

    dejavu = fonts.default_font_path()
    if dejavu is None:
        pytest.skip("no DejaVu-like font installed to offer")
    assert not draws(None, "Ж") and draws(dejavu, "Ж")
    shutil.copy(dejavu, tmp_path / "Offered.ttf")
    monkeypatch.setattr(fonts, "_FONT_DIRS", (str(tmp_path),))
    with pytest.raises(RenderError) as e:
        fonts.check_coverage(fonts.FontSet(None), {"a": "Жуковская"}, user_font=False)
    assert str(tmp_path / "Offered.ttf") in str(e.value)


def test_glyph_hint_names_no_font_when_none_has_it(tmp_path, monkeypatch):
    import shutil

    from mapkit.errors import RenderError
    from mapkit.render import fonts

    dejavu = fonts.default_font_path()
    if dejavu is None:
        pytest.skip("no DejaVu-like font installed")
    emoji = "\U0001F687"
    assert not draws(dejavu, emoji)
    shutil.copy(dejavu, tmp_path / "Same.ttf")
    monkeypatch.setattr(fonts, "_FONT_DIRS", (str(tmp_path),))
    with pytest.raises(RenderError) as e:
        fonts.check_coverage(fonts.FontSet.load(None), {"a": f"Metro {emoji}"}, user_font=False)
    text = str(e.value)
    assert "none of the fonts installed here has them" in text
    assert ".ttf" not in text.split("cannot be drawn with")[1].split(":", 1)[1]  # no font file recommended


@pytest.mark.parametrize("name", ["Bra}vo", "Al{pha}", "C\\boxed{x}", "F{o\\boxed{"])
def test_grounding_names_with_box_syntax_are_read_as_text(name):
    from mapkit.rewards import breakdown

    record = {"id": "g", "type": "Grounding2", "answer": -1, "station_1": name, "station_2": None, "line": None,
              "difficulty_city": "easy", "question_transfer_count": 0, "answer_text": name,
              "frame": {"width": 400, "height": 300},
              "program": json.dumps({"op": "read_label", "args": {"point": [20, 30]}, "result": "b"})}
    assert breakdown(f"The label reads {name}. \\boxed{{{name}}}", record).correct == 10
    assert breakdown("\\boxed{Charlie}", record).correct == 0
    line = {**record, "type": "Grounding3", "station_1": None, "line": f"{name} Line", "answer_text": f"{name} Line"}
    assert breakdown(f"\\boxed{{{name} Line}}", line).correct == 10
