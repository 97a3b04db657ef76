"""`mapkit eval`: evaluate a model on a dataset split, or compare two reports.

torch is imported inside the command, only when a model has to run: `--compare` and
`--help` never load it.
"""
from __future__ import annotations

from pathlib import Path

import typer

from mapkit.cli._app import app, err, out, require_train_extra


@app.command("eval")
def evaluate(
    model: str | None = typer.Option(None, "--model", metavar="tiny|PATH", help="`tiny`, a local model folder, a RUN/checkpoint-N folder from `mapkit "
                                                                                "train`, or a RUN folder (its latest checkpoint)."),
    data: str | None = typer.Option(None, "--data", metavar="OUT|REPO_ID[@REV]", help="Dataset folder written by `mapkit build`, or a Hub dataset "
                                                                                      "REPO_ID[@REVISION] (local cache)."),
    split: str = typer.Option("test", "--split", help="Split to evaluate."),
    out_file: Path | None = typer.Option(None, "--out", metavar="FILE.json", help="Write the report here and the per-record predictions beside it "
                                                                                  "(FILE.predictions.jsonl)."),
    limit: int | None = typer.Option(None, "--limit", help="Evaluate a seeded random subset of N records (in file order)."),
    types: list[str] | None = typer.Option(None, "--types", help="Only these types (repeat or comma-separate): TorF1, TorF2, Counting1, Counting2, "
                                                                 "Counting3, planning, Grounding1-3 or Grounding."),
    text_only: bool = typer.Option(False, "--text-only", help="Ask without the map image (ReasonMap's text-only baseline)."),
    temperature: float = typer.Option(0.0, "--temperature", help="0: greedy decoding; above 0: sampling at this temperature."),
    top_p: float = typer.Option(1.0, "--top-p", help="Nucleus sampling threshold (with --temperature > 0)."),
    max_new_tokens: int | None = typer.Option(None, "--max-new-tokens", help="Longest answer in tokens [default: the checkpoint's training value; "
                                                                             "2048, or 64 for tiny]."),
    batch_size: int | None = typer.Option(None, "--batch-size", help="Prompts generated together (left-padded) [default: 8, 16 for tiny]."),
    min_pixels: int | None = typer.Option(None, "--min-pixels", help="Smallest map size in pixels [default: as in training]."),
    max_pixels: int | None = typer.Option(None, "--max-pixels", help="Pixel budget of the map [default: as in training; 28*28*16384, or 112*112 for tiny]."),
    max_prompt_length: int | None = typer.Option(None, "--max-prompt-length", help="Longer prompts are not asked and count as wrong [default: as in "
                                                                                   "training]."),
    seed: int = typer.Option(0, "--seed", help="Seed of --limit's subset and of sampling."),
    reward_mode: str = typer.Option("default", "--reward-mode", help="mapkit.rewards mode that decides correctness: default (quirks fixed) or paper "
                                                                     "(as released: long-form answers are never correct)."),
    dtype: str = typer.Option("auto", "--dtype", help="auto (bfloat16 on GPU, float32 on CPU), bfloat16, float16, float32."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, ..."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar on stderr."),
    compare: tuple[Path, Path] | None = typer.Option(None, "--compare", metavar="A.json B.json", help="Print two reports side by side with B - A; runs "
                                                                                                      "no model."),
    predictions: Path | None = typer.Option(None, "--predictions", metavar="PRED.jsonl", help="Score saved completions (one {\"id\": ..., "
                                                                                              "\"completion\": ...} per line) instead of running a "
                                                                                              "model; needs no torch."),
    scorer: str = typer.Option("mapkit", "--scorer", metavar="mapkit|reasonmap|reasonmap-plus", help="mapkit: the papers' written rules "
                                                                                                     "(mapkit.rewards, --reward-mode); reasonmap / "
                                                                                                     "reasonmap-plus: the released ReasonMap main.py "
                                                                                                     "(planning) and main_plus.py (TorF, Counting) "
                                                                                                     "scripts, quirks included."),
    answer_after: str | None = typer.Option(None, "--answer-after", metavar="TEXT", help="Grade the text after the last occurrence of TEXT [default: "
                                                                                         "after the last </think> or ◁/think▷, when present]."),
    full_text: bool = typer.Option(False, "--full-text", help="Grade the whole completion, reasoning trace included."),
) -> None:
    """Evaluate a model on a dataset split with the training prompts and reward parser.

    Example (CPU: the 30 test questions of out/tokyo in about 2 s after 15-20 s of start-up):
    mapkit eval --model runs/smoke/checkpoint-12 --data out/tokyo --out runs/smoke/eval.json

    Running a model needs the [train] extra (pip install 'mapkit[train]'); --compare does not.

    Prints accuracy per type, ReasonMap-Plus weighted accuracy, planning accuracy (short /
    long) and map score, Grounding scores (locate: mean IoU and accuracy at IoU >= 0.5;
    label reading and line identification by question difficulty), and accuracy by
    difficulty and city. `mapkit eval --compare A.json B.json` prints two reports side by
    side. `mapkit eval --predictions PRED.jsonl --data OUT --scorer reasonmap --out
    REPORT.json` scores saved completions (no model).
    """
    from mapkit.evaluation.report import format_comparison, format_report, load_report, write_report

    if compare and any(compare):
        a, b = (load_report(p) for p in compare)
        out.print(format_comparison(a, b), markup=False)
        return
    wanted = tuple(t.strip() for item in types or [] for t in item.split(",") if t.strip())
    if predictions is not None:
        from mapkit.evaluation.predictions import score_predictions
        from mapkit.evaluation.scorers import AnswerCut, Scorer

        if model:
            raise typer.BadParameter("give either --model (run a model) or --predictions (score saved completions), not both", param_hint="--predictions")
        if not data:
            raise typer.BadParameter("give --data OUT|REPO_ID[@REVISION]: the dataset the predictions answer", param_hint="--data")
        if out_file is not None and out_file.is_dir():
            raise typer.BadParameter(f"{out_file} is a folder; give a file name such as {out_file / 'eval.json'}", param_hint="--out")
        from mapkit.vocab import RECORD_TYPES

        unknown = [t for t in wanted if t not in RECORD_TYPES]
        if unknown:
            raise typer.BadParameter(f"unknown type(s) {', '.join(unknown)}", param_hint="--types")
        chosen = Scorer(scorer, reward_mode, AnswerCut.from_options(answer_after, full_text))
        report, rows = score_predictions(predictions, data, split=split, scorer=chosen, types=wanted)
        out.print(format_report(report), markup=False)
        if out_file is not None:
            side = write_report(report, rows, out_file)
            out.print(f"report: {out_file}\npredictions: {side}", markup=False)
        return
    if not model:
        raise typer.BadParameter("give --model tiny|PATH (or --compare A.json B.json)", param_hint="--model")
    if not data:
        raise typer.BadParameter("give --data OUT|REPO_ID[@REVISION]", param_hint="--data")
    if out_file is not None and out_file.is_dir():
        raise typer.BadParameter(f"{out_file} is a folder; give a file name such as {out_file / 'eval.json'}", param_hint="--out")
    require_train_extra("eval --model")

    from mapkit.cli.train import _log_to_stderr
    from mapkit.train.predict import EvalConfig
    from mapkit.train.predict import evaluate as run_eval

    cfg = EvalConfig(model=model, data=data, split=split, limit=limit, types=wanted, text_only=text_only, temperature=temperature,
                     top_p=top_p, max_new_tokens=max_new_tokens, batch_size=batch_size, min_pixels=min_pixels, max_pixels=max_pixels,
                     max_prompt_length=max_prompt_length, seed=seed, reward_mode=reward_mode, dtype=dtype, device=device,
                     progress=progress, scorer=scorer, answer_after=answer_after, full_text=full_text)
    _log_to_stderr()
    result = run_eval(cfg)
    out.print(format_report(result.report), markup=False)
    r = result.report
    err.print(f"{r['n']} questions in {r['generation_seconds']:.1f} s ({r['questions_per_s']} questions/s, "
              f"{r['tokens_per_s']} tokens/s) on {r['device']}")
    if out_file is not None:
        side = write_report(result.report, result.predictions, out_file)
        out.print(f"report: {out_file}\npredictions: {side}", markup=False)
    else:
        err.print("note: pass --out FILE.json to keep the report and the predictions")
