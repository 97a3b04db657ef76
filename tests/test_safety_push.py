"""`mapkit push` publishes exactly what manifest.json lists (issue: safe by construction).

Hostile folders: a symlink to a file outside, an unlisted file, a manifest that names
paths outside the folder, a listed file replaced by a link. Each is refused with the file
named before anything is sent, and the fake Hub shows that nothing unlisted arrived.
"""
from __future__ import annotations

import hashlib
import json
import os

import pytest
import test_hub
from fakehub import make_dataset_folder

REPO = test_hub.REPO
fake = test_hub.fake  # the fake Hub fixture of test_hub


@pytest.fixture
def folder(tmp_path):
    from mapkit.publish.card import write_card

    out = make_dataset_folder(tmp_path / "out")
    write_card(out)
    return out


@pytest.fixture
def secret(tmp_path):
    path = tmp_path / "elsewhere" / "secret.txt"
    path.parent.mkdir()
    path.write_bytes(b"SECRET-BYTES-never-to-be-published")
    return path


def received(fake) -> list[bytes]:
    """Every file content the fake Hub received: committed blobs and uploaded LFS objects."""
    out = list(fake.lfs.values())
    for repo in fake.repos.values():
        for commit in repo.commits.values():
            out += [b.content for b in commit.files.values() if b.content is not None]
    return out


def list_in_manifest(folder, rel, digest):
    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    manifest["files"][rel] = digest
    (folder / "manifest.json").write_text(json.dumps(manifest), "utf-8")


@pytest.mark.parametrize("dry_run", [True, False])
def test_symlink_to_a_file_outside_is_refused_and_never_sent(fake, folder, secret, run_cli, dry_run):
    os.symlink(secret, folder / "maps" / "notes.txt")
    code, out, err = run_cli("push", folder, "--repo-id", REPO, *(["--dry-run"] if dry_run else []))
    assert code == 1 and "Traceback" not in err
    assert "maps/notes.txt" in err and "symbolic link" in err
    assert "notes.txt" not in out
    assert fake.requests == []  # refused before the first request
    assert secret.read_bytes() not in received(fake)


def test_symlink_listed_in_the_manifest_with_the_right_hash_is_still_refused(fake, folder, secret, run_cli):
    os.symlink(secret, folder / "maps" / "notes.txt")
    list_in_manifest(folder, "maps/notes.txt", hashlib.sha256(secret.read_bytes()).hexdigest())
    code, _, err = run_cli("push", folder, "--repo-id", REPO)
    assert code == 1 and "maps/notes.txt" in err and "symbolic link" in err
    assert fake.requests == []


def test_a_listed_file_swapped_for_a_link_to_identical_bytes_is_refused(fake, folder, tmp_path, run_cli):
    copy = tmp_path / "copy.png"
    copy.write_bytes((folder / "maps" / "mini.png").read_bytes())
    (folder / "maps" / "mini.png").unlink()
    os.symlink(copy, folder / "maps" / "mini.png")
    code, _, err = run_cli("push", folder, "--repo-id", REPO)
    assert code == 1 and "maps/mini.png" in err and "symbolic link" in err
    assert fake.requests == []


def test_a_symlinked_folder_is_refused(fake, folder, secret, run_cli):
    os.symlink(secret.parent, folder / "maps" / "more")
    code, _, err = run_cli("push", folder, "--repo-id", REPO)
    assert code == 1 and "maps/more" in err and "symbolic link" in err
    assert fake.requests == []


def test_an_unlisted_regular_file_is_refused_by_name(fake, folder, run_cli):
    (folder / "maps" / "draft.png").write_bytes(b"\x89PNG draft")
    code, _, err = run_cli("push", folder, "--repo-id", REPO, "--dry-run")
    assert code == 1 and "maps/draft.png: not listed in manifest.json" in err
    assert fake.requests == []


@pytest.mark.parametrize("rel", ["../elsewhere/secret.txt", "{abs}", "maps/../../elsewhere/secret.txt", "maps\\x.png",
                                 ".hidden/secret.txt"])
def test_manifest_paths_outside_the_folder_are_refused(fake, folder, secret, run_cli, rel):
    rel = rel.replace("{abs}", str(secret))
    list_in_manifest(folder, rel, hashlib.sha256(secret.read_bytes()).hexdigest())
    code, _, err = run_cli("push", folder, "--repo-id", REPO)
    assert code == 1 and "not a plain relative path" in err and repr(rel) in err
    assert fake.requests == []


def test_push_uploads_exactly_the_manifest_files_the_manifest_and_the_card(fake, folder, run_cli):
    (folder / ".notes").write_text("private scratch, hidden: never uploaded")
    code, _, err = run_cli("push", folder, "--repo-id", REPO)
    assert code == 0, err
    listed = set(json.loads((folder / "manifest.json").read_text("utf-8"))["files"])
    assert set(fake.committed_paths[0]) == listed | {"manifest.json", "README.md"}
    remote = fake.files(REPO)
    remote.pop(".gitattributes")
    assert set(remote) == listed | {"manifest.json", "README.md"}


def test_build_writes_no_symlinks(tmp_path, mini_path):
    from mapkit.dataset import build_dataset

    out = build_dataset([mini_path], tmp_path / "ds", seed=0).out
    paths = list(out.rglob("*"))
    assert paths and not [p for p in paths if p.is_symlink()]
    listed = set(json.loads((out / "manifest.json").read_text("utf-8"))["files"])
    on_disk = {p.relative_to(out).as_posix() for p in paths if p.is_file()}
    assert on_disk == listed | {"manifest.json", "README.md"}
