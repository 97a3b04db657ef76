"""`mapkit build`: annotations -> a dataset folder of ReasonMap-Plus questions (+ planning)."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from mapkit.cli._app import app, err, out, warn


@app.command()
def build(
    city: str | None = typer.Option(None, "--city", help="City to build: reads ANNOTATIONS/CITY.json."),
    all_cities: bool = typer.Option(False, "--all", help="Build every annotation in the folder into one dataset."),
    annotations: Path = typer.Option(Path("annotations"), "--annotations", help="Folder of native annotations."),
    out_dir: Path | None = typer.Option(None, "--out", help="Dataset folder to write [default: out/CITY, or out/all with --all]."),
    seed: int = typer.Option(0, "--seed", help="Seed of every random choice: the same inputs and seed give the same files."),
    per_type: int | None = typer.Option(None, "--per-type", min=1, help="Questions per type and city instead of the ReasonMap-Plus defaults (Counting3 "
                                                                        "stays one per map)."),
    types: list[str] | None = typer.Option(None, "--types", help="Only these types (repeat or comma-separate): TorF1, TorF2, Counting1, Counting2, "
                                                                 "Counting3, planning; Grounding1-3 or Grounding (perception questions in pixels, only "
                                                                 "when named)."),
    split_by: str = typer.Option("question", "--split-by", help="question: stratified 80/20 by type and difficulty; city: hold out whole cities."),
    test_fraction: float = typer.Option(0.2, "--test-fraction", min=0.0, max=0.95, help="Share of questions (or cities) in the test split."),
    skip_missing_images: bool = typer.Option(False, "--skip-missing-images", help="Leave out, with a warning, cities with neither a map image nor "
                                                                                  "coordinates."),
    no_images: bool = typer.Option(False, "--no-images", help="Text-only dataset (ReasonMap's text-only baseline): no maps, empty `figure`."),
    templates: Path | None = typer.Option(None, "--templates", help="Template folder [default: $MAPKIT_TEMPLATES or templates/]."),
    keep_unreadable: bool = typer.Option(False, "--keep-unreadable", help="Keep questions naming a station or line that cannot be read off the map "
                                                                          "image (counted, not dropped)."),
    jobs: int | None = typer.Option(None, "--jobs", "-j", min=1, help="Processes that load, generate and render cities [default: every core]; the "
                                                                      "output does not depend on it."),
    images_root: Path | None = typer.Option(None, "--images-root",
                                            help="Folder that may hold map images besides the annotation's own folder."),
    generated: int | None = typer.Option(None, "--generated", min=1, metavar="N",
                                         help="Build N synthetic cities made on the fly with --seed (see `mapkit generate`)."),
    difficulty: str = typer.Option("any", "--difficulty", help="With --generated: easy, middle, hard, ladder or any map difficulty."),
    lang: str = typer.Option("en", "--lang", help="Language of the questions (en, zh, ja: templates/<lang>/); station names "
                                                   "come from names.<lang>. With --generated, the cities' names too."),
    font: Path | None = typer.Option(None, "--font", help="Font for rendered maps (CJK names need one, e.g. NotoSansCJK-Regular.ttc)."),
) -> None:
    """Generate questions from annotations and write a dataset folder.

    The folder holds data/<split>-00000-of-00001.parquet, one image per map in maps/
    (and the `maps` config, maps/maps-00000-of-00001.parquet), the annotations used,
    manifest.json and a README.md dataset card; `datasets.load_dataset(OUT)` loads it,
    `mapkit.dataset.load(OUT)` with the map of each question as a PIL image. Nothing is
    written unless every record validates, and a failed build leaves any earlier folder
    untouched. Questions whose map image does not show a station or line they name are
    dropped and counted (--keep-unreadable keeps them). `--city tokyo` (a rendered map)
    takes about 4-6 s on an idle 2-core machine.
    """
    from mapkit.annotation import find_city
    from mapkit.dataset import build_dataset, resolve_counts

    if generated is not None:
        if city is not None or all_cities:
            raise typer.BadParameter("--generated builds synthetic cities; leave out --city and --all")
        return _build_generated(generated, difficulty, out_dir or Path("out") / "generated", seed=seed, per_type=per_type,
                                types=types, split_by=split_by, test_fraction=test_fraction, no_images=no_images,
                                templates=templates, keep_unreadable=keep_unreadable, jobs=jobs,
                                images_root=images_root, lang=lang, font=font)
    if (city is None) == (not all_cities):
        raise typer.BadParameter("give --city NAME or --all (one of them), or --generated N")
    if split_by not in ("question", "city"):
        raise typer.BadParameter(f"--split-by is question or city, not {split_by!r}")
    wanted_types = [t.strip() for item in types or [] for t in item.split(",") if t.strip()]
    counts = resolve_counts(per_type, wanted_types)
    if city is not None:
        paths = [find_city(city, annotations)]
        target = out_dir or Path("out") / city
    else:
        paths = sorted(annotations.glob("*.json")) if annotations.is_dir() else []
        if not paths:
            raise typer.BadParameter(f"no annotations (*.json) in {annotations}", param_hint="--annotations")
        target = out_dir or Path("out") / "all"
    result = build_dataset(
        paths, target, seed=seed, counts_by_type=counts, templates_dir=templates, images=not no_images,
        skip_missing_images=skip_missing_images, split_by=split_by, test_fraction=test_fraction,
        progress=True, warn=warn, keep_unreadable=keep_unreadable, jobs=jobs, images_root=images_root, language=lang, font=font,
    )
    for report in result.reports:
        none = {t for t in report.wanted if t.startswith("Grounding") and report.made[t] == 0}
        short = [f"{t} {report.made[t]}/{n}" for t, n in report.wanted.items() if report.made[t] < n and t not in none]
        if short:
            err.print(f"note: {report.city} supplies fewer distinct balanced questions: {', '.join(short)}")
        unseen = sorted({why for (t, why), k in report.dropped.items() if t in none and k})
        if unseen:
            err.print(f"note: {report.city} gets no Grounding questions: {'; '.join(unseen)}")
    out.print(summary_table(result.counts))
    for city_name, dropped in result.unreadable.items():
        if dropped:
            verb = "kept" if keep_unreadable else "dropped"
            out.print(f"{city_name}: {verb} {sum(dropped.values())} unreadable: "
                      + ", ".join(f"{n} {reason}" for reason, n in sorted(dropped.items())))
    if result.dropped_split_hygiene:
        out.print("dropped for split hygiene (no test question answerable from a train one): "
                  + ", ".join(f"{c} {n}" for c, n in result.dropped_split_hygiene.items()))
    sources = sorted(set(result.map_sources.values()))
    out.print(f"{result.counts['total']} questions from {len(result.cities)} cit{'y' if len(result.cities) == 1 else 'ies'} "
              f"(maps: {', '.join(sources)}) in {result.seconds:.1f} s -> {result.out}")


def _build_generated(count: int, difficulty: str, target: Path, *, seed: int, **options) -> None:
    import tempfile

    from mapkit.generate import LANGUAGES, plan, write_cities

    configs = plan(count, difficulty=difficulty, language=options["lang"] if options["lang"] in LANGUAGES else "en")
    with tempfile.TemporaryDirectory(prefix="mapkit-generated-") as folder:
        write_cities(configs, folder, seed=seed)
        build(city=None, all_cities=True, annotations=Path(folder), out_dir=target, seed=seed,
              skip_missing_images=False, generated=None, difficulty="any", **options)


def summary_table(counts: dict) -> Table:
    splits = list(counts["split"])
    labels = ("easy", "middle", "hard")
    table = Table(title="questions built")
    table.add_column("type")
    for column in [*labels, *splits, "total"]:
        table.add_column(column, justify="right")
    totals = [0] * (len(labels) + len(splits) + 1)
    for t, n in counts["type"].items():
        cells = [sum(counts["split_type_difficulty"][s].get(t, {}).get(d, 0) for s in splits) for d in labels]
        cells += [sum(counts["split_type_difficulty"][s].get(t, {}).values()) for s in splits] + [n]
        totals = [a + b for a, b in zip(totals, cells)]
        table.add_row(t, *map(str, cells))
    table.add_row("all", *map(str, totals), style="bold")
    return table
