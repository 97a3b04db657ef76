"""Bounded GTFS imports: only the tables used are read, each capped; member names with
path parts are refused (issue: safe by construction)."""
from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from test_gtfs import demo_tables, write_feed

from mapkit.errors import SourceError
from mapkit.importers import gtfs_files
from mapkit.importers.gtfs import import_gtfs


def add_member(feed: Path, name: str, content: bytes = b"", *, stream_mb: int = 0) -> None:
    with zipfile.ZipFile(feed, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        if stream_mb:
            with zf.open(name, "w", force_zip64=True) as f:
                row = b"s1,48.1,2.1,1\n" * (1 << 16)  # ~0.9 MB per write, compresses ~1000:1
                for _ in range(stream_mb):
                    f.write(row)
        else:
            zf.writestr(name, content)


def test_an_unused_huge_member_is_never_decompressed(tmp_path, monkeypatch):
    feed = write_feed(tmp_path / "feed.zip", demo_tables())
    add_member(feed, "shapes.txt", stream_mb=200)  # ~180 MB inflated, a small file on disk
    assert feed.stat().st_size < 2_000_000
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(getattr(name, "filename", name))
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    result = import_gtfs(feed, "demo", tmp_path / "out")
    assert result.path.is_file()
    assert "shapes.txt" not in opened and set(opened) <= {f"{t}.txt" for t in gtfs_files.TABLES}


def test_a_used_table_over_the_size_cap_is_refused_naming_member_and_cap(tmp_path, monkeypatch, run_cli):
    feed = write_feed(tmp_path / "feed.zip", demo_tables())
    size = zipfile.ZipFile(feed).getinfo("stop_times.txt").file_size
    monkeypatch.setattr(gtfs_files, "MAX_TABLE_BYTES", size - 1)
    code, _, err = run_cli("import", "gtfs", feed, "--city", "demo", "--out", tmp_path / "out")
    assert code == 1 and "Traceback" not in err
    assert "member stop_times.txt" in err and f"{size - 1:,} bytes" in err
    assert not (tmp_path / "out" / "demo.json").exists()


def test_a_zip_that_declares_a_huge_member_is_refused_before_inflating(tmp_path):
    feed = write_feed(tmp_path / "feed.zip", {k: v for k, v in demo_tables().items() if k != "stop_times"})
    add_member(feed, "stop_times.txt", stream_mb=600)  # ~550 MB declared, over the 512 MiB default cap
    assert feed.stat().st_size < 5_000_000
    with pytest.raises(SourceError, match=r"member stop_times.txt: declares [\d,]+ bytes uncompressed, over the cap of 536,870,912"):
        import_gtfs(feed, "demo", tmp_path / "out")


def test_rows_cap(tmp_path, monkeypatch):
    feed = write_feed(tmp_path / "feed.zip", demo_tables())
    rows = len(demo_tables()["stop_times"]) - 1
    monkeypatch.setattr(gtfs_files, "MAX_TABLE_ROWS", rows - 1)
    with pytest.raises(SourceError, match=rf"member stop_times.txt: more than the cap of {rows - 1:,} rows"):
        import_gtfs(feed, "demo", tmp_path / "out")
    monkeypatch.setattr(gtfs_files, "MAX_TABLE_ROWS", rows)
    assert import_gtfs(feed, "demo", tmp_path / "out").path.is_file()


@pytest.mark.parametrize("name", ["../../routes.txt", "sub/routes.txt", "/routes.txt", "..\\routes.txt", "C:routes.txt"])
def test_member_names_with_path_parts_are_refused(tmp_path, name):
    tables = demo_tables()
    feed = write_feed(tmp_path / "feed.zip", tables)
    add_member(feed, name, b"route_id,route_type\nEVIL,1\n")
    with pytest.raises(SourceError, match="has path parts") as e:
        import_gtfs(feed, "demo", tmp_path / "out")
    assert repr(name) in str(e.value)
    assert not (tmp_path / "out").exists()


def test_a_repeated_member_is_refused(tmp_path):
    feed = write_feed(tmp_path / "feed.zip", demo_tables())
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate name it is asked to write
        add_member(feed, "routes.txt", b"route_id,route_type\nEVIL,1\n")
    with pytest.raises(SourceError, match="'routes.txt' appears more than once"):
        import_gtfs(feed, "demo", tmp_path / "out")
