"""Loading the policy: any local image-text-to-text model, or the tiny smoke model.

``--model tiny`` builds a Qwen2.5-VL of ~300k parameters from the real transformers
classes (config, model, processor with its image processor and chat template), with a
byte-level BPE tokenizer trained on the fly (on the dataset's questions when training):
the production code path at a size a CPU runs in seconds, no download. It exists to test
the pipeline, not to be evaluated.
"""
from __future__ import annotations

import copy
import functools
import json
import logging
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mapkit.errors import ConfigError

log = logging.getLogger("mapkit.train")

TINY = "tiny"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
                  "<|image_pad|>", "<|video_pad|>"]
# Qwen2.5-VL's chat format (system turn, <|im_start|>role ... <|im_end|>, one image
# placeholder per image part), written as a small Jinja template.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
_CORPUS = [
    ("Answer yes or no. Put the final answer in \\boxed{}. The answer is \\boxed{yes}. \\boxed{no} \\boxed{A} \\boxed{B} "
     "\\boxed{C} \\boxed{D} \\boxed{0} \\boxed{1} \\boxed{2} \\boxed{3} \\boxed{12}"),
    ("Are the stations on the same line? Is the station on the line? How many lines pass through the station? "
     "How many lines does the map have? How many stops are between the two stations on the line?"),
    "Route Name: Red Line\nDeparture Stop: Alpha\nArrival Stop: Central\nNumber of Via Stops: 1\nVia Stops: Bravo\n--\n",
    "Please plan a route from the origin station to the destination station using the metro map. Line Station Loop",
    "0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 A B C D yes no",
    "system\nYou are a helpful assistant.", "user\n", "assistant\n",  # the chat template's own words
]
TINY_VOCAB = 2048


@dataclass(frozen=True)
class Precision:
    """How a model is held and run: ``weights`` is the dtype of the parameters (the
    master weights the optimizer updates), ``compute`` the autocast dtype of the forward
    passes (None: the weights' own dtype)."""

    weights: torch.dtype
    compute: torch.dtype | None = None

    def autocast(self, device: torch.device):
        if self.compute is None:
            return nullcontext()
        return torch.autocast(device_type=device.type, dtype=self.compute)

    @property
    def half_weights(self) -> bool:
        return self.weights in (torch.bfloat16, torch.float16)

    def __str__(self) -> str:
        name = str(self.weights).replace("torch.", "")
        return name if self.compute is None else f"{name} weights, {str(self.compute).replace('torch.', '')} compute"


def resolve_precision(name: str, device: torch.device, training: bool = True) -> Precision:
    """--dtype -> Precision. ``auto``: on a GPU, training keeps float32 master weights and
    computes in bfloat16 (the release's FSDP mixed precision), evaluation holds bfloat16
    weights (nothing is updated); on a CPU, float32."""
    if name == "auto":
        if device.type != "cuda":
            return Precision(torch.float32)
        name = "bf16-mixed" if training else "bfloat16"
    if name == "bf16-mixed":
        return Precision(torch.float32, torch.bfloat16)
    return Precision(getattr(torch, name))


def resolve_dtype(name: str, device: torch.device) -> torch.dtype:
    """The weights' dtype for evaluation (see resolve_precision)."""
    return resolve_precision(name, device, training=False).weights


@dataclass
class Policy:
    model: Any  # the trainable model (a PeftModel with --lora)
    processor: Any
    ref_model: Any | None  # frozen reference; None when beta = 0 or with LoRA (adapters disabled instead)
    lora: bool
    description: str
    precision: Precision = Precision(torch.float32)
    device: Any = "cpu"

    def autocast(self):
        """``with policy.autocast():`` around every forward (bf16 compute under bf16-mixed)."""
        return self.precision.autocast(torch.device(self.device))

    @contextmanager
    def reference(self):
        """``with policy.reference() as ref:`` ref is the reference policy (the model with
        its adapters disabled under LoRA, else the frozen copy of the starting model)."""
        if self.lora:
            with self.model.disable_adapter():
                yield self.model
        else:
            yield self.ref_model


# --- the tiny smoke model ---------------------------------------------------------

