"""Training configuration: one dataclass, every field with a default and a help string.

Defaults are the released RewardMap settings (its launch script, where it overrides the
yaml); docs/training-fidelity.md lists each one against the paper, the yaml and the
script, with the reason for every difference. A few size-dependent fields default to
``None`` and are resolved in ``__post_init__``: to the released value for a real model,
to a small value for ``--model tiny`` (the CPU smoke preset). ``__post_init__`` rejects inconsistent combinations with a ConfigError that says
which flag to change, before any model is loaded.

    >>> GRPOConfig(model="tiny", data="out/mini").prompts_per_step
    4
    >>> GRPOConfig.load("run.toml", lr=3e-6)   # file values, then overrides  # doctest: +SKIP
"""
from __future__ import annotations

import difflib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from mapkit.errors import ConfigError
from mapkit.files import atomic_write_text
from mapkit.train.curriculum import StageConfig, select_stages
from mapkit.vocab import CURRICULA as CURRICULUM_TABLES
from mapkit.vocab import REWARD_MODES, WEIGHTINGS

SCALE_REWARDS = ("group", "batch", "none")
CURRICULA = tuple(CURRICULUM_TABLES)
DTYPES = ("auto", "bf16-mixed", "bfloat16", "float16", "float32")
LOSS_AGGS = ("seq-mean-token-mean", "token-mean")  # grpo.aggregate
GENERATION_BACKENDS = ("hf", "vllm")

# (paper value, tiny value) for the fields that default to None.
SIZED_DEFAULTS: dict[str, tuple[Any, Any]] = {
    "prompts_per_step": (16, 4),
    "micro_batch_size": (4, 16),
    "max_new_tokens": (2048, 64),  # tiny: room for a one-section route
    "max_prompt_length": (20_000, 512),
    "max_pixels": (28 * 28 * 16_384, 112 * 112),  # ~16k visual tokens fits a 20k-token prompt
    "min_pixels": (56 * 56, 56 * 56),
    "lr": (1e-6, 5e-4),
    "stage_steps": (0, 3),
    "save_every": (100, 0),
    "gradient_checkpointing": (True, False),
    "tiny_warmup_steps": (0, 800),
    # tiny: the paper reward has no format term, so a model that is not yet right earns 0 and
    # no gradient flows; mapkit's default reward (same design, + R_format) gives the smoke
    # model partial credit to climb. Real models train on the released reward.
    "reward_mode": ("paper", "default"),
}

# Fields whose value decides which records each step sees: a resumed run must keep them.
DATA_ORDER_FIELDS = ("data", "split", "seed", "stages", "curriculum", "prompts_per_step", "stage_steps")


