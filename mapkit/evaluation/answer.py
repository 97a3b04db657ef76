"""Which part of a completion is the answer: the text after a reasoning trace.

Reasoning models write a draft (``<think> ... </think>``, Kimi's ``◁think▷ ... ◁/think▷``)
before the answer; a route drafted inside it must not be graded. The released ReasonMap
scripts keep the text after the last end marker, stripped; without a marker the whole
completion is the answer, unchanged. ``--answer-after TEXT`` names another marker,
``--full-text`` grades the whole completion.
"""
from __future__ import annotations

from dataclasses import dataclass

THINK_MARKERS = ("</think>", "◁/think▷")
FULL_TEXT = ""  # an empty marker: no cut


@dataclass(frozen=True)
class AnswerCut:
    """Where the answer starts. ``markers`` empty: the whole completion."""

    markers: tuple[str, ...] = THINK_MARKERS

    @classmethod
    def from_options(cls, answer_after: str | None = None, full_text: bool = False) -> AnswerCut:
        from mapkit.errors import ConfigError

        if full_text and answer_after:
            raise ConfigError("--answer-after and --full-text contradict each other: give one of them")
        if full_text:
            return cls(())
        if answer_after is not None:
            if not answer_after.strip():
                raise ConfigError("--answer-after is empty: give the marker that ends the reasoning (e.g. '</think>'), or --full-text")
            return cls((answer_after,))
        return cls()

    def describe(self) -> str:
        return "full text" if not self.markers else "after the last " + " or ".join(repr(m) for m in self.markers)

    def __call__(self, completion: str) -> str:
        return final_answer(completion, self.markers)


def final_answer(completion: str, markers: tuple[str, ...] = THINK_MARKERS) -> str:
    """The text after the last of ``markers`` (stripped), else ``completion`` unchanged.

    >>> final_answer("<think>Route Name: draft</think>\\n\\\\boxed{yes}")
    '\\\\boxed{yes}'
    >>> final_answer("no trace here ")
    'no trace here '
    """
    text = completion if isinstance(completion, str) else str(completion)
    cut = -1
    for marker in markers:
        at = text.rfind(marker) if marker else -1
        if at != -1:
            cut = max(cut, at + len(marker))
    return text[cut:].strip() if cut != -1 else text
