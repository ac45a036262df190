"""The versioned model registry: trained predictors on disk under ``ESCAI home/models/prediction/``.

Each version is a folder ``vNNNN`` holding ``model.json`` (the :class:`PredictorModels` as data, no pickles) and
``metadata.json`` (version, creation time, training size, cross-validation metrics, feature list). Versions only
grow; the latest is the one with the highest number. A version folder is written under a temporary name and
renamed into place, so a reader never sees half a model.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from escai.analysis.predict.training import PredictorModels
from escai.exceptions import EscaiError
from escai.settings import Settings

MODEL_FILE = "model.json"
METADATA_FILE = "metadata.json"
_VERSION = re.compile(r"^v(\d{4,})$")


class NoModelError(EscaiError):
    """No trained prediction model is registered (train one with ``escai model train``)."""


@dataclass(frozen=True, slots=True)
class ModelMetadata:
    """What is known about one registered model version."""

    version: str
    created: str
    """ISO 8601 UTC time of registration."""
    training_n: int
    feature_groups: list[str]
    features: list[str]
    cv_metrics: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    """Anything else the trainer recorded: positives, tasks, members, calibration, seed, source."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "version": self.version,
            "created": self.created,
            "training_n": self.training_n,
            "feature_groups": self.feature_groups,
            "features": self.features,
            "cv_metrics": self.cv_metrics,
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelMetadata:
        """The metadata :meth:`as_dict` wrote."""
        return cls(
            str(data["version"]),
            str(data["created"]),
            int(data["training_n"]),
            list(data["feature_groups"]),
            list(data["features"]),
            dict(data.get("cv_metrics") or {}),
            dict(data.get("details") or {}),
        )


def registry_root(settings: Settings) -> Path:
    """Where the registry of ``settings`` keeps its models."""
    return settings.home / "models" / "prediction"


class ModelRegistry:
    """Versioned prediction models in one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_settings(cls, settings: Settings) -> ModelRegistry:
        """The registry under the settings' ESCAI home."""
        return cls(registry_root(settings))

    def _numbers(self) -> list[int]:
        if not self.root.is_dir():
            return []
        found = []
        for entry in self.root.iterdir():
            match = _VERSION.match(entry.name)
            if match and (entry / METADATA_FILE).is_file():
                found.append(int(match.group(1)))
        return sorted(found)

    def save(
        self,
        models: PredictorModels,
        *,
        training_n: int,
        cv_metrics: dict[str, Any] | None = None,
        details: dict[str, Any] | None = None,
    ) -> ModelMetadata:
        """Register ``models`` as the next version and return its metadata."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))
        (staging / MODEL_FILE).write_text(json.dumps(models.to_dict()))
        number = (self._numbers() or [0])[-1] + 1
        while True:
            version = f"v{number:04d}"
            metadata = ModelMetadata(
                version,
                datetime.now(UTC).isoformat(timespec="seconds"),
                training_n,
                list(models.feature_groups),
                list(models.feature_names),
                cv_metrics or {},
                details or {},
            )
            (staging / METADATA_FILE).write_text(json.dumps(metadata.as_dict(), indent=2))
            try:
                os.rename(staging, self.root / version)  # fails if another trainer took the number first
            except OSError:
                number += 1
                continue
            models.version = version
            return metadata

    def list(self) -> list[ModelMetadata]:
        """Metadata of every version, oldest first."""
        return [self.metadata(f"v{number:04d}") for number in self._numbers()]

    def metadata(self, version: str) -> ModelMetadata:
        """Metadata of one version."""
        path = self.root / version / METADATA_FILE
        if not _VERSION.match(version) or not path.is_file():
            raise NoModelError(f"no prediction model version {version!r} in {self.root}")
        return ModelMetadata.from_dict(json.loads(path.read_text()))

    def latest(self) -> ModelMetadata | None:
        """Metadata of the newest version, or None when nothing is registered."""
        numbers = self._numbers()
        return self.metadata(f"v{numbers[-1]:04d}") if numbers else None

    def load(self, version: str | None = None) -> PredictorModels:
        """The models of ``version`` (default: the latest); :class:`NoModelError` when there are none."""
        if version is None:
            latest = self.latest()
            if latest is None:
                raise NoModelError(
                    f"no prediction model is trained yet (looked in {self.root}); run `escai model train`"
                )
            version = latest.version
        self.metadata(version)
        data = json.loads((self.root / version / MODEL_FILE).read_text())
        return PredictorModels.from_dict(data, version)
