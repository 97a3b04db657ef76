"""Dataset folders (README.md, "Building a dataset"): records and their schema, splits, writing, reading,
validating (the card is mapkit.publish.card), and ``build_dataset`` which `mapkit build` calls.

Example::

    >>> from mapkit.dataset import build_dataset, read_dataset
    >>> build_dataset(["annotations/tokyo.json"], "out/tokyo")      # doctest: +SKIP
    >>> len(read_dataset("out/tokyo")["train"])                      # doctest: +SKIP
    135
    >>> load("out/tokyo")["train"][0]["image"]        # PIL map, decoded on read  # doctest: +SKIP
"""
from mapkit.dataset.build import BuildResult, build_dataset, has_coordinates, resolve_counts
from mapkit.dataset.check import publish_files, validate_folder
from mapkit.dataset.folder import MapFile, counts, read_dataset, split_file, write_dataset
from mapkit.dataset.load import attach_images, load, to_trl
from mapkit.dataset.maps import MAPS_CONFIG, MAPS_FILE, read_maps
from mapkit.dataset.records import ARROW_SCHEMA, COLUMNS, record_problems, validate_records, write_parquet
from mapkit.dataset.splits import assign_splits, check_split_leaks, question_groups

__all__ = [
    "ARROW_SCHEMA", "COLUMNS", "MAPS_CONFIG", "MAPS_FILE", "BuildResult", "MapFile", "assign_splits",
    "attach_images", "build_dataset", "check_split_leaks", "counts", "has_coordinates", "load", "publish_files",
    "question_groups", "read_dataset", "read_maps", "record_problems", "resolve_counts", "split_file", "to_trl", "validate_folder",
    "validate_records", "write_dataset", "write_parquet",
]
