"""GRPO with TRL on a mapkit dataset: the RewardMap reward, the staged curriculum order.

    mapkit build --city tokyo                        # -> out/tokyo
    python examples/trl_grpo.py out/tokyo            # tiny smoke model on CPU, 4 steps
    python examples/trl_grpo.py out/tokyo --model models/Qwen2.5-VL-3B-Instruct --steps 500

Needs `pip install 'mapkit[train]' trl`. The ten lines that matter are in ``main``:
``load`` attaches each question's map as a PIL image, ``to_trl`` adds the prompt and
orders the rows stage by stage (TorF -> Counting2/3 -> Counting1 -> planning), and
``reward_functions`` scores completions with the same reward as ``mapkit train``.
``--model tiny`` is a random ~200k-parameter Qwen2.5-VL built on the fly (no download):
its answers are noise, it checks the pipeline.
"""
from __future__ import annotations

import argparse


def tiny(seed: int = 0):
    """The smoke model and its processor (left padding: TRL pads prompts on the left)."""
    from mapkit.train.models import tiny_model, tiny_processor

    processor = tiny_processor(56 * 56, 112 * 112)
    processor.tokenizer.padding_side = "left"
    return tiny_model(processor, seed=seed), processor


def main(data: str, model_name: str = "tiny", steps: int = 4, out: str = "runs/trl", seed: int = 0):
    from transformers import AutoModelForImageTextToText, AutoProcessor
    from trl import GRPOConfig, GRPOTrainer

    from mapkit.dataset import load, to_trl
    from mapkit.rewards.trl import reward_functions

    pixels = 112 * 112 if model_name == "tiny" else 28 * 28 * 16384  # the model's image budget: shrink maps once
    train = to_trl(load(data, split="train", max_pixels=pixels), curriculum="rewardmap", seed=seed)  # prompt + image, staged
    if model_name == "tiny":
        model, processor = tiny(seed)
    else:
        model = AutoModelForImageTextToText.from_pretrained(model_name)
        processor = AutoProcessor.from_pretrained(model_name, padding_side="left")
    args = GRPOConfig(output_dir=out, max_steps=steps, shuffle_dataset=False,  # keep the curriculum's order
                      per_device_train_batch_size=8, num_generations=4, max_completion_length=32, learning_rate=1e-6,
                      use_cpu=model_name == "tiny", report_to="none", save_strategy="no", logging_steps=1, seed=seed)
    trainer = GRPOTrainer(model=model, processing_class=processor, args=args, train_dataset=train,
                          reward_funcs=reward_functions(root=data, mode="paper", max_pixels=pixels))
    trainer.train()
    return trainer


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", default="out/tokyo", help="dataset folder written by `mapkit build`")
    parser.add_argument("--model", default="tiny", help="tiny (CPU smoke model) or a local model folder")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--out", default="runs/trl")
    a = parser.parse_args()
    main(a.data, a.model, a.steps, a.out)
