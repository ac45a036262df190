"""``@escai.observe``: record calls of plain Python functions as ESCAI events.

    @escai.observe(kind="tool")
    def search(query: str) -> list[str]: ...

Each call emits a start event and an end event (``tool_call``/``tool_result``, ``agent_start``/``agent_end``,
``llm_request``/``llm_response``, or two ``custom`` events for ``kind="chain"``, the default). The start event's
content is the call's arguments and the end event's content its result, both rendered with bounds (see
:mod:`escai.sdk.render`); the end event carries ``duration_ms`` and status ``ok`` or ``error``. Events emitted
inside the call hang under the start event. An exception emits an ``error`` event, marks the end event failed and
propagates unchanged. Sync and async functions, generators and async generators are supported (a generator's
call lasts from its first ``next`` to its exhaustion or ``close``). Unconfigured, the function runs untouched.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeVar, overload

from escai.model import semconv
from escai.model.events import EventStatus, EventType
from escai.sdk.context import Scope, derive_scope, enter_scope, exit_scope, read_scope
from escai.sdk.errors import internal_errors_handled
from escai.sdk.recorder import Recorder
from escai.sdk.render import jsonable, render_text
from escai.sdk.runtime import get_recorder

Kind = Literal["tool", "agent", "llm", "chain"]
F = TypeVar("F", bound=Callable[..., Any])

OBSERVE_PHASE: Final = "escai.observe.phase"
"""``start`` or ``end`` on the two ``custom`` events of an observed ``chain`` call."""
OBSERVE_FUNCTION: Final = "escai.observe.function"
"""Module-qualified name of the observed function, on the start event."""
OBSERVE_YIELDED: Final = "escai.observe.yielded"
"""Number of items an observed generator yielded, on the end event."""

_EVENTS: dict[str, tuple[EventType, EventType, str]] = {
    "tool": (EventType.TOOL_CALL, EventType.TOOL_RESULT, "TOOL"),
    "agent": (EventType.AGENT_START, EventType.AGENT_END, "AGENT"),
    "llm": (EventType.LLM_REQUEST, EventType.LLM_RESPONSE, "LLM"),
    "chain": (EventType.CUSTOM, EventType.CUSTOM, "CHAIN"),
}
_MAX_KEPT_ITEMS = 20


@dataclass(frozen=True, slots=True)
class _Spec:
    kind: str
    name: str
    qualified: str
    agent_id: str | None
    capture_args: bool
    capture_result: bool
    positional: tuple[str, ...]
    varargs: str | None
    skip_first: bool


def _spec_of(
    func: Callable[..., Any], kind: str, name: str | None, agent_id: str | None, args: bool, result: bool
) -> _Spec:
    positional: list[str] = []
    varargs = None
    try:
        for parameter in inspect.signature(func).parameters.values():
            if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                positional.append(parameter.name)
            elif parameter.kind is parameter.VAR_POSITIONAL:
                varargs = parameter.name
    except (TypeError, ValueError):
        pass  # builtins without a signature: arguments are shown by position
    qualname = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or type(func).__name__
    return _Spec(
        kind=kind,
        name=name or qualname,
        qualified=f"{getattr(func, '__module__', None) or ''}.{qualname}".lstrip("."),
        agent_id=agent_id,
        capture_args=args,
        capture_result=result,
        positional=tuple(positional),
        varargs=varargs,
        skip_first=bool(positional) and positional[0] in ("self", "cls"),
    )


def _arguments(spec: _Spec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    named: dict[str, Any] = {}
    names = spec.positional
    for index, value in enumerate(args):
        if index < len(names):
            named[names[index]] = value
        else:
            named.setdefault(spec.varargs or "args", []).append(value)
    named.update(kwargs)
    if spec.skip_first:
        named.pop(names[0], None)
    return named


def _usage(result: Any) -> tuple[int | None, int | None]:
    """Token counts of an OpenAI/Anthropic-style response (``usage.prompt_tokens`` or ``usage.input_tokens``)."""
    usage = result.get("usage") if isinstance(result, Mapping) else getattr(result, "usage", None)
    if usage is None:
        return None, None

    def read(*names: str) -> int | None:
        for field in names:
            value = usage.get(field) if isinstance(usage, Mapping) else getattr(usage, field, None)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
        return None

    return read("prompt_tokens", "input_tokens"), read("completion_tokens", "output_tokens")


class _Call:
    """One observed call: emits its start event, then exactly one end."""

    __slots__ = ("kept", "recorder", "spec", "start_id", "started", "yielded")

    def __init__(self, recorder: Recorder, spec: _Spec, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
        self.recorder = recorder
        self.spec = spec
        self.start_id: str | None = None
        self.started = time.perf_counter()
        self.yielded = 0
        self.kept: list[Any] = []
        with internal_errors_handled("observe"):
            start_type, _, span_kind = _EVENTS[spec.kind]
            attributes: dict[str, Any] = {semconv.OPENINFERENCE_SPAN_KIND: span_kind, OBSERVE_FUNCTION: spec.qualified}
            if spec.kind == "tool":
                attributes[semconv.GEN_AI_TOOL_NAME] = spec.name
            elif spec.kind == "agent":
                attributes[semconv.GEN_AI_AGENT_NAME] = spec.name
            elif spec.kind == "llm" and isinstance(kwargs.get("model"), str):
                attributes[semconv.GEN_AI_REQUEST_MODEL] = kwargs["model"]
            elif spec.kind == "chain":
                attributes[OBSERVE_PHASE] = "start"
            content = render_text(_arguments(spec, args, kwargs)) if spec.capture_args else None
            self.start_id = recorder.emit(
                start_type,
                content,
                name=spec.name,
                attributes=attributes,
                agent_id=spec.agent_id,
                agent_name=spec.agent_id,
            )

    def scope(self) -> Scope:
        """The scope of the call's body, derived from the current one: events inside hang under the start event."""
        return derive_scope(
            read_scope(), parent_id=self.start_id, agent_id=self.spec.agent_id, agent_name=self.spec.agent_id
        )

    def keep(self, item: Any) -> None:
        """Count an item a generator yielded (and keep the first few for the end event)."""
        self.yielded += 1
        if self.spec.capture_result and len(self.kept) < _MAX_KEPT_ITEMS:
            self.kept.append(jsonable(item))

    def finish(self, result: Any = None, *, generator: bool = False) -> None:
        """Emit the end event of a call that returned ``result``."""
        with internal_errors_handled("observe"):
            attributes: dict[str, Any] = {}
            tokens_input = tokens_output = None
            if generator:
                attributes[OBSERVE_YIELDED] = self.yielded
                content = render_text(self.kept) if self.spec.capture_result else None
            else:
                content = render_text(result) if self.spec.capture_result and result is not None else None
                if self.spec.kind == "llm":
                    tokens_input, tokens_output = _usage(result)
            self._end(EventStatus.OK, content, attributes, tokens_input, tokens_output)

    def fail(self, error: BaseException) -> None:
        """Emit an ``error`` event and the failed end event of a call that raised ``error``."""
        with internal_errors_handled("observe"):
            message = render_text(str(error))
            attributes: dict[str, Any] = {
                semconv.ESCAI_ERROR_TYPE: type(error).__name__,
                semconv.ESCAI_ERROR_MESSAGE: message,
            }
            self.recorder.emit(
                EventType.ERROR,
                message,
                name=type(error).__name__,
                attributes=attributes,
                agent_id=self.spec.agent_id,
                agent_name=self.spec.agent_id,
                parent_id=self.start_id,
                status=EventStatus.ERROR,
            )
            if self.yielded:
                attributes = {**attributes, OBSERVE_YIELDED: self.yielded}
            self._end(EventStatus.ERROR, f"{type(error).__name__}: {message}", dict(attributes), None, None)

    def _end(
        self,
        status: EventStatus,
        content: str | None,
        attributes: dict[str, Any],
        tokens_input: int | None,
        tokens_output: int | None,
    ) -> None:
        _, end_type, _ = _EVENTS[self.spec.kind]
        if self.spec.kind == "chain":
            attributes[OBSERVE_PHASE] = "end"
        self.recorder.emit(
            end_type,
            content,
            name=self.spec.name,
            attributes=attributes or None,
            agent_id=self.spec.agent_id,
            agent_name=self.spec.agent_id,
            parent_id=self.start_id,
            tokens_input=tokens_input,
            tokens_output=tokens_output,
            duration_ms=(time.perf_counter() - self.started) * 1000.0,
            status=status,
        )


