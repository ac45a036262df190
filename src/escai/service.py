"""The running core of ESCAI: database engine, bus, batcher and ingest pipeline, started and stopped together.

The HTTP server holds one :class:`EscaiService`; so does the SDK in embedded mode, which ingests through the
same pipeline without any server.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from escai.analysis.epistemic.calibration import ConfidenceCalibrator
from escai.analysis.live import LiveEpistemicWorker
from escai.analysis.live_base import LiveWorker
from escai.analysis.live_prediction import LivePredictionWorker
from escai.analysis.predict.registry import ModelRegistry
from escai.analysis.text.embedding import load_embedder
from escai.bus.base import EventBus
from escai.bus.memory import InMemoryBus
from escai.ingest.batcher import Batcher
from escai.ingest.pii import PiiMasker, PiiMaskingConfig
from escai.ingest.pipeline import IngestPipeline, build_stages
from escai.ingest.stages import TextMasker
from escai.ops.metrics import IngestMetrics
from escai.settings import Settings
from escai.store.engine import create_engine
from escai.store.migrate import upgrade_async


def default_masker(settings: Settings) -> TextMasker:
    """The PII masker the settings ask for."""
    if settings.pii_hash_key is None:
        return PiiMasker(PiiMaskingConfig())
    return PiiMasker(PiiMaskingConfig(style="hash", hash_key=settings.pii_hash_key.get_secret_value()))


class EscaiService:
    """Owns the engine, bus, batcher and pipeline of one ESCAI process."""

    def __init__(self, settings: Settings, *, bus: EventBus | None = None, migrate: bool = True) -> None:
        self.settings = settings
        self.metrics = IngestMetrics()
        self.bus: EventBus = bus or InMemoryBus()
        self._migrate = migrate
        self._engine: AsyncEngine | None = None
        self._batcher: Batcher | None = None
        self._pipeline: IngestPipeline | None = None
        self.analysis: LiveEpistemicWorker | None = None
        """The live epistemic worker, while started with ``analysis_live`` on."""
        self.prediction: LivePredictionWorker | None = None
        """The live prediction worker (idle until a model is trained), while started with ``analysis_live`` on."""

    @property
    def engine(self) -> AsyncEngine:
        """The database engine (only while started)."""
        if self._engine is None:
            raise RuntimeError("EscaiService is not started")
        return self._engine

    @property
    def batcher(self) -> Batcher:
        """The batch writer (only while started)."""
        if self._batcher is None:
            raise RuntimeError("EscaiService is not started")
        return self._batcher

    @property
    def pipeline(self) -> IngestPipeline:
        """The ingest pipeline (only while started)."""
        if self._pipeline is None:
            raise RuntimeError("EscaiService is not started")
        return self._pipeline

    async def start(self) -> None:
        """Migrate the database if asked, connect, and start the batch writer."""
        url = self.settings.resolved_database_url
        if self._migrate:
            await upgrade_async(url)
        self._engine = create_engine(url)
        self._batcher = Batcher(
            self._engine,
            self.bus,
            self.metrics,
            batch_size=self.settings.batch_size,
            timeout=self.settings.batch_timeout_ms / 1000,
            max_queued_events=self.settings.queue_max_events,
            retries=self.settings.write_retries,
        )
        self._batcher.start()
        masker = default_masker(self.settings) if self.settings.pii_masking else None
        self._pipeline = IngestPipeline(self._batcher, build_stages(self.settings, masker), self.metrics)
        if self.settings.analysis_live:
            self.analysis = LiveEpistemicWorker(
                self._engine,
                self.bus,
                load_embedder(self.settings.analysis_method),
                calibrator=self._calibrator(),
                cpu_share=self.settings.analysis_cpu_share,
            )
            self.prediction = LivePredictionWorker(
                self._engine,
                self.bus,
                ModelRegistry.for_settings(self.settings),
                cpu_share=self.settings.analysis_cpu_share,
            )
            for worker in self._workers():
                await worker.start()

    def _workers(self) -> list[LiveWorker]:
        return [worker for worker in (self.analysis, self.prediction) if worker is not None]

    def _calibrator(self) -> ConfidenceCalibrator | None:
        path = self.settings.calibration_path
        return ConfidenceCalibrator.load(path) if path.exists() else None

    async def stop(self) -> None:
        """Write what is queued, close subscriptions and the database."""
        if self._batcher is not None:
            await self._batcher.stop()
        for worker in self._workers():
            await worker.stop()
        self.analysis = self.prediction = None
        await self.bus.close()
        if self._engine is not None:
            await self._engine.dispose()
        self._engine = self._batcher = self._pipeline = None
