"""Visual difficulty: each measure checked on drawn-by-hand images and geometry with
hand-worked values, then end to end on a generated and a real (Tokyo) build."""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from mapkit.cli import main
from mapkit.dataset import read_dataset
from mapkit.difficulty import VISUAL_REFERENCES, visual_difficulty
from mapkit.publish.card import spearman
from mapkit.render.visual import measure_map

ROOT = Path(__file__).resolve().parent.parent


def geometry(stations: dict, lines: dict, labels: dict, size=(400, 400)) -> dict:
    return {"width": size[0], "height": size[1], "map_area": [0, 0, size[0], size[1]],
            "stations": {s: {"center": list(c)} for s, c in stations.items()}, "labels": labels, "lines": lines}


def write_png(path: Path, image: np.ndarray) -> Path:
    cv2.imwrite(str(path), image)
    return path


def test_label_density_and_crossings_from_geometry(tmp_path):
    png = write_png(tmp_path / "blank.png", np.full((400, 400), 255, np.uint8))
    geo = geometry(
        stations={"a": (50, 50), "b": (350, 350), "c": (50, 350), "d": (350, 50), "m": (200, 100)},
        # lines 1 and 2 cross at (200, 200); line 3 (y = 100) crosses them at (100, 100) and (300, 100)
        lines={"1": [[[50, 50], [350, 350]]], "2": [[[50, 350], [350, 50]]], "3": [[[0, 100], [400, 100]]]},
        labels={"a": [0, 0, 40, 10], "b": [100, 100, 120, 150]},  # 400 + 1000 = 1400 px
    )
    m = measure_map(png, geometry=geo)
    assert m.label_density == pytest.approx(1400 / 160000)
    assert m.crossings == 3  # (200,200), (100,100), (300,100): none within a marker of a station
    assert m.edge_density == 0 and m.local_edges(["a"]) == 0

    # move station m onto line 3's crossing with line 1: that crossing is now an interchange-like point
    geo["stations"]["m"] = {"center": [100, 100]}
    assert measure_map(png, geometry=geo).crossings == 2


def test_local_edges_see_clutter_only_near_it(tmp_path):
    image = np.full((1000, 1000), 255, np.uint8)
    image[:, 100:110] = 0  # a dark stripe near x = 100
    png = write_png(tmp_path / "stripe.png", image)
    geo = geometry({"near": (105, 500), "far": (800, 500)}, {}, {}, size=(1000, 1000))
    m = measure_map(png, geometry=geo)
    assert m.local_edges(["far"]) == 0
    # window side 0.08 * 1000 = 80 px; the stripe's two vertical edges give about 2 columns of edge pixels
    # (Canny's edge may be one or two px wide): 2..4 columns of 80 px in an 80x80 window
    assert 2 * 80 / 6400 <= m.local_edges(["near"]) <= 4 * 80 / 6400
    # the score is the mean of the capped, referenced parts (crossings 0 here)
    expected = (min(1, m.local_edges(["near"]) / VISUAL_REFERENCES["local_edges"]) + 0 + 0) / 3
    assert m.score(["near"]) == pytest.approx(round(expected, 3))
    assert m.score([]) == pytest.approx(round(min(1, m.edge_density / VISUAL_REFERENCES["local_edges"]) / 3, 3))


def test_spearman_against_hand_worked_values():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1)
    # ties: ranks of b = [0.5, 0.5, 2, 3]; a ranks [0, 1, 2, 3]; Pearson of the ranks by hand
    ra, rb = [0, 1, 2, 3], [0.5, 0.5, 2, 3]
    ma, mb = 1.5, 1.5
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb, strict=True))
    expected = cov / math.sqrt(sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb))
    assert spearman([1, 2, 3, 4], [0, 0, 1, 2]) == pytest.approx(expected)
    assert spearman([1, 2, 3], [5, 5, 5]) is None
    assert [visual_difficulty(x) for x in (0.1, 0.35, 0.36, 0.6, 0.61)] == ["easy", "easy", "middle", "middle", "hard"]


def test_generated_and_real_builds_carry_difficulty_visual(tmp_path):
    gen, tokyo, text = tmp_path / "gen", tmp_path / "tokyo", tmp_path / "text"
    assert main(["build", "--generated", "3", "--difficulty", "ladder", "--seed", "2", "--out", str(gen), "--per-type", "6"]) == 0
    assert main(["build", "--city", "tokyo", "--annotations", str(ROOT / "annotations"), "--out", str(tokyo), "--per-type", "6"]) == 0
    assert main(["build", "--generated", "1", "--out", str(text), "--per-type", "4", "--no-images"]) == 0
    for folder in (gen, tokyo):
        rows = [r for rs in read_dataset(folder).values() for r in rs]
        assert all(0 <= r["difficulty_visual"] <= 1 for r in rows)
        manifest = json.loads((folder / "manifest.json").read_text())
        assert set(manifest["visual"]) == {r["city"] for r in rows}
        card = (folder / "README.md").read_text()
        assert "### Visual difficulty" in card and "Spearman with question difficulty" in card
    # a busier map scores higher: the hard generated city against the easy one, on average
    rows = [r for rs in read_dataset(gen).values() for r in rs]
    mean = {c: np.mean([r["difficulty_visual"] for r in rows if r["city"] == c]) for c in {r["city"] for r in rows}}
    assert mean["synth-2-0002"] > mean["synth-2-0000"]
    assert all(r["difficulty_visual"] is None for rs in read_dataset(text).values() for r in rs)
    assert "### Visual difficulty" not in (text / "README.md").read_text()
