"""Commands about map images: render, preview, new; and `import gtfs`."""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

import typer

from mapkit.cli._app import app, out, warn
from mapkit.cli.annotate import import_app


def _annotation_path(target: Optional[Path], city: Optional[str], annotations: Path) -> Path:
    from mapkit.annotation import find_city

    if target is not None and city is not None:
        raise typer.BadParameter("give a PATH or --city, not both")
    if city is not None:
        return find_city(city, annotations)
    if target is None:
        raise typer.BadParameter("name the city with --city NAME or give the PATH of an annotation file")
    return target


@app.command()
def render(
    path: Optional[Path] = typer.Argument(None, metavar="[PATH]", help="An annotation file; or use --city."),
    city: Optional[str] = typer.Option(None, "--city", help="City name, read from --annotations."),
    annotations: Path = typer.Option(Path("annotations"), "--annotations", help="Folder of native annotations."),
    out_file: Optional[Path] = typer.Option(None, "--out", help="PNG to write (default: ./out/<city>/map.png)."),
    width: int = typer.Option(4000, "--width", min=400, max=20000, help="Image width in pixels."),
    font: Optional[Path] = typer.Option(None, "--font", help="A .ttf/.otf/.ttc font for labels (needed for CJK names)."),
    highlight_route: Optional[Tuple[str, str]] = typer.Option(None, "--highlight-route", metavar="A B",
                                                              help="Draw the route between two stations (ids or names) on top."),
    title: Optional[str] = typer.Option(None, "--title", help="Title text (default: the annotation's name)."),
) -> None:
    """Draw a schematic map from station lonlat (or xy) and write PNG + geometry JSON.

    Beside FILE.png goes FILE.geometry.json: every station's centre and marker box and
    every label's box in pixels, plus the labels that could not be placed.
    """
    from mapkit.annotation import load
    from mapkit.render import render_map

    annotation = load(_annotation_path(path, city, annotations))
    route = tuple(highlight_route) if highlight_route else None
    target = out_file or Path("out") / annotation.city / "map.png"
    rendered = render_map(annotation, width=width, font=font, highlight_route=route, title=title)
    png, geo = rendered.save(target)
    g = rendered.geometry
    out.print(f"wrote {png} ({g['width']}x{g['height']}, {len(g['stations'])} stations, {len(annotation.lines)} lines) and {geo}")
    unplaced = g["unplaced_labels"]
    if unplaced:
        names = ", ".join(annotation.stations[s].name for s in unplaced[:10]) + (", ..." if len(unplaced) > 10 else "")
        warn(f"{len(unplaced)} label(s) could not be placed without overlapping: {names} (a larger --width gives them room)")
    else:
        out.print("all labels placed")


def _load_for_preview(path: Path):
    """Load an annotation; when its only errors are xy outside the image, load it without
    the image block instead, so the preview can show those points (it flags them)."""
    import json

    from mapkit.annotation import load, loads
    from mapkit.errors import AnnotationError
    from mapkit.importers.scaffold import load_scaffold

    try:
        annotation = load(path)
        return annotation, annotation.image_path()
    except AnnotationError as e:
        fresh = load_scaffold(path)  # `mapkit new` output: draw the bare map and say what to add
        if fresh is not None:
            return fresh, fresh.image_path()
        if not e.problems or not all(p.path.endswith(".xy") and "outside" in p.message for p in e.problems):
            raise
        data = json.loads(path.read_text(encoding="utf-8"))
        block = data.pop("image")
        for p in e.problems:
            warn(str(p))
        return loads(data, source=str(path), path=path), (path.parent / block["file"]).resolve()


