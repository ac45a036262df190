"""Log context (correlation id, session id, component, metadata) for ESCAI.

The context lives in :mod:`structlog.contextvars`, i.e. one ``ContextVar`` per
key.  That choice gives three properties for free:

* asyncio: every task starts with a *copy* of its creator's context, so values
  bound inside one task never leak into a sibling started by ``gather``;
* interop: code that calls ``structlog.contextvars.bind_contextvars`` directly
  (as structlog's own docs recommend for web middleware) lands in the same
  context and shows up in ESCAI's log lines;
* exact restore: every bind returns ``contextvars.Token`` objects, so leaving a
  :func:`log_context` block restores the previous value *or* the previous
  "unset" state, even on exceptions.

Threads and processes do not inherit contextvars automatically.
:func:`submit_with_context` and :func:`run_in_executor_with_context` capture
the context at submission time: thread pools run the call inside a copy of the
whole ``contextvars`` context (like ``asyncio.to_thread``); other executors,
notably ``ProcessPoolExecutor``, receive a picklable ``dict`` snapshot that the
top-level :func:`_call_with_log_context` re-binds in the worker.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast

import structlog.contextvars

__all__ = [
    "LogContext",
    "bind_log_context",
    "clear_log_context",
    "get_correlation_id",
    "get_log_context",
    "log_context",
    "new_correlation_id",
    "run_in_executor_with_context",
    "submit_with_context",
    "with_log_context",
]

P = ParamSpec("P")
R = TypeVar("R")

_Tokens = Mapping[str, contextvars.Token[Any]]
_MISSING: Any = object()


def new_correlation_id() -> str:
    """Return a fresh random correlation id (a UUID4 string); it is not bound."""
    return str(uuid.uuid4())


def get_log_context() -> dict[str, Any]:
    """Return a copy of the fields currently bound in the log context."""
    return structlog.contextvars.get_contextvars()


def get_correlation_id() -> str | None:
    """Return the correlation id bound in the current context, if any."""
    value = get_log_context().get("correlation_id")
    return None if value is None else str(value)


def bind_log_context(**fields: Any) -> _Tokens:
    """Bind ``fields`` for the rest of the current context (task/thread).

    Prefer :func:`log_context`, which unbinds automatically; this is for code
    with no natural scope, such as a worker initialiser.  The returned tokens
    can be passed to :meth:`LogContext.restore` to undo the bind.
    """
    return structlog.contextvars.bind_contextvars(**fields)


def clear_log_context() -> None:
    """Unbind every field of the current context (e.g. at the start of a request)."""
    structlog.contextvars.clear_contextvars()


class LogContext:
    """Bind fields on enter, restore the previous values on exit (sync and async).

    One object works as both ``with`` and ``async with``; exit restores
    through ``contextvars`` tokens, so a key that was unset before is unset
    again afterwards, also when the block raises.
    """

    __slots__ = ("_fields", "_tokens")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        """Remember ``fields``; nothing is bound until the block is entered."""
        self._fields = dict(fields)
        # A stack so the same object can be re-entered (nested, same task).
        self._tokens: list[_Tokens] = []

    @property
    def fields(self) -> dict[str, Any]:
        """The fields this context binds."""
        return dict(self._fields)

    def __enter__(self) -> LogContext:
        """Bind the fields in the current context."""
        self._tokens.append(structlog.contextvars.bind_contextvars(**self._fields))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Restore the values that were bound before ``__enter__``."""
        self.restore(self._tokens.pop())

    async def __aenter__(self) -> LogContext:
        """Async form of ``__enter__``."""
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Async form of ``__exit__``."""
        self.__exit__(exc_type, exc, tb)

    @staticmethod
    def restore(tokens: _Tokens) -> None:
        """Undo a bind described by ``tokens`` (from :func:`bind_log_context`)."""
        for token in reversed(list(tokens.values())):
            try:
                token.var.reset(token)
            except ValueError:
                # The token was created in another Context (e.g. entered in one
                # task, exited in another).  Setting the old value in the current
                # context is the closest meaningful restore.
                old = token.old_value
                token.var.set(Ellipsis if old is contextvars.Token.MISSING else old)
            except RuntimeError:
                pass  # already restored once; restoring twice must stay harmless


def log_context(**fields: Any) -> LogContext:
    """Bind ``fields`` for the duration of a ``with``/``async with`` block.

    Example::

        async with log_context(correlation_id=new_correlation_id(), session_id=sid):
            ...
    """
    return LogContext(fields)


def with_log_context(
    *,
    bind_args: Iterable[str] | Mapping[str, str] = (),
    **static_fields: Any,
) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate a sync or async function so every call runs inside a log context.

    ``static_fields`` are bound as given.  ``bind_args`` names parameters
    whose call-time values are bound too, whether passed positionally or by
    keyword (resolved with ``inspect.signature().bind``); pass a mapping
    ``{"param": "field"}`` to bind under a different key.  Arguments that are
    ``None`` are skipped so an omitted optional id does not mask an outer one.
    Generator functions are rejected: a context set around a generator would
    stay bound in the consumer between ``next()`` calls.
    """
    if isinstance(bind_args, str):  # a lone name, not an iterable of one-letter names
        bind_args = (bind_args,)
    arg_to_field = dict(bind_args) if isinstance(bind_args, Mapping) else {a: a for a in bind_args}

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError(f"with_log_context does not support generator function {fn.__qualname__}")
        fields_for = _fields_resolver(fn, arg_to_field, static_fields)

        if inspect.iscoroutinefunction(fn):
            async_fn = cast(Callable[..., Awaitable[Any]], fn)

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with LogContext(fields_for(args, kwargs)):
                    return await async_fn(*args, **kwargs)

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with LogContext(fields_for(args, kwargs)):
                return fn(*args, **kwargs)

        return wrapper

    return decorate


