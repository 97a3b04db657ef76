"""Fast rollouts with vLLM (``--generation-backend vllm``), colocated with training.

Each rank starts its own vLLM engine on its GPU (``distributed_executor_backend=
"external_launcher"``, tensor parallel 1, ``--vllm-gpu-memory-utilization`` of the
memory) from the starting model's folder, samples its shard's completions there, and
after every optimizer step receives the policy's weights (``load_weights``; LoRA
adapters merged first, FSDP shards gathered one tensor at a time). The engine sees the
same resized map and chat text as the loss; vision placeholders get a -100 logit bias
(the loss masks them out entirely). One request per prompt (n = G).

A thin implementation: it needs the ``vllm`` package and a CUDA GPU, and is tested only
where both exist (tests marked ``gpu``). Without vllm the flag fails before any model
loads, with a message saying so.
"""
from __future__ import annotations

import importlib.util
import logging
import tempfile
from pathlib import Path
from typing import Any

import torch

from mapkit.errors import ConfigError

log = logging.getLogger("mapkit.train")


def check_backend(cfg) -> None:
    """Fail early, and clearly, when --generation-backend vllm cannot run here."""
    if cfg.generation_backend != "vllm":
        return
    if importlib.util.find_spec("vllm") is None:
        raise ConfigError("--generation-backend vllm: the vllm package is not installed (`pip install vllm`, on a machine "
                          "with a CUDA GPU); leave the flag out to sample with transformers (--generation-backend hf)")
    if not torch.cuda.is_available():
        raise ConfigError("--generation-backend vllm needs a CUDA GPU and none is visible; use --generation-backend hf")


def make_generator(cfg, model, processor, root: Path, rank: int, dtype: torch.dtype | None = None):
    """A VLLMGenerator for --generation-backend vllm, else None (transformers generate).
    ``dtype``: the engine's compute dtype (bfloat16 under bf16-mixed; default the weights')."""
    if cfg.generation_backend != "vllm":
        return None
    return VLLMGenerator(cfg, model, processor, root, rank, dtype)


class VLLMGenerator:
    """``gen(prompt, record) -> (completions, truncated)`` for rollout's sample_fn, and
    ``gen.sync(model)`` after each update."""

    def __init__(self, cfg, model, processor, root: Path, rank: int, dtype: torch.dtype | None = None):
        from vllm import LLM

        from mapkit.train.generation import end_ids, placeholder_ids

        self.cfg, self.processor, self.root = cfg, processor, Path(root)
        self.eos, _ = end_ids(model, processor)
        self.blocked = placeholder_ids(model, processor)
        path = cfg.model
        if cfg.is_smoke:  # the tiny model exists only in memory: give the engine a folder
            path = tempfile.mkdtemp(prefix="mapkit-vllm-")
            self._plain(model).save_pretrained(path)
            processor.save_pretrained(path)
        self.llm = LLM(model=str(path), tensor_parallel_size=1, distributed_executor_backend="external_launcher",
                       gpu_memory_utilization=cfg.vllm_gpu_memory_utilization, seed=cfg.seed + rank,
                       max_model_len=cfg.max_prompt_length + cfg.max_new_tokens, limit_mm_per_prompt={"image": 1},
                       mm_processor_kwargs={"min_pixels": cfg.min_pixels, "max_pixels": cfg.max_pixels},
                       dtype=str(dtype or next(model.parameters()).dtype).replace("torch.", ""))
        self.sync(model)  # a resumed or LoRA-wrapped policy differs from the folder's weights

    @staticmethod
    def _plain(model):
        return model.get_base_model() if hasattr(model, "get_base_model") else model

    def __call__(self, prompt: dict, record: dict) -> tuple[list[torch.Tensor], list[bool]]:
        from vllm import SamplingParams

        from mapkit.train.generation import trim
        from mapkit.train.rollout import load_map, patch_factor

        cfg = self.cfg
        content: list[dict[str, Any]] = [{"type": "text", "text": record["question"]}]
        request: dict[str, Any] = {}
        if record.get("figure"):
            content.insert(0, {"type": "image"})
            request["multi_modal_data"] = {"image": load_map(str(self.root / record["figure"]), patch_factor(self.processor),
                                                             cfg.min_pixels, cfg.max_pixels)}
        request["prompt"] = self.processor.apply_chat_template([{"role": "user", "content": content}], tokenize=False,
                                                               add_generation_prompt=True)
        params = SamplingParams(n=cfg.num_generations, temperature=cfg.temperature, top_p=cfg.top_p, top_k=-1,
                                repetition_penalty=1.0, max_tokens=cfg.max_new_tokens, stop_token_ids=self.eos,
                                logit_bias={i: -100.0 for i in self.blocked} or None)
        (result,) = self.llm.generate([request], params, use_tqdm=False)
        completions, truncated = [], []
        for o in result.outputs:
            ((ids, cut),) = trim([list(o.token_ids)], self.eos)
            if cut and o.finish_reason == "stop":  # stopped on an end token the output left out
                ids, cut = torch.cat([ids, torch.tensor([o.stop_reason if isinstance(o.stop_reason, int) else self.eos[0]])]), False
            completions.append(ids)
            truncated.append(cut)
        return completions, truncated

    @torch.no_grad()
    def sync(self, model) -> None:
        """Load the policy's current weights into the engine."""
        engine = self.llm.llm_engine.model_executor.driver_worker
        runner = getattr(engine, "worker", engine).model_runner
        lora = hasattr(model, "merge_adapter")
        if lora:
            model.merge_adapter()
        try:
            for name, tensor in self._plain(model).state_dict().items():
                if lora:
                    if "lora_" in name:
                        continue
                    name = name.replace(".base_layer", "")
                if hasattr(tensor, "full_tensor"):  # an FSDP2 shard: every rank gathers the same tensor in turn
                    tensor = tensor.full_tensor()
                runner.model.load_weights([(name, tensor)])
        finally:
            if lora:
                model.unmerge_adapter()
        self.llm.reset_prefix_cache()
