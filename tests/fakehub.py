"""A small in-process fake of the Hugging Face Hub HTTP API, for publishing tests.

It serves only what ``HfApi.whoami``, ``create_repo``, ``repo_info`` (datasets),
``list_repo_tree``, ``list_repo_refs``, ``create_branch``, ``create_commit`` (preupload,
LFS batch + basic PUT + verify, README YAML validation, NDJSON commit) and ``create_tag``
call, on 127.0.0.1 with a free port, in a daemon thread. State lives in memory on the
``FakeHub`` object so tests can inspect exactly what landed in which revision.

Like the real Hub, a new repo starts with one commit holding ``.gitattributes``; files
whose suffix is in ``lfs_suffixes`` are stored as LFS objects (the client uploads them
through the LFS batch API, so tests must disable Xet: ``constants.HF_HUB_DISABLE_XET``);
``parentCommit`` that is not the branch head gets HTTP 412; writes need the token.

Example::

    with FakeHub(token="hf_x") as hub:
        api = HfApi(endpoint=hub.endpoint, token="hf_x")
        api.create_repo("org/ds", repo_type="dataset")
        hub.files("org/ds")  # {".gitattributes": b"..."}
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

GITATTRIBUTES = b"""*.parquet filter=lfs diff=lfs merge=lfs -text
*.png filter=lfs diff=lfs merge=lfs -text
*.jpg filter=lfs diff=lfs merge=lfs -text
*.arrow filter=lfs diff=lfs merge=lfs -text
"""


def git_blob_oid(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


@dataclass(frozen=True)
class Blob:
    """One file in a commit: regular content, or an LFS pointer to ``FakeHub.lfs``."""

    content: bytes | None = None
    lfs_sha256: str | None = None
    size: int = 0

    @property
    def oid(self) -> str:  # the git blob id, as the tree API reports it
        return git_blob_oid(self.content if self.content is not None else lfs_pointer(self.lfs_sha256, self.size))


@dataclass
class Commit:
    oid: str
    parent: str | None
    title: str
    files: dict[str, Blob]
    date: str


@dataclass
class Repo:
    repo_id: str
    repo_type: str
    private: bool
    commits: dict[str, Commit] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    prs: dict[int, str] = field(default_factory=dict)  # number -> head commit


class HubHTTPError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


class FakeHub:
    def __init__(self, token: str = "hf_fake_token_123", user: str = "tester",
                 lfs_suffixes: tuple[str, ...] = (".parquet", ".png", ".jpg", ".arrow")):
        self.token = token
        self.user = user
        self.lfs_suffixes = lfs_suffixes
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs: dict[str, bytes] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request, in order
        self.committed_paths: list[list[str]] = []  # paths sent (added or changed) per commit
        self.before_commit: Callable[[], None] | None = None  # runs once, just before the next commit lands
        self._lock = threading.RLock()
        self._counter = itertools.count(1)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.endpoint = ""

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> "FakeHub":
        hub = self

        class Handler(_Handler):
            fake = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> "FakeHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- inspection helpers for tests ----------------------------------------------------
    def repo(self, repo_id: str, repo_type: str = "dataset") -> Repo:
        return self.repos[(repo_type, repo_id)]

    def head(self, repo_id: str, revision: str = "main", repo_type: str = "dataset") -> str:
        return self._resolve(self.repo(repo_id, repo_type), revision)

    def files(self, repo_id: str, revision: str = "main", repo_type: str = "dataset") -> dict[str, bytes]:
        """Path -> content of every file at ``revision`` (LFS objects resolved)."""
        repo = self.repo(repo_id, repo_type)
        commit = repo.commits[self._resolve(repo, revision)]
        return {p: (b.content if b.content is not None else self.lfs[b.lfs_sha256]) for p, b in commit.files.items()}

    def history(self, repo_id: str, revision: str = "main", repo_type: str = "dataset") -> list[Commit]:
        """Commits reachable from ``revision``, newest first."""
        repo = self.repo(repo_id, repo_type)
        out, oid = [], self._resolve(repo, revision)
        while oid is not None:
            out.append(repo.commits[oid])
            oid = repo.commits[oid].parent
        return out

    def commit_files(self, repo_id: str, add: dict[str, bytes], delete: tuple[str, ...] = (), branch: str = "main",
                     title: str = "direct commit", repo_type: str = "dataset") -> str:
        """Commit straight into the store (what another client's push would leave behind)."""
        with self._lock:
            repo = self.repo(repo_id, repo_type)
            files = dict(repo.commits[repo.branches[branch]].files)
            for path in delete:
                files.pop(path)
            for path, content in add.items():
                files[path] = self._blob(path, content)
            return self._new_commit(repo, repo.branches[branch], files, title, branch=branch)

    # -- state changes ------------------------------------------------------------------------
    def _blob(self, path: str, content: bytes) -> Blob:
        if path.endswith(self.lfs_suffixes) and content:
            sha = hashlib.sha256(content).hexdigest()
            self.lfs[sha] = content
            return Blob(lfs_sha256=sha, size=len(content))
        return Blob(content=content, size=len(content))

    def _new_commit(self, repo: Repo, parent: str | None, files: dict[str, Blob], title: str,
                    branch: str | None = None) -> str:
        digest = hashlib.sha1(json.dumps([parent, title, next(self._counter), sorted((p, b.oid) for p, b in files.items())]).encode())
        oid = digest.hexdigest()
        repo.commits[oid] = Commit(oid, parent, title, files, datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        if branch is not None:
            repo.branches[branch] = oid
        return oid

    def _resolve(self, repo: Repo, revision: str) -> str:
        if revision in repo.branches:
            return repo.branches[revision]
        if revision in repo.tags:
            return repo.tags[revision]
        m = re.fullmatch(r"refs/pr/(\d+)", revision)
        if m and int(m.group(1)) in repo.prs:
            return repo.prs[int(m.group(1))]
        matches = [oid for oid in repo.commits if oid.startswith(revision)] if len(revision) >= 7 else []
        if len(matches) == 1:
            return matches[0]
        raise HubHTTPError(404, f"Invalid rev id: {revision}", "RevisionNotFound")


_REPO = r"/api/(?P<rt>models|datasets|spaces)/(?P<repo>[^/]+/[^/]+)"


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    # -- plumbing --------------------------------------------------------------------------------
    def _send(self, status: int, body: object = None, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body if body is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _authorized(self) -> bool:
        return self.headers.get("Authorization", "") == f"Bearer {self.fake.token}"

    def _require_auth(self) -> None:
        if not self._authorized():
            raise HubHTTPError(401, "Invalid credentials in Authorization header")

    def _repo(self, rt: str, repo_id: str, write: bool = False) -> Repo:
        if write:
            self._require_auth()
        repo = self.fake.repos.get((rt.rstrip("s"), repo_id))
        if repo is None or (repo.private and not self._authorized()):
            raise HubHTTPError(404, "Repository not found", "RepoNotFound")
        return repo

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        path, query = url.path, parse_qs(url.query)
        self.fake.requests.append((method, path))
        body = self._body() if method in ("POST", "PUT") else b""
        routes = [
            ("GET", r"/api/whoami-v2", self._whoami),
            ("POST", r"/api/repos/create", self._create_repo),
            ("POST", r"/api/validate-yaml", self._validate_yaml),
            ("GET", _REPO + r"(?:/revision/(?P<rev>[^/]+))?", self._repo_info),
            ("GET", _REPO + r"/tree/(?P<rev>[^/]+)(?:/(?P<sub>.+))?", self._tree),
            ("GET", _REPO + r"/refs", self._refs),
            ("POST", _REPO + r"/preupload/(?P<rev>[^/]+)", self._preupload),
            ("POST", _REPO + r"/commit/(?P<rev>[^/]+)", self._commit),
            ("POST", _REPO + r"/tag/(?P<rev>[^/]+)", self._tag),
            ("POST", _REPO + r"/branch/(?P<branch>[^/]+)", self._branch),
            ("POST", r"/(?:(?P<rt>datasets|spaces)/)?(?P<repo>[^/]+/[^/]+)\.git/info/lfs/objects/batch", self._lfs_batch),
            ("PUT", r"/_lfs/(?P<oid>[0-9a-f]{64})", self._lfs_put),
            ("POST", r"/_lfs/(?P<oid>[0-9a-f]{64})/verify", self._lfs_verify),
        ]
        try:
            for verb, pattern, handler in routes:
                m = re.fullmatch(pattern, path)
                if verb == method and m:
                    args = {k: unquote(v) for k, v in m.groupdict().items() if v is not None}
                    with self.fake._lock:
                        status, payload = handler(body=body, query=query, **args)
                    self._send(status, payload)
                    return
            self._send(404, {"error": f"fake hub: no route for {method} {path}"})
        except HubHTTPError as e:
            headers = {"X-Error-Message": e.message}
            if e.code:
                headers["X-Error-Code"] = e.code
            self._send(e.status, {"error": e.message}, headers)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    # -- endpoints -------------------------------------------------------------------------------
    def _whoami(self, **_):
        self._require_auth()
        return 200, {"type": "user", "name": self.fake.user, "orgs": [], "auth": {"type": "access_token",
                                                                               "accessToken": {"role": "write"}}}

    def _create_repo(self, body: bytes, **_):
        self._require_auth()
        payload = json.loads(body)
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or self.fake.user}/{payload['name']}"
        prefix = "" if repo_type == "model" else f"{repo_type}s/"
        url = f"{self.fake.endpoint}/{prefix}{repo_id}"
        if (repo_type, repo_id) in self.fake.repos:
            raise HubHTTPError(409, f"You already created this {repo_type} repo: {url}")
        private = payload.get("visibility") == "private" or bool(payload.get("private"))
        repo = Repo(repo_id, repo_type, private)
        self.fake.repos[(repo_type, repo_id)] = repo
        self.fake._new_commit(repo, None, {".gitattributes": Blob(content=GITATTRIBUTES, size=len(GITATTRIBUTES))},
                              "initial commit", branch="main")
        return 200, {"url": url, "name": repo_id}

    def _validate_yaml(self, body: bytes, **_):
        content = json.loads(body)["content"]
        m = re.match(r"^---\n(.*?)\n---\n", content, re.S)
        if m is None:
            return 200, {"errors": [], "warnings": [{"message": "empty or missing yaml metadata in repo card"}]}
        try:
            meta = yaml.safe_load(m.group(1))
        except yaml.YAMLError as e:
            return 400, {"errors": [{"message": f"invalid YAML: {e}"}]}
        if not isinstance(meta, dict):
            return 400, {"errors": [{"message": "YAML metadata must be a mapping"}]}
        return 200, {"errors": [], "warnings": []}

    def _repo_info(self, rt: str, repo: str, rev: str = "main", **_):
        r = self._repo(rt, repo)
        oid = self.fake._resolve(r, rev)
        commit = r.commits[oid]
        return 200, {"id": repo, "sha": oid, "private": r.private, "lastModified": commit.date,
                     "siblings": [{"rfilename": p} for p in sorted(commit.files)]}

    def _tree(self, rt: str, repo: str, rev: str, query: dict, sub: str = "", **_):
        r = self._repo(rt, repo)
        files = r.commits[self.fake._resolve(r, rev)].files
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        prefix = sub.strip("/") + "/" if sub else ""
        entries: dict[str, dict] = {}
        for path, blob in sorted(files.items()):
            if not path.startswith(prefix):
                continue
            parts = path[len(prefix):].split("/")
            for depth in range(1, len(parts)):  # the folders on the way
                folder = prefix + "/".join(parts[:depth])
                if recursive or depth == 1:
                    entries.setdefault(folder, {"type": "directory", "path": folder, "oid": git_blob_oid(folder.encode()), "size": 0})
            if recursive or len(parts) == 1:
                entry = {"type": "file", "path": path, "oid": blob.oid, "size": blob.size}
                if blob.lfs_sha256:
                    entry["lfs"] = {"oid": blob.lfs_sha256, "size": blob.size,
                                    "pointerSize": len(lfs_pointer(blob.lfs_sha256, blob.size))}
                entries[path] = entry
        if prefix and not entries:
            raise HubHTTPError(404, f"{sub} does not exist", "EntryNotFound")
        return 200, list(entries.values())

    def _refs(self, rt: str, repo: str, query: dict, **_):
        r = self._repo(rt, repo)

        def ref(kind: str, name: str, oid: str) -> dict:
            return {"name": name, "ref": f"refs/{kind}/{name}", "targetCommit": oid}

        out = {"branches": [ref("heads", n, o) for n, o in r.branches.items()],
               "tags": [ref("tags", n, o) for n, o in r.tags.items()], "converts": []}
        if query.get("include_prs"):
            out["pullRequests"] = [{"name": f"refs/pr/{n}", "ref": f"refs/pr/{n}", "targetCommit": o} for n, o in r.prs.items()]
        return 200, out

    def _preupload(self, rt: str, repo: str, rev: str, body: bytes, **_):
        r = self._repo(rt, repo, write=True)
        current = r.commits[self.fake._resolve(r, rev)].files
        out = []
        for f in json.loads(body)["files"]:
            lfs = f["path"].endswith(self.fake.lfs_suffixes) and f["size"] > 0
            existing = current.get(f["path"])
            oid = None
            if existing is not None:  # what the client compares with its own oid to skip no-ops
                oid = existing.lfs_sha256 if existing.lfs_sha256 else git_blob_oid(existing.content)
            out.append({"path": f["path"], "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
        return 200, {"files": out, "commitOid": r.commits[self.fake._resolve(r, rev)].oid}

    def _lfs_batch(self, repo: str, body: bytes, rt: str = "models", **_):
        self._repo(rt if rt.endswith("s") else rt + "s", repo, write=True)
        payload = json.loads(body)
        objects = []
        for obj in payload["objects"]:
            item = {"oid": obj["oid"], "size": obj["size"]}
            if obj["oid"] not in self.fake.lfs:
                base = f"{self.fake.endpoint}/_lfs/{obj['oid']}"
                item["actions"] = {"upload": {"href": base}, "verify": {"href": base + "/verify"}}
            objects.append(item)
        return 200, {"transfer": "basic", "objects": objects}

    def _lfs_put(self, oid: str, body: bytes, **_):
        if hashlib.sha256(body).hexdigest() != oid:
            raise HubHTTPError(400, "content does not match its sha256")
        self.fake.lfs[oid] = body
        return 200, {}

    def _lfs_verify(self, oid: str, body: bytes, **_):
        self._require_auth()
        if oid not in self.fake.lfs:
            raise HubHTTPError(404, f"LFS object {oid} was never uploaded")
        return 200, {}

    def _commit(self, rt: str, repo: str, rev: str, body: bytes, query: dict, **_):
        r = self._repo(rt, repo, write=True)
        lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        header = lines[0]["value"] if lines and lines[0]["key"] == "header" else {}
        if self.fake.before_commit is not None:  # a concurrent push lands first
            hook, self.fake.before_commit = self.fake.before_commit, None
            hook()
        create_pr = query.get("create_pr", ["0"])[0] == "1"
        head = self.fake._resolve(r, rev)
        parent = header.get("parentCommit")
        if parent is not None:
            parent = self.fake._resolve(r, parent)
            if not create_pr and parent != head:
                raise HubHTTPError(412, "A commit has happened since. Please refresh and try again.")
        base = parent if (create_pr and parent) else head
        files = dict(r.commits[base].files)
        sent = []
        for line in lines[1:]:
            key, value = line["key"], line["value"]
            if key == "file":
                content = base64.b64decode(value["content"])
                files[value["path"]] = Blob(content=content, size=len(content))
                sent.append(value["path"])
            elif key == "lfsFile":
                if value["oid"] not in self.fake.lfs:
                    raise HubHTTPError(422, f"LFS object {value['oid']} for {value['path']} was never uploaded")
                files[value["path"]] = Blob(lfs_sha256=value["oid"], size=len(self.fake.lfs[value["oid"]]))
                sent.append(value["path"])
            elif key == "deletedFile":
                if value["path"] not in files:
                    raise HubHTTPError(404, f"A file with this name doesn't exist: {value['path']}", "EntryNotFound")
                del files[value["path"]]
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                for path in [p for p in files if p.startswith(folder)]:
                    del files[path]
            else:
                raise HubHTTPError(400, f"unknown commit operation {key}")
        title = header.get("summary") or "commit"
        self.fake.committed_paths.append(sent)
        prefix = "" if r.repo_type == "model" else f"{r.repo_type}s/"
        if create_pr:
            number = max(r.prs, default=0) + 1
            r.prs[number] = self.fake._new_commit(r, base, files, title)
            oid = r.prs[number]
            return 200, {"commitOid": oid, "commitUrl": f"{self.fake.endpoint}/{prefix}{repo}/commit/{oid}",
                         "pullRequestUrl": f"{self.fake.endpoint}/{prefix}{repo}/discussions/{number}"}
        if rev not in r.branches:
            raise HubHTTPError(400, f"{rev} is not a branch", "RevisionNotFound")
        oid = self.fake._new_commit(r, head, files, title, branch=rev)
        return 200, {"commitOid": oid, "commitUrl": f"{self.fake.endpoint}/{prefix}{repo}/commit/{oid}",
                     "pullRequestUrl": None}

    def _tag(self, rt: str, repo: str, rev: str, body: bytes, **_):
        r = self._repo(rt, repo, write=True)
        tag = json.loads(body)["tag"]
        if tag in r.tags:
            raise HubHTTPError(409, f"Tag {tag} already exists")
        r.tags[tag] = self.fake._resolve(r, rev)
        return 200, {}

    def _branch(self, rt: str, repo: str, branch: str, body: bytes, **_):
        r = self._repo(rt, repo, write=True)
        if branch in r.branches:
            raise HubHTTPError(409, f"Branch {branch} already exists")
        start = (json.loads(body) if body else {}).get("startingPoint") or "main"
        r.branches[branch] = self.fake._resolve(r, start)
        return 200, {}


# -- a small dataset folder written by the project's own writer (mapkit.dataset) ---------------
def make_dataset_folder(out, *, seed: int = 0, drop_types: tuple[str, ...] = (), extra_files: dict[str, bytes] | None = None,
                        list_extra: bool = True):
    """Write a small dataset folder with hand-made records: 2 splits, every question type,
    one map, one annotation, through ``mapkit.dataset.write_dataset`` (so the layout,
    parquet schema and manifest are what `mapkit build` writes).

    ``seed`` changes ids, the map image and the manifest (a "rebuild"); ``drop_types``
    leaves question families out; ``extra_files`` adds files after the build (relative
    path -> bytes), listed with their sha256 in manifest.json as if the build had written
    them (``list_extra=False``: left out of it, which `mapkit push` refuses). Returns the
    folder as a Path.
    """
    import tempfile
    from pathlib import Path

    from PIL import Image

    from mapkit.dataset import MapFile, write_dataset

    out = Path(out)
    annotation = Path(__file__).resolve().parent / "fixtures" / "mini.json"
    boxed = " Put the final answer in \\boxed{}."
    base = {"city": "mini", "country": "Nowhere", "map_id": "mini", "figure": "maps/mini.png",
            "annotation": "annotations/mini.json", "difficulty_city": "easy", "city_line_count": 4,
            "city_transfer_count": 4, "question_transfer_count": 0, "options": None, "station_1": None,
            "station_2": None, "line": None, "reference_routes": None}
    rows = [
        {"type": "TorF1", "question": "Are Alpha and Delta on the same line?" + boxed, "answer": 1, "answer_text": "yes",
         "station_1": "Alpha", "station_2": "Delta", "difficulty_question": "easy", "split": "train"},
        {"type": "TorF1", "question": "Are Alpha and Golf on the same line?" + boxed, "answer": 0, "answer_text": "no",
         "station_1": "Alpha", "station_2": "Golf", "difficulty_question": "middle", "split": "test"},
        {"type": "TorF2", "question": "Is Golf on the Blue Line?" + boxed, "answer": 1, "answer_text": "yes",
         "station_1": "Golf", "line": "Blue Line", "difficulty_question": "easy",
         "split": "train"},  # the planning route rides the Blue Line through Golf: in test it would leak
        {"type": "Counting1", "question": "How many stops are there between Alpha and Echo on the Red Line (both "
         "excluded)?\nA. 1\nB. 2\nC. 3\nD. 4" + boxed, "answer": 2, "answer_text": "C", "options": [1, 2, 3, 4],
         "station_1": "Alpha", "station_2": "Echo", "line": "Red Line", "difficulty_question": "middle", "split": "train"},
        {"type": "Counting2", "question": "How many lines pass through Central?" + boxed, "answer": 3, "answer_text": "3",
         "station_1": "Central", "difficulty_question": "hard", "split": "train"},
        {"type": "Counting3", "question": "How many lines does this map have?" + boxed, "answer": 4, "answer_text": "4",
         "difficulty_question": "easy", "split": "train"},
        {"type": "planning", "question": "How do I get from Alpha to Hotel? Give the route as sections.", "answer": -1,
         "answer_text": "Route Name: Red Line\nDeparture Stop: Alpha\nArrival Stop: Central\n--\n"
                        "Route Name: Blue Line\nDeparture Stop: Central\nArrival Stop: Hotel",
         "station_1": "Alpha", "station_2": "Hotel", "question_transfer_count": 1, "difficulty_question": "middle",
         "split": "train",
         "reference_routes": [[{"route_name": "Red Line", "departure_stop": "Alpha", "arrival_stop": "Central",
                                "via_stops": ["Bravo"], "num_via_stops": 1},
                               {"route_name": "Blue Line", "departure_stop": "Central", "arrival_stop": "Hotel",
                                "via_stops": ["Golf"], "num_via_stops": 1}]]},
    ]
    records = []
    for i, row in enumerate(r for r in rows if r["type"] not in drop_types):
        record = {**base, **row}
        record["id"] = hashlib.sha1(f"mini|{record['type']}|{i}|{seed}".encode()).hexdigest()[:16]
        record["template_id"] = f"{record['type'].lower()}_0"
        record["program"] = json.dumps({"op": record["type"], "args": {"seed": seed}, "result": record["answer"]})
        records.append(record)
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "mini.png"
        Image.new("RGB", (64, 48), (255, 255, 255 - seed % 200)).save(image)
        digest = hashlib.sha256(annotation.read_bytes()).hexdigest()
        manifest = {"seed": seed, "cities": {"mini": {"annotation": "annotations/mini.json", "annotation_sha256": digest,
                                                      "map": "maps/mini.png", "map_source": "image"}},
                    "inputs": {"annotations/mini.json": digest}}
        write_dataset(out, records, annotations={"mini": annotation}, maps=[MapFile("mini", source=image)],
                      manifest=manifest)
    for rel, content in (extra_files or {}).items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(content)
    if extra_files and list_extra:
        manifest = json.loads((out / "manifest.json").read_text("utf-8"))
        manifest["files"].update({rel: hashlib.sha256(content).hexdigest() for rel, content in extra_files.items()})
        (out / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True), "utf-8")
    return out
