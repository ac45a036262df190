"""The :class:`~escai.codegen.spec.CompatibilityAdvisor` the spec builder consults, backed by the learned model."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from escai.codegen.learner.features import UnknownMixinError
from escai.codegen.learner.model import CompatibilityModel


@dataclass(frozen=True, slots=True)
class CompatibilityWarning:
    """A combination predicted to fail: which mixins, on which kind, and how sure the model is."""

    node_kind: str
    mixins: tuple[str, ...]
    score: float
    confidence: float

    def __str__(self) -> str:
        """The sentence the spec builder shows."""
        return (
            f"mixins {' + '.join(self.mixins)} on a {self.node_kind} node are predicted incompatible "
            f"(compatibility {self.score:.2f}, confidence {self.confidence:.2f})"
        )


@dataclass(frozen=True, slots=True)
class CompatibilityAdvisor:
    """Warns about every pair of a node's mixins whose predicted score is under ``threshold``.

    Pairs whose confidence is under ``min_confidence`` are not worth a warning. Unknown mixins are left to
    :func:`escai.nodes.check_mixins`, which reports them.
    """

    model: CompatibilityModel
    threshold: float = 0.5
    min_confidence: float = 0.2

    def advise(self, kind: str, mixins: Sequence[str]) -> list[CompatibilityWarning]:
        """Warnings for the predicted-incompatible pairs of ``mixins`` on ``kind``, worst first."""
        warnings: list[CompatibilityWarning] = []
        for first, second in itertools.combinations(sorted(set(mixins)), 2):
            try:
                score, confidence = self.model.predict(str(kind), (first, second))
            except UnknownMixinError:
                continue
            if score < self.threshold and confidence >= self.min_confidence:
                warnings.append(CompatibilityWarning(str(kind), (first, second), score, confidence))
        return sorted(warnings, key=lambda warning: warning.score)


if TYPE_CHECKING:
    from escai.codegen import spec

    def _satisfies_spec_protocol(advisor: CompatibilityAdvisor) -> spec.CompatibilityAdvisor:
        # mypy checks here that this advisor is what build_spec(compatibility=...) takes.
        return advisor
