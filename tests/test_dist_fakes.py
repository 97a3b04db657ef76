"""The multi-GPU and vLLM branches, exercised on CPU with stand-ins: an Accelerator that
says DeepSpeed / FSDP / DDP, FSDP's parameter gathering, and a fake vLLM engine."""
from __future__ import annotations

import contextlib
import sys
import types
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch", reason="needs the [train] extra")
accelerate = pytest.importorskip("accelerate", reason="needs the [train] extra")
from accelerate.utils import DistributedType  # noqa: E402

from mapkit.errors import ConfigError  # noqa: E402
from mapkit.train import distributed  # noqa: E402

pytestmark = pytest.mark.train


def _fake_accelerator(kind, world=2, fsdp2=False):
    class FakeAccelerator:
        def __init__(self, cpu=True):
            self.distributed_type = kind
            self.process_index, self.num_processes, self.is_main_process = 0, world, True
            self.device = torch.device("cpu")
            self.is_fsdp2 = fsdp2

        def unwrap_model(self, model):
            return model

        @contextlib.contextmanager
        def no_sync(self, model):
            yield

    return FakeAccelerator


def test_deepspeed_is_refused_with_the_fsdp_alternative(monkeypatch):
    monkeypatch.setattr(accelerate, "Accelerator", _fake_accelerator(DistributedType.DEEPSPEED))
    with pytest.raises(ConfigError, match="does not run under DeepSpeed.*--use_fsdp"):
        distributed.Dist()


def test_ddp_skips_the_all_reduce_of_early_micro_batches_and_fsdp_does_not(monkeypatch):
    monkeypatch.setattr(accelerate, "Accelerator", _fake_accelerator(DistributedType.MULTI_GPU))
    ddp = distributed.Dist()
    assert not ddp.fsdp and callable(ddp.no_sync(object()))
    monkeypatch.setattr(accelerate, "Accelerator", _fake_accelerator(DistributedType.FSDP))
    fsdp = distributed.Dist()
    assert fsdp.fsdp and fsdp.no_sync(object()) is None
    monkeypatch.setattr(accelerate, "Accelerator", _fake_accelerator(DistributedType.MULTI_GPU, world=1))
    assert distributed.Dist().no_sync(object()) is None  # one process: nothing to skip


@pytest.mark.parametrize(("fsdp2", "gathers"), [(False, 1), (True, 0)])
def test_generation_gathers_root_parameters_under_fsdp1_only(monkeypatch, fsdp2, gathers):
    from torch.distributed import fsdp as fsdp_module

    calls = []

    @contextlib.contextmanager
    def summon(model, recurse=True, writeback=True):
        calls.append((recurse, writeback))
        yield

    monkeypatch.setattr(fsdp_module.FullyShardedDataParallel, "summon_full_params", staticmethod(summon))
    monkeypatch.setattr(accelerate, "Accelerator", _fake_accelerator(DistributedType.FSDP, fsdp2=fsdp2))
    dist = distributed.Dist()
    model = torch.nn.Linear(2, 2)
    with dist.generation(model) as plain:
        assert plain is model
    assert len(calls) == gathers
    assert calls in ([], [(False, False)])  # only the root, and nothing written back


# --------------------------------------------------------------------------- fake vLLM

class _Out(SimpleNamespace):
    pass


def _fake_vllm(outputs, created):
    module = types.ModuleType("vllm")

    class SamplingParams(SimpleNamespace):
        pass

    class Runner:
        def __init__(self):
            self.model = SimpleNamespace(load_weights=lambda pairs: created["loaded"].extend(n for n, _ in pairs))

    class LLM:
        def __init__(self, **kwargs):
            created["kwargs"] = kwargs
            created["loaded"] = []
            created["resets"] = 0
            self.llm_engine = SimpleNamespace(model_executor=SimpleNamespace(driver_worker=SimpleNamespace(model_runner=Runner())))

        def generate(self, requests, params, use_tqdm=False):
            created["params"] = params
            created["requests"] = requests
            return [SimpleNamespace(outputs=outputs)]

        def reset_prefix_cache(self):
            created["resets"] += 1

    module.LLM, module.SamplingParams = LLM, SamplingParams
    return module


def test_vllm_generator_trims_at_end_tokens_restores_a_stripped_stop_and_syncs_weights(monkeypatch, tmp_path):
    from mapkit.train.generation import end_ids
    from mapkit.train.models import load_base
    from mapkit.train.vllm_backend import VLLMGenerator

    model, processor = load_base("tiny", dtype=torch.float32, seed=0, min_pixels=56 * 56, max_pixels=112 * 112)
    eos, _ = end_ids(model, processor)
    e = eos[0]
    outputs = [
        _Out(token_ids=[5, 6, e, 9, 9], finish_reason="stop", stop_reason=None),  # end token kept: cut after it
        _Out(token_ids=[5, 6], finish_reason="stop", stop_reason=e),  # engine left the stop token out
        _Out(token_ids=[7, 7, 7], finish_reason="length", stop_reason=None),  # ran out of tokens
    ]
    created: dict = {}
    monkeypatch.setitem(sys.modules, "vllm", _fake_vllm(outputs, created))
    cfg = SimpleNamespace(model="tiny", is_smoke=True, seed=3, vllm_gpu_memory_utilization=0.3, max_prompt_length=512,
                          max_new_tokens=8, min_pixels=56 * 56, max_pixels=112 * 112, num_generations=3,
                          temperature=1.0, top_p=1.0)
    gen = VLLMGenerator(cfg, model, processor, tmp_path, rank=1)
    assert created["kwargs"]["seed"] == 4 and created["kwargs"]["max_model_len"] == 520  # seed + rank, prompt + answer
    assert set(created["loaded"]) == set(model.state_dict())  # the policy's weights, all of them
    assert created["resets"] == 1

    completions, truncated = gen({}, {"question": "Is it?", "figure": None})
    assert [c.tolist() for c in completions] == [[5, 6, e], [5, 6, e], [7, 7, 7]]
    assert truncated == [False, False, True]
    params = created["params"]
    assert params.n == 3 and params.max_tokens == 8 and params.stop_token_ids == eos
    assert params.logit_bias and all(v == -100.0 for v in params.logit_bias.values())  # vision placeholders blocked
    assert "Is it?" in created["requests"][0]["prompt"] and "multi_modal_data" not in created["requests"][0]

    created["loaded"].clear()
    gen.sync(model)
    assert set(created["loaded"]) == set(model.state_dict()) and created["resets"] == 2
