"""Local error cues: how much a turn, read on its own, looks like the decisive mistake.

A failed multi-agent run usually goes wrong at the first turn that *does* something concrete (runs code, states
values nobody had stated) on a shaky basis, and the rest of the run builds on it: later turns verify, restate or
polish. So a turn scores for being a concrete action, more so when it rests on an assumption, invented or
"example" data, or knowledge stated from memory, or when its code failed; and the score decays with the turn's
position, since an earlier concrete mistake explains more of what follows. Weights are few, round and set by
hand (documented in ``docs/attribution.md``), not fitted to labels.
"""

from __future__ import annotations

from escai.analysis.causal.attribution.base import StepScore
from escai.analysis.causal.attribution.features import FEATURE_NAMES, extract_features
from escai.analysis.causal.attribution.view import SessionView

WEIGHTS: dict[str, float] = {
    "concrete_action": 1.0,
    "unsupported_basis": 0.5,
    "code_failed": 0.25,
    "closing_turn": -0.5,
}
"""Hand-set weights of the cue groups (see the module docstring)."""
POSITION_DECAY = 0.5
"""The score of the last turn is multiplied by ``1 - POSITION_DECAY``, of the first by 1, linearly between."""

_COLUMN = {name: index for index, name in enumerate(FEATURE_NAMES)}


class ErrorCueScorer:
    """Scores turns by local error cues (concrete action, unsupported basis, failed code), earlier turns first."""

    name = "cues"

    def score_steps(self, view: SessionView) -> list[StepScore]:
        """One score per candidate turn; the reason names the cues that fired."""
        features = extract_features(view)
        scores = []
        for turn, row in zip(view.candidates, features, strict=True):
            cues = {
                "concrete_action": float(row[_COLUMN["has_code"]] > 0 or row[_COLUMN["new_values"]] > 0),
                "unsupported_basis": min(
                    1.0, row[_COLUMN["cue_assume"]] + row[_COLUMN["cue_invented"]] + row[_COLUMN["cue_manual"]]
                ),
                "code_failed": row[_COLUMN["code_failed"]],
                "closing_turn": float(row[_COLUMN["is_last_candidate"]] > 0 or row[_COLUMN["cue_terminate"]] > 0),
            }
            local = sum(WEIGHTS[name] * value for name, value in cues.items())
            decay = 1.0 - POSITION_DECAY * row[_COLUMN["relative_position"]]
            fired = [name.replace("_", " ") for name, value in cues.items() if value > 0 and WEIGHTS[name] > 0]
            scores.append(
                StepScore(
                    step_index=turn.step_index,
                    agent_id=turn.agent_id,
                    score=local * decay,
                    evidence_event_ids=turn.event_ids,
                    reason="local cues: " + (", ".join(fired) if fired else "none"),
                    details=cues,
                )
            )
        return scores
