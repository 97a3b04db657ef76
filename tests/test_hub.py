"""`mapkit push` against the in-process fake Hub (tests/fakehub.py): no network at all."""
from __future__ import annotations

import shutil
import socket

import pytest
from fakehub import FakeHub, make_dataset_folder

TOKEN = "hf_test_SECRET_token_0123456789"
REPO = "org/mapkit-mini"


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """A running fake Hub, HF_ENDPOINT/HF_TOKEN pointing at it, Xet off, and a client that
    refuses any host but 127.0.0.1 (so a bug cannot reach the real Hub)."""
    import httpx2
    from huggingface_hub import constants, set_client_factory
    from huggingface_hub.utils import _http

    monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)  # LFS batch API instead of Xet: the fake serves it
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-stored-token"))
    monkeypatch.delenv("HF_OIDC_RESOURCE", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setenv("HF_TOKEN", TOKEN)

    def guard(request):
        if request.url.host != "127.0.0.1":
            raise AssertionError(f"test tried to reach {request.url}")

    set_client_factory(lambda: httpx2.Client(event_hooks={"request": [_http.hf_request_event_hook, guard]},
                                             follow_redirects=True, timeout=20))
    with FakeHub(token=TOKEN) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.endpoint)
        yield hub
    set_client_factory(_http.default_client_factory)


@pytest.fixture
def folder(tmp_path):
    from mapkit.publish.card import write_card

    out = make_dataset_folder(tmp_path / "out", extra_files={"maps/retired.png": b"\x89PNG old map"})
    write_card(out)
    return out


def rebuild(folder, seed=1):
    """Replace the folder with a new build: other rows, no planning, the retired map gone."""
    from mapkit.publish.card import write_card

    shutil.rmtree(folder)
    make_dataset_folder(folder, seed=seed, drop_types=("planning",))
    write_card(folder)


def rehash(folder, rel):
    """Record ``rel``'s current sha256 in manifest.json, as if the build had written it."""
    import hashlib
    import json

    manifest = json.loads((folder / "manifest.json").read_text("utf-8"))
    manifest["files"][rel] = hashlib.sha256((folder / rel).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest), "utf-8")


def local_snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def assert_no_token(*texts):
    for text in texts:
        assert TOKEN not in text


def test_first_push_creates_repo_commits_folder_and_tags(fake, folder, run_cli):
    code, out, err = run_cli("push", folder, "--repo-id", REPO, "--tag", "v1.0.0")
    assert code == 0, err
    assert_no_token(out, err)
    remote = fake.files(REPO)
    assert remote.pop(".gitattributes")  # the Hub's own, kept
    assert remote == local_snapshot(folder)
    assert fake.repo(REPO).tags["v1.0.0"] == fake.head(REPO)
    assert [c.title for c in fake.history(REPO)][1:] == ["initial commit"]  # exactly one commit for the push
    # parquet and images went through LFS, like on the real Hub
    blobs = fake.repo(REPO).commits[fake.head(REPO)].files
    assert blobs["data/train-00000-of-00001.parquet"].lfs_sha256 and blobs["maps/mini.png"].lfs_sha256
    # the `maps` config went up: its parquet (the PNG embedded once) and the card's config entry
    assert remote["maps/maps-00000-of-00001.parquet"] and blobs["maps/maps-00000-of-00001.parquet"].lfs_sha256
    assert (folder / "maps" / "mini.png").read_bytes() in remote["maps/maps-00000-of-00001.parquet"]
    config = "- config_name: maps\n  data_files:\n  - split: train\n    path: maps/maps-00000-of-00001.parquet"
    assert config in remote["README.md"].decode()
    # the card now tells readers how to load this exact revision
    card = remote["README.md"].decode()
    assert f'load_dataset("{REPO}", revision="v1.0.0")' in card
    assert "tagged v1.0.0" in out


