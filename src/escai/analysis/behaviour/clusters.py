"""Behaviour clusters: KMeans on standardised session features, with k chosen by the silhouette score.

k runs over a range (2 to 8 by default, at most a third of the sessions) and the k with the highest mean silhouette
is kept; ties go to the smaller k. Each cluster is described by the features whose centroid lies furthest from
the overall mean (in standard deviations), its outcome rate, and its characteristic patterns: the mined patterns
whose share of sessions inside the cluster exceeds their share outside by the most.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

from escai.analysis.behaviour.features import SESSION_FEATURES, model_value
from escai.analysis.behaviour.significance import PatternStatistics

DEFAULT_K_RANGE = (2, 8)


@dataclass(frozen=True, slots=True)
class CharacteristicPattern:
    """A pattern much more common inside a cluster than outside it."""

    items: tuple[str, ...]
    share_inside: float
    share_outside: float


@dataclass(frozen=True, slots=True)
class BehaviourCluster:
    """A group of sessions that behave alike."""

    label: int
    session_ids: tuple[str, ...]
    success_rate: float | None
    """Share of its labelled sessions that succeeded (None when none is labelled)."""
    centroid: dict[str, float]
    """Mean of each session feature over the cluster (in the features' own units)."""
    distinctive: tuple[tuple[str, float], ...]
    """(feature, centroid z-score against all sessions) for the features that set the cluster apart."""
    patterns: tuple[CharacteristicPattern, ...]
    description: str

    @property
    def size(self) -> int:
        """Sessions in the cluster."""
        return len(self.session_ids)


@dataclass(frozen=True, slots=True)
class Clustering:
    """The chosen clustering and the criterion values that chose it."""

    k: int
    silhouette: float
    silhouettes: dict[int, float]
    """Mean silhouette for each k tried."""
    clusters: tuple[BehaviourCluster, ...]
    labels: tuple[int, ...]
    """The cluster of each session, in input order."""


def choose_k(matrix: np.ndarray, k_range: tuple[int, int], seed: int) -> tuple[int, dict[int, float], np.ndarray]:
    """The k in ``k_range`` (inclusive) with the best mean silhouette, every k's silhouette, and its labels."""
    # At least three sessions per cluster on average: a smaller group is an anomaly, not a behaviour.
    largest = min(k_range[1], len(matrix) - 1, max(2, len(matrix) // 3))
    silhouettes: dict[int, float] = {}
    best: tuple[float, int, np.ndarray] | None = None
    for k in range(max(2, k_range[0]), largest + 1):
        labels = KMeans(n_clusters=k, n_init=4, random_state=seed).fit_predict(matrix)
        if len(set(labels.tolist())) < 2:
            continue
        silhouettes[k] = float(silhouette_score(matrix, labels))
        if best is None or silhouettes[k] > best[0] + 1e-12:
            best = (silhouettes[k], k, labels)
    if best is None:
        return 1, silhouettes, np.zeros(len(matrix), dtype=int)
    return best[1], silhouettes, best[2]


def _characteristic(
    members: set[int], population: int, patterns: Sequence[PatternStatistics], top: int
) -> tuple[CharacteristicPattern, ...]:
    outside = population - len(members)
    scored = []
    for pattern in patterns:
        inside_share = len(pattern.sequence_ids & members) / len(members)
        outside_share = len(pattern.sequence_ids - members) / outside if outside else 0.0
        if inside_share > outside_share:
            scored.append(
                (inside_share - outside_share, CharacteristicPattern(pattern.items, inside_share, outside_share))
            )
    scored.sort(key=lambda pair: (-pair[0], pair[1].items))
    return tuple(pattern for _, pattern in scored[:top])


def _describe(
    cluster_label: int, size: int, success_rate: float | None, distinctive: Sequence[tuple[str, float]]
) -> str:
    outcome = "" if success_rate is None else f", {success_rate:.0%} successful"
    if not distinctive:
        return f"Cluster {cluster_label} ({size} sessions{outcome}): close to the average session."
    traits = "; ".join(
        f"{SESSION_FEATURES[name]} {'above' if z > 0 else 'below'} average ({z:+.1f} sd)" for name, z in distinctive
    )
    return f"Cluster {cluster_label} ({size} sessions{outcome}): {traits}."


def cluster_sessions(
    session_ids: Sequence[str],
    rows: Sequence[Mapping[str, float]],
    outcomes: Sequence[bool | None],
    patterns: Sequence[PatternStatistics] = (),
    *,
    k_range: tuple[int, int] = DEFAULT_K_RANGE,
    seed: int = 0,
    top_patterns: int = 3,
) -> Clustering | None:
    """KMeans clusters of sessions with k chosen by silhouette; None with fewer than four sessions."""
    if len(rows) < 4:
        return None
    names = [name for name in SESSION_FEATURES if name in rows[0]]
    raw = np.array([[row[name] for name in names] for row in rows], dtype=float)
    modelled = np.array([[model_value(name, row[name]) for name in names] for row in rows], dtype=float)
    scaled = StandardScaler().fit_transform(modelled)
    k, silhouettes, labels = choose_k(scaled, k_range, seed)
    clusters = []
    for cluster_label in range(k):
        members = {index for index, label in enumerate(labels.tolist()) if label == cluster_label}
        if not members:
            continue
        known = [outcomes[index] for index in members if outcomes[index] is not None]
        success_rate = sum(bool(outcome) for outcome in known) / len(known) if known else None
        centre = scaled[sorted(members)].mean(axis=0)
        order = np.argsort(-np.abs(centre))
        distinctive = tuple((names[index], float(centre[index])) for index in order[:3] if abs(centre[index]) >= 0.5)
        clusters.append(
            BehaviourCluster(
                label=cluster_label,
                session_ids=tuple(session_ids[index] for index in sorted(members)),
                success_rate=success_rate,
                centroid=dict(zip(names, raw[sorted(members)].mean(axis=0).tolist(), strict=True)),
                distinctive=distinctive,
                patterns=_characteristic(members, len(rows), patterns, top_patterns),
                description=_describe(cluster_label, len(members), success_rate, distinctive),
            )
        )
    return Clustering(k, silhouettes.get(k, 0.0), silhouettes, tuple(clusters), tuple(labels.tolist()))