@app.command()
def preview(
    path: Optional[Path] = typer.Argument(None, metavar="[PATH]", help="An annotation file; or use --city."),
    city: Optional[str] = typer.Option(None, "--city", help="City name, read from --annotations."),
    annotations: Path = typer.Option(Path("annotations"), "--annotations", help="Folder of native annotations."),
    image: Optional[Path] = typer.Option(None, "--image", help="Map image to draw on (default: the annotation's image)."),
    out_file: Path = typer.Option(..., "--out", help="PNG to write."),
    max_size: int = typer.Option(8000, "--max-size", min=500, help="Shrink maps whose long side is larger (pixels)."),
    font: Optional[Path] = typer.Option(None, "--font", help="Font for names in the side panel (CJK names need one)."),
    key: bool = typer.Option(False, "--key", help="Also print the number -> station key."),
) -> None:
    """Overlay an annotation's xy points and lines on a map image, for annotators.

    Stations are numbered circles, lines thin polylines in their colours; stations
    without xy, xy outside the image and neighbours absurdly far apart are listed and
    drawn in red.
    """
    from mapkit.errors import RenderError
    from mapkit.render.preview import preview as do_preview

    source = _annotation_path(path, city, annotations)
    annotation, image_block = _load_for_preview(source)
    if image is None:
        image = image_block
        if image is None:
            raise RenderError(f"{annotation.city} has no image block; pass the map to draw on with --image MAP.png")
    result = do_preview(annotation, image, max_side=max_size, font=font)
    written = result.save(out_file)
    if result.message:
        warn(result.message)
    for problem in result.problems:
        warn(str(problem))
    drawn = sum(1 for s in annotation.stations.values() if s.xy is not None)
    out.print(f"wrote {written} ({result.image.width}x{result.image.height}): {drawn} of {len(annotation.stations)} "
              f"stations drawn, {len(result.problems)} problem(s)")
    if key:
        for sid, n in result.numbers.items():
            out.print(f"{n}\t{sid}\t{annotation.stations[sid].name}")


@app.command()
def new(
    city: str = typer.Argument(..., metavar="NAME", help="City name (lower case, e.g. new_york)."),
    image: Optional[Path] = typer.Option(None, "--image", help="The map image the annotation will be traced on."),
    annotations: Path = typer.Option(Path("annotations"), "--annotations", help="Folder to create NAME.json in."),
    out_file: Optional[Path] = typer.Option(None, "--out", help="File to write (default: ANNOTATIONS/NAME.json)."),
    country: Optional[str] = typer.Option(None, "--country"),
    name: Optional[str] = typer.Option(None, "--name", help="Human-readable name of the map."),
    language: str = typer.Option("en", "--language", help="Language of station names (en, zh, ja, ...)."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Scaffold an annotation file: city, image block (size, sha256), empty stations and lines."""
    from mapkit.importers.scaffold import scaffold

    target = out_file or annotations / f"{city}.json"
    path = scaffold(city, out=target, image=image, force=force, country=country, name=name, language=language)
    out.print(f"wrote {path}: add stations (with xy on the image) and lines, then `mapkit validate {path}`"
              + (f" and `mapkit preview {path} --out preview.png`" if image else ""))


@import_app.command("gtfs")
def import_gtfs_cmd(
    feed: Path = typer.Argument(..., metavar="FEED.zip", help="A GTFS feed: .zip or a folder of .txt files."),
    city: str = typer.Option(..., "--city", help="City name for the annotation (lower case)."),
    out_dir: Path = typer.Option(Path("annotations"), "--out", help="Folder to write NAME.json into."),
    route_types: str = typer.Option("subway,light_rail,tram", "--route-types",
                                    help="Route types to keep: names (subway, light_rail, tram, rail, bus, ...) or GTFS numbers."),
    country: str = typer.Option("unknown", "--country"),
    name: Optional[str] = typer.Option(None, "--name", help="Map name (default: from the agency)."),
    language: Optional[str] = typer.Option(None, "--language", help="Language of stop names (default: from the feed, else en)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Print every import warning."),
    min_trip_share: float = typer.Option(0.05, "--min-trip-share",
                                         help="Keep every stop pattern run by at least this share of a route direction's trips."),
) -> None:
    """Convert a GTFS feed into a native annotation: lines from routes, stations from stops.

    Each route keeps every stop pattern (per direction) run by at least --min-trip-share
    of its trips, one-way in its direction of travel; a line per route is printed with
    the patterns kept, the trips they cover and the stations left out.
    """
    from mapkit.importers.gtfs import import_gtfs

    result = import_gtfs(feed, city, out_dir, route_types=route_types, country=country, name=name, language=language,
                         min_trip_share=min_trip_share)
    a = result.annotation
    notes = list(result.warnings) + [str(w) for w in a.warnings]
    for route in result.routes:
        out.print(str(route))
    trips = sum(r.trips for r in result.routes)
    covered = sum(r.trips_covered for r in result.routes)
    out.print(f"wrote {result.path}: {len(a.stations)} stations, {len(a.lines)} lines, {covered} of {trips} trips covered, "
              f"{len(notes)} warning(s)" + ("" if verbose or not notes else " (--verbose lists them)"))
    for note in notes if verbose else []:
        warn(note)
