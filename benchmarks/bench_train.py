"""Training throughput: `mapkit train` on the tiny model on CPU, and the same workload
through TRL's GRPOTrainer when trl is installed, side by side.

Workload (both trainers): the tiny Qwen2.5-VL saved to a folder and loaded from it, the
mini city's `mapkit build`, the same records in the same order (mapkit's shuffled
curriculum), 4 prompts x 4 generations per step, one micro-batch of 16 sequences, up to
24 new tokens, temperature 1, maps resized to the same <= 112x112 pixels, beta 0.01 (a
reference model), entropy bonus 1e-3, token-mean loss over the step (TRL's "dapo"),
group-std advantages, AdamW lr 2e-3, one update per batch, vision placeholder tokens
suppressed in sampling, the RewardMap reward (mapkit's own trainer; TRL gets
``mapkit.rewards.trl.reward_function``, the same numbers). TRL needs the processor's
padding side set to left for uneven prompts (see run_trl); library imports happen
before either clock starts.

Each trainer runs in its own process (peak RSS is per process). Steps/s, samples/s and
generated tokens/s are measured from the end of the first step to the end of the last
(the first step pays one-off costs). Target (issue #8): mapkit at least as fast as TRL.
Prints figures; asserts nothing.

Usage: python benchmarks/bench_train.py [--steps 12] [--threads 1] [--only mapkit|trl]
"""
from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROMPTS, G, NEW_TOKENS, PIXELS, LR, BETA, ENTROPY, SEED = 4, 4, 24, 112 * 112, 2e-3, 0.01, 1e-3, 0


def prepare(work: Path) -> tuple[Path, Path]:
    """The mini city's build and the tiny model as a save_pretrained folder."""
    from mapkit.dataset import build_dataset
    from mapkit.train.models import tiny_model, tiny_processor

    data, model_dir = work / "mini", work / "tiny"
    if not data.exists():
        build_dataset([ROOT / "tests" / "fixtures" / "mini.json"], data, seed=SEED)
    if not model_dir.exists():
        processor = tiny_processor(56 * 56, PIXELS)
        tiny_model(processor, seed=SEED).save_pretrained(model_dir)
        processor.save_pretrained(model_dir)
    return data, model_dir


def order(data: Path, steps: int) -> list[dict]:
    """The records mapkit's shuffled curriculum visits in ``steps`` steps, in order."""
    from mapkit.train.curriculum import CurriculumSampler, select_stages
    from mapkit.train.rollout import load_data

    records = load_data(str(data)).records
    sampler = CurriculumSampler([r["id"] for r in records], [r["type"] for r in records], select_stages("shuffled", "all"), PROMPTS, SEED)
    out = []
    for _ in range(steps):
        out.extend(records[i] for i in sampler.next_batch().records)
    return out


