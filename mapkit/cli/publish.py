"""Commands for publishing a built dataset folder: push (Hub revision), export (SFT data)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from mapkit.cli._app import app, err, out


@app.command()
def push(
    folder: Path = typer.Argument(..., metavar="OUT", help="Dataset folder written by `mapkit build`."),
    repo_id: str = typer.Option(..., "--repo-id", help="Hub dataset repository, ORG/NAME."),
    revision: str = typer.Option("main", "--revision", help="Branch to commit to (created from main if missing)."),
    tag: Optional[str] = typer.Option(None, "--tag", help="Tag the new revision, e.g. v1.0.0."),
    private: bool = typer.Option(False, "--private", help="Create the repository private (only when it is created)."),
    create_pr: bool = typer.Option(False, "--create-pr", help="Open a pull request instead of committing to the branch."),
    message: Optional[str] = typer.Option(None, "--message", "-m", help="Commit message (default: version, seed, rows)."),
    dry_run: bool = typer.Option(False, "--dry-run",
                                 help="Print the files to add, change and delete; send nothing (offline: lists every file)."),
) -> None:
    """Publish OUT as one commit on the Hub: the revision becomes exactly the folder.

    Re-validates the folder first. Uses HF_ENDPOINT, HF_TOKEN or the login stored by
    `hf auth login`. Exit 3 when the Hub cannot be reached or refuses the push.
    """
    from mapkit.publish.hub import push as do_push

    result = do_push(folder, repo_id, revision=revision, tag=tag, private=private, create_pr=create_pr,
                     message=message, dry_run=dry_run)
    plan = result.plan
    if dry_run:
        for line in plan.lines():
            out.print(line)
        out.print("dry run: nothing was sent")
        return
    who = f" as {result.user}" if result.user else ""
    if result.created_repo:
        out.print(f"created {'private ' if private else ''}dataset repository {repo_id}")
    if plan.empty:
        out.print(f"{repo_id}@{revision} already equals {folder} (commit {(result.commit_oid or '')[:12]}); nothing to commit")
    else:
        for line in plan.lines()[1:-1]:
            out.print(line)
        out.print(f"pushed{who}: {len(plan.add)} added, {len(plan.change)} changed, {len(plan.delete)} deleted "
                  f"-> {repo_id}@{revision} commit {(result.commit_oid or '')[:12]}")
        if result.pr_url:
            out.print(f"pull request: {result.pr_url}")
        elif result.commit_url:
            out.print(f"commit: {result.commit_url}")
    if result.tag:
        out.print(f"tagged {result.tag} -> {(result.commit_oid or '')[:12]}; load it with "
                  f"load_dataset(\"{repo_id}\", revision=\"{result.tag}\")")


@app.command()
def export(
    folder: Path = typer.Argument(..., metavar="OUT", help="Dataset folder written by `mapkit build`."),
    fmt: str = typer.Option(..., "--format", help="sharegpt (LLaMA-Factory), jsonl (plain records) or reasonmap (planning pairs in the released "
                                                  "ReasonMap layout)."),
    out_file: Path = typer.Option(..., "--out", help="File to write (FILE.json for sharegpt, FILE.jsonl for jsonl; a folder for reasonmap)."),
    splits: List[str] = typer.Option(["train"], "--split", help="Split(s) to export; repeat the option, or 'all'."),
    include_planning: bool = typer.Option(False, "--include-planning", help="Also export route-planning questions."),
    relative_images: bool = typer.Option(False, "--relative-images",
                                         help="Write image paths relative to the output file's folder (LLaMA-Factory's dataset_dir) instead of absolute."),
    name: Optional[str] = typer.Option(None, "--name", help="Dataset name in the dataset_info.json entry (default: the file stem)."),
    boxed: bool = typer.Option(False, "--boxed", help="Targets as \\boxed{answer}, as the prompts ask, instead of the bare answer."),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", min=784, help="Grounding rows: the trainer's image pixel budget; their coordinates "
                                                                                 "are rescaled to the image the model sees (needed when the folder has "
                                                                                 "Grounding rows)."),
    min_pixels: Optional[int] = typer.Option(None, "--min-pixels", min=1, help="Grounding rows: the trainer's smallest image size in pixels [default: 56*56]."),
) -> None:
    """Write supervised fine-tuning data: LLaMA-Factory sharegpt (RewardMap's SFT baseline) or jsonl.

    One record per question with the image path and the bare answer (letter, yes/no or
    number). For sharegpt, prints the entry to add to LLaMA-Factory's dataset_info.json.
    """
    import json

    from mapkit.publish.export import FORMATS
    from mapkit.publish.export import export as do_export

    if fmt == "reasonmap":
        from mapkit.publish.reasonmap import export_reasonmap

        where, count, per_split = export_reasonmap(folder, out_file, splits)
        err.print(f"wrote {count} ReasonMap rows (station pairs, both forms; "
                  + ", ".join(f"{s} {n}" for s, n in per_split.items()) + f") to {where}")
        return
    if fmt not in FORMATS:
        raise typer.BadParameter(f"{fmt!r} is not one of {', '.join(FORMATS)}", param_hint="--format")
    result = do_export(folder, out_file, fmt=fmt, splits=splits, include_planning=include_planning,
                       relative_images=relative_images, name=name, boxed=boxed, max_pixels=max_pixels, min_pixels=min_pixels)
    by_type = ", ".join(f"{t} {n}" for t, n in result.by_type.items())
    err.print(f"wrote {result.count} records ({by_type}) to {out_file}"
              + (f"; left out {result.skipped_planning} planning question(s) (--include-planning adds them)"
                 if result.skipped_planning else ""))
    if result.dataset_info is not None:
        err.print("add this entry to LLaMA-Factory's data/dataset_info.json:")
        out.print(json.dumps(result.dataset_info, indent=2, ensure_ascii=False))