@functools.lru_cache(maxsize=2)
def _tiny_tokenizer_json(texts: tuple[str, ...] = ()) -> str:
    """Train the byte-level BPE once per process (serialized, so callers get fresh copies)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=TINY_VOCAB, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_CORPUS * 4 + list(texts), trainer)
    return tok.to_str()


def tiny_processor(min_pixels: int = 56 * 56, max_pixels: int = 112 * 112, words: tuple[str, ...] = (), texts: tuple[str, ...] = ()):
    """The tiny model's processor. The BPE is trained on ``texts`` (the dataset's questions)
    without splitting at spaces, so the templates' fixed sentences become a few tokens, and
    ``words`` (the answer labels, station and line names) are whole tokens: a Tokyo planning
    prompt is 70 tokens instead of 283, a route answer fits the smoke run's 64 new tokens,
    and naming a station of the question is one token, not ten."""
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast, Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(_tiny_tokenizer_json(texts)),
                                        eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        additional_special_tokens=SPECIAL_TOKENS[1:])
    tokenizer.chat_template = CHAT_TEMPLATE
    if words:
        tokenizer.add_tokens(sorted(set(words)))
    image_processor = Qwen2VLImageProcessor(min_pixels=min_pixels, max_pixels=max_pixels)
    return Qwen2_5_VLProcessor(image_processor=image_processor, tokenizer=tokenizer,
                               video_processor=Qwen2VLVideoProcessor(), chat_template=CHAT_TEMPLATE)


def tiny_model(processor, seed: int = 0):
    """A randomly initialised Qwen2.5-VL: 2 text layers of width 64, a 1-block vision tower."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    tok = processor.tokenizer
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    config = Qwen2_5_VLConfig(
        text_config=dict(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=4096,
                         rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
                         bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"]),
        vision_config=dict(depth=1, hidden_size=32, intermediate_size=64, num_heads=2, out_hidden_size=64, patch_size=14,
                           spatial_merge_size=2, temporal_patch_size=2, window_size=56, fullatt_block_indexes=[0]),
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,  # as the small Qwen2.5-VL (3B) does: naming a token of the prompt is then easier
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2_5_VLForConditionalGeneration(config)
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    return model


# --- loading ------------------------------------------------------------------------

def load_base(name: str, *, dtype: torch.dtype, seed: int, min_pixels: int, max_pixels: int, words: tuple[str, ...] = (),
              texts: tuple[str, ...] = ()):
    """(model, processor) for ``tiny`` (``words``: see tiny_processor) or a local folder in save_pretrained form."""
    _quiet_transformers()
    if name == TINY:
        processor = tiny_processor(min_pixels, max_pixels, words, texts)
        return tiny_model(processor, seed).to(dtype), processor
    path = Path(name)
    if not path.is_dir():
        raise ConfigError(f"--model {name}: no such folder; give a local model folder (save_pretrained form, e.g. a "
                          f"downloaded Qwen2.5-VL-7B-Instruct) or `tiny` for the CPU smoke model")
    from transformers import AutoModelForImageTextToText, AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        model = AutoModelForImageTextToText.from_pretrained(path, dtype=dtype, local_files_only=True)
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(f"--model {name}: cannot load an image-text-to-text model and processor from it ({e})") from None
    set_pixel_budget(processor, min_pixels, max_pixels)
    return model, processor


def set_pixel_budget(processor, min_pixels: int, max_pixels: int) -> None:
    """Tell a Qwen-style image processor the same budget the maps were resized to, so it
    does not resize them a second time."""
    ip = getattr(processor, "image_processor", None)
    size = getattr(ip, "size", None)
    if size is not None and "longest_edge" in size:
        ip.size = type(size)(**{**dict(size), "shortest_edge": min_pixels, "longest_edge": max_pixels}) if not isinstance(size, dict) \
            else {**size, "shortest_edge": min_pixels, "longest_edge": max_pixels}
    for attr, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels)):
        if hasattr(ip, attr):
            setattr(ip, attr, value)


