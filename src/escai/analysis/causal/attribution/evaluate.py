"""Evaluation of failure attribution against labelled logs (Who&When style), beside trivial baselines.

Labels are read from the imported runs' annotations and used only for scoring and, with cross-fitting, for
training: runs are split into ``folds`` folds (shuffled with ``seed``); the learned ranker and the majority-agent
prior that predict one fold are fitted on the other folds' labels only. Methods receive a
:class:`~escai.analysis.causal.attribution.view.SessionView` built from events with every ground-truth attribute
stripped. A method's agent is the agent whose turns hold the most of its confidence (:func:`rank_agents`); its
step is its top-ranked turn.

Baselines, on the same runs: ``majority_agent`` (the agent most often labelled in the other folds when it speaks in
the run, else the run's most frequent speaker; its first turn), ``first_turn_of_most_frequent_agent``,
``always_step_1`` (0-based step 1 and who spoke it), ``always_first_step`` (step 0) and ``random`` (the expected
accuracy of a uniformly random candidate turn, computed exactly rather than sampled).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from escai.analysis.causal.attribution import (
    LearnedRanker,
    combined_method_name,
    label_free_methods,
    rank_agents,
    score_methods,
    to_attribution,
)
from escai.analysis.causal.attribution.base import StepScore
from escai.analysis.causal.attribution.combine import fuse_rankings
from escai.analysis.causal.attribution.view import SessionView, build_session_view
from escai.ingest.importers import ImportedRun, ImportItem
from escai.model.events import AgentEvent

LABEL_FREE = "combined_label_free"
COMBINED = "combined"
LEARNED = "learned"
DEFAULT_FOLDS = 5


@dataclass(frozen=True, slots=True)
class LabelledRun:
    """A failed run's events and its labels, kept apart so only the events reach the methods."""

    session_id: str
    events: tuple[AgentEvent, ...]
    mistake_agent: str
    mistake_step: int


def collect_labelled_runs(items: Iterable[ImportItem]) -> tuple[list[LabelledRun], int]:
    """Runs with a ``mistake_agent`` and a ``mistake_step`` label, and how many items had none (or were skipped)."""
    runs: list[LabelledRun] = []
    unlabelled = 0
    for item in items:
        labels = item.annotations.get("labels", {}) if isinstance(item, ImportedRun) else {}
        agent, step = labels.get("mistake_agent"), labels.get("mistake_step")
        if not isinstance(item, ImportedRun) or not isinstance(agent, str) or not isinstance(step, int):
            unlabelled += 1
            continue
        runs.append(LabelledRun(item.session_id, tuple(item.events), agent, step))
    return runs, unlabelled


@dataclass(frozen=True, slots=True)
class Guess:
    """One prediction for one run: the blamed agent and step."""

    agent_id: str
    step_index: int


@dataclass(frozen=True, slots=True)
class Accuracy:
    """Accuracy figures of one method or baseline over ``n`` runs (fractions in [0, 1])."""

    n: int
    agent_accuracy: float
    step_accuracy: float
    step_within_1: float
    step_within_3: float

    def as_dict(self) -> dict[str, float | int]:
        """The figures as a JSON-ready mapping (rounded to four decimals)."""
        return {
            "n": self.n,
            "agent_accuracy": round(self.agent_accuracy, 4),
            "step_accuracy": round(self.step_accuracy, 4),
            "step_within_1": round(self.step_within_1, 4),
            "step_within_3": round(self.step_within_3, 4),
        }


def score_guesses(runs: Sequence[LabelledRun], guesses: Sequence[Guess]) -> Accuracy:
    """Accuracy of one guess per run."""
    count = len(runs) or 1
    pairs = list(zip(runs, guesses, strict=True))
    return Accuracy(
        n=len(runs),
        agent_accuracy=sum(guess.agent_id == run.mistake_agent for run, guess in pairs) / count,
        step_accuracy=sum(guess.step_index == run.mistake_step for run, guess in pairs) / count,
        step_within_1=sum(abs(guess.step_index - run.mistake_step) <= 1 for run, guess in pairs) / count,
        step_within_3=sum(abs(guess.step_index - run.mistake_step) <= 3 for run, guess in pairs) / count,
    )


def expected_random_accuracy(runs: Sequence[LabelledRun], views: Sequence[SessionView]) -> Accuracy:
    """Exact expected accuracy of picking one candidate turn uniformly at random in each run."""
    totals = np.zeros(4)
    for run, view in zip(runs, views, strict=True):
        turns = view.candidates or view.turns
        if not turns:
            continue
        totals += np.array(
            [
                sum(turn.agent_id == run.mistake_agent for turn in turns),
                sum(turn.step_index == run.mistake_step for turn in turns),
                sum(abs(turn.step_index - run.mistake_step) <= 1 for turn in turns),
                sum(abs(turn.step_index - run.mistake_step) <= 3 for turn in turns),
            ]
        ) / len(turns)
    count = len(runs) or 1
    agent, step, within_1, within_3 = (float(value) / count for value in totals)
    return Accuracy(len(runs), agent, step, within_1, within_3)


def guess_from_scores(scores: Sequence[StepScore], view: SessionView) -> Guess:
    """A method's guess: its top turn, and the agent holding the most of its confidence."""
    if not scores:
        first = (view.candidates or view.turns)[0]
        return Guess(first.agent_id, first.step_index)
    attribution = to_attribution(view.session_id, "", scores)
    return Guess(rank_agents(attribution.candidates)[0][0], attribution.candidates[0].step_index)


def _first_turn_of(view: SessionView, agent: str) -> Guess:
    turn = next((turn for turn in view.candidates if turn.agent_id == agent), (view.candidates or view.turns)[0])
    return Guess(agent, turn.step_index)


