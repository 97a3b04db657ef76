"""Draw one Grounding question on its map: the picture in the README.

    python examples/grounding_example.py                      # -> docs/grounding_example.png
    python examples/grounding_example.py --out check.png --seed 3

Renders Tokyo, makes its Grounding1 ("where is station X?") questions exactly as
`mapkit build --types Grounding1` does, takes the first of middle difficulty, and crops
the map around it with the answer box drawn in red and the clutter radius that set its
difficulty in grey. Prints the question and the answer.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from PIL import Image, ImageDraw

from mapkit.annotation import load
from mapkit.graph import TransitMap
from mapkit.questions import generate
from mapkit.questions.grounding import CLUTTER_RADIUS, scene_from_geometry
from mapkit.render import render_map

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--city", default=str(ROOT / "annotations" / "tokyo.json"))
    parser.add_argument("--out", default=str(ROOT / "docs" / "grounding_example.png"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--width", type=int, default=640, help="width of the picture written")
    args = parser.parse_args()

    annotation = load(args.city)
    rendered = render_map(annotation)
    scene = scene_from_geometry(rendered.geometry)
    records = generate(TransitMap.from_annotation(annotation), seed=args.seed, counts={"Grounding1": 30}, scene=scene)
    record = next(r for r in records if r["difficulty_question"] == "middle")
    box = json.loads(record["program"])["result"]["box"]

    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    radius = CLUTTER_RADIUS * max(scene.size)
    half_w, half_h = 2.2 * radius, 1.5 * radius
    left, top = max(0, cx - half_w), max(0, cy - half_h)
    crop = rendered.image.crop((int(left), int(top), int(min(scene.size[0], cx + half_w)), int(min(scene.size[1], cy + half_h))))
    draw = ImageDraw.Draw(crop)
    draw.ellipse((cx - radius - left, cy - radius - top, cx + radius - left, cy + radius - top), outline=(150, 150, 150), width=3)
    draw.rectangle((box[0] - left - 4, box[1] - top - 4, box[2] - left + 4, box[3] - top + 4), outline=(220, 0, 0), width=6)
    scale = args.width / crop.width
    small = crop.resize((args.width, round(crop.height * scale)), Image.Resampling.LANCZOS)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    small.convert("P", palette=Image.Palette.ADAPTIVE, colors=128).save(out, optimize=True)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB): crop {crop.width}x{crop.height} of the {scene.size[0]}x{scene.size[1]} map "
          f"at ({int(left)}, {int(top)})")
    print(f"type: {record['type']}  difficulty: {record['difficulty_question']} "
          f"(clutter {json.loads(record['program'])['clutter']})  frame: {record['frame']}")
    print(f"question: {record['question']}")
    print(f"answer: {record['answer_text']}")


if __name__ == "__main__":
    main()
