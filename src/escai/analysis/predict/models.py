"""Success classifiers: gradient boosting (LightGBM), an interpretable logistic baseline, calibration, and the
ensemble of both that the predictor uses.

Every model is plain data once trained (coefficients, a LightGBM model string, calibration parameters), so it is
stored as JSON in the model registry: nothing is unpickled. Scores are log-odds of success; each model can split
a prediction into signed per-feature contributions in the same unit (the logistic model's coefficient times the
standardised value, LightGBM's SHAP values), which become the drivers the explanation engine cites.

Calibration: each member's raw scores are mapped to probabilities by a calibrator fitted on out-of-fold scores
of the training data (grouped folds, so a task's trials never calibrate each other), then the members' calibrated
probabilities are blended with weights chosen on those same out-of-fold probabilities (:mod:`blending`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, Protocol

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from escai.analysis.predict.blending import blend_weights
from escai.analysis.predict.calibration import CalibrationMethod, Calibrator, prior_log_odds
from escai.analysis.predict.cv import grouped_folds
from escai.analysis.predict.features import FloatMatrix, columns_except, model_matrix
from escai.analysis.predict.word_model import WordsModel

Vector = npt.NDArray[np.float64]
CALIBRATION_FOLDS = 3


class ScoreModel(Protocol):
    """A binary model that scores success in log-odds and explains a score feature by feature."""

    name: str

    def fit(self, matrix: FloatMatrix, labels: Vector, weights: Vector | None = None) -> None:
        """Train on feature rows and 0/1 labels (optionally weighted)."""
        ...

    def score(self, matrix: FloatMatrix) -> Vector:
        """Log-odds of success per row."""
        ...

    def contributions(self, matrix: FloatMatrix) -> FloatMatrix:
        """Signed per-feature contributions to each row's score (rows x features)."""
        ...

    def importances(self) -> Vector:
        """Global importance per feature (non-negative)."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """The trained model as JSON-ready data."""
        ...


class LogisticModel:
    """L2-regularised logistic regression on standardised ``log1p`` features: the interpretable baseline."""

    name = "logistic"

    def __init__(self, regularisation: float = 0.05) -> None:
        self.regularisation = regularisation
        self.mean: Vector = np.zeros(0)
        self.scale: Vector = np.ones(0)
        self.coef: Vector = np.zeros(0)
        self.intercept = 0.0

    def _standardise(self, matrix: FloatMatrix) -> FloatMatrix:
        result: FloatMatrix = (model_matrix(matrix) - self.mean) / self.scale
        return result

    def fit(self, matrix: FloatMatrix, labels: Vector, weights: Vector | None = None) -> None:
        """Fit the scaler and the coefficients."""
        transformed = model_matrix(matrix)
        self.mean = transformed.mean(axis=0)
        spread = transformed.std(axis=0)
        self.scale = np.where(spread > 0, spread, 1.0)
        if len(set(labels.tolist())) < 2:  # one class only: the prior is all there is to learn
            self.coef = np.zeros(matrix.shape[1])
            self.intercept = prior_log_odds(labels)
            return
        model = LogisticRegression(C=self.regularisation, max_iter=5000)
        model.fit(self._standardise(matrix), labels, sample_weight=weights)
        self.coef = np.asarray(model.coef_[0], dtype=np.float64)
        self.intercept = float(model.intercept_[0])

    def score(self, matrix: FloatMatrix) -> Vector:
        """Log-odds of success."""
        result: Vector = self._standardise(matrix) @ self.coef + self.intercept
        return result

    def contributions(self, matrix: FloatMatrix) -> FloatMatrix:
        """Coefficient times standardised value: how far each feature moves the log-odds from an average run."""
        result: FloatMatrix = self._standardise(matrix) * self.coef
        return result

    def importances(self) -> Vector:
        """Absolute standardised coefficients."""
        return np.abs(self.coef)

    def to_dict(self) -> dict[str, Any]:
        """Coefficients and scaler."""
        return {
            "kind": self.name,
            "regularisation": self.regularisation,
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LogisticModel:
        """The model :meth:`to_dict` wrote."""
        model = cls(float(data["regularisation"]))
        model.mean = np.asarray(data["mean"], dtype=np.float64)
        model.scale = np.asarray(data["scale"], dtype=np.float64)
        model.coef = np.asarray(data["coef"], dtype=np.float64)
        model.intercept = float(data["intercept"])
        return model


BOOSTING_PARAMS: dict[str, Any] = {
    "objective": "binary",
    "learning_rate": 0.03,
    "num_leaves": 4,
    "min_data_in_leaf": 15,
    "feature_fraction": 0.5,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 5.0,
    "verbose": -1,
    "num_threads": 1,
    "deterministic": True,
    "force_col_wise": True,
}
"""Small, strongly regularised trees: labelled agent runs come in hundreds, not millions."""
BOOSTING_ROUNDS = 150


class BoostingModel:
    """LightGBM gradient-boosted trees on the raw feature values."""

    name = "lightgbm"

    def __init__(self, seed: int = 0, objective: str = "binary", rounds: int = BOOSTING_ROUNDS) -> None:
        self.seed = seed
        self.objective = objective
        self.rounds = rounds
        self.booster: Any = None
        self.constant: float | None = None

    def fit(self, matrix: FloatMatrix, labels: Vector, weights: Vector | None = None) -> None:
        """Train the trees (a constant model when only one class or one row is present)."""
        if self.objective == "binary" and len(set(labels.tolist())) < 2:
            self.constant = prior_log_odds(labels)
            return
        params = {**BOOSTING_PARAMS, "objective": self.objective, "seed": self.seed}
        if self.objective != "binary":
            params["min_data_in_leaf"] = 10
        dataset = lgb.Dataset(matrix, label=labels, weight=weights, free_raw_data=True)
        self.booster = lgb.train(params, dataset, num_boost_round=self.rounds)
        self.constant = None

    def score(self, matrix: FloatMatrix) -> Vector:
        """Raw score: log-odds for the binary objective, the regression target otherwise."""
        if self.booster is None:
            return np.full(matrix.shape[0], self.constant or 0.0)
        return np.asarray(self.booster.predict(matrix, raw_score=True, num_threads=1), dtype=np.float64)

    def contributions(self, matrix: FloatMatrix) -> FloatMatrix:
        """SHAP values (TreeSHAP) per feature, without the bias column."""
        if self.booster is None:
            return np.zeros(matrix.shape)
        values = np.asarray(self.booster.predict(matrix, pred_contrib=True, num_threads=1), dtype=np.float64)
        result: FloatMatrix = values[:, :-1]
        return result

    def importances(self) -> Vector:
        """Total split gain per feature."""
        if self.booster is None:
            return np.zeros(0)
        return np.asarray(self.booster.feature_importance(importance_type="gain"), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """The LightGBM model as text."""
        return {
            "kind": self.name,
            "seed": self.seed,
            "objective": self.objective,
            "rounds": self.rounds,
            "constant": self.constant,
            "model": None if self.booster is None else self.booster.model_to_string(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BoostingModel:
        """The model :meth:`to_dict` wrote."""
        model = cls(int(data["seed"]), str(data["objective"]), int(data["rounds"]))
        model.constant = data.get("constant")
        if data.get("model"):
            model.booster = lgb.Booster(model_str=data["model"])
        return model


SCREENED_FEATURES = 20
"""Features each classifier keeps: the ones whose values best separate outcomes in its training data."""


def screen_features(matrix: FloatMatrix, labels: Vector, weights: Vector | None, keep: int) -> list[int]:
    """Indexes of the ``keep`` columns with the largest univariate AUROC distance from 0.5, in column order.

    Labelled runs come in hundreds while features are many; screening on the training rows alone (never on the
    rows being predicted) keeps the models from fitting noise features.
    """
    if matrix.shape[1] <= keep or len(set(labels.tolist())) < 2:
        return list(range(matrix.shape[1]))
    separation = np.zeros(matrix.shape[1])
    for column in range(matrix.shape[1]):
        values = matrix[:, column]
        if np.ptp(values) > 0:
            separation[column] = abs(roc_auc_score(labels, values, sample_weight=weights) - 0.5)
    return sorted(int(index) for index in np.argsort(-separation, kind="stable")[:keep])


MemberName = Literal["lightgbm", "logistic", "words"]
DEFAULT_MEMBERS: tuple[MemberName, ...] = ("lightgbm", "logistic", "words")
WORD_MEMBERS = frozenset({"words"})
"""Members that read the word-bucket columns; the others read the screened dense columns."""


def new_model(name: str, seed: int = 0) -> ScoreModel:
    """A fresh, untrained member model by name."""
    if name == "lightgbm":
        return BoostingModel(seed)
    if name == "logistic":
        return LogisticModel()
    if name == "words":
        return WordsModel()
    raise KeyError(f"unknown model {name!r}; known: lightgbm, logistic, words")


def load_model(data: dict[str, Any]) -> ScoreModel:
    """A trained member model from its JSON form."""
    if data["kind"] == "lightgbm":
        return BoostingModel.from_dict(data)
    if data["kind"] == "words":
        return WordsModel.from_dict(data)
    return LogisticModel.from_dict(data)


def out_of_fold_scores(
    name: str,
    matrix: FloatMatrix,
    labels: Vector,
    groups: Sequence[str],
    *,
    weights: Vector | None = None,
    folds: int = CALIBRATION_FOLDS,
    seed: int = 0,
) -> Vector:
    """Raw scores of every row from a model that never saw the row's group (grouped K-fold)."""
    scores = np.zeros(len(labels))
    for train, test in grouped_folds(groups, labels, folds, seed):
        model = new_model(name, seed)
        model.fit(matrix[train], labels[train], None if weights is None else weights[train])
        scores[test] = model.score(matrix[test])
    return scores


