"""The HTTP exporter: gzip JSON batches POSTed to ``{endpoint}/api/v1/events``, with retries and a spool.

(``httpx`` is imported with this module, that is by ``escai.init`` on the caller's thread: importing it later on
the sender thread would take a few hundred milliseconds of CPU from the agent while it runs.)

Two threads are involved, and neither is the agent's. The recorder's thread calls :meth:`HttpExporter.export`,
which never touches the network: it queues the batch for the sender (up to ``max_queued_events``), or, when the
server is down or the queue is full, sets it aside for the :class:`~escai.sdk.spool.Spool`, which gets batches in
chunks of ``spill_chunk_events`` (or after ``spill_delay`` seconds) in their compact record form (serialised in C,
no per-event Python, not compressed): spooling must cost the agent as little as possible. The exporter's own
*sender* thread takes queued batches, converts them to wire events and POSTs them:

- connection errors, timeouts, 408, 425, 429 and 5xx are retried with exponential backoff and full jitter
  (``Retry-After`` is honoured); a 413 splits the batch in two;
- when every attempt failed, the body is spooled and the server is marked down: for the next ``down`` period
  (``down_min``, 1 s by default, doubling up to ``backoff_max``) batches go straight to the spool;
- 401, 403 and 404 mean a wrong key or URL: the batch is spooled (fixing the configuration and restarting
  delivers it) and the problem is logged once; 400 and 422 mean the server refused events on their content and
  keeps them as dead letters, so they are not sent again;
- while nothing is queued, spooled files (this process's, and those left by processes that have exited) are
  replayed oldest first, one attempt each.

At shutdown whatever is still queued or in flight is spooled, so a slow or dead server never holds up the exit
beyond the recorder's ``shutdown_timeout`` and nothing that was captured is dropped (a batch that was in flight
may later arrive twice; event ids make that harmless).
"""

from __future__ import annotations

import enum
import logging
import random
import threading
import time
from collections import deque
from pathlib import Path

import httpx

from escai._version import __version__
from escai.sdk.errors import internal_errors_handled
from escai.sdk.spool import DEFAULT_MAX_BYTES, Spool, default_spool_dir
from escai.sdk.wire import Batch, WireEvent, decode_body, encode_events, encode_records, is_records_body

_logger = logging.getLogger("escai.sdk")

EVENTS_PATH = "/api/v1/events"
_RETRYABLE_STATUS = frozenset({408, 425, 429})
_IDLE_WAKE_S = 0.5


class Outcome(enum.Enum):
    """What became of one POST."""

    DELIVERED = "delivered"
    """The server stored (or deliberately refused) the events: do not send them again."""
    RETRY = "retry"
    """Worth another attempt: connection error, timeout, 408/425/429/5xx."""
    MISCONFIGURED = "misconfigured"
    """Wrong URL or credentials: keep the batch, stop trying until the backoff ends."""
    TOO_LARGE = "too_large"
    """413: send the events in smaller batches."""


def events_url(endpoint: str) -> str:
    """The ingest URL for a server base URL (a full ``.../api/v1/events`` URL is kept as it is)."""
    base = endpoint.rstrip("/")
    return base if base.endswith(EVENTS_PATH) else base + EVENTS_PATH


