"""mapkit: fine-grained visual-reasoning datasets from transit maps, and staged GRPO on them."""

__version__ = "0.1.0"
