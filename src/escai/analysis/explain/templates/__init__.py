"""The template sentences of each explanation kind, drafted so that every citation supports its sentence's claim."""

from escai.analysis.explain.templates.behaviour import behaviour_sentences, reported_outcome
from escai.analysis.explain.templates.comparison import Side, comparison_sentences
from escai.analysis.explain.templates.drafting import Drafter
from escai.analysis.explain.templates.failure import failure_sentences, has_failure_signals, reported_failed
from escai.analysis.explain.templates.prediction import prediction_sentences, ranked_drivers

__all__ = [
    "Drafter",
    "Side",
    "behaviour_sentences",
    "comparison_sentences",
    "failure_sentences",
    "has_failure_signals",
    "prediction_sentences",
    "ranked_drivers",
    "reported_failed",
    "reported_outcome",
]