def test_second_push_replaces_revision_exactly_and_uploads_only_changes(fake, folder, run_cli):
    assert run_cli("push", folder, "--repo-id", REPO, "--tag", "v1.0.0")[0] == 0
    first = fake.head(REPO)
    before = local_snapshot(folder)
    rebuild(folder)
    code, out, err = run_cli("push", folder, "--repo-id", REPO, "--tag", "v1.1.0")
    assert code == 0, err
    head = fake.head(REPO)
    assert head != first and fake.repo(REPO).commits[head].parent == first
    remote = fake.files(REPO)
    remote.pop(".gitattributes")
    assert remote == local_snapshot(folder)  # stale maps/retired.png is gone
    assert "maps/retired.png" not in remote and "delete  maps/retired.png" in out
    # the annotation did not change, so it was not sent again
    sent = fake.committed_paths[-1]
    assert "annotations/mini.json" not in sent and "data/train-00000-of-00001.parquet" in sent
    # the old release is untouched
    assert fake.repo(REPO).tags["v1.0.0"] == first
    old = fake.files(REPO, "v1.0.0")
    old.pop(".gitattributes")
    assert old["maps/retired.png"] == before["maps/retired.png"]
    assert old["data/train-00000-of-00001.parquet"] == before["data/train-00000-of-00001.parquet"]


def test_push_of_unchanged_folder_makes_no_commit(fake, folder, run_cli):
    assert run_cli("push", folder, "--repo-id", REPO)[0] == 0
    commits = len(fake.history(REPO))
    code, out, _ = run_cli("push", folder, "--repo-id", REPO)
    assert code == 0 and "nothing to commit" in out
    assert len(fake.history(REPO)) == commits


def test_concurrent_push_fails_instead_of_overwriting(fake, folder, run_cli):
    assert run_cli("push", folder, "--repo-id", REPO)[0] == 0
    rebuild(folder)
    # another maintainer's commit lands between our read of the head and our commit
    fake.before_commit = lambda: fake.commit_files(REPO, {"NOTES.md": b"theirs"}, title="their push")
    code, out, err = run_cli("push", folder, "--repo-id", REPO, "--tag", "v2.0.0")
    assert code == 3
    assert "changed while this push was being prepared" in err and "Traceback" not in err
    assert fake.history(REPO)[0].title == "their push"  # theirs stays, ours did not land
    assert fake.files(REPO)["NOTES.md"] == b"theirs"
    assert "maps/retired.png" in fake.files(REPO)  # our deletion did not happen
    assert "v2.0.0" not in fake.repo(REPO).tags


def test_dry_run_prints_plan_and_sends_nothing(fake, folder, run_cli):
    code, out, _ = run_cli("push", folder, "--repo-id", REPO, "--dry-run")
    assert code == 0 and "does not exist yet" in out and "add     data/train-00000-of-00001.parquet" in out
    assert REPO not in {rid for (_, rid) in fake.repos}
    assert run_cli("push", folder, "--repo-id", REPO)[0] == 0
    head, readme = fake.head(REPO), (folder / "README.md").read_bytes()
    rebuild(folder)
    requests_before = len(fake.requests)
    code, out, _ = run_cli("push", folder, "--repo-id", REPO, "--dry-run", "--tag", "v1.0.0")
    assert code == 0, out
    assert "delete  maps/retired.png" in out
    assert "change  data/train-00000-of-00001.parquet" in out and "change  README.md" in out
    assert "annotations/mini.json" not in out  # unchanged files are only counted
    assert "nothing was sent" in out
    assert fake.head(REPO) == head and not fake.repo(REPO).tags
    assert all(method == "GET" for method, _ in fake.requests[requests_before:])
    assert (folder / "README.md").read_bytes() != readme  # the rebuilt card, not rewritten by the dry run
    assert 'revision="v1.0.0"' not in (folder / "README.md").read_text()


