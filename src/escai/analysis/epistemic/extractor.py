"""Batch extraction of a whole session's epistemic timeline (imported traces, recomputation)."""

from __future__ import annotations

from collections.abc import Sequence

from escai.analysis.epistemic.calibration import ConfidenceCalibrator
from escai.analysis.epistemic.sections import SectionKind
from escai.analysis.epistemic.statements import Statements, is_agent_text, read_statements
from escai.analysis.epistemic.timeline import EpistemicTimeline
from escai.analysis.epistemic.tracker import EpistemicTracker
from escai.analysis.text.embedding import HashingEmbedder, TextEmbedder, Vectors
from escai.model.events import AgentEvent

_GOALS = frozenset({SectionKind.PLAN, SectionKind.OPEN_QUESTIONS})
"""Sections whose items become goals (embedded once, like beliefs)."""


def extract_timeline(
    events: Sequence[AgentEvent],
    embedder: TextEmbedder | None = None,
    calibrator: ConfidenceCalibrator | None = None,
) -> EpistemicTimeline:
    """The epistemic timeline of one session's events (given in order; all of one session).

    Every agent text is read first and all candidate beliefs are embedded in one batch, then the events are replayed
    through the same :class:`EpistemicTracker` the live path uses, so batch and live results are identical (given
    the same ``calibrator``: the live worker uses the one saved at ``Settings.calibration_path``).
    """
    embedder = embedder or HashingEmbedder()
    if not events:
        return EpistemicTimeline(session_id="", method=embedder.name)
    statements: dict[str, Statements] = {event.id: read_statements(event) for event in events if is_agent_text(event)}
    texts = list(
        dict.fromkeys(
            [
                *(belief.text for reading in statements.values() for belief in reading.beliefs),
                *(item.text for reading in statements.values() for item in reading.notes.items if item.kind in _GOALS),
            ]
        )
    )
    vectors: dict[str, Vectors] = dict(zip(texts, embedder.embed(texts), strict=True)) if texts else {}
    tracker = EpistemicTracker(
        events[0].session_id, embedder, vectors=vectors, statements=statements, calibrator=calibrator
    )
    for event in events:
        tracker.observe(event)
    return tracker.timeline()