def load_policy(cfg, device: torch.device, checkpoint: Path | None = None, prepare=None, words: tuple[str, ...] = (),
                texts: tuple[str, ...] = ()) -> Policy:
    """The trainable policy, its processor and the reference model for the KL term.

    The reference is always the starting model (``cfg.model``, after ``prepare(model,
    processor)``: the tiny model's warm-up), also after a resume.
    """
    precision = resolve_precision(cfg.dtype, device)
    dtype = precision.weights
    full_resume = checkpoint is not None and not cfg.lora
    ref = None
    if not full_resume or cfg.beta > 0:  # the starting model: to train, to wrap with LoRA, or as the reference
        model, processor = load_base(cfg.model, dtype=dtype, seed=cfg.seed, min_pixels=cfg.min_pixels, max_pixels=cfg.max_pixels,
                                     words=words, texts=texts)
        if prepare is not None:
            model.to(device)
            prepare(model, processor)
        if cfg.beta > 0 and not cfg.lora:
            # frozen: no master copy needed, so it is held in the compute dtype (the release's
            # reference worker loads bf16 weights too), half the memory under bf16-mixed
            ref = copy.deepcopy(model).eval().requires_grad_(False).to(device=device, dtype=precision.compute or dtype)
    if full_resume:
        _quiet_transformers()
        from transformers import AutoModelForImageTextToText, AutoProcessor

        model = AutoModelForImageTextToText.from_pretrained(checkpoint, dtype=dtype, local_files_only=True)
        processor = AutoProcessor.from_pretrained(checkpoint, local_files_only=True)
        set_pixel_budget(processor, cfg.min_pixels, cfg.max_pixels)
    if cfg.freeze_vision:
        tower = vision_tower(model)
        if tower is None:
            raise ConfigError("--freeze-vision: could not find the vision tower (a module named visual, vision_tower or vision_model)")
        tower.requires_grad_(False)
    if cfg.gradient_checkpointing:
        enable = getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
        enable({"use_reentrant": False})
    if cfg.lora:
        model = _with_lora(model, cfg, checkpoint)
    model.to(device)
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    n_all = sum(p.numel() for p in model.parameters())
    if cfg.model == TINY:
        text = (f"SMOKE MODEL: --model tiny is a {n_all:,}-parameter Qwen2.5-VL initialised at random (then warmed up on "
                f"answer formats) with a tokenizer trained on the fly: it tests the pipeline, it is not a model to evaluate")
    else:
        text = f"model {cfg.model}: {n_all:,} parameters, {n_train:,} trainable, {precision} on {device}"
    if precision.half_weights and not cfg.lora:
        log.warning("--dtype %s: full fine-tuning with %s master weights; at --lr %g, updates smaller than ~0.4%% of a "
                    "weight round away and the model may not move. The release keeps float32 master weights with bf16 "
                    "compute: --dtype bf16-mixed (the GPU default), or use --lora", cfg.dtype, cfg.dtype, cfg.lr)
    return Policy(model=model, processor=processor, ref_model=ref, lora=cfg.lora, description=text, precision=precision,
                  device=torch.device(device))


def _with_lora(model, cfg, checkpoint: Path | None):
    from peft import LoraConfig, PeftModel, get_peft_model

    if cfg.gradient_checkpointing:
        model.enable_input_require_grads()  # checkpointed blocks need an input that requires grad
    if checkpoint is not None:
        return PeftModel.from_pretrained(model, checkpoint, is_trainable=True)
    names = "|".join(n.strip() for n in cfg.lora_targets.split(",") if n.strip())
    # adapters on the language model only: the vision tower's MLP uses the same module names
    target = rf"^(?!.*(visual|vision_tower|vision_model)).*\.({names})$"
    config = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout, target_modules=target,
                        task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def vision_tower(model):
    for name, module in model.named_modules():
        if name.rsplit(".", 1)[-1] in ("visual", "vision_tower", "vision_model"):
            return module
    return None


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu"):
    """(model, processor) from ``RUN/checkpoint-<step>``, full weights or LoRA adapter."""
    path = Path(path)
    cfg_file = path / "train_config.json"
    if not cfg_file.is_file():
        raise ConfigError(f"{path}: not a mapkit checkpoint (no train_config.json)")
    from mapkit.train.config import GRPOConfig

    cfg = GRPOConfig(**json.loads(cfg_file.read_text()))
    cfg.beta = 0.0  # no reference needed to use a checkpoint
    policy = load_policy(cfg, torch.device(device), checkpoint=path)
    return policy.model.eval(), policy.processor


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()

