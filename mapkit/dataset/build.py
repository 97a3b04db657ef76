"""``mapkit build`` as a library call: annotations in, one dataset folder out.

Steps: load every annotation and decide where its map image comes from (its own image,
else a rendering from coordinates, else skip or fail); generate records per city with
a seed derived from (seed, city, type); render the city's map (labels of the stations
the questions name first when some would be missing) and drop the records its image
cannot answer (``mapkit.dataset.gate``); split; validate every record; then write the
folder atomically. Nothing is written before every record has validated.

Example::

    >>> result = build_dataset(["annotations/tokyo.json"], "out/tokyo", seed=0)  # doctest: +SKIP
    >>> result.counts["type"]["TorF1"]                                          # doctest: +SKIP
    35
"""
from __future__ import annotations

import gc
import hashlib
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapkit.annotation import Annotation
from mapkit.dataset import gate
from mapkit.dataset.cities import CityResult, default_jobs, run_city_jobs
from mapkit.dataset.crashsafe import recover, sigterm_interrupts
from mapkit.dataset.folder import MapFile, counts, write_dataset
from mapkit.dataset.splits import assign_splits
from mapkit.errors import DatasetError, MapkitError
from mapkit.files import sha256_file
from mapkit.graph import TransitMap
from mapkit.questions import (
    ALL_TYPES,
    DEFAULT_COUNTS,
    GROUNDING_COUNTS,
    GROUNDING_TYPES,
    TYPES,
    GenerationReport,
    generate,
    load_templates,
)
from mapkit.questions.grounding import scene_from_geometry, scene_from_xy
from mapkit.questions.templates import TemplateSet
from mapkit.render.images import image_size
from mapkit.vocab import FAMILIES  # --types names that stand for several types (TorF, Counting, Grounding)


@dataclass
class BuildResult:
    out: Path
    records: list[dict[str, Any]]
    counts: dict[str, Any]
    cities: list[str]
    skipped: list[str]
    reports: list[GenerationReport]
    seconds: float
    map_sources: dict[str, str] = field(default_factory=dict)  # city -> image | rendered | none
    unreadable: dict[str, Counter] = field(default_factory=dict)  # city -> gate reason -> items (dropped unless kept)
    dropped_split_hygiene: dict[str, int] = field(default_factory=dict)  # city -> questions dropped by the split


def resolve_counts(per_type: int | None = None, types: Iterable[str] | None = None) -> dict[str, int]:
    """Questions per type: ReasonMap-Plus defaults, ``per_type`` for all but Counting3
    (one per map), restricted to ``types`` when given. Grounding types (or the family
    name ``Grounding``) are made only when named."""
    chosen = list(TYPES) if not types else [x for t in types for x in FAMILIES.get(t, (t,))]
    unknown = [t for t in chosen if t not in ALL_TYPES]
    if unknown:
        raise DatasetError(f"unknown type(s) {', '.join(unknown)}; choose from {', '.join(ALL_TYPES)} or {', '.join(FAMILIES)}")
    if per_type is not None and per_type < 1:
        raise DatasetError(f"--per-type must be at least 1, got {per_type}")
    defaults = {**DEFAULT_COUNTS, **GROUNDING_COUNTS}
    return {t: (defaults[t] if per_type is None or t == "Counting3" else per_type) for t in ALL_TYPES if t in chosen}


def has_coordinates(annotation: Annotation) -> bool:
    """Every station on a line has lonlat or xy: enough to render the map."""
    served = {s for line in annotation.lines for s in line.station_ids}
    return all(annotation.stations[s].lonlat is not None or annotation.stations[s].xy is not None for s in served)


def _map_plan(annotation: Annotation, images: bool, images_root: str | Path | None = None) -> tuple[str, MapFile | None]:
    city = annotation.city
    if not images:
        if annotation.image and Path(annotation.image.file).is_absolute():
            annotation.confined_image_path(images_root)  # raises: the dataset's copy would name an absolute path
        return "none", None
    path = annotation.confined_image_path(images_root)
    if path is not None and path.is_file():
        return "image", MapFile(city, source=path)
    if has_coordinates(annotation):
        return "rendered", MapFile(city, render=_renderer(annotation))
    return "missing", None


def _renderer(annotation: Annotation) -> Callable[[Path], None]:
    def render(target: Path) -> None:
        _save(annotation, _render(annotation), target)
    return render


RENDER_WIDTH = 4000  # px of rendered maps (the renderer's default)


