"""A scored classifier that chooses a node's ONEX kind from its requirement text, and shows why.

Features are the verbs and nouns of the node's prose (and a few phrases), each with a weight toward one kind:
effect (external I/O: fetch, send, write, store, API, database, file, webhook ...), compute (pure
transformation: compute, calculate, transform, score, parse, average ...), reducer (aggregation over time:
aggregate, accumulate, running total, over time, replay ...), orchestrator (a workflow over other nodes:
coordinate, orchestrate, pipeline of steps, first ... then, or naming other nodes of the same PRD). A few
structural features come from the declared fields (a URL in the config suggests I/O). Raw scores are normalised
to sum to 1; when the best two are within :data:`AMBIGUITY_MARGIN`, or there is no evidence at all, the
decision is marked ambiguous so the spec reports it instead of silently guessing. An explicit ``kind`` in the PRD
overrides the classifier (its scores are still shown).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from escai.nodes import NodeKind

__all__ = ["AMBIGUITY_MARGIN", "KindDecision", "classify_kind"]

AMBIGUITY_MARGIN: Final = 0.15
"""Normalised scores closer than this between the best two kinds make the decision ambiguous."""


@dataclass(frozen=True, slots=True)
class _Cue:
    """One feature: a regular expression over the lowercased text and its weight toward a kind."""

    pattern: str
    kind: NodeKind
    weight: float
    label: str


def _cues(kind: NodeKind, weight: float, *stems: str) -> list[_Cue]:
    # A stem matches at a word start so "calculat" matches calculate/calculates/calculation but "recall" does not.
    return [
        _Cue(rf"\b{stem}", kind, weight, stem.replace("\\b", "").replace("\\s+", " ").replace(".*", " … "))
        for stem in stems
    ]


_EFFECT, _COMPUTE, _REDUCER, _ORCHESTRATOR = NodeKind.EFFECT, NodeKind.COMPUTE, NodeKind.REDUCER, NodeKind.ORCHESTRATOR

_CUES: Final[tuple[_Cue, ...]] = (
    *_cues(_EFFECT, 2.0, "fetch", "send", "post\\b", "upload", "download", "webhook", "notif", "publish", "email"),
    *_cues(_EFFECT, 2.0, "persist", "insert", "delete", "write", "store\\b", "stores\\b", "save"),
    *_cues(_EFFECT, 1.5, "api\\b", "database", "http", "url\\b", "external", "endpoint", "file\\b", "files\\b"),
    *_cues(_EFFECT, 1.5, r"call(?:s|ing)?\s+(?:the\s+|an?\s+)?(?:external|remote|http|api|service|endpoint)"),
    *_cues(_EFFECT, 0.5, "call\\b", "calls\\b", "request"),
    *_cues(_COMPUTE, 2.0, "comput", "calculat", "transform", "scor", "pars", "deriv", "convert", "classif"),
    *_cues(_COMPUTE, 1.5, "averag", "mean\\b", "ratio", "sum\\s+of", "maximum", "minimum", "filter", "pure\\b"),
    *_cues(_COMPUTE, 1.0, "count\\b", "counts\\b", "return", "map\\b", "extract", "normalis", "normaliz"),
    *_cues(_REDUCER, 2.5, "aggregat", "accumulat", "running\\s+total", "over\\s+time", "roll[- ]?up"),
    *_cues(_REDUCER, 1.5, "running\\b", "total\\b", "replay", "state\\b", "cumulative", "tally", "per\\s+agent"),
    *_cues(_ORCHESTRATOR, 2.5, "orchestrat", "coordinat", "workflow", "pipeline\\s+of\\s+steps", "compensat"),
    *_cues(_ORCHESTRATOR, 1.5, "pipeline", "steps\\b", "first\\b.*\\bthen\\b", "saga", "sequence\\s+of"),
    *_cues(_ORCHESTRATOR, 0.5, "then\\b"),
)
_OTHER_NODE_WEIGHT: Final = 2.0
_URL_CONFIG_WEIGHT: Final = 1.5


class KindDecision(BaseModel):
    """The classifier's normalised score per kind, its choice, the reasons for it, and whether it was close."""

    model_config = ConfigDict(frozen=True)

    scores: dict[str, float]
    chosen: NodeKind
    reasons: list[str] = Field(default_factory=list)
    ambiguous: bool = False
    explicit: bool = False
    """True when the PRD chose the kind itself (front matter or a ``Kind:`` line)."""


def classify_kind(
    text: str,
    *,
    explicit_kind: NodeKind | None = None,
    other_node_names: Iterable[str] = (),
    config_field_names: Sequence[str] = (),
) -> KindDecision:
    """Score ``text`` toward each node kind and decide, with the top reasons; an explicit kind wins.

    ``other_node_names`` are the PRD's other nodes (a node that names them coordinates them);
    ``config_field_names`` are the node's config fields (a ``url`` or ``endpoint`` suggests external I/O).
    """
    lowered = text.lower()
    raw: dict[NodeKind, float] = dict.fromkeys(NodeKind, 0.0)
    evidence: list[tuple[float, NodeKind, str]] = []
    for cue in _CUES:
        hits = len(re.findall(cue.pattern, lowered))
        if hits:
            # Repeats count, but with diminishing weight so one verb said three times cannot drown the rest.
            contribution = cue.weight * (1 + 0.25 * (min(hits, 3) - 1))
            raw[cue.kind] += contribution
            evidence.append((contribution, cue.kind, f'"{cue.label}"'))
    for name in other_node_names:
        if name and re.search(rf"\b{re.escape(name.lower())}\b", lowered):
            raw[NodeKind.ORCHESTRATOR] += _OTHER_NODE_WEIGHT
            evidence.append((_OTHER_NODE_WEIGHT, NodeKind.ORCHESTRATOR, f"names node {name}"))
    for field_name in config_field_names:
        if re.search(r"url|endpoint|host|path|dsn", field_name.lower()):
            raw[NodeKind.EFFECT] += _URL_CONFIG_WEIGHT
            evidence.append((_URL_CONFIG_WEIGHT, NodeKind.EFFECT, f"config field {field_name}"))
    total = sum(raw.values())
    scores = {str(kind): round(value / total, 4) if total else 0.25 for kind, value in raw.items()}
    ranked = sorted(NodeKind, key=lambda kind: (-raw[kind], list(NodeKind).index(kind)))
    best, runner_up = ranked[0], ranked[1]
    margin = scores[str(best)] - scores[str(runner_up)]
    reasons = [
        f"{label} → {kind} (+{weight:g})"
        for weight, kind, label in sorted(evidence, key=lambda item: -item[0])
        if kind == best
    ][:4]
    ambiguous = total == 0 or margin < AMBIGUITY_MARGIN
    if total == 0:
        reasons = ["no kind evidence in the text; compute (a pure node) is the safest default"]
        best = NodeKind.COMPUTE
    elif ambiguous:
        reasons.append(f"close call: {best} {scores[str(best)]:.2f} vs {runner_up} {scores[str(runner_up)]:.2f}")
    if explicit_kind is not None:
        return KindDecision(
            scores=scores,
            chosen=explicit_kind,
            reasons=[f"explicit kind {explicit_kind} in the PRD", *reasons[:2]],
            ambiguous=False,
            explicit=True,
        )
    return KindDecision(scores=scores, chosen=best, reasons=reasons, ambiguous=ambiguous)
