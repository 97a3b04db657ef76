"""The one check every consumer of a dataset folder runs first: train, eval, export, push.

A folder is trusted only as far as its ``manifest.json`` vouches for it:

1. ``manifest.json`` is a readable JSON object that lists the folder's files with their
   sha256 (``files``: relative path -> sha256, as ``write_dataset`` writes it);
2. every listed path is plain (relative, no ``..``, no backslash, no hidden part), is a
   regular file inside the folder, and still has its recorded hash;
3. every ``data/*.parquet`` is listed and readable;
4. with ``records=True``, every record passes ``record.schema.json`` and the consistency
   checks, no question leaks between splits, every file a record names is listed, the
   maps parquet holds one whole image per map used, and the manifest counts match.

``publish=True`` (``mapkit push``) also refuses symlinks anywhere on a listed path and
any file in the folder the manifest does not list; ``publish_files`` then gives exactly
what may be uploaded. Every failure is a ``DatasetError`` that names the file.
"""
from __future__ import annotations

import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

from mapkit.errors import DatasetError
from mapkit.files import sha256_file

REBUILD = "rebuild the folder with `mapkit build`"
# Files of a dataset folder that the manifest cannot hash: itself, and the card that is
# written after it (and re-rendered by `mapkit push`).
UNHASHED = ("manifest.json", "README.md")


def manifest_files(manifest: dict[str, Any]) -> dict[str, str | None]:
    """Relative path -> sha256 of the files the manifest vouches for."""
    value = manifest.get("files")
    if isinstance(value, dict):
        return {str(k): (v.get("sha256") if isinstance(v, dict) else v) for k, v in value.items()}
    if isinstance(value, list):
        return {str(v.get("path")): v.get("sha256") for v in value if isinstance(v, dict)}
    return {}


def plain_relpath(rel: str) -> bool:
    """A path a dataset may name: relative, forward slashes, no ``.``/``..``/hidden parts."""
    if not rel or "\\" in rel or "\0" in rel or rel.startswith("/"):
        return False
    parts = PurePosixPath(rel).parts
    return bool(parts) and "/".join(parts) == rel and not any(p in (".", "..") or p.startswith(".") for p in parts)


def listed_file(folder: Path, rel: str, *, follow_symlinks: bool = True) -> Path:
    """``folder/rel`` after checking it is a plain path to a regular file inside ``folder``.

    Without ``follow_symlinks`` no part of the path may be a link, so the file cannot lie
    outside the folder; with it (reading a Hub cache snapshot, whose files are links into
    the cache) the sha256 check that follows is what vouches for the content."""
    if not plain_relpath(rel):
        raise DatasetError(f"{folder}: {rel!r}: not a plain relative path inside the folder "
                           f"(absolute, '..', backslash or hidden part); {REBUILD}")
    path = folder / rel
    if not follow_symlinks:
        for i in range(1, len(PurePosixPath(rel).parts) + 1):
            part = folder.joinpath(*PurePosixPath(rel).parts[:i])
            if part.is_symlink():
                raise DatasetError(f"{part}: is a symbolic link; a published dataset holds regular files only, "
                                   f"refusing it ({REBUILD})")
    if not path.is_file():
        raise DatasetError(f"{path}: listed in manifest.json but missing (or not a regular file); {REBUILD}")
    return path


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / "manifest.json"
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder; build one with `mapkit build --city NAME --out {folder}`")
    if not path.is_file():
        raise DatasetError(f"{path}: missing; not a mapkit dataset folder ({REBUILD})")
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DatasetError(f"{path}: not readable JSON ({e}); {REBUILD}") from None
    if not isinstance(manifest, dict):
        raise DatasetError(f"{path}: not a JSON object; {REBUILD}")
    return manifest


def validate_folder(folder: str | Path, *, records: bool = True, publish: bool = False) -> dict[str, Any]:
    """Check a dataset folder (see the module docstring); returns its manifest."""
    from mapkit.dataset.folder import counts
    from mapkit.dataset.maps import check_maps
    from mapkit.dataset.records import read_parquet, validate_records
    from mapkit.dataset.splits import check_split_leaks

    folder = Path(folder)
    manifest = read_manifest(folder)
    hashes = manifest_files(manifest)
    if not hashes:
        raise DatasetError(f"{folder / 'manifest.json'}: lists no files with their sha256; {REBUILD}")
    for rel, digest in sorted(hashes.items()):
        path = listed_file(folder, rel, follow_symlinks=not publish)
        if not digest or sha256_file(path) != digest:
            raise DatasetError(f"{path}: sha256 differs from manifest.json (the file changed after the build); {REBUILD}")
    if publish:
        publish_files(folder, manifest)  # refuses unlisted files and symlinks
    parquet = sorted((folder / "data").glob("*.parquet"))
    if not parquet:
        raise DatasetError(f"{folder / 'data'}: no *.parquet files; {REBUILD}")
    rows: list[dict[str, Any]] = []
    for path in parquet:
        rel = path.relative_to(folder).as_posix()
        if rel not in hashes:
            raise DatasetError(f"{path}: not listed in manifest.json; {REBUILD}")
        rows.extend(read_parquet(path))
    if records:
        validate_records(rows)
        check_split_leaks(rows)
        for r in rows:
            for column in ("figure", "annotation"):
                if r[column] and r[column] not in hashes:
                    raise DatasetError(f"{folder / str(r[column])}: record {r['id']} names this {column}, "
                                       f"which manifest.json does not list; {REBUILD}")
        problems = check_maps(folder, rows)  # the `maps` config: one whole embedded image per map used
        if problems:
            raise DatasetError(f"{folder}: " + "\n  ".join(problems))
        if counts(rows) != manifest.get("counts"):
            raise DatasetError(f"{folder / 'manifest.json'}: counts differ from the parquet files; {REBUILD}")
    return manifest


def publish_files(folder: str | Path, manifest: dict[str, Any]) -> dict[str, Path]:
    """Repo path -> local file for exactly what ``mapkit push`` may upload: the files the
    manifest lists, ``manifest.json`` and the card ``README.md``, each a regular file (no
    symlink on its path). Any other file or link in the folder is refused by name; hidden
    entries (``.name``) are never uploaded and are left alone."""
    folder = Path(folder)
    allowed = {rel: listed_file(folder, rel, follow_symlinks=False) for rel in manifest_files(manifest)}
    for rel in UNHASHED:
        if not (folder / rel).is_file() and not (folder / rel).is_symlink():
            raise DatasetError(f"{folder / rel}: missing ({'the dataset card' if rel == 'README.md' else 'the manifest'}); {REBUILD}")
        allowed[rel] = listed_file(folder, rel, follow_symlinks=False)
    for root, dirs, files in os.walk(folder):  # os.walk does not follow links into folders
        base = Path(root)
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in sorted(dirs + files):
            if name.startswith("."):
                continue
            path = base / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                raise DatasetError(f"{path}: is a symbolic link; a published dataset holds regular files only, "
                                   "refusing to push (remove it)")
            if name in files and rel not in allowed:
                raise DatasetError(f"{path}: not listed in manifest.json, refusing to push it "
                                   f"(remove it, or {REBUILD})")
    return dict(sorted(allowed.items()))