def _render(annotation: Annotation, priority: Sequence[str] = (), font: str | Path | None = None):
    try:
        from mapkit.render import render_map
    except ImportError as e:
        raise DatasetError(f"{annotation.city}: has no map image and rendering is not available ({e}); "
                           "add an `image` block to the annotation or build with --no-images") from None
    try:
        return render_map(annotation, width=RENDER_WIDTH, priority=priority, font=font)
    except MapkitError as e:
        raise DatasetError(f"{annotation.city}: cannot render the map: {e}") from None


def _save(annotation: Annotation, rendered, target: Path) -> None:
    rendered.save(target)  # also writes <stem>.geometry.json beside it, with the umask's mode


def _gated(annotation: Annotation, source: str, map_file: MapFile | None, records: list[dict[str, Any]],
           dropped: Counter, keep: bool, grounding: Grounding | None = None,
           font: str | Path | None = None) -> tuple[list[dict[str, Any]], MapFile | None]:
    """The records the city's image can answer, and the map file to write (rendered now,
    so that its geometry is the evidence; re-rendered with the named stations' labels
    first when some of them found no place). ``grounding`` adds the Grounding questions
    of the final map, through the same gate."""
    if source == "image":
        evidence = gate.from_image(annotation)
        if grounding is not None:
            records = records + grounding.make(scene_from_xy(annotation, image_size(map_file.source)))
        return gate.apply(records, evidence, dropped, keep), map_file
    if source != "rendered":
        return records, map_file
    rendered = _render(annotation, font=font)
    named = gate.named_stations(records)
    missing = [s for s in named if s not in rendered.geometry["labels"]]
    if missing:
        again = _render(annotation, priority=named, font=font)
        if sum(s not in again.geometry["labels"] for s in named) < len(missing):
            rendered = again
    evidence = gate.from_geometry(annotation, rendered.geometry)
    if grounding is not None:  # asked about the map as it is written
        records = records + grounding.make(scene_from_geometry(rendered.geometry))
    return gate.apply(records, evidence, dropped, keep), MapFile(annotation.city, render=_encoded(rendered))