def _most_frequent_speaker(view: SessionView) -> str:
    counts = Counter(turn.agent_id for turn in view.candidates or view.turns)
    first_turn = {turn.agent_id: turn.step_index for turn in reversed(view.candidates or view.turns)}
    return max(counts, key=lambda agent: (counts[agent], -first_turn[agent]))


def _step_guess(view: SessionView, step: int) -> Guess:
    turn = view.turn_at(step) or (view.turns[-1] if view.turns else None)
    return Guess(turn.agent_id, turn.step_index) if turn is not None else Guess("", step)


def assign_folds(count: int, folds: int, seed: int) -> list[list[int]]:
    """Run indices split into ``folds`` shuffled folds (fewer when there are fewer runs)."""
    order = np.random.default_rng(seed).permutation(count)
    return [part.tolist() for part in np.array_split(order, max(1, min(folds, count))) if len(part)]


@dataclass
class EvaluationReport:
    """Figures of every method and baseline; ``headline`` names the method the top-level figures are of."""

    headline: str
    methods: dict[str, Accuracy]
    baselines: dict[str, Accuracy]
    folds: int
    seed: int
    unlabelled: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The JSON object of ``escai eval attribution --json``."""
        top = self.methods[self.headline].as_dict()
        return {
            **top,
            "headline_method": self.headline,
            "baselines": {name: value.as_dict() for name, value in self.baselines.items()},
            "methods": {name: value.as_dict() for name, value in self.methods.items()},
            "cross_fitting": {"folds": self.folds, "seed": self.seed},
            "unlabelled_runs": self.unlabelled,
            "notes": self.notes,
        }


def _baselines(
    runs: Sequence[LabelledRun], views: Sequence[SessionView], folds: list[list[int]]
) -> dict[str, Accuracy]:
    majority: list[Guess | None] = [None] * len(runs)
    for fold in folds:
        held_out = set(fold)
        prior = Counter(run.mistake_agent for index, run in enumerate(runs) if index not in held_out)
        for index in fold:
            speakers = {turn.agent_id for turn in views[index].turns}
            present = [agent for agent, _ in prior.most_common() if agent in speakers]
            agent = present[0] if present else _most_frequent_speaker(views[index])
            majority[index] = _first_turn_of(views[index], agent)
    return {
        "majority_agent": score_guesses(runs, [guess for guess in majority if guess is not None]),
        "first_turn_of_most_frequent_agent": score_guesses(
            runs, [_first_turn_of(view, _most_frequent_speaker(view)) for view in views]
        ),
        "always_step_1": score_guesses(runs, [_step_guess(view, 1) for view in views]),
        "always_first_step": score_guesses(runs, [_step_guess(view, 0) for view in views]),
        "random": expected_random_accuracy(runs, views),
    }


def evaluate_attribution(runs: Sequence[LabelledRun], *, folds: int = DEFAULT_FOLDS, seed: int = 0) -> EvaluationReport:
    """Run every method on every run (labels withheld) and score them, beside the baselines."""
    views = [build_session_view(run.events) for run in runs]
    methods = label_free_methods()
    scores = [score_methods(view, methods) for view in views]
    partition = assign_folds(len(runs), folds, seed)
    guesses: dict[str, list[Guess]] = {method.name: [] for method in methods}
    guesses[LABEL_FREE] = []
    for view, per_method in zip(views, scores, strict=True):
        for method in methods:
            guesses[method.name].append(guess_from_scores(per_method[method.name], view))
        guesses[LABEL_FREE].append(guess_from_scores(fuse_rankings(per_method), view))
    notes = [f"{LABEL_FREE} = {combined_method_name([method.name for method in methods])}"]
    learned = _cross_fit(runs, views, scores, partition, notes)
    if learned is not None:
        guesses[LEARNED], guesses[COMBINED] = learned
    report_methods = {name: score_guesses(runs, values) for name, values in guesses.items()}
    return EvaluationReport(
        headline=COMBINED if COMBINED in report_methods else LABEL_FREE,
        methods=report_methods,
        baselines=_baselines(runs, views, partition),
        folds=len(partition),
        seed=seed,
        notes=notes,
    )


def _cross_fit(
    runs: Sequence[LabelledRun],
    views: Sequence[SessionView],
    scores: Sequence[dict[str, list[StepScore]]],
    partition: list[list[int]],
    notes: list[str],
) -> tuple[list[Guess], list[Guess]] | None:
    """Guesses of the learned ranker and of the fusion with it, each fold predicted by a model of the others."""
    if len(partition) < 2:
        notes.append("learned ranker skipped: cross-fitting needs at least two runs")
        return None
    learned: dict[int, Guess] = {}
    combined: dict[int, Guess] = {}
    for fold in partition:
        held_out = set(fold)
        training = [index for index in range(len(runs)) if index not in held_out]
        try:
            ranker = LearnedRanker.train(
                [views[index] for index in training], [runs[index].mistake_step for index in training]
            )
        except ValueError as error:
            notes.append(f"learned ranker skipped: {error}")
            return None
        for index in fold:
            ranked = ranker.score_steps(views[index])
            learned[index] = guess_from_scores(ranked, views[index])
            combined[index] = guess_from_scores(fuse_rankings({**scores[index], LEARNED: ranked}), views[index])
    notes.append(
        f"{LEARNED} and {COMBINED} are cross-fitted over {len(partition)} folds; "
        f"{COMBINED} = {combined_method_name([*scores[0], LEARNED]) if scores else COMBINED}"
    )
    order = range(len(runs))
    return [learned[index] for index in order], [combined[index] for index in order]