class SuccessClassifier:
    """Calibrated members (LightGBM, logistic and words by default) whose probabilities are blended by weight.

    The dense members read the :data:`SCREENED_FEATURES` best-separating columns outside ``word_columns``; the
    ``words`` member reads ``word_columns`` (the hashed word bag) and is left out when there are none.
    """

    def __init__(
        self,
        members: Sequence[str] = DEFAULT_MEMBERS,
        calibration: CalibrationMethod = "sigmoid",
        seed: int = 0,
        keep: int = SCREENED_FEATURES,
        word_columns: Sequence[int] = (),
    ) -> None:
        self.member_names = tuple(members)
        self.calibration: CalibrationMethod = calibration
        self.seed = seed
        self.keep = keep
        self.word_columns = [int(column) for column in word_columns]
        self.members: list[ScoreModel] = []
        self.calibrators: list[Calibrator] = []
        self.selected: list[int] = []
        """Columns of the full feature vector the dense members read (see :func:`screen_features`)."""
        self.weights: tuple[float, ...] = ()
        """How much each member's probability counts (see :func:`~escai.analysis.predict.blending.blend_weights`)."""
        self.width = 0

    def _columns(self, name: str) -> list[int]:
        return self.word_columns if name in WORD_MEMBERS else self.selected

    def fit(
        self, matrix: FloatMatrix, labels: Vector, groups: Sequence[str], weights: Vector | None = None
    ) -> SuccessClassifier:
        """Fit each member, and its calibrator on grouped out-of-fold scores of the same training data."""
        self.members, self.calibrators = [], []
        self.width = matrix.shape[1]
        dense = columns_except(self.width, self.word_columns)
        self.selected = [dense[index] for index in screen_features(matrix[:, dense], labels, weights, self.keep)]
        names = [name for name in self.member_names if name not in WORD_MEMBERS or self.word_columns]
        distinct_groups = len(set(groups))
        held_out: list[Vector] = []
        for name in names:
            columns = matrix[:, self._columns(name)]
            calibrator = Calibrator(self.calibration)
            if self.calibration != "none" and distinct_groups >= CALIBRATION_FOLDS:
                oof = out_of_fold_scores(name, columns, labels, groups, weights=weights, seed=self.seed)
                calibrator.fit(oof, labels)
                held_out.append(calibrator.apply(oof))
            model = new_model(name, self.seed)
            model.fit(columns, labels, weights)
            self.members.append(model)
            self.calibrators.append(calibrator)
        even = tuple([1.0 / len(self.members)] * len(self.members))
        self.weights = blend_weights(held_out, labels, weights) if len(held_out) == len(self.members) else even
        return self

    def _member_weights(self) -> tuple[float, ...]:
        return self.weights or tuple([1.0 / len(self.members)] * len(self.members))

    def member_probabilities(self, matrix: FloatMatrix) -> dict[str, Vector]:
        """Each member's calibrated probability per row."""
        return {
            model.name: calibrator.apply(model.score(matrix[:, self._columns(model.name)]))
            for model, calibrator in zip(self.members, self.calibrators, strict=True)
        }

    def predict_proba(self, matrix: FloatMatrix) -> Vector:
        """Calibrated probability of success per row (the members' weighted average)."""
        probabilities = list(self.member_probabilities(matrix).values())
        result: Vector = np.average(probabilities, axis=0, weights=self._member_weights())
        return result

    def contributions(self, matrix: FloatMatrix) -> FloatMatrix:
        """Per-feature contributions in log-odds, each member's scaled by its calibration slope, then blended."""
        result: FloatMatrix = np.zeros(matrix.shape)
        weights = self._member_weights()
        total = sum(weights) or 1.0
        for model, calibrator, weight in zip(self.members, self.calibrators, weights, strict=True):
            columns = self._columns(model.name)
            slope = calibrator.slope if calibrator.method == "sigmoid" else 1.0
            result[:, columns] += model.contributions(matrix[:, columns]) * slope * weight / total
        return result

    def importances(self) -> Vector:
        """Global feature importance: each member's importances normalised to sum 1, averaged."""
        result: Vector = np.zeros(self.width)
        for model in self.members:
            values = model.importances()
            total = float(values.sum())
            if values.size and total > 0:
                result[self._columns(model.name)] += values / total / len(self.members)
        return result

    def to_dict(self) -> dict[str, Any]:
        """Members and calibrators as JSON-ready data."""
        return {
            "members": [model.to_dict() for model in self.members],
            "calibrators": [calibrator.to_dict() for calibrator in self.calibrators],
            "calibration": self.calibration,
            "seed": self.seed,
            "keep": self.keep,
            "selected": self.selected,
            "word_columns": self.word_columns,
            "width": self.width,
            "weights": list(self._member_weights()),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SuccessClassifier:
        """The classifier :meth:`to_dict` wrote."""
        members = [load_model(item) for item in data["members"]]
        classifier = cls(
            [model.name for model in members],
            data["calibration"],
            int(data["seed"]),
            int(data["keep"]),
            data.get("word_columns", ()),
        )
        classifier.members = members
        classifier.selected = [int(index) for index in data["selected"]]
        classifier.width = int(data["width"])
        classifier.calibrators = [Calibrator.from_dict(item) for item in data["calibrators"]]
        # Models saved before member weights existed averaged their members evenly.
        classifier.weights = tuple(float(value) for value in data.get("weights", ()))
        return classifier