def _encoded(rendered) -> Callable[[Path], None]:
    """Keep a rendered map as PNG bytes until the folder is written (a 4000 px image
    held decoded is ~50 MB per city); the writer puts them where ``Rendered.save`` would."""
    import io
    import json

    buf = io.BytesIO()
    rendered.image.save(buf, format="PNG", compress_level=6)  # the bytes Rendered.save writes
    png = buf.getvalue()
    geometry = (json.dumps(rendered.geometry, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")

    def write(target: Path) -> None:
        # plain writes: the dataset folder stays private until the build renames it into place
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(png)  # with the umask's mode, like every dataset file
        target.with_name(target.stem + ".geometry.json").write_bytes(geometry)
    return write


def _city_records(annotation: Annotation, source: str, map_file: MapFile | None, templates: TemplateSet, seed: int,
                  graph_counts: dict[str, int], grounding_counts: dict[str, int], keep_unreadable: bool,
                  font: str | Path | None = None) -> tuple[list[dict[str, Any]], MapFile | None, GenerationReport, Counter]:
    """One city's records (generated, with its Grounding questions, through the gate), the
    map file to write, its report and what the gate dropped: the work of one pool job."""
    report = GenerationReport(annotation.city)
    tm, figure = TransitMap.from_annotation(annotation), f"maps/{annotation.city}.png" if map_file else ""
    city_records = generate(tm, templates=templates, seed=seed, counts=graph_counts, figure=figure, report=report)
    grounding = Grounding(tm, templates, seed, grounding_counts, figure, report) if grounding_counts else None
    if grounding is not None and source not in ("image", "rendered"):
        city_records += grounding.make(None)  # no map: none made, the report says why
        grounding = None
    dropped: Counter = Counter()
    city_records, gated_map = _gated(annotation, source, map_file, city_records, dropped, keep_unreadable, grounding, font)
    return city_records, gated_map, report, dropped


@dataclass
class Grounding:
    """Makes one city's Grounding questions once its map is final (see ``_gated``)."""

    tm: TransitMap
    templates: Any
    seed: int
    counts: dict[str, int]
    figure: str
    report: GenerationReport

    def make(self, scene) -> list[dict[str, Any]]:
        return generate(self.tm, templates=self.templates, seed=self.seed, counts=self.counts, figure=self.figure,
                        report=self.report, scene=scene)


def build_dataset(
    annotation_paths: Sequence[str | Path],
    out: str | Path,
    *,
    seed: int = 0,
    counts_by_type: Mapping[str, int] | None = None,
    templates_dir: str | Path | None = None,
    images: bool = True,
    skip_missing_images: bool = False,
    split_by: str = "question",
    test_fraction: float = 0.2,
    progress: bool = False,
    warn: Callable[[str], None] | None = None,
    keep_unreadable: bool = False,
    jobs: int | None = None,
    images_root: str | Path | None = None,
    language: str = "en",
    font: str | Path | None = None,
) -> BuildResult:
    """Build one dataset folder from annotation files (one city each).

    Records whose question names a station or line that cannot be read off the city's
    image are dropped and counted (``BuildResult.unreadable``, ``manifest.json``);
    ``keep_unreadable`` keeps them (still counted). ``jobs`` processes (default: every
    core) load, generate, gate and render the cities (``mapkit.dataset.cities``); their
    results are merged in file order, so the bytes written do not depend on ``jobs``. A map image is taken only from
    inside its annotation's folder or ``images_root``.

    ``language`` other than en asks the questions in that language: templates from
    ``templates/<language>/`` and station names from ``names[<language>]``; the folder
    keeps the localized annotation (``mapkit.questions.language``). ``font`` draws rendered maps.
    Every record with a map image gets ``difficulty_visual`` (``mapkit.render.visual``)."""
    start = time.perf_counter()
    warn = warn or (lambda message: print(f"warning: {message}", file=sys.stderr))
    if not annotation_paths:
        raise DatasetError("no annotation files to build")
    recover(out, warn)  # a build of `out` that died: restore its good copy, drop its leftovers
    jobs = default_jobs() if jobs is None else jobs
    if jobs < 1:
        raise DatasetError(f"--jobs must be at least 1, got {jobs}")
    templates = load_templates(templates_dir, language)
    counts_by_type = dict(DEFAULT_COUNTS if counts_by_type is None else counts_by_type)
    graph_counts = {t: n for t, n in counts_by_type.items() if t not in GROUNDING_TYPES}
    grounding_counts = {t: n for t, n in counts_by_type.items() if t in GROUNDING_TYPES and n > 0}
    if not images and any(counts_by_type.get(t, 0) > 0 for t in GROUNDING_TYPES):
        raise DatasetError("Grounding questions are about the map image: drop --no-images, or leave the Grounding types out")

    paths = sorted(Path(p) for p in annotation_paths)
    # Rendered maps wait here (beside the output, same file system) until the folder is written.
    staging = Path(out).parent / f".{Path(out).name}.maps-{os.getpid()}"
    try:
        with sigterm_interrupts(), _gc_paused():  # SIGTERM removes the staged maps like Ctrl-C (crashsafe)
            made = run_city_jobs(paths, templates_dir if language == "en" else (templates_dir, language), templates,
                                 seed=seed, counts=(graph_counts, grounding_counts), images=images,
                                 keep_unreadable=keep_unreadable, staging=staging, jobs=jobs, progress=progress,
                                 images_root=images_root, language=language, font=font)
            return _finish(paths, made, out, templates, seed=seed, counts_by_type=counts_by_type, images=images,
                           skip_missing_images=skip_missing_images, split_by=split_by, test_fraction=test_fraction,
                           progress=progress, warn=warn, keep_unreadable=keep_unreadable, start=start, language=language)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection during a build (its pool's forked workers inherit that).
    A build allocates millions of containers that stay alive until it ends (records, graph
    caches, queries' results), so the collector's full passes over them cost ~15% of a text
    build and free almost nothing: the 30 ReasonMap cities leave ~10k objects in cycles,
    five rendered cities ~2k. Reference counting still frees everything else at once."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _finish(paths: list[Path], made: list[CityResult], out: str | Path, templates: TemplateSet, *, seed: int,
            counts_by_type: dict[str, int], images: bool, skip_missing_images: bool, split_by: str,
            test_fraction: float, progress: bool, warn: Callable[[str], None], keep_unreadable: bool,
            start: float, language: str = "en") -> BuildResult:
    """Everything after the per-city work: checks across cities, splits, manifest, folder."""
    cities: list[tuple[Path, CityResult, MapFile | None, str]] = []
    missing: list[str] = []
    seen: dict[str, Path] = {}
    for path, city in zip(paths, made):
        if city.name in seen:
            raise DatasetError(f"{path} and {seen[city.name]} both describe city {city.name!r}; keep one")
        seen[city.name] = path
        if path.stem != city.name:
            warn(f"{path}: the file is named {path.stem!r} but its city is {city.name!r}; the dataset uses {city.name!r}")
        if city.source == "missing":
            missing.append(city.name)
            continue
        cities.append((path, city, city.map_file(), city.source))
    if missing and not skip_missing_images:
        raise DatasetError(
            f"no map for {', '.join(missing)}: the annotation has no image file and no station coordinates to render "
            "one. Fix: import the city with its map (`mapkit import reasonmap SRC --maps MAPS`), add an `image` block "
            "or `lonlat` to the stations; or pass --skip-missing-images to leave it out, or --no-images for text only")
    if missing:
        warn(f"left out {len(missing)} cit{'y' if len(missing) == 1 else 'ies'} without a map image or coordinates: {', '.join(missing)}")
    if not cities:
        raise DatasetError("nothing to build: every city was left out")

    records: list[dict[str, Any]] = [r for _, city, _, _ in cities for r in city.records]
    reports = [city.report for _, city, _, _ in cities]
    unreadable: dict[str, Counter] = {city.name: city.unreadable for _, city, _, _ in cities}
    total_unreadable = sum(unreadable.values(), Counter())
    if total_unreadable:
        what = ", ".join(f"{n} {reason}" for reason, n in sorted(total_unreadable.items()))
        warn(f"{'kept' if keep_unreadable else 'dropped'} {sum(total_unreadable.values())} question(s) their map image "
             f"cannot answer: {what}" + ("" if keep_unreadable else " (--keep-unreadable keeps them)"))
    if not records:
        why = sorted({f"{t}: {reason}" for r in reports for (t, reason), k in r.dropped.items() if k and t in counts_by_type})
        raise DatasetError("no questions to write: the selected types found nothing to ask on these maps"
                           + (f" ({'; '.join(why)})" if why else "")
                           + ". Grounding questions need a rendered map or an image whose annotation gives station xy")
    kept = assign_splits(records, seed=seed, test_fraction=test_fraction, by=split_by)
    hygiene = _dropped_by_city(records, kept)
    if hygiene:
        warn(f"dropped {sum(hygiene.values())} question(s) for split hygiene (no test question answerable from a "
             f"train one): " + ", ".join(f"{c} {n}" for c, n in hygiene.items()))
    records = kept

    questions = Counter(r["city"] for r in records)
    manifest = {
        "seed": seed,
        "options": {"counts": counts_by_type, "images": images, "split_by": split_by, "test_fraction": test_fraction},
        "unreadable": {"kept": keep_unreadable, "total": dict(sorted(total_unreadable.items()))},
        "templates": dict(templates.hashes),
        "cities": {
            a.name: {
                "annotation": f"annotations/{a.name}.json",
                "annotation_sha256": hashlib.sha256(a.localized).hexdigest() if a.localized else sha256_file(path),
                "map": f"maps/{a.name}.png" if m else None,
                "map_source": source,
                "image_sha256": sha256_file(m.source) if m and m.source else None,
                "questions": questions[a.name],
                "unreadable": dict(sorted(unreadable[a.name].items())),
                "dropped_split_hygiene": hygiene.get(a.name, 0),
            }
            for path, a, m, source in cities
        },
        "skipped_cities": missing,
        # input file -> sha256: what `mapkit.publish.card` lists as provenance
        "inputs": {
            **{f"annotations/{p.name}": sha256_file(p) for p, _, _, _ in cities},
            **{f"maps/{m.source.name}": sha256_file(m.source) for _, _, m, _ in cities if m and m.source},
            **{f"templates/{'' if language == 'en' else language + '/'}{name}": digest for name, digest in templates.hashes.items()},
        },
    }
    if language != "en":
        manifest["options"]["language"] = language  # only then: English builds keep their bytes
    visual = {a.name: a.visual for _, a, _, _ in cities if a.visual}
    if visual:
        manifest["visual"] = visual  # per-map clutter measures behind difficulty_visual
    maps = [m for _, _, m, _ in cities if m is not None]
    bar = _bar(maps, progress, "maps") if progress else None
    write_dataset(out, records, annotations={a.name: a.localized or p for p, a, _, _ in cities}, maps=bar if bar is not None else maps,
                  manifest=manifest, leaks_checked=True)  # assign_splits above checked the records it returned
    return BuildResult(Path(out), records, counts(records), [a.name for _, a, _, _ in cities], missing, reports,
                       time.perf_counter() - start, {a.name: s for _, a, _, s in cities}, unreadable,
                       dropped_split_hygiene=hygiene)


def _dropped_by_city(records: list[dict[str, Any]], kept: list[dict[str, Any]]) -> dict[str, int]:
    """City -> questions the split dropped rather than leak an answer across splits."""
    left = Counter(r["city"] for r in records)
    left.subtract(r["city"] for r in kept)
    return {city: n for city, n in sorted(left.items()) if n}


def _bar(items: list[Any], enabled: bool, desc: str) -> Iterable[Any]:
    if not enabled:
        return items
    from tqdm import tqdm

    # disable=None: a bar on a terminal, silence when stderr is redirected
    return tqdm(items, desc=desc, unit="city" if desc == "questions" else "map", file=sys.stderr, disable=None, leave=False)

