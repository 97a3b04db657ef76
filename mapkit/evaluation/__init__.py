"""Evaluation: score a model the way the papers do.

``report`` is the arithmetic of the report (accuracy by type and difficulty, weighted
accuracy, map scores, tables); ``scorers`` grade completions. Nothing here needs torch:
asking a model for answers with the training prompts is ``mapkit.train.predict``.
"""
from mapkit.evaluation.report import load_predictions, load_report, score_prediction, summarize, write_report

__all__ = ["load_predictions", "load_report", "score_prediction", "summarize", "write_report"]
