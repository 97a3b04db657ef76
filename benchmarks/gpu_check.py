"""The trainer on a real accelerator, in one run that fits a short device lease.

    python benchmarks/gpu_check.py OUT_DIR                # on the GPU machine (its own Python)
    python benchmarks/gpu_check.py OUT_DIR --tiny         # CPU rehearsal: tiny model, tiny sizes

Writes OUT_DIR/gpu_check.json (every figure, each phase's status) and OUT_DIR/gpu_check.log.
Phases, each in its own try so one failure does not lose the others; a phase that would
start after --budget-s is skipped and says so:

1. ``pytest -m gpu``: the gpu-marked tests.
2. Per size (Qwen2.5-VL-3B- and 7B-sized, built from config with random weights on the
   device, no download): `mapkit train`'s loop (``trainer.train``) for --steps GRPO steps
   of --prompts x --generations on the Tokyo build (its real rendered map, at the default
   pixel budget of 12,845,056 px), the default precision (float32 master weights, bf16
   compute), gradient checkpointing, --max-new-tokens. Per step: seconds split into
   rollout (generation + reward) / reference log-probs / update, generated tokens/s;
   peak GPU memory per size. Random weights rarely emit an end token, so completions run
   to --max-new-tokens: the worst case. The 7B size trains LoRA adapters by default
   (--full-7b for all weights): float32 master weights and AdamW state alone are 16 bytes
   a parameter, ~120 GB for 7.6 B parameters, before activations and the reference.
3. `mapkit eval`'s path (``evaluate.evaluate``) on the same model in bf16: questions/s
   and tokens/s at --eval-batch, --eval-questions test questions.
4. One step of `mapkit train --model tiny` under ``accelerate launch`` with FSDP2 on one
   process: the FSDP code path runs (with --tiny on a CPU: the same launch without FSDP,
   which needs a GPU).

The models are random and the tokenizer is the tiny model's (no download), so rewards
are meaningless; only time and memory are measured. Checkpoints are not written (a 3B
checkpoint with its optimizer state is ~45 GB of disk for nothing). Prints figures,
asserts nothing; the exit code is 0 unless the script itself breaks.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# Qwen2.5-VL published configurations (text model, vision tower), vocabulary included
VISION = {"depth": 32, "hidden_size": 1280, "intermediate_size": 3420, "num_heads": 16, "patch_size": 14,
          "spatial_merge_size": 2, "temporal_patch_size": 2, "window_size": 112, "fullatt_block_indexes": [7, 15, 23, 31]}
SIZES = {
    "3b": {"text": {"hidden_size": 2048, "intermediate_size": 11008, "num_hidden_layers": 36, "num_attention_heads": 16,
                    "num_key_value_heads": 2, "tie_word_embeddings": True}, "vision": VISION},
    "7b": {"text": {"hidden_size": 3584, "intermediate_size": 18944, "num_hidden_layers": 28, "num_attention_heads": 28,
                    "num_key_value_heads": 4, "tie_word_embeddings": False}, "vision": VISION},
    # --tiny stand-ins: same code, CPU-sized
    "tiny-a": {"text": {"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
                        "num_key_value_heads": 2, "tie_word_embeddings": True},
               "vision": {**VISION, "depth": 1, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "fullatt_block_indexes": [0]}},
    "tiny-b": {"text": {"hidden_size": 96, "intermediate_size": 192, "num_hidden_layers": 2, "num_attention_heads": 4,
                        "num_key_value_heads": 2, "tie_word_embeddings": False},
               "vision": {**VISION, "depth": 1, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "fullatt_block_indexes": [0]}},
}
VOCAB = 151_936  # Qwen2.5-VL's: the embedding and lm_head cost what they cost


class Report:
    """gpu_check.json and gpu_check.log, rewritten after every phase (a killed run keeps what it had)."""

    def __init__(self, out: Path, budget_s: float):
        self.out, self.t0, self.budget = out, time.perf_counter(), budget_s
        out.mkdir(parents=True, exist_ok=True)
        self.data: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "phases": {}}
        self.log_file = (out / "gpu_check.log").open("a")

    def log(self, *parts) -> None:
        line = f"[{self.elapsed():7.1f}s] " + " ".join(str(p) for p in parts)
        print(line, flush=True)
        self.log_file.write(line + "\n")
        self.log_file.flush()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def left(self) -> float:
        return self.budget - self.elapsed()

    def phase(self, name: str, fn, *, needs_s: float = 0.0):
        if self.left() < needs_s:
            self.data["phases"][name] = {"status": "skipped", "reason": f"{self.left():.0f} s of the budget left, needs ~{needs_s:.0f} s"}
            self.log(name, "skipped: out of budget")
            self.save()
            return None
        self.log("==", name)
        start = time.perf_counter()
        try:
            result = fn()
            self.data["phases"][name] = {"status": "ok", "seconds": round(time.perf_counter() - start, 2), **(result or {})}
        except Exception as e:  # noqa: BLE001  (a benchmark reports every failure and goes on)
            self.data["phases"][name] = {"status": "failed", "seconds": round(time.perf_counter() - start, 2),
                                         "error": f"{type(e).__name__}: {e}"[:2000]}
            self.log(traceback.format_exc())
        self.log(name, json.dumps(self.data["phases"][name])[:1500])
        self.save()
        return self.data["phases"][name]

    def save(self) -> None:
        self.data["elapsed_s"] = round(self.elapsed(), 1)
        tmp = self.out / "gpu_check.json.tmp"
        tmp.write_text(json.dumps(self.data, indent=2) + "\n")
        os.replace(tmp, self.out / "gpu_check.json")


def environment() -> dict:
    import torch

    info = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info.update(device=torch.cuda.get_device_name(0), memory_gib=round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1))
    for name in ("transformers", "accelerate", "peft"):
        try:
            info[name] = __import__(name).__version__
        except ImportError:
            info[name] = None
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False)
    info["commit"] = commit.stdout.strip() or None
    return info


def gpu_tests(report: Report, tiny: bool) -> dict:
    # on a CPU the gpu-marked tests skip: run only their file, to keep the rehearsal short
    target = ["tests/test_distributed.py"] if tiny else ["tests"]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", *target],
                          cwd=ROOT, capture_output=True, text=True, timeout=max(30, report.left()), check=False)
    report.log(proc.stdout[-3000:], proc.stderr[-2000:])
    summary = (proc.stdout.strip().splitlines() or [""])[-1]
    return {"returncode": proc.returncode, "summary": summary}


def build_model(size: str, processor, device):
    """A Qwen2.5-VL of ``size`` with random weights, float32 (the master weights), on ``device``."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from mapkit.train.models import SPECIAL_TOKENS

    tok = processor.tokenizer
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    spec = SIZES[size]
    text = dict(spec["text"])
    heads = text["num_attention_heads"]
    half = text["hidden_size"] // heads // 2  # mrope sections split half the head dimension 1:1.5:1.5, as Qwen's 16/24/24
    section = [half // 4, (half - half // 4) // 2, half - half // 4 - (half - half // 4) // 2]
    config = Qwen2_5_VLConfig(
        text_config={**text, "vocab_size": VOCAB if not size.startswith("tiny") else len(tok), "max_position_embeddings": 128_000,
                     "rope_parameters": {"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": section},
                     "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"], "pad_token_id": ids["<|endoftext|>"]},
        vision_config={**spec["vision"], "out_hidden_size": text["hidden_size"]},
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
    )
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    return model


