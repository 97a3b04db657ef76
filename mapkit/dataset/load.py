"""Load a mapkit dataset with its map images attached: ``load`` and ``to_trl``.

``load(SOURCE)`` reads the questions (the ``default`` config) and the ``maps`` config of a
dataset folder or a Hub repository with ``datasets.load_dataset`` and adds an ``image``
column to every row read: the PIL image of the row's map, looked up by ``map_id`` and
decoded when the row is read (a few decoded maps are cached; questions share them). No
image is copied into the question rows, on disk or in memory.

``to_trl(ds)`` puts a split into the layout ``trl.GRPOTrainer`` reads: a conversational
``prompt`` (the question; TRL puts the ``image`` before it), the curriculum's order, and
every record column kept for ``mapkit.rewards.trl``'s reward functions::

    >>> from mapkit.dataset import load, to_trl                              # doctest: +SKIP
    >>> ds = load("out/tokyo")                                               # doctest: +SKIP
    >>> ds["train"][0]["image"].size                                         # doctest: +SKIP
    (4000, 3368)
    >>> train = to_trl(ds["train"], curriculum="rewardmap", seed=0)          # doctest: +SKIP
"""
from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any

from mapkit.dataset.maps import MAPS_CONFIG, MAPS_SPLIT
from mapkit.errors import DatasetError

CACHED_MAPS = 4  # decoded maps kept in memory (a 4000 px map is ~50 MB decoded)


class MapImages:
    """``map_id`` -> decoded PIL image, read from the ``maps`` config on first use and,
    when larger than ``max_pixels``, shrunk once to the frame a Qwen2.5-VL processor
    with that budget would give it (``mapkit.frames.smart_resize``), so the processor
    does not resize a 4000 px map for every prompt and Grounding answers (pixels of
    that frame) match ``mapkit.rewards.trl.reward_function(max_pixels=...)``."""

    def __init__(self, maps, max_pixels: int | None = None):
        self.maps = maps
        self.max_pixels = max_pixels
        self.index = {map_id: i for i, map_id in enumerate(maps["map_id"])} if maps is not None else {}
        self.cache: OrderedDict[str, Any] = OrderedDict()

    def __call__(self, map_id: str | None):
        if not map_id or map_id not in self.index:
            return None
        if map_id in self.cache:
            self.cache.move_to_end(map_id)
            return self.cache[map_id]
        image = self.maps[self.index[map_id]]["image"]
        image.load()
        if self.max_pixels and image.width * image.height > self.max_pixels:
            from PIL import Image

            from mapkit.frames import smart_resize

            size = smart_resize(image.width, image.height, max_pixels=self.max_pixels)
            image = image.convert("RGB").resize(size, Image.Resampling.BICUBIC)
        self.cache[map_id] = image
        while len(self.cache) > CACHED_MAPS:
            self.cache.popitem(last=False)
        return image


def attach_images(dataset, maps, max_pixels: int | None = None):
    """``dataset`` (a Dataset or DatasetDict of questions) with an ``image`` column added on
    read from ``maps`` (the ``maps`` config). Rows of a text-only build get None."""
    from datasets import DatasetDict

    lookup = maps if isinstance(maps, MapImages) else MapImages(maps, max_pixels)

    def transform(batch: dict[str, list]) -> dict[str, list]:
        batch["image"] = [lookup(m) for m in batch["map_id"]]
        return batch

    if isinstance(dataset, DatasetDict):
        return DatasetDict({k: v.with_transform(transform) for k, v in dataset.items()})
    return dataset.with_transform(transform)


def load(source: str | Path, split: str | None = None, *, revision: str | None = None, images: bool = True,
         max_pixels: int | None = None, **kwargs: Any):
    """Questions of a dataset folder or Hub repository (``ORG/NAME``), each row with its
    map as a PIL ``image`` (decoded on read). ``split`` as in ``load_dataset`` (None: all
    splits, a DatasetDict); ``images=False`` leaves the images out; ``max_pixels`` (the
    model's pixel budget) shrinks larger maps once to the model's frame; other keyword
    arguments go to ``load_dataset``."""
    from datasets import load_dataset

    source = str(source)
    if Path(source).exists() and not (Path(source) / "README.md").is_file():
        raise DatasetError(f"{source}: no README.md (dataset card); is this a folder written by `mapkit build`?")
    questions = load_dataset(source, "default", split=split, revision=revision, **kwargs)
    if not images:
        return questions
    try:
        maps = load_dataset(source, MAPS_CONFIG, split=MAPS_SPLIT, revision=revision, **kwargs)
    except ValueError as e:  # no `maps` config: a text-only build, or built before mapkit wrote one
        if "maps" not in str(e):
            raise
        maps = None
    return attach_images(questions, maps, max_pixels)


def to_trl(dataset, *, curriculum: str | None = "rewardmap", stages: str = "all", seed: int = 0):
    """A question split in ``trl.GRPOTrainer``'s layout.

    Adds ``prompt`` = [{"role": "user", "content": question}] (TRL inserts the row's
    ``image`` before the text, as ``mapkit train`` does) and orders the rows as the
    curriculum visits them (``mapkit.train.curriculum``: stages in order, shuffled inside
    with ``seed``; ``curriculum=None`` keeps file order). Train with
    ``GRPOConfig(shuffle_dataset=False)`` so TRL keeps that order. The ``image`` column of
    ``load`` is kept (lazily decoded); the other columns feed ``mapkit.rewards.trl``.
    """
    transform = (dataset.format or {}).get("format_kwargs", {}).get("transform")
    plain = dataset.with_format(None)
    if curriculum is not None:
        from mapkit.train.curriculum import CurriculumSampler, select_stages  # torch-free (numpy)

        sampler = CurriculumSampler(plain["id"], plain["type"], select_stages(curriculum, stages), 1, seed)
        order = [i for order in sampler.orders for i in order]
        plain = plain.select(order)
    plain = plain.map(lambda row: {"prompt": [{"role": "user", "content": row["question"]}]},
                      desc="prompts", load_from_cache_file=False)
    return plain.with_transform(transform) if transform is not None else plain
