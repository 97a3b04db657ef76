"""Publish a dataset folder as one revision of a Hugging Face Hub dataset repository.

``push`` makes the remote revision equal to the folder in exactly one commit: files that
are new or differ are uploaded, files that exist remotely but not locally are deleted
(``.gitattributes``, which the Hub manages, is kept). The commit is pinned to the parent
commit read when planning, so a push that raced with another one fails with a
``HubError`` instead of overwriting it. ``plan_push`` alone is the dry run.

"What changed" is decided locally against the remote tree: a regular file's git blob id is
``sha1(b"blob <size>\\0" + content)``, an LFS file is compared by the sha256 of its content.

The standard environment applies: ``HF_ENDPOINT``, ``HF_TOKEN`` or the token stored by
``hf auth login``. The token is sent to the Hub and never printed or logged.

Example::

    >>> from mapkit.publish.hub import push
    >>> result = push("out/tokyo", "org/mapkit-tokyo", tag="v1.0.0")  # doctest: +SKIP
    >>> result.commit_url  # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from mapkit.errors import DatasetError, HubError, HubUnreachableError, UsageError
from mapkit.files import atomic_write, sha256_file

REPO_TYPE = "dataset"
KEEP_REMOTE = {".gitattributes"}  # Hub-managed; a folder without one leaves the remote one alone
REPO_ID_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*$")
TAG_RE = re.compile(r"^v\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")
LOGIN_HINT = "run `hf auth login` (or set HF_TOKEN) with a token that has write access"


# -- the folder ------------------------------------------------------------------------------
def local_files(folder: Path) -> dict[str, Path]:
    """Repo path -> local file for exactly what may be published: the files manifest.json
    lists, manifest.json and README.md (``mapkit.dataset.publish_files``). A symlink or an
    unlisted file in the folder is refused by name, never uploaded."""
    from mapkit.dataset.check import publish_files, read_manifest

    return publish_files(folder, read_manifest(Path(folder)))


def git_blob_oid(path: Path) -> str:
    """The id git (and the Hub's tree API) gives a regular file: sha1 of header + content."""
    h = hashlib.sha1(b"blob %d\0" % path.stat().st_size)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _publishable(folder: Path) -> dict[str, int]:
    """Run the shared folder check with the publishing rules; returns rows per split."""
    from mapkit.dataset import validate_folder
    from mapkit.dataset.folder import split_files

    refuse = f"{folder}: not a valid dataset folder, refusing to publish it (rebuild it with `mapkit build`)"
    if not folder.is_dir():
        raise DatasetError(f"{folder}: not a folder; build one with `mapkit build --city NAME --out {folder}`")
    try:
        split_files(folder)  # shard names, before anything reads them
        manifest = validate_folder(folder, publish=True)
    except DatasetError as e:
        raise DatasetError(f"{refuse}:\n  {e}") from None
    return dict(manifest["counts"]["split"])


# -- the plan --------------------------------------------------------------------------------
@dataclass
class PushPlan:
    """What a push would send: the dry run prints it, ``execute`` commits it."""

    folder: Path
    repo_id: str
    revision: str
    endpoint: str
    repo_exists: bool
    revision_exists: bool
    parent_commit: str | None  # head of `revision` (or of main for a new branch) when read
    add: list[str] = field(default_factory=list)
    change: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    upload_bytes: int = 0
    overrides: dict[str, bytes] = field(default_factory=dict)  # repo path -> content not yet on disk
    tags: dict[str, str] = field(default_factory=dict)  # existing tags of the repo -> commit
    unreadable: str | None = None  # why the remote could not be read (dry run offline): every file is listed

    @property
    def empty(self) -> bool:
        return not (self.add or self.change or self.delete)

    def lines(self) -> list[str]:
        where = f"{self.endpoint}/datasets/{self.repo_id} @ {self.revision}"
        if self.unreadable:
            head = (f"{where}: could not compare with the remote ({self.unreadable}); listing every file of the "
                    "folder as to add (a real push uploads only what differs)")
        elif not self.repo_exists:
            head = f"{where}: repository does not exist yet (it would be created)"
        elif not self.revision_exists:
            head = f"{where}: branch does not exist yet (it would be created from main {_short(self.parent_commit)})"
        else:
            head = f"{where}: head {_short(self.parent_commit)}"
        out = [head]
        out += [f"  add     {p}" for p in self.add]
        out += [f"  change  {p}" for p in self.change]
        out += [f"  delete  {p}" for p in self.delete]
        out.append(f"{len(self.add)} to add, {len(self.change)} to change, {len(self.delete)} to delete, "
                   f"{len(self.unchanged)} unchanged; {_human(self.upload_bytes)} to upload")
        return out


def _short(oid: str | None) -> str:
    return (oid or "?")[:12]


def _human(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"


def resolve_endpoint(endpoint: str | None = None) -> str:
    """Explicit endpoint, else HF_ENDPOINT read now (not at import), else huggingface.co."""
    from huggingface_hub import constants

    return (endpoint or os.environ.get("HF_ENDPOINT") or constants.ENDPOINT).rstrip("/")


def resolve_token(token: str | None = None) -> str | None:
    from huggingface_hub import get_token

    return token or get_token()


def _api(endpoint: str, token: str | None):
    from huggingface_hub import HfApi

    return HfApi(endpoint=endpoint, token=token if token else False)


def plan_push(folder: Path | str, repo_id: str, *, revision: str = "main", endpoint: str | None = None,
              token: str | None = None, overrides: dict[str, bytes] | None = None) -> PushPlan:
    """Compare the folder with the remote revision; nothing is sent but reads."""
    from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

    folder = Path(folder)
    _check_repo_id(repo_id)
    endpoint = resolve_endpoint(endpoint)
    token = resolve_token(token)
    api = _api(endpoint, token)
    repo_exists = revision_exists = True
    parent = None
    with hub_errors(f"reading {repo_id}@{revision}", endpoint, repo_id, token):
        try:
            parent = api.repo_info(repo_id, repo_type=REPO_TYPE, revision=revision).sha
        except RepositoryNotFoundError:
            repo_exists = revision_exists = False
        except RevisionNotFoundError:
            revision_exists = False
            parent = api.repo_info(repo_id, repo_type=REPO_TYPE, revision="main").sha
        tags: dict[str, str] = {}
        if repo_exists:
            refs = api.list_repo_refs(repo_id, repo_type=REPO_TYPE)
            tags = {t.name: t.target_commit for t in refs.tags}
            if revision_exists and revision not in {b.name for b in refs.branches}:
                raise HubError(f"--revision {revision!r} is a tag or commit of {repo_id}, not a branch; "
                               "push to a branch (tags are made with --tag)")
        remote = {}
        if parent is not None:
            from huggingface_hub.hf_api import RepoFile

            remote = {e.path: e for e in api.list_repo_tree(repo_id, repo_type=REPO_TYPE, revision=parent, recursive=True)
                      if isinstance(e, RepoFile)}
    plan = PushPlan(folder, repo_id, revision, endpoint, repo_exists, revision_exists, parent,
                    overrides=dict(overrides or {}), tags=tags)
    local = local_files(folder)
    for rel in sorted(set(local) | set(plan.overrides)):
        content = plan.overrides.get(rel)
        size = len(content) if content is not None else local[rel].stat().st_size
        entry = remote.get(rel)
        if entry is None:
            plan.add.append(rel)
            plan.upload_bytes += size
            continue
        if entry.lfs is not None:
            mine = hashlib.sha256(content).hexdigest() if content is not None else sha256_file(local[rel])
            same = entry.lfs.sha256 == mine
        else:
            mine = (hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest() if content is not None
                    else git_blob_oid(local[rel]))
            same = entry.blob_id == mine
        if same:
            plan.unchanged.append(rel)
        else:
            plan.change.append(rel)
            plan.upload_bytes += size
    plan.delete = sorted(p for p in remote if p not in local and p not in plan.overrides and p not in KEEP_REMOTE)
    return plan


def local_plan(folder: Path | str, repo_id: str, *, revision: str = "main", endpoint: str | None = None,
               overrides: dict[str, bytes] | None = None, reason: str = "") -> PushPlan:
    """The dry run's plan when the Hub cannot be read: every file as one to add."""
    folder = Path(folder)
    plan = PushPlan(folder, repo_id, revision, resolve_endpoint(endpoint), False, False, None,
                    overrides=dict(overrides or {}), unreadable=reason.split(": ", 1)[-1] or "the Hub is unreachable")
    local = local_files(folder)
    plan.add = sorted(set(local) | set(plan.overrides))
    plan.upload_bytes = sum(len(plan.overrides[p]) if p in plan.overrides else local[p].stat().st_size for p in plan.add)
    return plan


def _check_repo_id(repo_id: str) -> None:
    if not REPO_ID_RE.match(repo_id or ""):
        raise UsageError(f"--repo-id {repo_id!r} is not ORG/NAME (letters, digits, '-', '_', '.')")


def check_push_options(repo_id: str, tag: str | None, create_pr: bool) -> None:
    """The one place that says which push options go together (UsageError, exit 2)."""
    _check_repo_id(repo_id)
    if tag is not None and not TAG_RE.match(tag):
        raise UsageError(f"--tag {tag!r} is not a version like v1.2.0")
    if tag and create_pr:
        raise UsageError("--tag and --create-pr together would tag an unmerged pull request; tag after merging it")


# -- pushing ---------------------------------------------------------------------------------
@dataclass
class PushResult:
    plan: PushPlan
    commit_oid: str | None  # None for a dry run or when nothing changed
    commit_url: str | None = None
    pr_url: str | None = None
    tag: str | None = None
    created_repo: bool = False
    user: str | None = None


def push(folder: Path | str, repo_id: str, *, revision: str = "main", tag: str | None = None, private: bool = False,
         create_pr: bool = False, message: str | None = None, dry_run: bool = False, endpoint: str | None = None,
         token: str | None = None, update_card: bool = True) -> PushResult:
    """Validate ``folder`` and make ``repo_id@revision`` equal to it in one commit; tag it.

    With ``update_card`` the card is re-rendered first so its loading snippet names
    ``repo_id`` and the tag (or branch); a dry run only computes that card.
    """
    folder = Path(folder)
    check_push_options(repo_id, tag, create_pr)
    counts = _publishable(folder)
    endpoint = resolve_endpoint(endpoint)
    token = resolve_token(token)
    if token is None and not dry_run:
        raise HubError(f"no Hugging Face token found: {LOGIN_HINT}. A dry run (--dry-run) needs none.")

    overrides: dict[str, bytes] = {}
    if update_card and _is_mapkit_card(folder / "README.md"):
        from mapkit.publish.card import render_card

        card = render_card(folder, repo_id=repo_id, revision=tag or revision).encode("utf-8")
        if card != (folder / "README.md").read_bytes():
            overrides["README.md"] = card
    try:
        plan = plan_push(folder, repo_id, revision=revision, endpoint=endpoint, token=token, overrides=overrides)
    except HubUnreachableError as e:
        if not dry_run:
            raise
        plan = local_plan(folder, repo_id, revision=revision, endpoint=endpoint, overrides=overrides, reason=str(e))
    if tag and tag in plan.tags:
        raise HubError(f"tag {tag} already exists on {repo_id} (commit {_short(plan.tags[tag])}); a tag names one "
                       "release for good: choose a new version for --tag")
    if dry_run:
        return PushResult(plan, None)
    for rel, content in plan.overrides.items():  # the folder must hold what the revision will hold
        atomic_write(folder / rel, content)
    plan.overrides.clear()

    api = _api(endpoint, token)
    result = PushResult(plan, None)
    with hub_errors(f"pushing to {repo_id}", endpoint, repo_id, token):
        result.user = api.whoami().get("name")
        if not plan.repo_exists:
            api.create_repo(repo_id, repo_type=REPO_TYPE, private=private, exist_ok=True)
            result.created_repo = True
            plan = result.plan = plan_push(folder, repo_id, revision=revision, endpoint=endpoint, token=token)
        if not plan.revision_exists:
            api.create_branch(repo_id, branch=revision, revision=plan.parent_commit, repo_type=REPO_TYPE)
        if plan.empty:
            result.commit_oid = plan.parent_commit
        else:
            from huggingface_hub import CommitOperationAdd, CommitOperationDelete

            operations = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(folder / p)) for p in plan.add + plan.change]
            operations += [CommitOperationDelete(path_in_repo=p) for p in plan.delete]
            info = api.create_commit(
                repo_id, operations, repo_type=REPO_TYPE, revision=revision, create_pr=create_pr,
                parent_commit=plan.parent_commit, commit_message=message or _default_message(folder, counts),
                commit_description=f"{len(plan.add)} added, {len(plan.change)} changed, {len(plan.delete)} deleted "
                                   "by `mapkit push`.")
            result.commit_oid, result.commit_url, result.pr_url = info.oid, info.commit_url, info.pr_url
        if tag:
            api.create_tag(repo_id, tag=tag, revision=result.commit_oid, repo_type=REPO_TYPE,
                           tag_message=message or f"mapkit dataset {tag}")
            result.tag = tag
    return result


