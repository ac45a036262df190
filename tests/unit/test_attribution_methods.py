"""Failure attribution methods: a planted mistake is found, labels never reach a method, names do not matter."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from escai.analysis.causal.attribution import (
    BlamePropagation,
    CounterfactualScorer,
    ErrorCueScorer,
    FailureAttributor,
    LearnedRanker,
    SessionView,
    StepScore,
    attribute_failure,
    build_session_view,
    rank_agents,
)
from escai.ingest.importers.who_and_when import convert
from escai.model import semconv
from escai.model.events import AgentEvent

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
WHO_AND_WHEN = DATASETS / "who_and_when" / "Algorithm-Generated"
FILLER = (
    "Let us think about how to approach this task and what we need to check.",
    "Good idea. We should be careful and look at the question from every angle first.",
    "Agreed, we should proceed step by step and keep the constraints in mind.",
)


def planted_record(mistake_step: int, names: tuple[str, str, str], seed: int = 0) -> dict[str, Any]:
    """A failed run whose only concrete action, at ``mistake_step``, invents a value the final answer repeats."""
    rng = random.Random(seed)
    planner, worker, checker = names
    history: list[dict[str, str]] = [{"name": planner, "role": "assistant", "content": "Plan: find the figure."}]
    while len(history) < mistake_step:
        speaker = rng.choice((planner, checker))
        history.append({"name": speaker, "role": "user", "content": rng.choice(FILLER)})
    value = rng.randint(1000, 9999)
    history.append(
        {
            "name": worker,
            "role": "user",
            "content": f"Let's assume the figure is {value} for illustration purposes.\n"
            f"```python\nprint({value} * 2)\n```",
        }
    )
    history.append({"name": "Computer_terminal", "role": "user", "content": f"exitcode: 0\nCode output: {value * 2}"})
    history.append({"name": checker, "role": "user", "content": f"Verified, the answer is **{value * 2}**."})
    history.append({"name": planner, "role": "user", "content": "TERMINATE"})
    return {
        "question_ID": f"planted-{mistake_step}-{seed}",
        "question": "What is the figure, doubled?",
        "history": history,
        "mistake_agent": worker,
        "mistake_step": str(mistake_step),
    }


def planted_events(mistake_step: int, seed: int = 0) -> list[AgentEvent]:
    """Events of :func:`planted_record` with generic agent names."""
    return convert(planted_record(mistake_step, ("Alpha", "Beta", "Gamma"), seed), "item 0").events


@pytest.mark.parametrize("method", [ErrorCueScorer(), BlamePropagation(), CounterfactualScorer()], ids=lambda m: m.name)
@pytest.mark.parametrize("mistake_step", [1, 3, 4])
def test_label_free_method_ranks_the_planted_step_first(method: FailureAttributor, mistake_step: int) -> None:
    """Each label-free method puts the step that invented the answer's value at the top."""
    scores = method.score_steps(build_session_view(planted_events(mistake_step)))
    best = max(scores, key=lambda item: (item.score, -item.step_index))
    assert (best.step_index, best.agent_id) == (mistake_step, "Beta")


def test_attribute_failure_returns_ranked_candidates_with_evidence() -> None:
    """The fused attribution ranks the planted step first, confidences sum to 1 and evidence ids exist."""
    events = planted_events(3)
    attribution = attribute_failure(events)
    top = attribution.candidates[0]
    assert (top.agent_id, top.step_index) == ("Beta", 3)
    assert sum(candidate.confidence for candidate in attribution.candidates) == pytest.approx(1.0)
    known = {event.id for event in events}
    assert top.evidence_event_ids and set(top.evidence_event_ids) <= known
    assert top.reason
    assert rank_agents(attribution.candidates)[0][0] == "Beta"
    assert attribution.method == "combined(cues+blame+counterfactual)"


class _SpyMethod:
    """A method that records every event attribute it could read."""

    name = "spy"

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []

    def score_steps(self, view: SessionView) -> list[StepScore]:
        """Record the view's events and score every candidate the same."""
        self.seen.extend(event.attributes for event in view.events)
        return [StepScore(turn.step_index, turn.agent_id, 1.0) for turn in view.candidates]


def test_labels_cannot_reach_a_method() -> None:
    """The imported labels ride on session_start, yet a method's view of the events has none of them."""
    events = planted_events(2)
    assert any(semconv.ESCAI_ANNOTATIONS in event.attributes for event in events)
    spy = _SpyMethod()
    attribute_failure(events, methods=[spy])
    assert spy.seen
    text = json.dumps(spy.seen, default=str)
    assert semconv.ESCAI_ANNOTATIONS not in text and "mistake_step" not in text and "Beta" not in text


def test_changing_the_labels_does_not_change_the_attribution() -> None:
    """Runs that differ only in their labels get the same attribution."""
    record = planted_record(3, ("Alpha", "Beta", "Gamma"))
    other = {**record, "mistake_agent": "Alpha", "mistake_step": "0", "mistake_reason": "anything"}
    first = attribute_failure(convert(record, "item 0").events).candidates
    second = attribute_failure(convert(other, "item 0").events).candidates

    # Event ids derive from a digest of the whole record, labels included, so compare everything else.
    def summary(candidates: list[Any]) -> list[tuple[str, int, float, str]]:
        return [(item.agent_id, item.step_index, item.confidence, item.reason) for item in candidates]

    assert summary(first) == summary(second)


def test_learned_ranker_trained_on_planted_runs_finds_a_new_planted_step() -> None:
    """A ranker fitted on planted runs puts a held-out run's planted step first."""
    training = [build_session_view(planted_events(step, seed)) for step in (1, 2, 3, 4) for seed in range(3)]
    steps = [step for step in (1, 2, 3, 4) for _ in range(3)]
    ranker = LearnedRanker.train(training, steps)
    scores = ranker.score_steps(build_session_view(planted_events(5, seed=99)))
    assert max(scores, key=lambda item: item.score).step_index == 5
    assert sum(item.score for item in scores) == pytest.approx(1.0)


def test_learned_ranker_refuses_training_without_a_labelled_candidate() -> None:
    """Training on labels that point at no candidate turn is an error, not a silent constant model."""
    with pytest.raises(ValueError, match="candidate"):
        LearnedRanker.train([build_session_view(planted_events(2))], [99])


@pytest.mark.skipif(not WHO_AND_WHEN.is_dir(), reason="Who&When logs not found in ../shared/datasets")
def test_renaming_agents_changes_nothing_on_real_logs() -> None:
    """On real Who&When logs, renaming every agent gives the same steps and the renamed agents."""
    for path in sorted(WHO_AND_WHEN.glob("*.json"))[:12]:
        record = json.loads(path.read_text())
        names = sorted({entry.get("name") for entry in record["history"]} - {None, "Computer_terminal"})
        mapping = {name: f"Agent{index}" for index, name in enumerate(names)}
        renamed = {
            **record,
            "history": [
                {**entry, "name": mapping.get(entry.get("name"), entry.get("name"))} for entry in record["history"]
            ],
            "system_prompt": {},
        }
        original = attribute_failure(convert({**record, "system_prompt": {}}, "a").events).candidates
        changed = attribute_failure(convert(renamed, "b").events).candidates
        assert [item.step_index for item in original] == [item.step_index for item in changed]
        assert [mapping[item.agent_id] for item in original] == [item.agent_id for item in changed]
