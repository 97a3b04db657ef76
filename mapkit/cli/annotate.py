"""Commands for annotators: validate, import, stats."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer
from rich.table import Table

from mapkit.cli._app import app, error, out, warn

import_app = typer.Typer(help="Convert other formats (ReasonMap JSON, GTFS) into native annotations.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@app.command()
def validate(
    paths: List[Path] = typer.Argument(..., metavar="PATH", help="Annotation files (or folders of them), or dataset folders (OUT of `mapkit build`), "
                                                                 "to check."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print errors only, no warnings or summary."),
) -> None:
    """Check annotation files against the schema and the semantic rules, and dataset folders
    (records, split hygiene: no test question answerable from a train one, files, counts).

    Exit 0 when every file is valid (warnings are printed), 1 otherwise, with one line
    per problem: file, JSON path, what is wrong and how to fix it.
    """
    from mapkit.annotation import load
    from mapkit.errors import AnnotationError

    files: list[Path] = []
    folders = [path for path in paths if (path / "manifest.json").is_file()]
    for path in paths:
        if path not in folders:
            files.extend(sorted(path.glob("*.json")) if path.is_dir() else [path])
    if not files and not folders:
        raise typer.BadParameter("no .json files found", param_hint="PATHS")
    bad = _validate_dataset_folders(folders, quiet)
    for file in files:
        try:
            annotation = load(file)
        except AnnotationError as e:
            bad += 1
            for problem in e.problems:
                error(str(problem))
            continue
        if not quiet:
            for problem in annotation.warnings:
                warn(str(problem))
            out.print(f"ok: {file} ({len(annotation.stations)} stations, {len(annotation.lines)} lines)")
    if not quiet and files:
        out.print(f"{len(files) + len(folders) - bad} of {len(files) + len(folders)} file(s) and dataset folder(s) valid"
                  if folders else f"{len(files) - bad} of {len(files)} file(s) valid")
    if bad:
        raise typer.Exit(1)


def _validate_dataset_folders(folders: list[Path], quiet: bool) -> int:
    """Dataset folders (they hold manifest.json): records, split hygiene, files, counts. Returns how many fail."""
    from mapkit.dataset import validate_folder
    from mapkit.errors import DatasetError

    bad = 0
    for folder in folders:
        try:
            manifest = validate_folder(folder)
        except DatasetError as e:
            bad += 1
            error(f"{folder}: {e}")
            continue
        if not quiet:
            out.print(f"ok: {folder} (dataset, {manifest['counts']['total']} questions, no split leaks)")
    return bad


@import_app.command("reasonmap")
def import_reasonmap_cmd(
    src: Path = typer.Argument(..., help="ReasonMap's stations/ folder, a country folder, or one <city>.json."),
    out_dir: Path = typer.Option(..., "--out", help="Folder to write <city>.json files into."),
    maps: Optional[Path] = typer.Option(None, "--maps", help="ReasonMap's maps/ folder: link each city's map image when it exists."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print every import warning, not just the count per city."),
) -> None:
    """Convert ReasonMap station lists into native annotations, one file per city."""
    from mapkit.importers.reasonmap import import_reasonmap

    results = import_reasonmap(src, out_dir, maps)
    for result in results:
        notes = list(result.warnings) + [str(w) for w in result.annotation.warnings]
        image = "with image" if result.annotation.image else "no image"
        out.print(f"{result.path}: {len(result.annotation.stations)} stations, {len(result.annotation.lines)} lines, {image}, {len(notes)} warning(s)")
        for note in notes if verbose else []:
            warn(note)
    out.print(f"imported {len(results)} cit{'y' if len(results) == 1 else 'ies'} into {out_dir}" + ("" if verbose else " (--verbose lists the warnings)"))


@app.command()
def stats(
    path: Optional[Path] = typer.Argument(None, help="An annotation file (or folder of them); or use --city."),
    city: Optional[str] = typer.Option(None, "--city", help="City name, read from --annotations."),
    annotations: Path = typer.Option(Path("annotations"), "--annotations", help="Folder of native annotations."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Lines, stations, transfers, longest line and map difficulty of each city."""
    from mapkit.annotation import find_city, load
    from mapkit.difficulty import map_difficulty
    from mapkit.graph import TransitMap

    if path is not None and city is not None:
        raise typer.BadParameter("give a PATH or --city, not both")
    if city is not None:
        files = [find_city(city, annotations)]
    elif path is not None:
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
    else:
        files = sorted(annotations.glob("*.json"))
    if not files:
        raise typer.BadParameter(f"no annotations found in {path or annotations}")
    rows = []
    for file in files:
        s = TransitMap.from_annotation(load(file)).stats()
        rows.append({**vars(s), "difficulty": map_difficulty(s.line_count, s.transfer_count)})
    if as_json:
        out.print_json(json.dumps(rows if len(rows) > 1 else rows[0], ensure_ascii=False))
        return
    table = Table(title="map statistics")
    for column in ("city", "lines", "stations", "transfers", "longest line", "difficulty"):
        table.add_column(column, justify="left" if column in ("city", "longest line", "difficulty") else "right")
    for r in rows:
        table.add_row(r["city"], str(r["line_count"]), str(r["station_count"]), str(r["transfer_count"]),
                      f"{r['longest_line']} ({r['longest_line_stations']})", r["difficulty"])
    out.print(table)
