"""Post-import hooks: run a function once a module has been imported, without importing it first.

``escai run`` uses these so that a program pays for instrumenting a framework only if it imports that framework.
A hook runs right after the module's code has executed, unless a module *of the same package* is still being
imported around it (``import langchain_core.runnables`` imports ``langchain_core`` first): then it waits until
that outermost import has finished too, so the hook never sees a half-initialised package. Imports of other
packages may still be in progress (the user's own module that imports the framework); hooks only touch their own
framework, so that is safe.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

from escai.sdk.errors import report_internal_error

Hook = Callable[[], None]

_BOOTSTRAP_FILE = "<frozen importlib._bootstrap>"


def _imports_in_progress() -> list[str]:
    """Names of the modules being imported by this thread, innermost first."""
    names: list[str] = []
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "_find_and_load" and code.co_filename == _BOOTSTRAP_FILE:
            name = frame.f_locals.get("name")
            if isinstance(name, str):
                names.append(name)
        frame = frame.f_back  # type: ignore[assignment]
    return names


def _in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


class _NotifyingLoader(importlib.abc.Loader):
    """Delegates to the real loader and calls ``after`` once the module's code has run."""

    def __init__(self, loader: Any, after: Callable[[], None]) -> None:
        self._loader = loader
        self._after = after

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        # Put the real loader back first: the module must look exactly as if it had been imported normally.
        module.__loader__ = self._loader
        if module.__spec__ is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        self._after()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class PostImportHooks(importlib.abc.MetaPathFinder):
    """A meta-path finder that watches a few module names; install with :meth:`install`."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._hooks: dict[str, list[Hook]] = {}
        self._waiting: dict[str, list[tuple[str, Hook]]] = {}
        self._local = threading.local()

    def install(self) -> None:
        """Put the finder first on ``sys.meta_path`` (once)."""
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def uninstall(self) -> None:
        """Remove the finder; hooks not run yet are forgotten."""
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        with self._lock:
            self._hooks.clear()
            self._waiting.clear()

    def when_imported(self, module: str, hook: Hook) -> None:
        """Run ``hook`` once ``module`` is imported (now, if it already is)."""
        if module in sys.modules:
            self._run(module, hook)
            return
        with self._lock:
            self._hooks.setdefault(module, []).append(hook)
        self.install()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        """Find watched modules through the other finders and wrap their loader; ignore everything else."""
        with self._lock:
            hooks = self._hooks.pop(fullname, None)
            waiting = self._waiting.pop(fullname, None)
        if hooks is None and waiting is None:
            return None
        busy: set[str] = self._local.__dict__.setdefault("busy", set())
        if fullname in busy:
            return None
        busy.add(fullname)
        try:
            spec = importlib.util.find_spec(fullname)
        except (ImportError, ValueError):
            spec = None
        finally:
            busy.discard(fullname)
        pending = [(fullname, hook) for hook in hooks or []] + list(waiting or [])
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            # Cannot watch this one (missing, namespace package, legacy loader): keep the hooks for a later
            # import of the module; hooks that were only waiting for it run now.
            with self._lock:
                self._hooks.setdefault(fullname, []).extend(hooks or [])
            for module, hook in waiting or []:
                self._run(module, hook)
            return spec
        spec.loader = _NotifyingLoader(spec.loader, lambda: self._imported(pending, fullname))
        return spec

    def _imported(self, pending: list[tuple[str, Hook]], finished: str) -> None:
        in_progress = _imports_in_progress()
        for module, hook in pending:
            package = module.split(".")[0]
            enclosing = [name for name in in_progress if _in_package(name, package) and name not in (module, finished)]
            if enclosing:
                # The outermost import of the same package has not been found yet (parents are imported first),
                # so its find_spec will come through here: run the hook after that module instead.
                with self._lock:
                    self._waiting.setdefault(enclosing[-1], []).append((module, hook))
            else:
                self._run(module, hook)

    @staticmethod
    def _run(module: str, hook: Hook) -> None:
        try:
            hook()
        except Exception as error:  # a failing hook must not break the user's import
            report_internal_error(f"post-import hook for {module}", error)


hooks = PostImportHooks()
"""The process-wide post-import hooks."""
