"""The shared base of ESCAI's framework instrumentors.

Each framework gets one module with one :class:`Instrumentor` subclass. The base gives every instrumentor the
same contract: ``instrument()`` is idempotent, ``uninstrument()`` restores everything it changed, the framework
is imported lazily (a missing package produces the exact ``pip install 'escai[extra]'`` hint), and its version
is checked against the range the instrumentor was tested with. Instrumentors prefer a framework's own hooks
(callbacks, event buses, tracing processors) over patching methods; where they must patch, they record each
original in :meth:`Instrumentor.patch` so that ``uninstrument()`` can put it back.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from packaging.version import Version

from escai.exceptions import EscaiError
from escai.sdk.errors import report_internal_error


class InstrumentationError(EscaiError):
    """A framework cannot be instrumented: not installed, or a version outside the supported range."""


class Instrumentor:
    """Base class: subclasses set the class attributes and implement ``_instrument`` / ``_uninstrument``."""

    framework: ClassVar[str]
    """ESCAI's name for the framework (``langchain``, ``autogen``, ...), stored on every event."""
    distribution: ClassVar[str]
    """The PyPI distribution whose version is checked (``langchain-core``)."""
    extra: ClassVar[str]
    """The ``escai[...]`` extra that installs it."""
    min_version: ClassVar[str]
    """Oldest supported version (inclusive)."""
    max_version: ClassVar[str | None] = None
    """First unsupported version (exclusive), or None."""

    _instances: ClassVar[dict[type[Instrumentor], Instrumentor]] = {}
    _instances_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self) -> None:
        self._instrumented = False
        self._originals: list[tuple[Any, str, Any]] = []
        self._lock = threading.Lock()

    @classmethod
    def instance(cls) -> Instrumentor:
        """The process-wide instance of this instrumentor (``instrument_x()`` functions use it)."""
        with Instrumentor._instances_lock:
            found = Instrumentor._instances.get(cls)
            if found is None:
                found = Instrumentor._instances[cls] = cls()
            return found

    @property
    def is_instrumented(self) -> bool:
        """Whether the framework is currently instrumented by this instance."""
        return self._instrumented

    def installed_version(self) -> Version:
        """The installed framework version; raises :class:`InstrumentationError` with an install hint."""
        try:
            return Version(importlib.metadata.version(self.distribution))
        except importlib.metadata.PackageNotFoundError:
            raise InstrumentationError(
                f"{self.distribution} is not installed; install it with: pip install 'escai[{self.extra}]'"
            ) from None

    def check_version(self) -> Version:
        """Refuse a framework version outside the tested range, saying which range is supported."""
        version = self.installed_version()
        too_old = version < Version(self.min_version)
        too_new = self.max_version is not None and version >= Version(self.max_version)
        if too_old or too_new:
            supported = f">={self.min_version}" + (f",<{self.max_version}" if self.max_version else "")
            raise InstrumentationError(
                f"{self.distribution} {version} is not supported by ESCAI's {self.framework} instrumentor "
                f"(supported: {supported})"
            )
        return version

    def import_module(self, name: str) -> Any:
        """Import a framework module, turning ImportError into the install hint."""
        try:
            return importlib.import_module(name)
        except ImportError as error:
            raise InstrumentationError(
                f"cannot import {name} ({error}); install it with: pip install 'escai[{self.extra}]'"
            ) from error

    def instrument(self) -> bool:
        """Start capturing this framework's events. Idempotent; returns True if it was not instrumented yet.

        Raises :class:`InstrumentationError` when the framework is missing or unsupported; never raises for
        anything else (internal failures are logged and leave the framework untouched).
        """
        with self._lock:
            if self._instrumented:
                return False
            self.check_version()
            try:
                self._instrument()
            except InstrumentationError:
                self._restore_patches()
                raise
            except Exception as error:
                self._restore_patches()
                report_internal_error(f"{type(self).__name__}.instrument", error)
                return False
            self._instrumented = True
            return True

    def uninstrument(self) -> bool:
        """Stop capturing and restore everything ``instrument`` changed. Returns True if it was instrumented."""
        with self._lock:
            if not self._instrumented:
                return False
            try:
                self._uninstrument()
            except Exception as error:
                report_internal_error(f"{type(self).__name__}.uninstrument", error)
            finally:
                self._restore_patches()
                self._instrumented = False
            return True

    def patch(self, owner: Any, attribute: str, make_wrapper: Callable[[Any], Any]) -> None:
        """Replace ``owner.attribute`` with ``make_wrapper(original)``; ``uninstrument`` restores the original."""
        original = owner.__dict__[attribute] if isinstance(owner, type) else getattr(owner, attribute)
        self._originals.append((owner, attribute, original))
        setattr(owner, attribute, make_wrapper(getattr(owner, attribute)))

    def _restore_patches(self) -> None:
        while self._originals:
            owner, attribute, original = self._originals.pop()
            setattr(owner, attribute, original)

    def _instrument(self) -> None:
        """Install the hooks (subclasses)."""
        raise NotImplementedError

    def _uninstrument(self) -> None:
        """Remove hooks that :meth:`patch` did not record (subclasses; default: nothing)."""
