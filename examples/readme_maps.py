"""Make the README's two small map pictures: a generated city next to a real one (Tokyo).

    python examples/readme_maps.py            # -> docs/img/generated_middle.png, docs/img/tokyo.png

Both are rendered at the default 4000 px (so every label is placed as in a build), then
shrunk to 1000 px and reduced to a 64-colour palette to stay well under 300 KB.
"""
from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mapkit.annotation import load, loads  # noqa: E402
from mapkit.generate import generate_city, plan  # noqa: E402
from mapkit.render import render_map  # noqa: E402

WIDTH = 1000


def save_small(image: Image.Image, path: Path) -> None:
    small = image.convert("RGB")
    small = small.resize((WIDTH, round(small.height * WIDTH / small.width)), Image.LANCZOS)
    small.quantize(colors=64, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(path, optimize=True)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")


def main() -> None:
    out = ROOT / "docs" / "img"
    out.mkdir(parents=True, exist_ok=True)
    generated = loads(generate_city(plan(1, difficulty="middle")[0], seed=0, index=0))
    for annotation, name in ((generated, "generated_middle.png"), (load(ROOT / "annotations" / "tokyo.json"), "tokyo.png")):
        rendered = render_map(annotation)
        assert not rendered.unplaced_labels, rendered.unplaced_labels
        save_small(rendered.image, out / name)


if __name__ == "__main__":
    main()