def train_and_eval(report: Report, size: str, args, data: Path, device) -> dict:
    """GRPO steps through trainer.train, then eval throughput, on one random model."""
    import torch

    from mapkit.train import models, trainer
    from mapkit.train import predict as ev
    from mapkit.train.config import GRPOConfig
    from mapkit.train.models import tiny_processor

    cfg_pixels = GRPOConfig(model="x").max_pixels if not args.tiny else 112 * 112  # the default budget (tiny: CPU-sized)
    processor = tiny_processor(3136, cfg_pixels)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t_build = time.perf_counter()
    model = build_model(size, processor, device)
    n_params = sum(p.numel() for p in model.parameters())
    build_s = time.perf_counter() - t_build
    report.log(size, f"{n_params / 1e9:.2f} B parameters built in {build_s:.1f} s")
    name = f"random-{size}"
    real_load_base = models.load_base
    models.load_base = lambda n, **kw: (model, processor) if n == name else real_load_base(n, **kw)
    real_save = trainer.ckpt.save
    trainer.ckpt.save = lambda run, step, **kw: Path(run) / f"checkpoint-{step}"  # see the module docstring
    lora = size == "7b" and not args.full_7b
    steps: list[dict] = []

    def on_step(row: dict) -> None:
        tokens = row["completion_len_mean"] * row["sequences"] if row["sequences"] else 0.0
        steps.append({k: row.get(k) for k in ("step", "seconds", "seconds_rollout", "seconds_reference", "seconds_update",
                                                "prompts", "sequences", "completion_len_mean", "prompt_len_mean", "truncated_frac")}
                     | {"generated_tokens": tokens, "generated_tokens_per_s": tokens / row["seconds_rollout"]})
        report.log(size, json.dumps(steps[-1]))
        if report.left() < 1.5 * row["seconds"] + args.reserve_s:  # no room for another step: stop here
            raise _OutOfBudget

    out = report.out / "work" / f"run-{size}"
    cfg = GRPOConfig(model=name, data=str(data), out=str(out), stages="all", curriculum="shuffled", max_steps=args.steps,
                     prompts_per_step=args.prompts, num_generations=args.generations, max_new_tokens=args.max_new_tokens,
                     micro_batch_size=args.micro_batch, beta=0.01, lora=lora, save_every=0, progress=False, seed=0,
                     max_pixels=cfg_pixels, gradient_checkpointing=True, tiny_warmup_steps=0)  # timings of RL alone
    precision = "bf16-mixed (float32 master weights, bf16 compute)" if device.type == "cuda" else "float32"
    result: dict = {"parameters": n_params, "build_s": round(build_s, 1), "lora": lora, "precision": precision,
                    "max_pixels": cfg_pixels, "prompts": args.prompts, "generations": args.generations,
                    "max_new_tokens": args.max_new_tokens, "micro_batch_size": args.micro_batch}
    try:
        trainer.train(cfg, progress=on_step)
        result["stopped"] = "done"
    except _OutOfBudget:
        result["stopped"] = "budget"
    finally:
        models.load_base, trainer.ckpt.save = real_load_base, real_save
        result["steps"] = steps
        if device.type == "cuda":
            result["peak_memory_gib_train"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    if report.left() < args.reserve_s:
        result["eval"] = "skipped: out of budget"
        return result
    # --- eval throughput on the same (now bf16) model ---
    model.eval().to(torch.bfloat16 if device.type == "cuda" else torch.float32)
    real_resolve, real_load = ev.resolve_model, ev._load
    ev.resolve_model = lambda n: ev.ModelSpec("local", Path(n))
    ev._load = lambda spec, c, d: (model, processor)
    try:
        t = time.perf_counter()
        res = ev.evaluate(ev.EvalConfig(model=str(out), data=str(data), split="test", limit=args.eval_questions,
                                        batch_size=args.eval_batch, max_new_tokens=args.max_new_tokens, max_pixels=cfg_pixels,
                                        min_pixels=3136, max_prompt_length=20_000, progress=False,
                                        device=str(device)))
        r = res.report
        result["eval"] = {"questions": r["n"], "batch_size": args.eval_batch, "questions_per_s": r["questions_per_s"],
                          "tokens_per_s": r["tokens_per_s"], "generation_seconds": r["generation_seconds"],
                          "wall_s": round(time.perf_counter() - t, 1)}
        if device.type == "cuda":
            result["eval"]["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    finally:
        ev.resolve_model, ev._load = real_resolve, real_load
    return result  # the model is freed with this frame (the caller collects)


class _OutOfBudget(Exception):
    pass


def fsdp_step(report: Report, args, data: Path) -> dict:
    """One step of `mapkit train --model tiny` under accelerate launch (FSDP2 on a GPU)."""
    import shutil

    out = report.out / "work" / "fsdp"
    shutil.rmtree(out, ignore_errors=True)
    launch = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "1", "--num_machines", "1",
              "--dynamo_backend", "no"]
    if args.tiny:  # FSDP needs a GPU: on a CPU the same launch path without it
        launch += ["--cpu", "--mixed_precision", "no"]
    else:
        launch += ["--use_fsdp", "--fsdp_version", "2", "--mixed_precision", "bf16", "--fsdp_auto_wrap_policy", "TRANSFORMER_BASED_WRAP",
                   "--fsdp_transformer_layer_cls_to_wrap", "Qwen2_5_VLDecoderLayer,Qwen2_5_VLVisionBlock",
                   "--fsdp_state_dict_type", "FULL_STATE_DICT"]
    command = [*launch, "-m", "mapkit", "train", "--data", str(data), "--model", "tiny", "--out", str(out), "--max-steps", "1",
               "--tiny-warmup-steps", "0", "--no-progress", "--stages", "all"]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=max(30, report.left()), env=env, check=False)
    report.log(" ".join(command), "\n", proc.stdout[-2000:], proc.stderr[-4000:])
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()] if (out / "metrics.jsonl").is_file() else []
    return {"returncode": proc.returncode, "fsdp": not args.tiny, "steps_logged": len(rows),
            "checkpoint": (out / "checkpoint-1" / "trainer_state.json").is_file(),
            "loss": rows[0].get("loss") if rows else None, "step_seconds": rows[0].get("seconds") if rows else None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder for gpu_check.json, gpu_check.log and scratch files")
    parser.add_argument("--tiny", action="store_true", help="CPU rehearsal: tiny sizes, tiny batches, no FSDP")
    parser.add_argument("--sizes", default=None, help="comma list of 3b,7b (default; --tiny: tiny-a,tiny-b)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--prompts", type=int, default=None, help="prompts per step (default 16; --tiny 2)")
    parser.add_argument("--generations", type=int, default=None, help="samples per prompt (default 4; --tiny 2)")
    parser.add_argument("--max-new-tokens", type=int, default=None, help="default 512; --tiny 8")
    parser.add_argument("--micro-batch", type=int, default=4)
    parser.add_argument("--eval-batch", type=int, default=16)
    parser.add_argument("--eval-questions", type=int, default=None, help="default 32; --tiny 4")
    parser.add_argument("--full-7b", action="store_true", help="train all 7B weights instead of LoRA adapters (needs > 130 GB)")
    parser.add_argument("--budget-s", type=float, default=480.0, help="stop starting new work after this many seconds (default 8 min)")
    parser.add_argument("--reserve-s", type=float, default=45.0, help="seconds kept for the phases after a size's steps")
    args = parser.parse_args(argv)
    tiny = args.tiny
    args.sizes = (args.sizes or ("tiny-a,tiny-b" if tiny else "3b,7b")).split(",")
    args.prompts = args.prompts or (2 if tiny else 16)
    args.generations = args.generations or (2 if tiny else 4)
    args.max_new_tokens = args.max_new_tokens or (8 if tiny else 512)
    args.eval_questions = args.eval_questions or (4 if tiny else 32)
    if tiny:
        args.micro_batch = min(args.micro_batch, args.prompts * args.generations)
    unknown = [s for s in args.sizes if s not in SIZES]
    if unknown:
        parser.error(f"--sizes: unknown {', '.join(unknown)} (known: {', '.join(SIZES)})")

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    report = Report(args.out, args.budget_s)
    report.data["command"] = " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])
    report.data["settings"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    report.phase("environment", environment)

    import torch

    device = torch.device("cuda" if torch.cuda.is_available() and not tiny else "cpu")
    if tiny:
        torch.set_num_threads(1)
    report.phase("gpu_tests", lambda: gpu_tests(report, tiny), needs_s=20)
    data = report.out / "work" / "tokyo"

    def build_data() -> dict:
        from mapkit.dataset import build_dataset

        if not (data / "manifest.json").is_file():
            build_dataset([ROOT / "annotations" / "tokyo.json"], data, seed=0)
        return {"folder": str(data)}

    report.phase("dataset", build_data)
    for size in args.sizes:
        report.phase(f"train_eval_{size}", lambda s=size: train_and_eval(report, s, args, data, device), needs_s=args.reserve_s)
        gc.collect()  # the previous size's model, optimizer and reference
        if device.type == "cuda":
            torch.cuda.empty_cache()
    report.phase("accelerate_fsdp_step", lambda: fsdp_step(report, args, data), needs_s=20)
    report.log("done:", report.out / "gpu_check.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