def _wrap_function(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    @functools.wraps(func)
    def observed(*args: Any, **kwargs: Any) -> Any:
        recorder = get_recorder()
        if recorder is None:
            return func(*args, **kwargs)
        call = _Call(recorder, spec, args, kwargs)
        token = enter_scope(call.scope())
        try:
            result = func(*args, **kwargs)
        except BaseException as error:
            call.fail(error)
            raise
        finally:
            exit_scope(token)
        call.finish(result)
        return result

    return observed


def _wrap_coroutine(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    @functools.wraps(func)
    async def observed(*args: Any, **kwargs: Any) -> Any:
        recorder = get_recorder()
        if recorder is None:
            return await func(*args, **kwargs)
        call = _Call(recorder, spec, args, kwargs)
        token = enter_scope(call.scope())
        try:
            result = await func(*args, **kwargs)
        except BaseException as error:
            call.fail(error)
            raise
        finally:
            exit_scope(token)
        call.finish(result)
        return result

    return observed


def _wrap_generator(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    @functools.wraps(func)
    def observed(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        recorder = get_recorder()
        if recorder is None:
            return (yield from func(*args, **kwargs))
        generator = func(*args, **kwargs)
        call = _Call(recorder, spec, args, kwargs)
        # Drive the generator by hand: the scope is entered around each resumption only, so events the caller
        # emits between two items do not land under this call.
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            token = enter_scope(call.scope())
            try:
                if thrown is not None:
                    error, thrown = thrown, None
                    item = generator.throw(error)
                else:
                    item = generator.send(sent)
            except StopIteration as stop:
                call.finish(generator=True)
                return stop.value
            except BaseException as error:
                call.fail(error)
                raise
            finally:
                exit_scope(token)
            call.keep(item)
            try:
                sent = yield item
            except GeneratorExit:
                generator.close()
                call.finish(generator=True)
                raise
            except BaseException as error:
                thrown = error

    return observed


def _wrap_async_generator(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    @functools.wraps(func)
    async def observed(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        generator = func(*args, **kwargs)
        recorder = get_recorder()
        call = None if recorder is None else _Call(recorder, spec, args, kwargs)
        # No `yield from` for async generators: drive by hand, entering the scope around each resumption.
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            token = None if call is None else enter_scope(call.scope())
            try:
                if thrown is not None:
                    error, thrown = thrown, None
                    item = await generator.athrow(error)
                else:
                    item = await generator.asend(sent)
            except StopAsyncIteration:
                if call is not None:
                    call.finish(generator=True)
                return
            except BaseException as error:
                if call is not None:
                    call.fail(error)
                raise
            finally:
                if token is not None:
                    exit_scope(token)
            if call is not None:
                call.keep(item)
            try:
                sent = yield item
            except GeneratorExit:
                await generator.aclose()
                if call is not None:
                    call.finish(generator=True)
                raise
            except BaseException as error:
                thrown = error

    return observed


def _decorate(func: F, spec: _Spec) -> F:
    if inspect.isasyncgenfunction(func):
        wrapped = _wrap_async_generator(func, spec)
    elif inspect.isgeneratorfunction(func):
        wrapped = _wrap_generator(func, spec)
    elif inspect.iscoroutinefunction(func):
        wrapped = _wrap_coroutine(func, spec)
    else:
        wrapped = _wrap_function(func, spec)
    return wrapped  # type: ignore[return-value]


@overload
def observe(func: F, /) -> F: ...


@overload
def observe(
    *,
    kind: Kind = "chain",
    name: str | None = None,
    agent_id: str | None = None,
    capture_args: bool = True,
    capture_result: bool = True,
) -> Callable[[F], F]: ...


def observe(
    func: F | None = None,
    /,
    *,
    kind: Kind = "chain",
    name: str | None = None,
    agent_id: str | None = None,
    capture_args: bool = True,
    capture_result: bool = True,
) -> F | Callable[[F], F]:
    """Record each call of the decorated function as a start/end pair of events; see :mod:`escai.sdk.observe`.

    ``kind`` picks the event types (``tool``, ``agent``, ``llm``, or ``chain`` for two ``custom`` events);
    ``name`` defaults to the function's qualified name; ``agent_id`` attributes the call and everything inside it
    to another agent (for multi-agent programs); ``capture_args``/``capture_result`` turn the rendering of
    arguments and result off (for secrets or large values). Decorating never fails: an unknown ``kind`` falls
    back to ``chain``.
    """
    if kind not in _EVENTS:
        with internal_errors_handled("observe"):
            raise ValueError(f"escai.observe: unknown kind {kind!r}; expected one of {sorted(_EVENTS)}")
        kind = "chain"

    def decorate(function: F) -> F:
        spec = _spec_of(function, kind, name, agent_id, capture_args, capture_result)
        return _decorate(function, spec)

    if func is not None:
        return decorate(func)
    return decorate
