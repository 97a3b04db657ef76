"""Shared fixtures. Tests that need ../shared/reasonmap skip with a reason when it is
absent, except under MAPKIT_REQUIRE_SHARED=1 (CI), where they fail instead."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED = ROOT.parent / "shared" / "reasonmap"


def _need_shared() -> Path:
    if SHARED.is_dir():
        return SHARED
    if os.environ.get("MAPKIT_REQUIRE_SHARED") == "1":
        pytest.fail(f"MAPKIT_REQUIRE_SHARED=1 but {SHARED} is missing")
    pytest.skip(f"ReasonMap reference data not found at {SHARED} (it sits beside the checkout in CI)")


@pytest.fixture
def reasonmap_dir() -> Path:
    """../shared/reasonmap (stations/ and maps/), or a skip with the reason."""
    return _need_shared()


@pytest.fixture
def mini_path() -> Path:
    """A 12-station hand-made city with a branch (R), a loop (O) and 4 lines."""
    return FIXTURES / "mini.json"


@pytest.fixture
def mini_with_image(tmp_path) -> Path:
    """mini.json beside a small map image (one odd pixel, so decoding can be checked),
    linked by an `image` block."""
    import json

    from PIL import Image

    data = json.loads((FIXTURES / "mini.json").read_text())
    data["image"] = {"file": "mini.png", "width": 64, "height": 48}
    path = tmp_path / "ann" / "mini.json"
    path.parent.mkdir()
    path.write_text(json.dumps(data))
    image = Image.new("RGB", (64, 48), (250, 240, 230))
    image.putpixel((3, 5), (1, 2, 3))
    image.save(path.parent / "mini.png")
    return path


@pytest.fixture(scope="session")
def reasonmap_annotations(tmp_path_factory) -> Path:
    """The 30 ReasonMap cities imported once per session (maps linked from ../shared)."""
    from mapkit.importers.reasonmap import import_reasonmap

    shared = _need_shared()
    folder = tmp_path_factory.mktemp("reasonmap")
    import_reasonmap(shared / "stations", folder, shared / "maps")
    assert len(list(folder.glob("*.json"))) == 30
    return folder


@pytest.fixture
def tokyo_path() -> Path:
    return ROOT / "annotations" / "tokyo.json"


@pytest.fixture
def run_cli(capsys):
    """Run `mapkit ARGS...` in-process; returns (exit code, stdout, stderr)."""
    from mapkit.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture(autouse=True, scope="session")
def _torch_on_one_thread():
    """The tiny model gains nothing from intra-op threads, and on a shared 2-core machine
    (CI, parallel runs) spinning OpenMP workers multiply its wall time. Only when a test
    module already imported torch: data-only runs never pay for importing it."""
    import sys

    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)
    yield


def pytest_collection_modifyitems(config, items):
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return  # importing torch costs seconds; only look for CUDA when a test asks
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    skip_gpu = pytest.mark.skip(reason="needs a CUDA GPU; CI and this machine have none")
    for item in gpu_items:
        if not has_cuda:
            item.add_marker(skip_gpu)
