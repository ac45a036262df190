"""Anomalous sessions and steps: IsolationForest on session and step features, with a readable reason.

The score is IsolationForest's own anomaly score ``s = 2 ** (-E[h(x)] / c(n))`` (Liu et al. 2008; scikit-learn's
``score_samples`` returns ``-s``), already in [0, 1]: near 1 the item is isolated in very few splits, around 0.5
and below it is ordinary, and 0.5 is the paper's (and scikit-learn's ``contamination="auto"``) threshold. The
reason names the features that lie furthest from the population in robust z-scores (distance from the median
in units of the scaled median absolute deviation), with the item's value beside the typical one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.ensemble import IsolationForest

from escai.analysis.behaviour.features import SESSION_FEATURES, STEP_FEATURES, model_value
from escai.analysis.behaviour.sequences import Step

ANOMALY_THRESHOLD = 0.5
"""Scores above this are called anomalous (the IsolationForest paper's cut-off)."""
MIN_ITEMS = 8
"""Fewer items than this are too few to say what is usual; nothing is scored."""
_MAD_SCALE = 1.4826  # makes the MAD estimate the standard deviation of a normal distribution


@dataclass(frozen=True, slots=True)
class UnusualFeature:
    """One feature that sets an item apart: its value, the population's median, and the robust z-score."""

    name: str
    description: str
    value: float
    typical: float
    z_score: float


@dataclass(frozen=True, slots=True)
class AnomalyScore:
    """How unusual one item (a session, or a step of a session) is, and why."""

    key: str
    """The session id, or ``session_id#position`` for a step."""
    score: float
    is_anomalous: bool
    unusual: tuple[UnusualFeature, ...]
    explanation: str


def _format(value: float) -> str:
    if abs(value - round(value)) < 1e-9 and abs(value) >= 1:
        return f"{value:.0f}"
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"


def robust_scales(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column median and robust spread (scaled MAD, else standard deviation, else 1)."""
    median = np.median(matrix, axis=0)
    spread = _MAD_SCALE * np.median(np.abs(matrix - median), axis=0)
    fallback = np.std(matrix, axis=0)
    spread = np.where(spread > 0, spread, np.where(fallback > 0, fallback, 1.0))
    return median, spread


def explain_row(
    raw: Mapping[str, float],
    names: Sequence[str],
    z_scores: np.ndarray,
    medians: Mapping[str, float],
    descriptions: Mapping[str, str],
    score: float,
    subject: str,
    top: int = 3,
) -> tuple[tuple[UnusualFeature, ...], str]:
    """The features furthest from typical (|z| >= 2, at most ``top``) and a sentence naming them."""
    order = np.argsort(-np.abs(z_scores))
    unusual = tuple(
        UnusualFeature(names[index], descriptions[names[index]], raw[names[index]], medians[names[index]], float(z))
        for index in order[:top]
        if abs(z := z_scores[index]) >= 2
    )
    verdict = "unusual" if score > ANOMALY_THRESHOLD else "ordinary"
    if not unusual:
        return unusual, f"This {subject} is {verdict} (score {score:.2f}); no single feature stands out."
    parts = [
        f"{feature.description} {_format(feature.value)} (typical {_format(feature.typical)})" for feature in unusual
    ]
    return unusual, f"This {subject} is {verdict} (score {score:.2f}): " + "; ".join(parts) + "."


def score_anomalies(
    keys: Sequence[str],
    rows: Sequence[Mapping[str, float]],
    descriptions: Mapping[str, str],
    *,
    subject: str,
    seed: int = 0,
) -> list[AnomalyScore]:
    """IsolationForest scores of ``rows`` (one feature dict per item), each with its most unusual features."""
    if len(rows) < MIN_ITEMS:
        return []
    names = [name for name in descriptions if name in rows[0]]
    raw = np.array([[row[name] for name in names] for row in rows], dtype=float)
    modelled = np.array([[model_value(name, row[name]) for name in names] for row in rows], dtype=float)
    forest = IsolationForest(n_estimators=200, random_state=seed, contamination="auto")
    forest.fit(modelled)
    scores = -forest.score_samples(modelled)
    median, spread = robust_scales(modelled)
    z_matrix = (modelled - median) / spread
    raw_medians = dict(zip(names, np.median(raw, axis=0).tolist(), strict=True))
    results = []
    for key, row, score, z_scores in zip(keys, rows, scores, z_matrix, strict=True):
        unusual, text = explain_row(row, names, z_scores, raw_medians, descriptions, float(score), subject)
        results.append(AnomalyScore(key, float(score), bool(score > ANOMALY_THRESHOLD), unusual, text))
    return results


def score_sessions(
    session_ids: Sequence[str], rows: Sequence[Mapping[str, float]], seed: int = 0
) -> list[AnomalyScore]:
    """Anomaly scores of whole sessions from their :func:`~escai.analysis.behaviour.features.session_features`."""
    return score_anomalies(session_ids, rows, SESSION_FEATURES, subject="session", seed=seed)


@dataclass(frozen=True, slots=True)
class StepAnomaly:
    """An unusual step of a session."""

    session_id: str
    position: int
    action: str
    detail: str
    event_ids: tuple[str, ...]
    score: float
    explanation: str


def score_steps(
    steps_by_session: Mapping[str, Sequence[Step]],
    rows_by_session: Mapping[str, Sequence[Mapping[str, float]]],
    *,
    per_session: int = 5,
    seed: int = 0,
) -> dict[str, list[StepAnomaly]]:
    """The ``per_session`` most unusual steps of each session, scored by one forest over all sessions' steps."""
    keys: list[tuple[str, int]] = []
    rows: list[Mapping[str, float]] = []
    for session_id, session_rows in rows_by_session.items():
        for position, row in enumerate(session_rows):
            keys.append((session_id, position))
            rows.append(row)
    scored = score_anomalies([f"{key[0]}#{key[1]}" for key in keys], rows, STEP_FEATURES, subject="step", seed=seed)
    found: dict[str, list[StepAnomaly]] = {session_id: [] for session_id in rows_by_session}
    for (session_id, position), result in zip(keys, scored, strict=True):
        step = steps_by_session[session_id][position]
        found[session_id].append(
            StepAnomaly(
                session_id, position, step.action, step.detail, step.event_ids, result.score, result.explanation
            )
        )
    for session_id, anomalies in found.items():
        found[session_id] = sorted(anomalies, key=lambda anomaly: -anomaly.score)[:per_session]
    return found
