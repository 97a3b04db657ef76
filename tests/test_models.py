"""The tiny smoke model, LoRA, the frozen vision tower and the reference policy."""
from __future__ import annotations

import pytest
import torch
import train_support  # noqa: F401  (HF offline, one torch thread for the tiny model)
from PIL import Image

from mapkit.train.config import GRPOConfig
from mapkit.train.models import Precision, load_policy, resolve_precision, tiny_model, tiny_processor, vision_tower
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


def test_precision_resolution_gpu_default_is_fp32_master_weights_with_bf16_compute():
    cuda, cpu = torch.device("cuda"), CPU
    assert resolve_precision("auto", cuda) == Precision(torch.float32, torch.bfloat16)  # the release's FSDP mixed precision
    assert resolve_precision("bf16-mixed", cpu) == Precision(torch.float32, torch.bfloat16)
    assert resolve_precision("auto", cpu) == Precision(torch.float32, None)
    assert resolve_precision("bfloat16", cuda) == Precision(torch.bfloat16, None)
    assert resolve_precision("auto", cuda, training=False) == Precision(torch.bfloat16, None)  # evaluation: nothing to update


def test_bf16_mixed_keeps_float32_master_weights_and_computes_in_bf16(caplog):
    with caplog.at_level("WARNING", logger="mapkit.train"):
        policy = load_policy(GRPOConfig(model="tiny", dtype="bf16-mixed", beta=0.01), CPU)
    assert "round away" not in caplog.text  # no warning for the release's precision
    assert {p.dtype for p in policy.model.parameters()} == {torch.float32}  # what the optimizer updates
    assert {p.dtype for p in policy.ref_model.parameters()} == {torch.bfloat16}  # frozen: held in the compute dtype
    linear = policy.model.lm_head
    x = torch.randn(2, linear.in_features)
    with policy.autocast():
        assert linear(x).dtype == torch.bfloat16
    assert linear(x).dtype == torch.float32
    with caplog.at_level("WARNING", logger="mapkit.train"):
        pure = load_policy(GRPOConfig(model="tiny", dtype="bfloat16", beta=0.0), CPU)
    assert {p.dtype for p in pure.model.parameters()} == {torch.bfloat16}
    assert "--dtype bf16-mixed" in caplog.text and "round away" in caplog.text


def test_warmup_teaches_formats_with_random_values_never_the_answer(tmp_path):
    """The targets come from the type's admissible values, whatever the record's answer."""
    import random

    from mapkit.train.warmup import format_target

    rng = random.Random(0)
    lines = {"Red Line": ("Alpha", "Bravo", "Central"), "Blue Line": ("Delta", "Central")}
    torf = {"type": "TorF1", "answer": 1, "answer_text": "yes"}
    assert {format_target(torf, rng, lines) for _ in range(50)} == {"\\boxed{yes}", "\\boxed{no}"}
    c1 = {"type": "Counting1", "answer": 2, "options": [4, 5, 6, 7]}
    assert {format_target(c1, rng, lines) for _ in range(80)} == {f"\\boxed{{{x}}}" for x in "ABCD"}
    c3 = {"type": "Counting3", "answer": 3, "city_line_count": 3}
    assert {format_target(c3, rng, lines) for _ in range(60)} == {"\\boxed{1}", "\\boxed{2}", "\\boxed{3}"}
    plan = {"type": "planning", "station_1": "Alpha", "station_2": "Central", "answer": -1}
    short = {format_target({**plan, "template_id": "planning_short"}, rng, lines) for _ in range(40)}
    assert short == {f"Route Name: {line}\nDeparture Stop: Alpha\nArrival Stop: Central" for line in lines}  # any line of the map
    num = format_target({**plan, "template_id": "planning_long_num"}, rng, lines)
    assert num.startswith("Route Name: ") and "\nArrival Stop: Central\nNumber of Via Stops: " in num
    via = [format_target({**plan, "template_id": "planning_long_via"}, rng, lines) for _ in range(30)]
    listed = {s for text in via for s in text.split("\nVia Stops: ")[1].split(", ") if s}
    assert listed <= {"Alpha", "Bravo", "Central", "Delta"} and len(listed) >= 3  # random stations of the map


def test_tiny_tokenizer_holds_names_and_format_labels_as_whole_tokens(tmp_path):
    import json

    from train_support import write_dataset

    from mapkit.train.rollout import load_data
    from mapkit.train.warmup import tiny_words

    data = load_data(str(write_dataset(tmp_path / "d", per_type=1)))
    words = tiny_words(data.records, data.root)
    mini = json.loads((data.root / "annotations" / "mini.json").read_text())
    names = {s["name"] for s in mini["stations"].values()} | {line["name"] for line in mini["lines"]}
    assert set(words) == names | {"\\boxed{", "Route Name:", "Departure Stop:", "Arrival Stop:", "Number of Via Stops:", "Via Stops:"}
    plain, named = tiny_processor().tokenizer, tiny_processor(words=words).tokenizer
    assert sum(len(plain(w, add_special_tokens=False)["input_ids"]) for w in words) > 2 * len(words)  # spelt out without them
    for word in words:
        assert len(named(word, add_special_tokens=False)["input_ids"]) == 1, word
        assert named.decode(named(f"at {word}.", add_special_tokens=False)["input_ids"]) == f"at {word}."
    question = "Which colour is the circle line drawn in, on this zoomed map?"  # trained on questions: fewer tokens
    short = tiny_processor(texts=(question,) * 8).tokenizer
    assert len(short(question)["input_ids"]) < len(plain(question)["input_ids"])


def test_warmup_moves_the_tiny_model_deterministically_and_leaves_global_rng_alone(tmp_path):
    from train_support import write_dataset

    from mapkit.train.rollout import load_data
    from mapkit.train.warmup import warm_up

    data = load_data(str(write_dataset(tmp_path / "d", per_type=2)))
    cfg = GRPOConfig(model="tiny", max_pixels=56 * 56, min_pixels=56 * 56, max_new_tokens=16)
    torch.manual_seed(7)
    expected = torch.rand(1)  # the global stream as it would be without a warm-up
    weights = []
    for _ in range(2):
        processor = tiny_processor(cfg.min_pixels, cfg.max_pixels)
        model = tiny_model(processor, 0)
        torch.manual_seed(7)
        warm_up(model, processor, data.records, data.root, cfg, steps=3, device=CPU)
        assert torch.equal(torch.rand(1), expected)
        weights.append(model.lm_head.weight.detach().clone())
    assert torch.equal(weights[0], weights[1])
    assert not torch.equal(weights[0], tiny_model(tiny_processor(), 0).lm_head.weight)
