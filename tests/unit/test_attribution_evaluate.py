"""Evaluation of attribution: metrics, exact random baseline, cross-fitting that never trains on a run it scores."""

from __future__ import annotations

from typing import Any

import pytest
from test_attribution_methods import planted_record

from escai.analysis.causal.attribution import LearnedRanker, SessionView
from escai.analysis.causal.attribution import evaluate as evaluation
from escai.analysis.causal.attribution.evaluate import (
    Guess,
    LabelledRun,
    assign_folds,
    collect_labelled_runs,
    evaluate_attribution,
    expected_random_accuracy,
    score_guesses,
)
from escai.analysis.causal.attribution.view import build_session_view
from escai.ingest.importers import SkippedRecord
from escai.ingest.importers.who_and_when import convert


def _runs(count: int) -> list[LabelledRun]:
    items = [
        convert(planted_record(1 + index % 4, ("Alpha", "Beta", "Gamma"), index), f"item {index}")
        for index in range(count)
    ]
    runs, unlabelled = collect_labelled_runs(items)
    assert unlabelled == 0
    return runs


def test_score_guesses_counts_agent_exact_and_window_hits() -> None:
    """Agent, exact step and the +-1 / +-3 windows are counted separately."""
    runs = _runs(2)
    guesses = [Guess(runs[0].mistake_agent, runs[0].mistake_step + 1), Guess("nobody", runs[1].mistake_step + 3)]
    accuracy = score_guesses(runs, guesses)
    assert (accuracy.agent_accuracy, accuracy.step_accuracy) == (0.5, 0.0)
    assert (accuracy.step_within_1, accuracy.step_within_3) == (0.5, 1.0)


def test_random_baseline_is_the_exact_expectation() -> None:
    """The random baseline is the share of candidate turns that would be right, averaged over runs."""
    runs = _runs(1)
    view = build_session_view(runs[0].events)
    accuracy = expected_random_accuracy(runs, [view])
    assert accuracy.step_accuracy == pytest.approx(1 / len(view.candidates))
    owned = sum(turn.agent_id == runs[0].mistake_agent for turn in view.candidates)
    assert accuracy.agent_accuracy == pytest.approx(owned / len(view.candidates))


def test_unlabelled_and_skipped_items_are_counted_not_scored() -> None:
    """A run without labels and a skipped record are left out and counted."""
    record = planted_record(2, ("Alpha", "Beta", "Gamma"))
    unlabelled = convert({key: value for key, value in record.items() if key != "mistake_step"}, "a")
    runs, left_out = collect_labelled_runs([unlabelled, SkippedRecord("b", "broken"), convert(record, "c")])
    assert (len(runs), left_out) == (1, 2)


def test_folds_partition_the_runs() -> None:
    """Every run is in exactly one fold."""
    folds = assign_folds(23, 5, seed=3)
    assert sorted(index for fold in folds for index in fold) == list(range(23))
    assert len(folds) == 5


def test_cross_fitting_never_trains_on_the_runs_it_predicts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each fold's ranker is trained without that fold's sessions, and the report has every method."""
    runs = _runs(12)
    trained_on: list[set[str]] = []
    original = LearnedRanker.train.__func__  # type: ignore[attr-defined]

    def spying_train(cls: type[LearnedRanker], views: list[SessionView], steps: list[int], **options: Any) -> Any:
        trained_on.append({view.session_id for view in views})
        return original(cls, views, steps, **options)

    monkeypatch.setattr(evaluation.LearnedRanker, "train", classmethod(spying_train))
    report = evaluate_attribution(runs, folds=4, seed=1)
    folds = assign_folds(len(runs), 4, seed=1)
    assert len(trained_on) == 4
    for fold, training in zip(folds, trained_on, strict=True):
        assert training.isdisjoint({runs[index].session_id for index in fold})
    assert set(report.methods) == {"cues", "blame", "counterfactual", "combined_label_free", "learned", "combined"}
    assert report.headline == "combined"
    assert report.methods["combined"].step_accuracy == 1.0
    assert report.baselines["always_first_step"].step_accuracy == 0.0
