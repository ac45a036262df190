"""ESCAI's errors. Every error ESCAI raises on purpose derives from :class:`EscaiError`::

EscaiError
├── ConfigurationError      settings that are missing, unsafe or contradictory
├── StorageError            the database refused or could not be reached
│   └── TransientStorageError   worth retrying (lock, connection drop, serialisation failure)
├── IngestError             a request the ingest pipeline cannot take
│   ├── PayloadTooLargeError    body or batch over the configured limit
│   └── InvalidEventError       one event failed validation (carries the reason)
└── NotFoundError           a session, agent or event that does not exist
"""


class EscaiError(Exception):
    """Base of every error ESCAI raises on purpose."""


class ConfigurationError(EscaiError, ValueError):
    """Settings are missing, unsafe or contradictory."""


class StorageError(EscaiError):
    """The database refused an operation or could not be reached."""


class TransientStorageError(StorageError):
    """A storage error that may succeed when retried (lock timeout, dropped connection)."""


class IngestError(EscaiError):
    """The ingest pipeline cannot take a request."""


class PayloadTooLargeError(IngestError):
    """A request body or batch is larger than the configured limit."""


class InvalidEventError(IngestError):
    """One event failed validation; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFoundError(EscaiError):
    """A session, agent or event does not exist."""
