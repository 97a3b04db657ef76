"""End to end on a folder from the real `mapkit build`: card, push, second revision, load, export."""
from __future__ import annotations

import json

import pytest
from test_hub import REPO, fake  # noqa: F401  (the fake Hub fixture)


@pytest.fixture
def annotations(tmp_path):
    """The mini fixture with a map image of its own, so the build copies it (no renderer needed)."""
    from conftest import FIXTURES
    from PIL import Image

    folder = tmp_path / "annotations"
    folder.mkdir()
    Image.new("RGB", (320, 240), "white").save(folder / "mini.png")
    data = json.loads((FIXTURES / "mini.json").read_text())
    data["image"] = {"file": "mini.png", "width": 320, "height": 240}
    (folder / "mini.json").write_text(json.dumps(data))
    return folder


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_built_folder_pushes_tags_and_is_replaced_by_the_next_build(fake, annotations, tmp_path, run_cli):  # noqa: F811
    from datasets import load_dataset

    out = tmp_path / "out"
    code, _, err = run_cli("build", "--city", "mini", "--annotations", annotations, "--out", out, "--seed", "0")
    assert code == 0, err
    code, stdout, err = run_cli("push", out, "--repo-id", REPO, "--tag", "v1.0.0")
    assert code == 0, err
    remote = fake.files(REPO, "v1.0.0")
    remote.pop(".gitattributes")
    assert remote == snapshot(out)
    card = remote["README.md"].decode()  # the build's minimal card was replaced by the full one
    assert "## Counts" in card and "## Citation" in card and f'load_dataset("{REPO}", revision="v1.0.0")' in card
    manifest = json.loads(remote["manifest.json"])
    assert f"{manifest['counts']['total']:,} visual questions" in card

    ds = load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert {s: ds[s].num_rows for s in ds} == manifest["counts"]["split"]

    code, _, err = run_cli("build", "--city", "mini", "--annotations", annotations, "--out", out, "--seed", "1",
                           "--types", "TorF1,Counting3")
    assert code == 0, err
    code, stdout, err = run_cli("push", out, "--repo-id", REPO, "--tag", "v1.1.0")
    assert code == 0, err
    remote = fake.files(REPO, "v1.1.0")
    remote.pop(".gitattributes")
    assert remote == snapshot(out)
    assert fake.repo(REPO).commits[fake.head(REPO)].parent == fake.repo(REPO).tags["v1.0.0"]
    examples = remote["README.md"].decode().split("## Examples")[1].split("## Dataset structure")[0]
    assert "### TorF1" in examples and "### Counting1" not in examples  # the card follows the new build

    sft = tmp_path / "sft.json"
    code, stdout, err = run_cli("export", out, "--format", "sharegpt", "--out", sft, "--boxed")
    assert code == 0, err
    data = json.loads(sft.read_text())
    assert len(data) == ds_train_rows(out) and data
    assert all(d["conversations"][1]["value"].startswith("\\boxed{") for d in data)


def ds_train_rows(folder):
    return json.loads((folder / "manifest.json").read_text())["counts"]["split"]["train"]


def test_text_only_build_exports_without_images(annotations, tmp_path, run_cli):
    out = tmp_path / "text"
    code, _, err = run_cli("build", "--city", "mini", "--annotations", annotations, "--out", out, "--no-images",
                           "--types", "TorF2")
    assert code == 0, err
    sft = tmp_path / "text.json"
    assert run_cli("export", out, "--format", "sharegpt", "--out", sft)[0] == 0
    data = json.loads(sft.read_text())
    assert data and all(d["images"] == [] and "<image>" not in d["conversations"][0]["value"] for d in data)