def _summary(stamps: list[float], tokens: list[float], sequences: int, start: float) -> dict:
    span, end = (stamps[-1] - stamps[0]) or math.nan, time.perf_counter()
    return {"steps": len(stamps), "steps_per_s": (len(stamps) - 1) / span, "samples_per_s": (len(stamps) - 1) * sequences / span,
            "tokens_per_s": sum(tokens[1:]) / span, "wall_s": end - start,  # model load to the end
            "first_s": stamps[0] - start, "after_s": end - stamps[-1],  # setup + step 1; after the last step (final save)
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run_mapkit(data: Path, model_dir: Path, steps: int, out: Path) -> dict:
    import accelerate  # noqa: F401  (imports before the clock, as for TRL)

    from mapkit.train import GRPOConfig
    from mapkit.train.trainer import train

    start = time.perf_counter()
    cfg = GRPOConfig(data=str(data), model=str(model_dir), out=str(out), curriculum="shuffled", max_steps=steps, seed=SEED,
                     prompts_per_step=PROMPTS, num_generations=G, micro_batch_size=PROMPTS * G, max_new_tokens=NEW_TOKENS,
                     max_pixels=PIXELS, min_pixels=56 * 56, lr=LR, beta=BETA, entropy_coef=ENTROPY, stage_steps=0, save_every=0,
                     gradient_checkpointing=False, dtype="float32", progress=False, log_completions=0, loss_agg="token-mean")
    stamps, tokens = [], []

    def progress(row: dict) -> None:
        stamps.append(time.perf_counter())
        tokens.append(row["completion_len_mean"] * row["sequences"])

    train(cfg, progress=progress)
    return _summary(stamps, tokens, PROMPTS * G, start)


def run_trl(data: Path, model_dir: Path, steps: int, out: Path) -> dict:
    from datasets import Dataset, Image
    from transformers import AutoModelForImageTextToText, AutoProcessor, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from mapkit.rewards.trl import reward_function
    from mapkit.train.generation import placeholder_ids
    from mapkit.train.rollout import load_map, patch_factor

    start = time.perf_counter()
    processor = AutoProcessor.from_pretrained(model_dir)
    # TRL left-pads prompt ids but builds the vision token types with the processor's own
    # padding side: they agree only with left padding (right: a shape error on uneven prompts)
    processor.tokenizer.padding_side = "left"
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype="float32")
    rows = order(data, steps)
    factor = patch_factor(processor)
    # every scalar record column rides along: the TRL reward rebuilds each record from them
    columns = [c for c in rows[0] if c not in ("prompt", "image", "figure") and all(isinstance(r[c], (str, int, type(None))) for r in rows)]
    table = {"prompt": [[{"role": "user", "content": r["question"]}] for r in rows],
             "image": [load_map(str(data / r["figure"]), factor, 56 * 56, PIXELS) for r in rows],
             **{c: [r[c] for r in rows] for c in columns}}
    dataset = Dataset.from_dict(table).cast_column("image", Image())
    args = GRPOConfig(output_dir=str(out), per_device_train_batch_size=PROMPTS * G, gradient_accumulation_steps=1, num_generations=G,
                      max_completion_length=NEW_TOKENS, temperature=1.0, top_p=1.0, top_k=0, repetition_penalty=1.0,
                      learning_rate=LR, weight_decay=0.01, max_grad_norm=1.0, lr_scheduler_type="constant", warmup_steps=0,
                      beta=BETA, epsilon=0.2, loss_type="dapo", scale_rewards="group", entropy_coef=ENTROPY, num_iterations=1,
                      max_steps=steps, logging_steps=1, report_to="none", save_strategy="no", use_cpu=True, bf16=False,
                      seed=SEED, shuffle_dataset=False, disable_tqdm=True, dataloader_num_workers=0, log_completions=False,
                      # as mapkit does: a sampled vision placeholder would break the next forward's image-token count
                      generation_kwargs={"suppress_tokens": placeholder_ids(model, processor)})
    reward = reward_function(root=data, mode="paper", weighting="difficulty_aware", detail=True)
    stamps, tokens = [], []

    class Clock(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "completions/mean_length" in logs:
                stamps.append(time.perf_counter())
                tokens.append(logs["completions/mean_length"] * PROMPTS * G)

    trainer = GRPOTrainer(model=model, reward_funcs=[reward], args=args, train_dataset=dataset, processing_class=processor,
                          callbacks=[Clock()])
    trainer.train()
    return _summary(stamps, tokens, PROMPTS * G, start)


def trl_status() -> str | None:
    """None when TRL can run here, else why not."""
    try:
        import trl  # noqa: F401
        from trl import GRPOTrainer  # noqa: F401
    except ImportError as e:
        return f"trl is not installed or does not import with this transformers ({e}); `pip install trl` to compare"
    return None


def worker(which: str, steps: int, threads: int, work: Path) -> None:
    import torch

    torch.set_num_threads(threads)
    data, model_dir = prepare(work)
    # library imports before either clock starts (torchvision alone takes seconds here)
    from transformers import AutoModelForImageTextToText, AutoProcessor, Qwen2_5_VLForConditionalGeneration  # noqa: F401
    fn = run_mapkit if which == "mapkit" else run_trl
    result = fn(data, model_dir, steps, Path(tempfile.mkdtemp(prefix=f"bench-{which}-", dir=work)))
    print("RESULT " + json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per trainer (the tiny model gains nothing from more)")
    parser.add_argument("--only", choices=("mapkit", "trl"))
    parser.add_argument("--worker", choices=("mapkit", "trl"), help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.steps, args.threads, args.work)

    import torch
    import transformers

    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {os.cpu_count()} CPUs, {args.threads} thread(s) per trainer")
    print(f"workload: tiny Qwen2.5-VL, mini city, {PROMPTS} prompts x {G} generations per step, <= {NEW_TOKENS} new tokens, "
          f"{args.steps} steps (rates from step 1's end to step {args.steps}'s end)")
    why = trl_status()
    which = [w for w in ("mapkit", "trl") if args.only in (None, w)]
    if "trl" in which and why:
        print(f"TRL comparison skipped: {why}")
        which.remove("trl")
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": "",
               "PYTHONWARNINGS": "ignore", "TOKENIZERS_PARALLELISM": "false"}
        subprocess.run([sys.executable, __file__, "--worker", "mapkit", "--steps", "1", "--work", tmp], env=env,
                       capture_output=True, check=False)  # builds the data and the model folder once, warms the disk cache
        for name in which:
            proc = subprocess.run([sys.executable, __file__, "--worker", name, "--steps", str(args.steps), "--threads",
                                   str(args.threads), "--work", tmp], env=env, capture_output=True, text=True, check=False)
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(f"{name}: failed (exit {proc.returncode}):\n{proc.stderr[-2500:]}")
                continue
            results[name] = json.loads(line[len("RESULT "):])
    print(f"\n{'trainer':<8} {'steps/s':>8} {'samples/s':>10} {'gen tok/s':>10} {'peak RSS MiB':>13} {'wall s':>7} "
          f"{'load+step 1 s':>14} {'after s':>8}")
    for name, r in results.items():
        print(f"{name:<8} {r['steps_per_s']:>8.2f} {r['samples_per_s']:>10.1f} {r['tokens_per_s']:>10.1f} {r['peak_rss_mib']:>13.0f} "
              f"{r['wall_s']:>7.1f} {r['first_s']:>14.1f} {r['after_s']:>8.1f}")
    if len(results) == 2:
        m, t = results["mapkit"], results["trl"]
        print(f"\nmapkit / TRL: steps/s x{m['steps_per_s'] / t['steps_per_s']:.2f}, generated tokens/s "
              f"x{m['tokens_per_s'] / t['tokens_per_s']:.2f}, peak RSS x{m['peak_rss_mib'] / t['peak_rss_mib']:.2f}")


if __name__ == "__main__":
    main()
