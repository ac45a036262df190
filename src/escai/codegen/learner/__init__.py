"""Mixin-compatibility learning (issue 7, part 6).

Real generate-and-test runs of mixin combinations (:mod:`escai.codegen.learner.experiments`) are recorded per
pair in ``mixin_compatibility_matrix``; :func:`train` fits a :class:`CompatibilityModel` on leak-free property
features (:mod:`escai.codegen.learner.features`) that predicts ``(score, confidence)`` for unseen combinations;
:class:`CompatibilityAdvisor` turns predictions into the spec builder's warnings.
"""

from escai.codegen.learner.advisor import CompatibilityAdvisor, CompatibilityWarning
from escai.codegen.learner.evaluate import HeldOutScore, evaluate_held_out
from escai.codegen.learner.experiments import learn, list_combinations, pair_outcomes, record_outcomes, run_experiments
from escai.codegen.learner.features import (
    FEATURE_NAMES,
    KIND_PROPERTIES,
    MIXIN_PROPERTIES,
    UnknownMixinError,
    encode_combination,
)
from escai.codegen.learner.harness import Trial, try_combination
from escai.codegen.learner.model import CompatibilityModel, Outcome, load_outcomes, train, train_from_database

__all__ = [
    "FEATURE_NAMES",
    "KIND_PROPERTIES",
    "MIXIN_PROPERTIES",
    "CompatibilityAdvisor",
    "CompatibilityModel",
    "CompatibilityWarning",
    "HeldOutScore",
    "Outcome",
    "Trial",
    "UnknownMixinError",
    "encode_combination",
    "evaluate_held_out",
    "learn",
    "list_combinations",
    "load_outcomes",
    "pair_outcomes",
    "record_outcomes",
    "run_experiments",
    "train",
    "train_from_database",
    "try_combination",
]