def _fields_resolver(
    fn: Callable[..., Any], arg_to_field: Mapping[str, str], static_fields: Mapping[str, Any]
) -> Callable[[tuple[Any, ...], dict[str, Any]], dict[str, Any]]:
    """Build the per-call ``(args, kwargs) -> fields`` function for the decorator."""
    static = dict(static_fields)
    if not arg_to_field:
        return lambda _args, _kwargs: static

    # Signature work happens once, at decoration time, not per call.
    sig = inspect.signature(fn)
    var_kw = next((p.name for p in sig.parameters.values() if p.kind is p.VAR_KEYWORD), None)
    unknown = [a for a in arg_to_field if a not in sig.parameters and var_kw is None]
    if unknown:
        raise TypeError(f"{fn.__qualname__} has no parameter(s) {unknown} to bind into the log context")

    def resolve(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        fields = dict(static)
        try:
            bound = sig.bind(*args, **kwargs)
        except TypeError:
            # Bad call: bind nothing and let the function raise its own TypeError.
            return fields
        bound.apply_defaults()
        arguments = bound.arguments
        extra: Mapping[str, Any] = arguments.get(var_kw, {}) if var_kw else {}
        for arg, field in arg_to_field.items():
            value = arguments[arg] if arg in arguments and arg != var_kw else extra.get(arg, _MISSING)
            if value is not _MISSING and value is not None:
                fields[field] = value
        return fields

    return resolve


def _call_with_log_context(snapshot: Mapping[str, Any], fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> R:
    """Run ``fn`` with ``snapshot`` bound, in a fresh context copy.

    Top-level (not a closure) so ``ProcessPoolExecutor`` can pickle it; the copy
    keeps one task's fields from leaking into the next task the worker runs.
    """

    def run() -> R:
        structlog.contextvars.bind_contextvars(**snapshot)
        return fn(*args, **kwargs)

    return contextvars.copy_context().run(run)


def submit_with_context(executor: Executor, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
    """``executor.submit(fn, *args, **kwargs)`` carrying the current log context.

    Thread pools run ``fn`` inside a copy of the whole ``contextvars`` context;
    any other executor (process pools, third-party executors) gets a picklable
    snapshot of the log fields, so ``fn`` and its arguments must be picklable
    exactly as for a plain ``submit``.
    """
    if isinstance(executor, ThreadPoolExecutor):
        return executor.submit(contextvars.copy_context().run, functools.partial(fn, *args, **kwargs))
    return executor.submit(_call_with_log_context, get_log_context(), fn, *args, **kwargs)


async def run_in_executor_with_context(
    executor: Executor | None, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
) -> R:
    """``await loop.run_in_executor(executor, fn, ...)`` carrying the log context.

    ``executor=None`` means the loop's default thread pool, whose plain
    ``run_in_executor`` (unlike ``asyncio.to_thread``) does not copy contextvars.
    """
    loop = asyncio.get_running_loop()
    call = functools.partial(fn, *args, **kwargs)
    if executor is None or isinstance(executor, ThreadPoolExecutor):
        return await loop.run_in_executor(executor, contextvars.copy_context().run, call)
    snapshot_call = functools.partial(_call_with_log_context, get_log_context(), call)
    return await loop.run_in_executor(executor, snapshot_call)
