"""Models of the performance predictor: grouped folds, calibration, the classifiers and drift detection."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from escai.analysis.predict.calibration import Calibrator
from escai.analysis.predict.cv import grouped_folds
from escai.analysis.predict.drift import (
    PSI_SIGNIFICANT,
    DriftReference,
    RetrainingPolicy,
    check_drift,
    population_stability,
)
from escai.analysis.predict.models import BoostingModel, LogisticModel, SuccessClassifier


def synthetic(rows: int = 300, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Rows whose first feature drives success, four noise features, and three rows per group."""
    generator = np.random.default_rng(seed)
    matrix = generator.normal(size=(rows, 5))
    labels = (matrix[:, 0] + 0.5 * generator.normal(size=rows) > 0).astype(float)
    groups = [f"task-{index // 3}" for index in range(rows)]
    return matrix, labels, groups


def test_grouped_folds_never_split_a_group_and_cover_every_row() -> None:
    """Each group's rows sit in exactly one test fold, and test folds partition the rows."""
    _, labels, groups = synthetic()
    folds = grouped_folds(groups, labels, 5, seed=3)
    assert len(folds) == 5
    seen: list[int] = []
    for train, test in folds:
        assert not {groups[index] for index in train} & {groups[index] for index in test}
        seen.extend(test.tolist())
    assert sorted(seen) == list(range(len(groups)))


def test_grouped_folds_handle_few_groups_and_one_rare_outcome() -> None:
    """With fewer groups than folds there is one fold per group; a rare outcome falls back to unstratified folds."""
    labels = np.array([1.0, 0.0, 1.0, 0.0])
    assert len(grouped_folds(["a", "a", "b", "b"], labels, 5)) == 2
    rare = np.array([1.0] + [0.0] * 9)
    folds = grouped_folds([f"g{index}" for index in range(10)], rare, 5)
    assert len(folds) == 5 and all(len(test) == 2 for _, test in folds)
    with pytest.raises(ValueError, match="two groups"):
        grouped_folds(["same"] * 4, labels, 3)


def test_platt_calibration_repairs_overconfident_scores() -> None:
    """Scores three times too extreme are brought back: the Brier score falls and probabilities stay ordered."""
    generator = np.random.default_rng(1)
    truth = generator.normal(size=2000)
    labels = (generator.random(2000) < 1 / (1 + np.exp(-truth))).astype(float)
    overconfident = 3 * truth
    raw = 1 / (1 + np.exp(-overconfident))
    calibrated = Calibrator("sigmoid").fit(overconfident, labels).apply(overconfident)
    assert brier_score_loss(labels, calibrated) < brier_score_loss(labels, raw) - 0.005
    assert np.all(np.diff(calibrated[np.argsort(overconfident)]) >= 0)
    isotonic = Calibrator("isotonic").fit(overconfident, labels)
    mapped = isotonic.apply(np.sort(overconfident))
    assert np.all(np.diff(mapped) >= -1e-12) and mapped.min() >= 0 and mapped.max() <= 1
    assert np.allclose(Calibrator.from_dict(isotonic.to_dict()).apply(overconfident), isotonic.apply(overconfident))


def test_logistic_contributions_add_up_to_the_score() -> None:
    """The logistic model's per-feature contributions plus its intercept are its log-odds, and feature 0 leads."""
    matrix, labels, _ = synthetic()
    model = LogisticModel()
    model.fit(matrix, labels)
    assert np.allclose(model.contributions(matrix).sum(axis=1) + model.intercept, model.score(matrix))
    assert int(np.argmax(model.importances())) == 0


def test_boosting_shap_values_add_up_and_survive_a_round_trip() -> None:
    """LightGBM's SHAP contributions sum to its raw score minus a constant bias; JSON form predicts the same."""
    matrix, labels, _ = synthetic()
    model = BoostingModel(seed=0)
    model.fit(matrix, labels)
    bias = model.score(matrix) - model.contributions(matrix).sum(axis=1)
    assert np.allclose(bias, bias[0])
    restored = BoostingModel.from_dict(model.to_dict())
    assert np.allclose(restored.score(matrix), model.score(matrix))


def test_success_classifier_learns_generalises_and_serialises() -> None:
    """Trained on one sample it ranks a fresh sample well, is calibrated-ish, and its JSON form predicts the same."""
    matrix, labels, groups = synthetic(seed=2)
    classifier = SuccessClassifier().fit(matrix, labels, groups)
    fresh, fresh_labels, _ = synthetic(seed=5)
    probabilities = classifier.predict_proba(fresh)
    assert roc_auc_score(fresh_labels, probabilities) > 0.85
    assert brier_score_loss(fresh_labels, probabilities) < 0.15
    assert set(classifier.member_probabilities(fresh)) == {"lightgbm", "logistic"}
    assert int(np.argmax(classifier.importances())) == 0
    restored = SuccessClassifier.from_dict(classifier.to_dict())
    assert np.allclose(restored.predict_proba(fresh), probabilities)


def test_a_single_outcome_trains_a_prior_model() -> None:
    """With every label equal the classifier predicts that outcome instead of failing."""
    matrix, _, groups = synthetic(rows=30)
    classifier = SuccessClassifier().fit(matrix, np.ones(30), groups)
    assert np.all(classifier.predict_proba(matrix) > 0.9)


def test_drift_flags_a_shifted_distribution_and_not_a_fresh_sample() -> None:
    """PSI stays small for a new sample of the training distribution and is large for a shifted one."""
    generator = np.random.default_rng(4)
    names = ["steps", "errors", "tokens"]
    training = generator.normal(size=(400, 3))
    reference = DriftReference.fit(training, names)
    same = check_drift(reference, generator.normal(size=(200, 3)))
    assert not same.retrain and same.drifted == [] and max(same.psi.values()) < PSI_SIGNIFICANT
    shifted_sample = generator.normal(size=(200, 3))
    shifted_sample[:, 1] += 2.0
    shifted = check_drift(reference, shifted_sample)
    assert shifted.drifted == ["errors"] and shifted.psi["errors"] > 1.0
    assert shifted.retrain and "features drifted" in shifted.reasons[0]
    assert not check_drift(reference, shifted_sample[:5]).retrain  # too few sessions to judge drift
    restored = DriftReference.from_dict(reference.to_dict())
    assert check_drift(restored, shifted_sample).psi == shifted.psi


def test_many_new_labelled_sessions_trigger_retraining() -> None:
    """Labelled sessions reaching half the training size trigger retraining even without drift."""
    training = np.random.default_rng(6).normal(size=(100, 2))
    reference = DriftReference.fit(training, ["a", "b"])
    policy = RetrainingPolicy(new_labelled_share=0.5)
    assert check_drift(reference, training, policy=policy, new_labelled=50, trained_on=100).retrain
    assert not check_drift(reference, training, policy=policy, new_labelled=10, trained_on=100).retrain
    assert population_stability([0.5, 0.5], [0.5, 0.5]) == 0.0
