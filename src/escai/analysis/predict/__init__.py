"""Performance predictor: success probability, failure risk, remaining steps and time, early warning.

Pipeline: :mod:`features` (pluggable, incremental feature groups over events), :mod:`models` (LightGBM and a
logistic baseline, calibrated and averaged), :mod:`early_warning` (the same on prefixes of runs, plus remaining
steps and time), :mod:`training` (the bundle the registry stores), :mod:`registry` (versioned models on disk),
:mod:`drift` (PSI per feature and the retraining trigger), :mod:`predictor` (per-step and live predictions with
drivers for the explanation engine) and :mod:`evaluate` (grouped cross-validation beside baselines). The method
and the figures are described in ``docs/prediction.md``.
"""

from escai.analysis.predict.calibration import Calibrator
from escai.analysis.predict.dataset import OutcomeRun, collect_outcome_runs, outcome_run
from escai.analysis.predict.drift import DriftReference, DriftReport, RetrainingPolicy, check_drift
from escai.analysis.predict.early_warning import EarlyWarningModel
from escai.analysis.predict.evaluate import PredictionReport, evaluate_prediction
from escai.analysis.predict.features import (
    FeatureAccumulator,
    FeatureExtractor,
    FeatureGroup,
    register_feature_group,
    task_group,
)
from escai.analysis.predict.models import BoostingModel, LogisticModel, SuccessClassifier
from escai.analysis.predict.predictor import LivePredictor, PredictionResult, Predictor
from escai.analysis.predict.registry import ModelMetadata, ModelRegistry, NoModelError
from escai.analysis.predict.training import NotEnoughRunsError, PredictorModels, TrainingOptions, train_models

__all__ = [
    "BoostingModel",
    "Calibrator",
    "DriftReference",
    "DriftReport",
    "EarlyWarningModel",
    "FeatureAccumulator",
    "FeatureExtractor",
    "FeatureGroup",
    "LivePredictor",
    "LogisticModel",
    "ModelMetadata",
    "ModelRegistry",
    "NoModelError",
    "NotEnoughRunsError",
    "OutcomeRun",
    "PredictionReport",
    "PredictionResult",
    "Predictor",
    "PredictorModels",
    "RetrainingPolicy",
    "SuccessClassifier",
    "TrainingOptions",
    "check_drift",
    "collect_outcome_runs",
    "evaluate_prediction",
    "outcome_run",
    "register_feature_group",
    "task_group",
    "train_models",
]
