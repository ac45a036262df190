"""Explanation engine: evidence-grounded explanations whose every sentence cites the events it rests on.

:class:`ExplanationEngine` explains a session's behaviour, a failure, a prediction, or the differences between two
sessions. Templates write the sentences (:mod:`~escai.analysis.explain.templates`), each citing only events that
can support its claim (:mod:`~escai.analysis.explain.claims`, where :func:`check_citations` verifies any
explanation); an OpenAI-compatible LLM rewords them only when configured (:mod:`~escai.analysis.explain.writer`).
"""

from escai.analysis.explain.claims import EvidenceIndex, check_citations
from escai.analysis.explain.engine import ExplanationEngine
from escai.analysis.explain.inputs import PredictionDriver, SessionEvidence
from escai.analysis.explain.writer import (
    OpenAICompatibleWriter,
    SentenceWriter,
    TemplateWriter,
    Wording,
    writer_from_settings,
)

__all__ = [
    "EvidenceIndex",
    "ExplanationEngine",
    "OpenAICompatibleWriter",
    "PredictionDriver",
    "SentenceWriter",
    "SessionEvidence",
    "TemplateWriter",
    "Wording",
    "check_citations",
    "writer_from_settings",
]