def _f(default: Any, help: str, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class GRPOConfig:
    # --- run ---
    data: str = _f("", "Dataset folder written by `mapkit build`, or a Hub dataset REPO_ID[@REVISION].")
    split: str = _f("train", "Split of the dataset to train on.")
    model: str = _f("", "Local model folder (any image-text-to-text model; Qwen2.5-VL is the reference) or `tiny` for the CPU smoke model.")
    out: str = _f("runs/grpo", "Run folder: metrics.jsonl, completions.jsonl, checkpoint-<step>/.")
    seed: int = _f(0, "Seed for stage shuffling, sampling and model init (tiny).")
    resume: bool = _f(False, "Continue from the latest checkpoint in --out.")
    # --- curriculum ---
    stages: str = _f("all", "Stages to run: `all`, 1-based numbers (`1,2`), stage names (`torf,planning`) or record types (`TorF1`); `perception` puts "
                            "the Grounding stage first (`perception,1,2,3,4`).")
    curriculum: str = _f("rewardmap", "Stage order: rewardmap (released), coarse (Plus then planning), fine (one type per stage), shuffled "
                                      "(SFT->RL-style baseline), perception (Grounding, then rewardmap), map (easy -> middle -> hard maps).")
    stage_steps: int | None = _f(None, "Cap on steps per stage for scaled-down runs; 0 = no cap (default 0; 3 with --model tiny).")
    max_steps: int | None = _f(None, "Stop after this many steps in total (default: one pass over the selected stages).")
    # --- batch and rollout ---
    prompts_per_step: int | None = _f(None, "Prompts per optimizer step (paper 16; 4 with --model tiny).")
    num_generations: int = _f(4, "Sampled completions per prompt (the GRPO group).")
    micro_batch_size: int | None = _f(None, "Sequences per forward/backward pass, dividing the step's prompts x generations; gradients accumulate over "
                                            "the step (default 4; 16 with --model tiny).")
    max_new_tokens: int | None = _f(None, "Longest completion in tokens (paper 2048; 64 with --model tiny).")
    max_prompt_length: int | None = _f(None, "Longest prompt in tokens after image expansion; longer prompts are skipped, never truncated (paper 20000).")
    max_pixels: int | None = _f(None, "Pixel budget a map is resized to before the processor (default 28*28*16384; 112*112 with --model tiny).")
    min_pixels: int | None = _f(None, "Smallest pixel count a map is resized up to (default 56*56).")
    temperature: float = _f(1.0, "Sampling temperature of the rollouts (also divides the logits in the loss).")
    top_p: float = _f(1.0, "Nucleus sampling threshold of the rollouts.")
    generation_backend: str = _f("hf", "Rollout generation: hf (transformers generate) or vllm (a vLLM engine colocated on each GPU, weights synced "
                                       "after every update; needs the vllm package and CUDA).")
    vllm_gpu_memory_utilization: float = _f(0.3, "Share of each GPU's memory the colocated vLLM engine may take (--generation-backend vllm).")
    # --- objective ---
    lr: float | None = _f(None, "AdamW learning rate (paper 1e-6; 5e-4 with --model tiny).")
    weight_decay: float = _f(0.01, "AdamW weight decay.")
    warmup_steps: int = _f(0, "Linear learning-rate warmup over this many optimizer steps, constant afterwards.")
    max_grad_norm: float = _f(1.0, "Gradient clipping norm (0 disables).")
    updates_per_batch: int = _f(1, "Optimizer steps per rollout batch (1: on-policy, ratio exactly 1).")
    epsilon: float = _f(0.2, "PPO clip range below: ratio >= 1 - epsilon.")
    epsilon_high: float | None = _f(None, "PPO clip range above: ratio <= 1 + epsilon_high (default: --epsilon).")
    beta: float = _f(0.01, "Coefficient of the k3 KL penalty to the reference model; 0 loads no reference model.")
    kl_clamp: float = _f(10.0, "Clamp of the per-token k3 KL, as in the released code.")
    entropy_coef: float = _f(1e-3, "Entropy bonus coefficient.")
    scale_rewards: str = _f("group", "Advantage scaling: group ((r - mean) / (group std + eps)), batch (batch std), none (r - mean).")
    skip_zero_std: bool = _f(False, "Drop groups whose rewards are all equal (zero std, so all advantages 0) from the loss and its average, as TRL and "
                                    "DAPO do.")
    loss_agg: str = _f("seq-mean-token-mean", "How a step's token losses add up: seq-mean-token-mean (each sequence's token mean, then the mean over "
                                              "sequences: the release's, whose micro-batch of 1 makes its per-micro-batch token mean exactly this) or "
                                              "token-mean (every token of the step weighs the same, as DAPO).")
    # --- reward ---
    reward_mode: str | None = _f(None, "Reward formula of mapkit.rewards: paper (as released; the default) or default (quirks fixed, plus a format "
                                       "term; the default with --model tiny).")
    weighting: str = _f("difficulty_aware", "Reward weight: difficulty_aware (map and transfer difficulty) or baseline (1).")
    detail: bool = _f(True, "Add the partial-credit detail term (--no-detail switches it off).")
    answer_after: str | None = _f(None, "Reward only the text after the last occurrence of this marker (e.g. '</think>' for reasoning models); off by default.")
    # --- model ---
    dtype: str = _f("auto", "Precision: auto (bf16-mixed on GPU, float32 on CPU), bf16-mixed (float32 master weights and optimizer, bfloat16 compute "
                            "under autocast: the release's), bfloat16 or float16 (pure half-precision weights: half the memory, but small updates "
                            "round away; warns), float32.")
    gradient_checkpointing: bool | None = _f(None, "Recompute activations in backward to save memory (default on; off for tiny).")
    lora: bool = _f(False, "Train LoRA adapters on the language model instead of all weights.")
    lora_r: int = _f(64, "LoRA rank.")
    lora_alpha: int = _f(128, "LoRA alpha.")
    lora_dropout: float = _f(0.05, "LoRA dropout.")
    lora_targets: str = _f("q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj", "Comma-separated language-model module names that get adapters.")
    freeze_vision: bool = _f(False, "Keep the vision tower frozen.")
    tiny_warmup_steps: int | None = _f(None, "--model tiny only: supervised warm-up steps on random answers in the dataset's answer formats before RL, "
                                             "so the smoke model earns reward (default 800; 0 skips it). See mapkit/train/warmup.py.")
    # --- logging and checkpoints ---
    save_every: int | None = _f(None, "Write a checkpoint every N steps (0: only at the end; default 100).")
    save_limit: int = _f(0, "Keep only the newest N checkpoints (0 keeps all).")
    log_completions: int = _f(4, "Completions per step sampled into completions.jsonl.")
    progress: bool = _f(True, "Show a progress bar on stderr.")

    def __post_init__(self) -> None:
        smoke = self.is_smoke
        if self.lora and self.tiny_warmup_steps is None:
            self.tiny_warmup_steps = 0  # a LoRA checkpoint holds only the adapter: a warmed-up base could not be rebuilt
        for name, (paper, tiny) in SIZED_DEFAULTS.items():
            if getattr(self, name) is None:
                setattr(self, name, tiny if smoke else paper)
        if self.epsilon_high is None:
            self.epsilon_high = self.epsilon
        self._validate()

    @property
    def is_smoke(self) -> bool:
        return self.model == "tiny"

    def _validate(self) -> None:
        def bad(message: str) -> None:
            raise ConfigError(message)

        for name, allowed in (("scale_rewards", SCALE_REWARDS), ("curriculum", CURRICULA), ("reward_mode", REWARD_MODES),
                              ("weighting", WEIGHTINGS), ("dtype", DTYPES), ("generation_backend", GENERATION_BACKENDS),
                              ("loss_agg", LOSS_AGGS)):
            check_choice(name, getattr(self, name), allowed)
        if not 0 < self.vllm_gpu_memory_utilization < 1:
            bad(f"--vllm-gpu-memory-utilization is {self.vllm_gpu_memory_utilization}: set a share in (0, 1), e.g. 0.3")
        if self.num_generations < 2:
            bad(f"--num-generations is {self.num_generations}: GRPO compares samples within a group, set it to 2 or more")
        for name in ("prompts_per_step", "micro_batch_size", "max_new_tokens", "max_prompt_length", "updates_per_batch", "min_pixels"):
            check_positive(name, getattr(self, name))
        sequences = self.prompts_per_step * self.num_generations
        if self.micro_batch_size < sequences and sequences % self.micro_batch_size:
            divisors = [d for d in range(1, sequences + 1) if sequences % d == 0]
            bad(f"--micro-batch-size {self.micro_batch_size} does not divide the {sequences} sequences of a step "
                f"(--prompts-per-step {self.prompts_per_step} x --num-generations {self.num_generations}); use one of {divisors}")
        check_pixels(self.min_pixels, self.max_pixels)
        check_top_p(self.top_p)
        if not self.lr or self.lr <= 0:
            bad(f"--lr is {self.lr}: set a positive learning rate (paper: 1e-6)")
        if self.temperature <= 0:
            bad(f"--temperature is {self.temperature}: GRPO needs sampled rollouts, set it above 0 (paper: 1.0)")
        if self.epsilon <= 0 or self.epsilon >= 1:
            bad(f"--epsilon is {self.epsilon}: set it in (0, 1) (paper: 0.2)")
        if self.epsilon_high < self.epsilon:
            bad(f"--epsilon-high {self.epsilon_high} is below --epsilon {self.epsilon}; raise it (clip-higher widens the upper range only)")
        for name in ("beta", "entropy_coef", "weight_decay", "max_grad_norm", "warmup_steps", "kl_clamp", "log_completions", "save_limit"):
            if getattr(self, name) < 0:
                bad(f"--{_flag(name)} is {getattr(self, name)}: it cannot be negative")
        if self.tiny_warmup_steps < 0:
            bad(f"--tiny-warmup-steps is {self.tiny_warmup_steps}: set it to 0 (none) or more")
        if self.tiny_warmup_steps and not self.is_smoke:
            bad("--tiny-warmup-steps is for the tiny smoke model only; a real model starts RL as it is (leave the flag out)")
        if self.tiny_warmup_steps and self.lora:
            bad("--tiny-warmup-steps with --lora: a LoRA checkpoint holds only the adapter, so the warmed-up base could not "
                "be loaded back; use --tiny-warmup-steps 0 or drop --lora")
        if self.save_every < 0:
            bad(f"--save-every is {self.save_every}: use 0 to save only at the end")
        if self.max_steps is not None and self.max_steps < 1:
            bad(f"--max-steps is {self.max_steps}: set it to 1 or more, or leave it out for one pass over the stages")
        if self.stage_steps < 0:
            bad(f"--stage-steps is {self.stage_steps}: set it to 1 or more, or 0 for no cap")
        if self.lora and (self.lora_r < 1 or self.lora_alpha < 1 or not self.lora_targets.strip()):
            bad("--lora needs --lora-r >= 1, --lora-alpha >= 1 and at least one --lora-targets module")
        self.stage_configs()  # raises ConfigError on an unknown stage name or number

    def stage_configs(self) -> list[StageConfig]:
        return select_stages(self.curriculum, self.stages, self.stage_steps or None)

    # --- files ---
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    @classmethod
    def load(cls, path: str | Path | None = None, **overrides: Any) -> GRPOConfig:
        """Values from a TOML or JSON file (keys as field names, dashes allowed), then
        ``overrides`` that are not None (the CLI flags the user gave)."""
        values: dict[str, Any] = {}
        if path is not None:
            values = _read_file(Path(path))
        values.update({k.replace("-", "_"): v for k, v in overrides.items() if v is not None})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            hints = [f"{k} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(k, known, 1)) else k for k in unknown]
            raise ConfigError(f"{path or 'options'}: unknown setting(s): {', '.join(hints)}")
        return cls(**values)

    @classmethod
    def help(cls) -> dict[str, str]:
        return {f.name: f.metadata["help"] for f in fields(cls)}


def _flag(name: str) -> str:
    return name.replace("_", "-")


# --- checks shared with the evaluation config (mapkit.train.predict.EvalConfig) -------

def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"--{_flag(name)} {value!r} is not one of {', '.join(allowed)}")


def check_positive(name: str, value: int | None) -> None:
    """None (not given: a default follows) passes; anything below 1 does not."""
    if value is not None and value < 1:
        raise ConfigError(f"--{_flag(name)} is {value}: set it to 1 or more")


def check_pixels(min_pixels: int | None, max_pixels: int | None) -> None:
    if min_pixels is not None and max_pixels is not None and min_pixels > max_pixels:
        raise ConfigError(f"--min-pixels {min_pixels} is larger than --max-pixels {max_pixels}; lower --min-pixels")
    if max_pixels is not None and max_pixels < 28 * 28:
        raise ConfigError(f"--max-pixels {max_pixels} is below one 28x28 vision token; set it to at least {28 * 28}")


def check_top_p(top_p: float) -> None:
    if not 0 < top_p <= 1:
        raise ConfigError(f"--top-p is {top_p}: set it in (0, 1]")


def _read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config file ({e.strerror})") from None
    try:
        if path.suffix == ".toml":
            try:
                import tomllib
            except ImportError:  # Python 3.10
                raise ConfigError(f"{path}: TOML config files need Python 3.11+; write the settings as JSON") from None
            data = tomllib.loads(text)
        else:
            data = json.loads(text)
    except ValueError as e:  # tomllib.TOMLDecodeError and json.JSONDecodeError are ValueErrors
        raise ConfigError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'JSON'} ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of settings at the top level")
    data = data.get("train", data) if isinstance(data.get("train"), dict) else data  # allow a [train] table
    return {k.replace("-", "_"): v for k, v in data.items()}