def test_dry_run_needs_no_token(fake, folder, run_cli, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    code, out, err = run_cli("push", folder, "--repo-id", REPO, "--dry-run")
    assert code == 0, err
    assert "to add" in out


def test_dry_run_offline_lists_every_file_and_says_it_could_not_compare(fake, folder, run_cli, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("HF_TOKEN")
    code, out, err = run_cli("push", folder, "--repo-id", REPO, "--dry-run", "--tag", "v1.0.0")
    assert code == 0, err
    assert "could not compare with the remote" in out and "could not reach the Hub" in out
    listed = sorted(line.split()[-1] for line in out.splitlines() if line.startswith("  add "))
    assert listed == sorted(local_snapshot(folder))  # every file, the card included
    assert "nothing was sent" in out and "Traceback" not in err
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    code, out, err = run_cli("push", folder, "--repo-id", REPO, "--dry-run")
    assert code == 0, err
    assert "could not compare with the remote" in out and "HF_HUB_OFFLINE" in out


def test_unreachable_endpoint_exits_3_with_advice(fake, folder, run_cli, monkeypatch):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    code, out, err = run_cli("push", folder, "--repo-id", REPO, "--tag", "v1.0.0")
    assert code == 3
    assert "could not reach the Hub" in err and f"127.0.0.1:{port}" in err and "HF_ENDPOINT" in err
    assert "Traceback" not in err
    assert_no_token(out, err)


def test_missing_token_says_how_to_log_in(fake, folder, run_cli, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    code, out, err = run_cli("push", folder, "--repo-id", REPO)
    assert code == 3
    assert "no Hugging Face token" in err and "hf auth login" in err and "HF_TOKEN" in err
    assert fake.requests == []


def test_rejected_token_exits_3_without_printing_it(fake, folder, run_cli, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_wrong_SECRET_value")
    code, out, err = run_cli("push", folder, "--repo-id", REPO)
    assert code == 3
    assert "rejected the token" in err and "hf auth login" in err
    assert "hf_wrong_SECRET_value" not in out + err


def test_invalid_folder_is_refused_before_anything_is_sent(fake, folder, run_cli):
    (folder / "maps" / "mini.png").write_bytes(b"not the built image")
    code, _, err = run_cli("push", folder, "--repo-id", REPO)
    assert code == 1
    assert "maps/mini.png: sha256 differs from manifest.json" in err
    (folder / "maps" / "mini.png").unlink()
    code, _, err = run_cli("push", folder, "--repo-id", REPO)
    assert code == 1 and "maps/mini.png: listed in manifest.json but missing" in err
    assert fake.requests == []


def test_records_failing_the_schema_are_refused(fake, folder, run_cli):
    import pyarrow.parquet as pq

    from mapkit.dataset import write_parquet

    path = folder / "data" / "train-00000-of-00001.parquet"
    rows = pq.read_table(path).to_pylist()
    rows[0]["answer_text"] = "maybe"  # TorF answers are yes/no
    write_parquet(rows, path)
    rehash(folder, "data/train-00000-of-00001.parquet")  # past the hash check: the schema must catch it
    code, _, err = run_cli("push", folder, "--repo-id", REPO, "--dry-run")
    assert code == 1 and "record.schema.json" in err and "maybe" in err
    assert fake.requests == []


def test_existing_tag_is_refused_before_committing(fake, folder, run_cli):
    assert run_cli("push", folder, "--repo-id", REPO, "--tag", "v1.0.0")[0] == 0
    head = fake.head(REPO)
    rebuild(folder)
    code, _, err = run_cli("push", folder, "--repo-id", REPO, "--tag", "v1.0.0")
    assert code == 3 and "tag v1.0.0 already exists" in err
    assert fake.head(REPO) == head


def test_branch_and_pull_request_leave_main_alone(fake, folder, run_cli):
    assert run_cli("push", folder, "--repo-id", REPO)[0] == 0
    main = fake.head(REPO)
    rebuild(folder)
    code, out, err = run_cli("push", folder, "--repo-id", REPO, "--revision", "dev")
    assert code == 0, err
    assert fake.head(REPO) == main
    dev = fake.files(REPO, "dev")
    assert "maps/retired.png" not in dev and fake.repo(REPO).commits[fake.head(REPO, "dev")].parent == main
    rebuild(folder, seed=2)
    code, out, err = run_cli("push", folder, "--repo-id", REPO, "--create-pr", "--message", "seed 2")
    assert code == 0, err
    assert "pull request:" in out and fake.head(REPO) == main
    pr = fake.history(REPO, "refs/pr/1")[0]
    assert pr.title == "seed 2" and pr.parent == main


def test_private_repo_and_bad_arguments(fake, folder, run_cli):
    assert run_cli("push", folder, "--repo-id", REPO, "--private")[0] == 0
    assert fake.repo(REPO).private
    assert run_cli("push", folder, "--repo-id", "no-namespace")[0] == 2
    code, _, err = run_cli("push", folder, "--repo-id", REPO, "--tag", "latest")
    assert code == 2 and "not a version" in err
    assert run_cli("push", folder, "--repo-id", REPO, "--tag", "v1.0.0", "--create-pr")[0] == 2
