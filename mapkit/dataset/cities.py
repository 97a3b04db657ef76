"""The per-city work of a build, in a process pool: load the annotation, decide where its map
comes from, generate its questions, render its map when it has none of its own and keep
the questions its image can answer (``mapkit.dataset.gate``).

Every city is independent (its generators are seeded by (seed, city, type)), so the
cities run in any order on any number of processes and are handed back in file order:
the bytes of a build do not depend on ``jobs``. A city that fails in a worker is run
again in the calling process, which raises its error as a sequential build would.
"""
from __future__ import annotations

import multiprocessing
import os
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mapkit.annotation import load
from mapkit.dataset.folder import MapFile
from mapkit.questions import GenerationReport
from mapkit.questions.templates import TemplateSet


def default_jobs() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class CityResult:
    """What one city's jobs produced (plain data, so it crosses process boundaries)."""

    name: str
    source: str  # image | rendered | none | missing
    image: Path | None = None  # the annotation's own map image (source == "image")
    records: list[dict[str, Any]] = field(default_factory=list)
    report: GenerationReport | None = None
    unreadable: Counter = field(default_factory=Counter)  # gate reason -> items (dropped unless kept)
    staged: list[Path] = field(default_factory=list)  # rendered PNG and geometry JSON, waiting in a staging folder
    visual: dict[str, Any] | None = None  # the map's clutter measures (mapkit.render.visual), when it has an image
    localized: bytes | None = None  # --lang: the annotation as the folder keeps it

    def map_file(self) -> MapFile | None:
        if self.source == "image":
            return MapFile(self.name, source=self.image)
        if self.source == "rendered":
            return MapFile(self.name, render=_mover(self.staged))
        return None


def _mover(staged: list[Path]) -> Callable[[Path], None]:
    def move(target: Path) -> None:  # maps/<city>.png and <city>.geometry.json beside it, as rendered
        for path in staged:
            shutil.move(str(path), str(target.parent / path.name))
    return move


# Set before the pool forks, so that workers share the parent's templates instead of
# receiving a copy per task.
_TEMPLATES: dict[Any, TemplateSet] = {}


def _build_city(path: Path, templates_key: Any, seed: int, counts: tuple[dict[str, int], dict[str, int]],
                images: bool, keep_unreadable: bool, staging: Path, images_root: Path | None = None, language: str = "en",
                font: str | Path | None = None) -> CityResult:
    from mapkit.dataset.build import _city_records, _map_plan  # build decides what a city's questions are

    annotation = load(path)
    localized = None
    if language != "en":  # questions in the map's language: names from names.<language>
        import json

        from mapkit.questions.language import localize

        annotation = localize(annotation, language)
        localized = (json.dumps(annotation.to_dict(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    source, map_file = _map_plan(annotation, images, images_root)
    city = CityResult(annotation.city, source, map_file.source if map_file else None, localized=localized)
    if source == "missing":
        return city
    templates = _TEMPLATES.get(templates_key)
    if templates is None:  # a worker started without the parent's memory (spawn)
        from mapkit.questions import load_templates

        where = templates_key[0] if isinstance(templates_key, tuple) else templates_key  # (folder, language) for --lang
        templates = _TEMPLATES[templates_key] = load_templates(where, language)
    graph_counts, grounding_counts = counts
    city.records, gated_map, city.report, city.unreadable = _city_records(
        annotation, source, map_file, templates, seed, graph_counts, grounding_counts, keep_unreadable, font)
    if source == "rendered" and gated_map is not None and gated_map.render is not None:
        folder = staging / annotation.city  # one folder per city: two files may not share a city name
        folder.mkdir(parents=True, exist_ok=True)
        gated_map.render(folder / f"{annotation.city}.png")  # the PNG and its geometry JSON
        city.staged = sorted(folder.iterdir())
    staged_png = [p for p in city.staged if p.suffix == ".png"]
    png = staged_png[0] if staged_png else map_file.source if source == "image" and map_file else None
    if png is not None and png.is_file():  # measured here, in the pool, from the map as written
        from mapkit.render.visual import measure_map, score_records

        city.visual = score_records(city.records, measure_map(png, annotation))
    return city


def run_city_jobs(paths: list[Path], templates_key: Any, templates: TemplateSet, *, seed: int,
                  counts: tuple[dict[str, int], dict[str, int]], images: bool, keep_unreadable: bool, staging: Path, jobs: int,
                  progress: bool, images_root: Path | None = None, language: str = "en",
                  font: str | Path | None = None) -> list[CityResult]:
    """One ``CityResult`` per path, in path order."""
    _TEMPLATES[templates_key] = templates
    tasks = [(_build_city, (path, templates_key, seed, counts, images, keep_unreadable, staging, images_root, language, font))
             for path in paths]
    return _run(tasks, jobs, progress)


def _run(tasks: list[tuple[Callable[..., Any], tuple[Any, ...]]], jobs: int, progress: bool) -> list[Any]:
    if jobs == 1 or len(tasks) <= 1:
        return [fn(*args) for fn, args in _bar(tasks, progress)]
    # Big cities first: file size is a fair guess of their cost.
    order = sorted(range(len(tasks)), key=lambda i: (-_size(tasks[i][1][0]), i))
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)  # fork: no re-imports per worker
    results: list[Any] = [None] * len(tasks)
    with ProcessPoolExecutor(max_workers=min(jobs, len(tasks)), mp_context=context) as pool:
        futures: dict[int, Future] = {i: pool.submit(tasks[i][0], *tasks[i][1]) for i in order}
        for i in _bar(range(len(tasks)), progress):
            try:
                results[i] = futures[i].result()
            except Exception:  # noqa: BLE001 - run it here: the error is raised as a sequential build raises it
                results[i] = tasks[i][0](*tasks[i][1])
    return results


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _bar(items: Iterable[Any], enabled: bool) -> Iterable[Any]:
    if not enabled:
        return items
    from tqdm import tqdm

    # disable=None: a bar on a terminal, silence when stderr is redirected
    return tqdm(list(items), desc="cities", unit="job", file=sys.stderr, disable=None, leave=False)