def _default_message(folder: Path, counts: dict[str, int]) -> str:
    from mapkit.dataset.check import read_manifest

    manifest = read_manifest(folder)
    version = manifest.get("mapkit_version") or manifest.get("version") or "?"
    rows = ", ".join(f"{s} {n}" for s, n in counts.items())
    return f"mapkit {version} build (seed {manifest.get('seed', '?')}): {rows}"


def _is_mapkit_card(path: Path) -> bool:
    from mapkit.publish.card import CARD_MARKER

    try:
        return CARD_MARKER in path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False


# -- errors --------------------------------------------------------------------------------
@contextmanager
def hub_errors(action: str, endpoint: str, repo_id: str, token: str | None) -> Iterator[None]:
    """Turn network and Hub failures into a HubError (exit 3) that says what failed and what
    to try; the token never appears in the message."""
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError

    try:
        yield
    except HubError as e:
        raise type(e)(_scrub(str(e), token)) from None
    except OfflineModeIsEnabled:
        raise HubUnreachableError(f"{action}: HF_HUB_OFFLINE is set, so nothing can be sent; unset it and run again") from None
    except RepositoryNotFoundError:
        raise HubError(f"{action}: the Hub at {endpoint} has no dataset {repo_id} that this token can see; "
                       f"check --repo-id, or {LOGIN_HINT}") from None
    except HfHubHTTPError as e:
        status = e.response.status_code if e.response is not None else None
        detail = _scrub(getattr(e, "server_message", None) or str(e).splitlines()[0], token)
        if status == 401:
            text = f"{action}: the Hub rejected the token (HTTP 401); {LOGIN_HINT}"
        elif status == 403:
            text = f"{action}: this token may not write to {repo_id} (HTTP 403: {detail}); use a token with write access to the namespace"
        elif status == 412:
            text = (f"{action}: {repo_id} changed while this push was being prepared (HTTP 412: another push landed "
                    "first); nothing was overwritten. Run the push again to commit on top of the new head")
        elif status == 409:
            text = _conflict(action, detail)
        elif status is not None and status >= 500:
            text = f"{action}: the Hub failed (HTTP {status}: {detail}); try again later"
        else:
            text = f"{action}: the Hub refused the request (HTTP {status}: {detail})"
        raise HubError(_scrub(text, token)) from None
    except httpx2.TransportError as e:
        reason = _scrub(str(e) or type(e).__name__, token)
        raise HubUnreachableError(f"{action}: could not reach the Hub at {endpoint} ({type(e).__name__}: {reason}); "
                                  "check the network connection and HF_ENDPOINT, then run again") from None
    except (OSError, ValueError) as e:  # connection resets, malformed responses, invalid card metadata
        raise HubError(_scrub(f"{action}: {type(e).__name__}: {e}", token)) from None


def _conflict(action: str, detail: str) -> str:
    # Only a write can conflict because of a tag; a read answered 409 is the Hub's own matter.
    if action.startswith("pushing"):
        return f"{action}: conflict (HTTP 409: {detail}); if --tag was given, a tag must be new: choose another --tag"
    return f"{action}: the Hub answered 409 Conflict ({detail}); try again, and check --repo-id and --revision"


def _scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text
