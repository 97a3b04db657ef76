"""`mapkit generate`: synthetic cities (annotations) with controlled size and difficulty."""
from __future__ import annotations

from pathlib import Path

import typer

from mapkit.cli._app import app, out


@app.command()
def generate(
    count: int = typer.Option(..., "--count", min=1, max=100000, help="How many cities to write."),
    seed: int = typer.Option(0, "--seed", help="Seed: the same seed and options give the same files."),
    out_dir: Path = typer.Option(..., "--out", help="Folder to write synth-SEED-INDEX.json files into."),
    difficulty: str = typer.Option("any", "--difficulty", help="easy, middle or hard maps only; ladder: easy -> middle -> hard "
                                                                 "in thirds; any: the ranges below."),
    lines: str | None = typer.Option(None, "--lines", metavar="A-B", help="Lines per city."),
    stations: str | None = typer.Option(None, "--stations", metavar="A-B", help="Stations per city."),
    transfers: str | None = typer.Option(None, "--transfers", metavar="A-B", help="Interchange stations (on 2+ lines) per city."),
    loops: int | None = typer.Option(None, "--loops", min=0, help="Loop lines per city."),
    branches: int | None = typer.Option(None, "--branches", min=0, help="Lines with a branch per city."),
    label_check: bool = typer.Option(True, "--label-check/--no-label-check",
                                     help="Render each city and draw again when a label finds no place (about 1 s a city)."),
    lang: str = typer.Option("en", "--lang", help="Language of station names: en, de, fr, es, it, zh, ja "
                                                   "(zh/ja: romanised name + native script in names)."),
) -> None:
    """Write COUNT synthetic cities: smooth lines across a plane with lonlat, interchanges
    where lines cross, loop and branch lines, invented pronounceable names per language.

    Map difficulty (mapkit.difficulty.MAP_THRESHOLDS) follows --difficulty or the
    explicit --lines/--transfers ranges. Each file validates, renders and builds like a
    hand-made annotation: `mapkit build --all --annotations OUT`.
    """
    import json

    from mapkit.difficulty import map_difficulty
    from mapkit.generate import parse_range, plan, write_cities

    configs = plan(count, difficulty=difficulty, lines=parse_range(lines, "--lines"),
                   stations=parse_range(stations, "--stations"), transfers=parse_range(transfers, "--transfers"),
                   loops=loops, branches=branches, language=lang)
    paths = write_cities(configs, out_dir, seed=seed, check_labels=label_check)
    labels: dict[str, int] = {}
    for path in paths:
        data = json.loads(path.read_text("utf-8"))
        served: dict[str, int] = {}
        for line in data["lines"]:
            for sid in {s for seg in line["segments"] for s in seg}:
                served[sid] = served.get(sid, 0) + 1
        label = map_difficulty(len(data["lines"]), sum(1 for n in served.values() if n >= 2))
        labels[label] = labels.get(label, 0) + 1
    spread = ", ".join(f"{labels[k]} {k}" for k in ("easy", "middle", "hard") if k in labels)
    out.print(f"wrote {len(paths)} cit{'y' if len(paths) == 1 else 'ies'} to {out_dir} ({spread}); "
              f"build them with `mapkit build --all --annotations {out_dir}`")
