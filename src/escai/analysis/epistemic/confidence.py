"""The agent's overall confidence and uncertainty at a step, from what it says and what its actions return.

Confidence blends four signals, each an exponential moving average so recent steps weigh most: the certainty of the
agent's own words (hedges and boosters), the success rate of its actions, the progress of the goals, and the
absence of repetition (an agent repeating an action is not converging). Belief contradictions and retractions pull
it down. Uncertainty is a different quantity: how unsettled the agent's beliefs are (their mean binary entropy),
how much it hedges, and how often its beliefs were contradicted; an agent can be confident and wrong, or
uncertain yet succeeding. Both are in [0, 1]. The weights are fixed and documented in docs/epistemic.md, which also
reports how the raw score separates successful from failed runs (AUROC) and its calibration (Brier score, before
and after a cross-fitted isotonic map); :mod:`escai.analysis.epistemic.calibration` applies a fitted map.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from escai.model.events import AgentEvent, EventStatus
from escai.model.semconv import PROCESS_EXIT_CODE

SMOOTHING = 0.3
"""Weight of the newest observation in each moving average."""
RECENT_ACTIONS = 6
# Head of an output that reports failure even when no status or exit code was recorded.
_FAILURE_HEAD_RE = re.compile(
    r"^\s*(?:<returncode>\s*[1-9]|exitcode:\s*[1-9]|traceback|error\b|\w*error:|exception|fatal|failed|"
    r"command not found|no such file)",
    re.IGNORECASE,
)


def action_failed(event: AgentEvent) -> bool:
    """Whether a tool result or observation reports a failure (status, exit code, or an error at its head)."""
    if event.status is EventStatus.ERROR:
        return True
    code = event.attributes.get(PROCESS_EXIT_CODE)
    if code is not None:
        try:
            return int(code) != 0
        except (TypeError, ValueError):
            return False
    return event.content is not None and _FAILURE_HEAD_RE.match(event.content[:200]) is not None


def _blend(previous: float, observation: float) -> float:
    return (1 - SMOOTHING) * previous + SMOOTHING * observation


@dataclass(slots=True)
class ConfidenceSignals:
    """Running signals of one agent in one session."""

    text_certainty: float = 0.6
    action_success: float = 0.7
    hedge_rate: float = 0.0
    conflict: float = 0.0
    repetition: float = 0.0
    recent_actions: list[str] = field(default_factory=list)
    steps: int = 0
    failures: int = 0
    revisions: int = 0
    all_revisions: int = 0

    def said(self, certainty: float, hedge_rate: float) -> None:
        """The agent said something with this certainty and hedging."""
        self.text_certainty = _blend(self.text_certainty, certainty)
        self.hedge_rate = _blend(self.hedge_rate, hedge_rate)
        self.steps += 1

    def acted(self, action_key: str) -> bool:
        """The agent started an action; returns whether it repeats one of its recent actions."""
        repeated = action_key in self.recent_actions
        self.steps += 1
        self.repetition = _blend(self.repetition, 1.0 if repeated else 0.0)
        self.recent_actions.append(action_key)
        del self.recent_actions[:-RECENT_ACTIONS]
        return repeated

    def action_returned(self, failed: bool) -> None:
        """An action of the agent returned."""
        self.action_success = _blend(self.action_success, 0.0 if failed else 1.0)
        self.failures += int(failed)

    def revised(self, contradictions: int, revisions: int = 0) -> None:
        """``revisions`` beliefs changed, ``contradictions`` of them contradicted or retracted (0: a calm step)."""
        self.conflict = _blend(self.conflict, min(1.0, contradictions / 2))
        self.revisions += contradictions
        self.all_revisions += revisions

    def confidence(self, goal_progress: float) -> float:
        """The agent's confidence now, in [0.02, 0.98]."""
        score = (
            0.35 * self.text_certainty
            + 0.35 * self.action_success
            + 0.15 * goal_progress
            + 0.15 * (1 - self.repetition)
            - 0.2 * self.conflict
        )
        return round(min(0.98, max(0.02, score)), 4)

    def uncertainty(self, belief_entropy: float) -> float:
        """The agent's uncertainty now, in [0, 1]."""
        score = 0.45 * belief_entropy + 0.35 * self.hedge_rate + 0.2 * self.conflict
        return round(min(1.0, max(0.0, score)), 4)

    def components(self, goal_progress: float, belief_entropy: float) -> dict[str, float]:
        """The named inputs of confidence and uncertainty, stored with each state (and used for calibration)."""
        return {
            "text_certainty": round(self.text_certainty, 4),
            "action_success": round(self.action_success, 4),
            "goal_progress": round(goal_progress, 4),
            "repetition": round(self.repetition, 4),
            "conflict": round(self.conflict, 4),
            "hedge_rate": round(self.hedge_rate, 4),
            "belief_entropy": round(belief_entropy, 4),
            "steps": float(self.steps),
            "failures": float(self.failures),
            "conflicting_revisions": float(self.revisions),
            "revisions": float(self.all_revisions),
        }
