"""The embedded exporter: no server, the same ingest pipeline, the local database.

An :class:`~escai.service.EscaiService` runs on its own event loop in a background thread (started lazily, so
``escai.init`` returns at once while the database is migrated). Each batch goes through
``pipeline.ingest(events, source="sdk")`` exactly as a batch POSTed to the server would: validation, PII masking,
filters, one transaction per batch, change events on the in-process bus.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

from escai.sdk.errors import report_internal_error
from escai.sdk.wire import Batch, as_json_values

# Imported with this module, on the thread that calls escai.init, not lazily on the store's thread: an import that
# registers an exit hook (concurrent.futures does) fails once the interpreter has begun to shut down, which a short
# program may reach before the store's thread gets that far.
from escai.service import EscaiService

if TYPE_CHECKING:
    from escai.settings import Settings

_logger = logging.getLogger("escai.sdk")


class EmbeddedStoreError(RuntimeError):
    """The embedded store could not start (bad database URL, unwritable folder); events cannot be stored."""


class EmbeddedExporter:
    """Stores batches in the local database through an in-process :class:`~escai.service.EscaiService`."""

    def __init__(self, settings: Settings, *, start_timeout: float = 60.0, write_timeout: float = 60.0) -> None:
        self.settings = settings
        self.start_timeout = start_timeout
        self.write_timeout = write_timeout
        self.stored_events = 0
        """Events committed (new ones; duplicates of stored ids are not counted)."""
        self.rejected_events = 0
        """Events the pipeline refused (kept in the dead-letter table)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._service: EscaiService | None = None
        self._failure: BaseException | None = None
        self._ready = threading.Event()
        self._done = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="escai-embedded-store", daemon=True)
        self._thread.start()
        # Migrating runs in an executor thread, which cannot start once the interpreter is finalising (after the
        # threading module's exit hooks, before atexit's). A program that exits at once must wait for the start
        # there, so that the flush at exit finds the store running.
        register: Any = getattr(threading, "_register_atexit", None)
        if callable(register):
            register(self._wait_started_at_exit)

    def _wait_started_at_exit(self) -> None:
        self._ready.wait(self.start_timeout)

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the database is migrated and the pipeline runs; False on timeout or failure."""
        return self._ready.wait(timeout) and self._failure is None

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            service = EscaiService(self.settings)
            try:
                loop.run_until_complete(service.start())
            except Exception as error:
                self._failure = error
                self._ready.set()
                _logger.warning(
                    "escai: the embedded store at %s could not start: %s",
                    self.settings.resolved_database_url,
                    error,
                )
                return
            self._service = service
            self._ready.set()
            if not self._stopping.is_set():  # see shutdown() for the order of these two flags
                loop.run_forever()
            loop.run_until_complete(service.stop())
        except Exception as error:
            report_internal_error("EmbeddedExporter", error)
        finally:
            loop.close()
            self._done.set()

    def export(self, batch: Batch) -> None:
        """Ingest one batch and wait until it is committed."""
        if not self._ready.wait(self.start_timeout):
            raise EmbeddedStoreError(f"the embedded store did not start within {self.start_timeout} s")
        if self._failure is not None or self._service is None or self._loop is None:
            raise EmbeddedStoreError("the embedded store is not running") from self._failure
        # The HTTP path sends JSON; the same round trip here makes both paths store identical values.
        raw = as_json_values(batch.wire())
        pipeline = self._service.pipeline
        future = asyncio.run_coroutine_threadsafe(pipeline.ingest(raw, source="sdk"), self._loop)
        result = future.result(self.write_timeout)
        self.stored_events += result.accepted
        if result.rejected:
            self.rejected_events += len(result.rejected)
            _logger.warning(
                "escai: %d events were refused by the ingest pipeline (first: %s)",
                len(result.rejected),
                result.rejected[0].reason,
            )

    def shutdown(self, timeout: float) -> None:
        """Write what is queued, close the database and stop the loop, within ``timeout`` seconds."""
        # Set the flag first: a store still starting sees it and skips its loop; one already running is stopped.
        self._stopping.set()
        loop = self._loop
        if self._ready.is_set() and loop is not None:
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:
                return  # the loop closed in the meantime
        self._done.wait(timeout)

    def after_fork_in_child(self) -> None:
        """A forked child cannot use the parent's loop thread or connections: start a fresh store."""
        self._loop = None
        self._service = None
        self._failure = None
        self._ready = threading.Event()
        self._done = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="escai-embedded-store", daemon=True)
        self._thread.start()
