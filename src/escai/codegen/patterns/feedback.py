"""Feedback on findings, stored in ``pattern_feedback_log``, and the tuning and precision read back from it.

``record`` writes one review through :func:`escai.store.seed_repository.record_pattern_feedback`, keeping the
finding's base confidence and fingerprint in the row's metadata so the learner can use them later;
``load_tuning`` replays the whole log into a :class:`~escai.codegen.patterns.model.Tuning`; ``precision_report``
joins the ``pattern_feedback_analysis`` view with the posterior and threshold of each rule.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from escai.codegen.patterns.model import Finding, Tuning, fingerprint_of
from escai.codegen.patterns.scanner import RULE_IDS
from escai.codegen.patterns.tuning import (
    MIN_CORRECTED_REVIEWS,
    PatternPrecision,
    Review,
    learn_tuning,
    summarise_precision,
)
from escai.store.seed_repository import list_pattern_feedback_analysis, record_pattern_feedback
from escai.store.seed_tables import FeedbackType, pattern_feedback_log


async def record(
    conn: AsyncConnection,
    finding_or_pattern_id: Finding | str,
    feedback_type: FeedbackType,
    *,
    confidence: float | None = None,
    note: str | None = None,
    user: str | None = None,
    file_path: str | None = None,
    line_number: int | None = None,
    snippet: str | None = None,
) -> int:
    """Record a review of a finding (or of a pattern at a place, e.g. a false negative) and return the row id.

    With a :class:`Finding`, its path, line, snippet and confidences are stored; explicit keyword arguments
    win over them. ``confidence`` is the base confidence of the reviewed candidate when it is known (a false
    negative the matcher scored under threshold); it is what moves the rule's threshold. Raises
    :class:`escai.store.seed_repository.UnknownFeedbackTypeError` for an unknown type. Runs in the caller's
    transaction.
    """
    metadata: dict[str, Any] = {}
    confidence_before = confidence
    if isinstance(finding_or_pattern_id, Finding):
        finding = finding_or_pattern_id
        pattern_id = finding.pattern_id
        file_path = file_path if file_path is not None else finding.path
        line_number = line_number if line_number is not None else finding.line
        snippet = snippet if snippet is not None else finding.snippet
        confidence_before = finding.confidence if confidence is None else confidence
        metadata["base_confidence"] = finding.base_confidence if confidence is None else confidence
    else:
        pattern_id = finding_or_pattern_id
        if confidence is not None:
            metadata["base_confidence"] = confidence
    if snippet is not None:
        metadata["fingerprint"] = fingerprint_of(pattern_id, snippet)
    return await record_pattern_feedback(
        conn,
        pattern_id,
        feedback_type,
        confidence_before=confidence_before,
        note=note,
        user=user,
        metadata=metadata,
        file_path=file_path,
        line_number=line_number,
        snippet=snippet,
    )


def _review_from_row(row: Any) -> Review:
    metadata = row.metadata or {}
    base = metadata.get("base_confidence", row.confidence_before)
    fingerprint = metadata.get("fingerprint")
    if fingerprint is None and row.snippet:
        fingerprint = fingerprint_of(row.pattern_id, row.snippet)
    return Review(
        pattern_id=row.pattern_id,
        feedback_type=row.feedback_type,
        base_confidence=None if base is None else float(base),
        fingerprint=fingerprint,
    )


async def load_reviews(conn: AsyncConnection) -> list[Review]:
    """Every review in ``pattern_feedback_log``, oldest first."""
    log = pattern_feedback_log
    query = select(
        log.c.pattern_id, log.c.feedback_type, log.c.confidence_before, log.c.snippet, log.c.metadata
    ).order_by(log.c.id)
    return [_review_from_row(row) for row in await conn.execute(query)]


async def load_tuning(conn: AsyncConnection, *, min_corrected: int = MIN_CORRECTED_REVIEWS) -> Tuning:
    """The matcher's tuning learned from every review in ``pattern_feedback_log``.

    ``min_corrected``: how many more reviews a moved threshold must get right (see ``learn_threshold``).
    """
    return learn_tuning(await load_reviews(conn), min_corrected=min_corrected)


async def precision_report(conn: AsyncConnection, pattern_id: str | None = None) -> list[PatternPrecision]:
    """Precision, false-positive rate, recall, posterior and threshold per rule (every known rule when no id)."""
    analyses = await list_pattern_feedback_analysis(conn, pattern_id)
    tuning = await load_tuning(conn)
    known = RULE_IDS if pattern_id is None else (pattern_id,)
    return summarise_precision(analyses, tuning, known)
