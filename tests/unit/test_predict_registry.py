"""The model registry and the predictor, with models trained on real tau-bench runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from escai.analysis.predict.dataset import collect_outcome_runs
from escai.analysis.predict.predictor import Predictor
from escai.analysis.predict.registry import ModelRegistry, NoModelError, registry_root
from escai.analysis.predict.training import NotEnoughRunsError, PredictorModels, train_models
from escai.ingest.importers import read_runs
from escai.model.events import EventType
from escai.settings import Settings

TAU_BENCH = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "datasets"
    / "tau_bench_historical"
    / "gpt-4o-airline.json.gz"
)


@pytest.fixture(scope="module")
def tau_runs() -> list[Any]:
    """The tau-bench airline runs with outcomes."""
    if not TAU_BENCH.exists():
        pytest.skip(f"dataset missing: {TAU_BENCH}")
    return collect_outcome_runs(read_runs(TAU_BENCH, "tau-bench"))[0]


@pytest.fixture(scope="module")
def models(tau_runs: list[Any]) -> PredictorModels:
    """Models trained on the first 120 runs (30 tasks)."""
    return train_models(tau_runs[:120])


def test_registry_numbers_versions_and_uses_the_latest(tmp_path: Path, models: PredictorModels) -> None:
    """Each save is a new version with metadata; load() returns the newest, which predicts like the original."""
    registry = ModelRegistry(tmp_path / "models")
    assert registry.list() == [] and registry.latest() is None
    with pytest.raises(NoModelError, match="escai model train"):
        registry.load()
    first = registry.save(models, training_n=120, cv_metrics={"auroc": 0.7}, details={"seed": 0})
    second = registry.save(models, training_n=121)
    assert (first.version, second.version) == ("v0001", "v0002")
    assert [item.version for item in registry.list()] == ["v0001", "v0002"]
    stored = json.loads((tmp_path / "models" / "v0001" / "metadata.json").read_text())
    assert stored["training_n"] == 120 and stored["cv_metrics"] == {"auroc": 0.7}
    assert stored["features"] == list(models.feature_names) and stored["created"].endswith("+00:00")
    loaded = registry.load()
    assert loaded.version == "v0002" and registry.load("v0001").version == "v0001"
    row = np.ones((1, len(models.feature_names)))
    assert np.allclose(loaded.full.predict_proba(row), models.full.predict_proba(row))
    with pytest.raises(NoModelError):
        registry.load("v0009")


def test_registry_lives_under_the_escai_home(tmp_path: Path) -> None:
    """The registry of a settings object is inside its home folder."""
    assert registry_root(Settings(home=tmp_path)) == tmp_path / "models" / "prediction"


def test_live_predictions_match_batch_predictions(tau_runs: list[Any], models: PredictorModels) -> None:
    """Updating per event gives, at every step, what predicting from the events so far gives."""
    predictor = Predictor(models)
    run = tau_runs[150]
    steps = predictor.predict_steps(run.events)
    assert len(steps) == sum(event.type is not EventType.SESSION_START for event in run.events)
    events = list(run.events)
    middle = len(events) // 2
    at_middle = predictor.predict(events[:middle])
    assert at_middle.step_index == middle - 2  # session_start is not a step; the index is 0-based
    live = next(prediction for prediction in steps if prediction.step_index == at_middle.step_index)
    assert live.success_probability == pytest.approx(at_middle.success_probability)
    assert at_middle.remaining_steps is not None and at_middle.remaining_seconds is None  # tau-bench has no times
    final = steps[-1]
    assert final.remaining_steps == 0.0 and final.success_probability == pytest.approx(
        predictor.predict(events).success_probability
    )
    for prediction in steps:
        assert prediction.failure_risk == pytest.approx(1 - prediction.success_probability)
        assert prediction.confidence >= 0.5 and prediction.model_version == models.version


def test_drivers_cite_events_of_the_session(tau_runs: list[Any], models: PredictorModels) -> None:
    """Drivers are signed, ordered by size, described, and cite only events of the predicted session."""
    result = Predictor(models).predict_detailed(list(tau_runs[160].events)[:-3], drivers=5)
    assert 0 < len(result.drivers) <= 5
    sizes = [abs(driver.contribution) for driver in result.drivers]
    assert sizes == sorted(sizes, reverse=True)
    known = {event.id for event in tau_runs[160].events}
    assert all(set(driver.event_ids) <= known for driver in result.drivers)
    assert any(driver.event_ids for driver in result.drivers)
    assert result.remaining_steps_interval is not None
    low, high = result.remaining_steps_interval
    assert low <= high and not result.finished
    assert result.warning == (result.prediction.failure_risk >= models.early.warn_threshold)


def test_training_refuses_unusable_runs(tau_runs: list[Any]) -> None:
    """Too few runs, or runs of one outcome only, are refused with a clear reason."""
    with pytest.raises(NotEnoughRunsError, match="at least"):
        train_models(tau_runs[:5])
    same_outcome = [run for run in tau_runs if run.success][:20]
    with pytest.raises(NotEnoughRunsError, match="same outcome"):
        train_models(same_outcome)