class HttpExporter:
    """Sends batches to an ESCAI server; see the module docstring for the delivery rules."""

    def __init__(
        self,
        endpoint: str,
        *,
        api_key: str | None = None,
        spool_dir: str | Path | None = None,
        spool_max_bytes: int = DEFAULT_MAX_BYTES,
        max_queued_events: int = 10_000,
        spill_chunk_events: int = 5_000,
        spill_delay: float = 1.0,
        timeout: float = 10.0,
        connect_timeout: float = 3.0,
        max_retries: int = 3,
        backoff_base: float = 0.25,
        backoff_max: float = 60.0,
        down_min: float = 1.0,
        compress_level: int = 1,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.url = events_url(endpoint)
        self.spool = Spool(Path(spool_dir).expanduser() if spool_dir else default_spool_dir(), spool_max_bytes)
        self.max_queued_events = max_queued_events
        self.spill_chunk_events = spill_chunk_events
        self.spill_delay = spill_delay
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.down_min = down_min
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._compress_level = compress_level
        self._transport = transport
        self._headers = {
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "User-Agent": f"escai-sdk/{__version__}",
        }
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self.delivered_events = 0
        """Events the server has acknowledged (stored now, or already stored before)."""
        self.rejected_events = 0
        """Events the server refused on their content (kept in its dead-letter table)."""
        self.spooled_batches = 0
        """Batches written to the spool for later."""
        self.replayed_batches = 0
        """Spooled batches delivered later."""
        self.lost_events = 0
        """Events neither delivered nor spooled (the spool was full or not writable)."""
        self.requests = 0
        """POST attempts made."""
        self._start()

    def _start(self) -> None:
        self._client: httpx.Client | None = None
        self._condition = threading.Condition()
        self._queue: deque[Batch] = deque()
        self._queued_events = 0
        self._in_flight: Batch | None = None
        self._backlog: deque[Path] = deque()
        self._set_aside: list[Batch] = []
        self._set_aside_events = 0
        self._set_aside_since = 0.0
        self._set_aside_lock = threading.Lock()
        self._down_until = 0.0
        self._down_for = 0.0
        self._closing = threading.Event()
        self._warned: set[str] = set()
        self._sender = threading.Thread(target=self._send_loop, name="escai-http-sender", daemon=True)
        self._sender.start()

    # --- the Exporter protocol (recorder thread) ---------------------------------------------------------------

    def export(self, batch: Batch) -> None:
        """Queue the batch for the sender; spool it instead when the server is down or the queue is full."""
        if not batch.records:
            return
        with self._condition:
            queue_it = (
                not self._closing.is_set()
                and not self.is_down
                and self._queued_events + len(batch) <= self.max_queued_events
            )
            if queue_it:
                self._queue.append(batch)
                self._queued_events += len(batch)
                self._condition.notify_all()
        if not queue_it:
            self._set_batch_aside(batch)

    def spill(self, batch: Batch) -> bool:
        """Spool a batch in its record form without sending it; False (and counted lost) if the spool refused."""
        return self._keep(encode_records(batch), len(batch))

    def _set_batch_aside(self, batch: Batch) -> None:
        # Spooling in chunks: one file of 5,000 events costs far less than ten of 500.
        with self._set_aside_lock:
            if not self._set_aside:
                self._set_aside_since = time.monotonic()
            self._set_aside.append(batch)
            self._set_aside_events += len(batch)
            full = self._set_aside_events >= self.spill_chunk_events
        if full:
            self._spill_set_aside()

    def _spill_set_aside(self) -> None:
        with self._set_aside_lock:
            batches, self._set_aside, self._set_aside_events = self._set_aside, [], 0
        by_converter: dict[int, list[Batch]] = {}
        for batch in batches:
            by_converter.setdefault(id(batch.converter), []).append(batch)
        for group in by_converter.values():
            self.spill(Batch([record for batch in group for record in batch.records], group[0].converter))

    def flush(self, timeout: float) -> bool:
        """Wait until every batch handed over has been delivered or spooled; True if that happened in time."""
        self._spill_set_aside()
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._queue or self._in_flight is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._sender.is_alive():
                    return False
                self._condition.wait(remaining)
        return True

    def shutdown(self, timeout: float) -> None:
        """Deliver what is queued within ``timeout`` seconds, spool the rest, and close the connection."""
        self.flush(max(0.0, timeout - 0.2))
        with self._condition:
            # Closing and taking the in-flight batch happen together: the sender then knows that a batch it
            # fails to deliver from now on has been spooled here.
            self._closing.set()
            leftover = list(self._queue)
            if self._in_flight is not None:
                leftover.append(self._in_flight)
            self._queue.clear()
            self._queued_events = 0
            self._in_flight = None  # the sender may still finish it; a second copy is harmless
            self._condition.notify_all()
        for batch in leftover:
            self._set_batch_aside(batch)
        self._spill_set_aside()
        self._sender.join(0.1)
        if not self._sender.is_alive() and self._client is not None:
            with internal_errors_handled("HttpExporter.shutdown"):
                self._client.close()

    def after_fork_in_child(self) -> None:
        """A forked child gets its own connection, queue and sender; the parent keeps replaying its own files."""
        self._start()

    # --- state --------------------------------------------------------------------------------------------------

    @property
    def is_down(self) -> bool:
        """Whether the server failed recently and the exporter is waiting before the next attempt."""
        return time.monotonic() < self._down_until

    @property
    def backlog(self) -> int:
        """Spooled batches waiting for replay."""
        return len(self._backlog)

    def _keep(self, body: bytes, count: int) -> bool:
        path = self.spool.write(body)
        if path is None:
            self.lost_events += count
            return False
        self._backlog.append(path)
        self.spooled_batches += 1
        return True

    def _mark_down(self, reason: str) -> None:
        self._down_for = min(self.backoff_max, max(self.down_min, self._down_for * 2))
        self._down_until = time.monotonic() + self._down_for
        self._warn_once(
            reason,
            "escai: cannot deliver to %s (%s); events are spooled in %s and will be replayed",
            self.url,
            reason,
            self.spool.directory,
        )

    def _warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            _logger.warning(message, *args)

    # --- the sender thread ----------------------------------------------------------------------------------------

    def _send_loop(self) -> None:
        with internal_errors_handled("HttpExporter.adopt"):
            self._backlog.extend(self.spool.orphans())
        while not self._closing.is_set():
            if self._set_aside and time.monotonic() - self._set_aside_since >= self.spill_delay:
                with internal_errors_handled("HttpExporter.spill"):
                    self._spill_set_aside()
            with self._condition:
                if not self._queue and not self._replay_due():
                    self._condition.wait(_IDLE_WAKE_S)
                    continue
                batch = self._queue.popleft() if self._queue else None
                self._in_flight = batch
            with internal_errors_handled("HttpExporter.send"):
                if batch is not None:
                    self._send_batch(batch)
                else:
                    self._replay_one()
            with self._condition:
                if batch is not None and self._in_flight is batch:
                    self._queued_events -= len(batch)
                self._in_flight = None
                self._condition.notify_all()

    def _replay_due(self) -> bool:
        return bool(self._backlog) and not self.is_down

    def _send_batch(self, batch: Batch) -> None:
        if self.is_down:  # queued before the outage was noticed: spool it without converting it
            self._set_batch_aside(batch)
            return
        events = batch.wire()
        body = encode_events(events, self._compress_level)
        # Right after an outage one attempt is enough to learn whether the server is back.
        attempts = 1 if self._down_for else self.max_retries + 1
        if not self._deliver(body, events, attempts) and not self._closing.is_set():
            self._keep(body, len(events))

    def _replay_one(self) -> None:
        path = self._backlog[0]
        body = self.spool.read(path)
        if body is None:  # replayed by another process meanwhile
            self._backlog.popleft()
            return
        try:
            events = decode_body(body)
        except ValueError as error:
            self._warn_once(f"corrupt:{path.name}", "escai: dropping unreadable spool file %s: %s", path, error)
            self._backlog.popleft()
            self.spool.remove(path)
            return
        # A request body spooled after failed attempts is sent as it is; a record-form body is converted now.
        request_body = encode_events(events, self._compress_level) if is_records_body(body) else body
        if self._deliver(request_body, events, 1):
            self._backlog.popleft()
            self.spool.remove(path)
            self.replayed_batches += 1

    def _deliver(self, body: bytes, events: list[WireEvent], attempts: int) -> bool:
        """Send one body, retrying up to ``attempts`` times; True once the server has taken it."""
        for attempt in range(attempts):
            outcome, delay, reason = self._post(body)
            if outcome is Outcome.DELIVERED:
                self._down_for = 0.0
                return True
            if outcome is Outcome.TOO_LARGE:
                return self._deliver_split(events, attempts)
            if outcome is Outcome.MISCONFIGURED or attempt + 1 == attempts:
                self._mark_down(reason)
                return False
            # Exponential backoff with full jitter; shutdown interrupts the wait.
            wait = delay if delay is not None else random.uniform(0, self.backoff_base * 2**attempt)
            if self._closing.wait(min(wait, self.backoff_max)):
                return False
        return False

    def _deliver_split(self, events: list[WireEvent], attempts: int) -> bool:
        if len(events) <= 1:
            self._warn_once("413", "escai: the server refused an event as too large; it is dropped")
            self.rejected_events += len(events)
            return True
        middle = len(events) // 2
        return all(
            self._deliver(encode_events(half, self._compress_level), half, attempts)
            for half in (events[:middle], events[middle:])
        )

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=httpx.Timeout(self._timeout, connect=self._connect_timeout),
                transport=self._transport,
                headers=self._headers,
                # Loading the CA bundle costs ~60 ms of CPU; a plain-HTTP endpoint never needs it.
                verify=self.url.startswith("https:"),
            )
        return self._client

    def _post(self, body: bytes) -> tuple[Outcome, float | None, str]:
        """One POST: the outcome, the server's Retry-After (seconds) if any, and a reason for the log."""
        self.requests += 1
        try:
            response = self._http().post(self.url, content=body)
        except httpx.TransportError as error:
            return Outcome.RETRY, None, type(error).__name__
        status = response.status_code
        if status < 300:
            self.delivered_events += _count(response, "accepted", "duplicates")
            return Outcome.DELIVERED, None, ""
        if status in (400, 422):
            self.delivered_events += _count(response, "accepted", "duplicates")
            refused = _count(response, "rejected")
            self.rejected_events += refused
            self._warn_once(str(status), "escai: the server refused %d events: %s", refused, response.text[:500])
            return Outcome.DELIVERED, None, ""
        if status == 413:
            return Outcome.TOO_LARGE, None, "413"
        if status in _RETRYABLE_STATUS or status >= 500:
            return Outcome.RETRY, _retry_after(response), f"HTTP {status}"
        return Outcome.MISCONFIGURED, None, f"HTTP {status} (check the endpoint URL and the API key)"


def _count(response: httpx.Response, *fields: str) -> int:
    try:
        document = response.json()
    except ValueError:
        return 0
    if not isinstance(document, dict):
        return 0
    total = 0
    for field in fields:
        value = document.get(field)
        total += len(value) if isinstance(value, list) else value if isinstance(value, int) else 0
    return total


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
