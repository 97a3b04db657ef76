"""Bounded reading of a GTFS feed: only the tables the importer uses, each capped.

A feed is untrusted input. A small zip can declare (or hide) gigabytes of text, and a
member named ``../../routes.txt`` must not stand in for ``routes.txt``. So, before
gtfs-kit sees anything, ``stage_feed`` copies into a private folder:

- only the members named in ``TABLES`` (the tables ``mapkit.importers.gtfs`` reads),
  looked up by exact name; every other member is never decompressed;
- each at most ``MAX_TABLE_BYTES`` uncompressed and ``MAX_TABLE_ROWS`` rows, counted
  while streaming (the size a zip declares is checked too, but never trusted);

and refuses a zip whose member names have path parts (``/``, ``\\``, ``..``, a drive)
or repeat a name, naming the member. Errors are ``SourceError`` (exit 1).
"""
from __future__ import annotations

import re
import shutil
import zipfile
from pathlib import Path

from mapkit.errors import SourceError

# The tables mapkit.importers.gtfs reads; extend this when the importer reads another one.
TABLES = ("agency", "feed_info", "routes", "stops", "stop_times", "trips")
MAX_TABLE_BYTES = 512 * 1024 * 1024  # uncompressed, per table
MAX_TABLE_ROWS = 10_000_000  # per table
_CHUNK = 1 << 20


def _has_path_parts(name: str) -> bool:
    return "/" in name or "\\" in name or name in ("", ".", "..") or bool(re.match(r"^[A-Za-z]:", name))


def _copy_capped(source, target: Path, label: str, max_bytes: int, max_rows: int) -> None:
    size = lines = 0
    with target.open("wb") as out:
        for chunk in iter(lambda: source.read(_CHUNK), b""):
            size += len(chunk)
            lines += chunk.count(b"\n")
            if size > max_bytes:
                raise SourceError(f"{label}: larger than the cap of {max_bytes:,} bytes uncompressed; "
                                  "mapkit imports feeds up to that size per table (trim the feed to the routes you need)")
            if lines > max_rows + 1:  # + the header line
                raise SourceError(f"{label}: more than the cap of {max_rows:,} rows; "
                                  "trim the feed to the routes you need")
            out.write(chunk)


def stage_feed(feed: Path, dest: Path, *, max_bytes: int | None = None, max_rows: int | None = None) -> Path:
    """Copy the allowed tables of ``feed`` (a .zip or a folder) into ``dest``, capped
    (default: ``MAX_TABLE_BYTES``, ``MAX_TABLE_ROWS``); returns ``dest``."""
    max_bytes = MAX_TABLE_BYTES if max_bytes is None else max_bytes
    max_rows = MAX_TABLE_ROWS if max_rows is None else max_rows
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {f"{t}.txt" for t in TABLES}
    if feed.is_dir():
        for name in sorted(wanted):
            path = feed / name
            if path.is_file():
                with path.open("rb") as src:
                    _copy_capped(src, dest / name, str(path), max_bytes, max_rows)
        return dest
    try:
        with zipfile.ZipFile(feed) as zf:
            infos = zf.infolist()
            names = [i.filename for i in infos]
            nested = [n for n in names if n.endswith("/stops.txt")]
            if nested and "stops.txt" not in names:
                raise SourceError(f"{feed}: the GTFS files sit inside a folder ({nested[0]}); zip the .txt files themselves")
            for name in names:
                if _has_path_parts(name):
                    raise SourceError(f"{feed}: member {name!r} has path parts; a GTFS zip holds its .txt files at the "
                                      "top level, and mapkit refuses members that could stand for another file")
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise SourceError(f"{feed}: member {repeated[0]!r} appears more than once; keep one copy")
            for info in infos:
                if info.filename not in wanted:
                    continue  # never decompressed
                label = f"{feed}: member {info.filename}"
                if info.file_size > max_bytes:
                    raise SourceError(f"{label}: declares {info.file_size:,} bytes uncompressed, over the cap of "
                                      f"{max_bytes:,} bytes; trim the feed to the routes you need")
                with zf.open(info) as src:
                    _copy_capped(src, dest / info.filename, label, max_bytes, max_rows)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError) as e:
        shutil.rmtree(dest, ignore_errors=True)
        raise SourceError(f"{feed}: cannot read the GTFS zip ({e})") from None
    return dest
