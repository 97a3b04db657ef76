"""The tiny smoke model, LoRA, the frozen vision tower and the reference policy."""
from __future__ import annotations

import pytest
import test_train_support  # noqa: F401  (HF offline, one torch thread for the tiny model)
import torch
from PIL import Image

from mapkit.train.config import GRPOConfig
from mapkit.train.models import load_policy, tiny_model, tiny_processor, vision_tower
from mapkit.train.rollout import build_prompt

pytestmark = pytest.mark.train
CPU = torch.device("cpu")


def test_tiny_is_a_real_qwen25_vl_of_a_few_hundred_thousand_parameters():
    from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor

    processor = tiny_processor()
    model = tiny_model(processor)
    assert isinstance(model, Qwen2_5_VLForConditionalGeneration) and isinstance(processor, Qwen2_5_VLProcessor)
    assert 100_000 < sum(p.numel() for p in model.parameters()) < 1_000_000
    assert vision_tower(model) is not None
    # the same seed gives the same weights; another seed does not
    same, other = tiny_model(processor, 0), tiny_model(processor, 1)
    w = model.lm_head.weight
    assert torch.equal(w, same.lm_head.weight) and not torch.equal(w, other.lm_head.weight)


def test_tiny_processor_expands_the_image_into_visual_tokens(tmp_path):
    processor = tiny_processor(56 * 56, 112 * 112)
    cfg = GRPOConfig(model="tiny", min_pixels=56 * 56, max_pixels=112 * 112)
    Image.new("RGB", (600, 400), "white").save(tmp_path / "m.png")
    record = {"id": "x", "question": "Is Alpha on the Red Line?", "figure": "m.png"}
    inputs = build_prompt(processor, record, tmp_path, cfg)
    image_tokens = int((inputs["input_ids"] == processor.image_token_id).sum())
    t, h, w = inputs["image_grid_thw"][0].tolist()
    assert image_tokens == t * h * w // 4 > 1  # one token per 2x2 merged patch
    assert h * w * 14 * 14 <= 112 * 112  # the map was fitted to the pixel budget
    text = processor.batch_decode(inputs["input_ids"])[0]
    assert text.startswith("<|im_start|>system") and text.endswith("<|im_start|>assistant\n")
    assert "Is Alpha on the Red Line?" in text


def test_lora_trains_adapters_on_the_language_model_only_and_reference_disables_them():
    cfg = GRPOConfig(model="tiny", lora=True, lora_r=4, lora_alpha=8, lora_dropout=0.0, beta=0.01)
    policy = load_policy(cfg, CPU)
    assert policy.ref_model is None  # the reference is the same weights with adapters off: no copy
    trainable = [n for n, p in policy.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    assert not any("visual" in n for n in trainable)
    # make the adapter non-trivial, then compare: adapters on != reference == base model
    for n, p in policy.model.named_parameters():
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.5)
    ids = torch.tensor([[1, 20, 30, 40, 2]])
    base = tiny_model(policy.processor, cfg.seed)
    with torch.no_grad():
        with policy.reference() as ref:
            ref_logits = ref(input_ids=ids).logits
        lora_logits = policy.model(input_ids=ids).logits
        base_logits = base(input_ids=ids).logits
    assert torch.allclose(ref_logits, base_logits, atol=1e-5)
    assert not torch.allclose(lora_logits, base_logits, atol=1e-3)


def test_freeze_vision_and_reference_copy():
    policy = load_policy(GRPOConfig(model="tiny", freeze_vision=True, beta=0.01), CPU)
    tower = vision_tower(policy.model)
    assert not any(p.requires_grad for p in tower.parameters())
    assert any(p.requires_grad for p in policy.model.lm_head.parameters())
    assert policy.ref_model is not None and policy.ref_model is not policy.model
    assert not any(p.requires_grad for p in policy.ref_model.parameters())
    assert load_policy(GRPOConfig(model="tiny", beta=0.0), CPU).ref_model is None  # beta 0: no reference loaded


def test_a_missing_model_folder_is_a_config_error(tmp_path):
    from mapkit.errors import ConfigError

    with pytest.raises(ConfigError, match="no such folder; give a local model folder"):
        load_policy(GRPOConfig(model=str(tmp_path / "nope")), CPU)


def test_tiny_saved_in_save_pretrained_form_loads_as_a_local_model(tmp_path):
    """A saved tiny model is a local PATH like any downloaded Qwen2.5-VL."""
    processor = tiny_processor()
    model = tiny_model(processor, seed=3)
    model.save_pretrained(tmp_path / "m")
    processor.save_pretrained(tmp_path / "m")
    policy = load_policy(GRPOConfig(model=str(tmp_path / "m"), beta=0.0, gradient_checkpointing=True, lr=1e-4), CPU)
    assert torch.equal(policy.model.lm_head.weight, model.lm_head.weight)
    assert policy.processor.tokenizer.chat_template == processor.tokenizer.chat_template
    assert policy.model.is_activation_checkpointing
    assert "SMOKE" not in policy.description
