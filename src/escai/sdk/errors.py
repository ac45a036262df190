"""The one place where the SDK's own failures go: logged once, never raised into the user's program.

Under pytest (``PYTEST_CURRENT_TEST`` is set) internal errors are re-raised so that ESCAI's own tests see them;
:func:`swallow_internal_errors` turns that off for tests that prove the SDK stays silent.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_logger = logging.getLogger("escai.sdk")
_reported: set[str] = set()
_lock = threading.Lock()
_raise_override: bool | None = None


def _should_raise() -> bool:
    if _raise_override is not None:
        return _raise_override
    return "PYTEST_CURRENT_TEST" in os.environ and os.environ.get("ESCAI_SDK_SWALLOW_ERRORS") != "1"


def report_internal_error(where: str, error: BaseException) -> None:
    """Log an SDK failure once per place and kind; re-raise it only in ESCAI's own test runs."""
    key = f"{where}:{type(error).__name__}"
    with _lock:
        first = key not in _reported
        _reported.add(key)
    if first:
        _logger.warning("escai: internal error in %s (the monitored program is unaffected)", where, exc_info=error)
    if _should_raise():
        raise error


@contextmanager
def internal_errors_handled(where: str) -> Iterator[None]:
    """Run a block of SDK code; any exception in it is reported and swallowed."""
    try:
        yield
    except Exception as error:
        report_internal_error(where, error)


@contextmanager
def swallow_internal_errors() -> Iterator[None]:
    """Inside the block, internal errors are logged and swallowed even under pytest."""
    global _raise_override
    previous, _raise_override = _raise_override, False
    try:
        yield
    finally:
        _raise_override = previous
