"""Fit the confidence calibrator on stored sessions whose outcome was recorded (imported benchmarks, or runs the
producer reported success/failure for).

Each session contributes its agent's state at a quarter, half, three quarters and the end of its events, so the
calibrated confidence is meaningful mid-run, when it matters most. The ``session_end`` event (which carries the
recorded outcome in imported data) is left out before extraction.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncEngine

from escai.analysis.epistemic.calibration import ConfidenceCalibrator, fit_calibrator
from escai.analysis.epistemic.extractor import extract_timeline
from escai.analysis.text.embedding import TextEmbedder
from escai.model.events import EventType
from escai.store.queries import SessionFilter, list_session_events, list_sessions

CUT_POINTS = (0.25, 0.5, 0.75, 1.0)
PAGE = 500


async def fit_calibrator_from_store(
    engine: AsyncEngine, embedder: TextEmbedder | None = None, *, max_sessions: int = 5000
) -> tuple[ConfidenceCalibrator, int]:
    """A calibrator fitted on the stored sessions with a recorded outcome, and how many sessions it used."""
    examples: list[tuple[Mapping[str, float], bool]] = []
    used = 0
    offset = 0
    async with engine.connect() as connection:
        while used < max_sessions:
            page = await list_sessions(connection, SessionFilter(), limit=PAGE, offset=offset)
            offset += PAGE
            for session in page.sessions:
                if session.outcome_success is None or used >= max_sessions:
                    continue
                events = [
                    event
                    for event in await list_session_events(connection, session.id)
                    if event.type is not EventType.SESSION_END
                ]
                timeline = extract_timeline(events, embedder)
                if not timeline.states:
                    continue
                used += 1
                for fraction in CUT_POINTS:
                    state = timeline.states[min(len(timeline.states) - 1, int(fraction * len(timeline.states)))]
                    examples.append((state.signals, session.outcome_success))
            if offset >= page.total:
                break
    return fit_calibrator(examples), used
