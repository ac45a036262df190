"""Structured logging for ESCAI: one JSON-lines format for structlog and stdlib records.

Output format
    One JSON object per line, flat top-level keys, always in this order::

        {"timestamp": "2025-01-01T12:00:00.123456Z", "level": "info",
         "logger": "escai.store", "message": "stored", "correlation_id": "…",
         "session_id": null, "component": "store", ...bound metadata...}

    * ``timestamp`` is ISO-8601 in UTC with a ``Z`` suffix and microseconds;
      for stdlib records it is the record's creation time.
    * ``level`` is the lower-case level name (``debug`` … ``critical``).
    * ``message`` (not structlog's ``event``) because that is the default
      message field of Elasticsearch/ECS, Splunk and CloudWatch Logs Insights.
    * ``correlation_id``, ``session_id`` and ``component`` are always present
      (``null`` when unset) so index mappings and queries never have to
      special-case a missing key.  No ``@timestamp`` alias: every collector
      can be told which key holds the time, and duplicating it costs bytes on
      every line.
    * Keys are flat (no ``{"log": {...}}`` envelope) so ELK, Splunk and
      CloudWatch index them without custom parsing; nested values are kept as
      JSON objects.  A caller field that collides with a reserved key is kept
      with a trailing underscore (``message_``) instead of being dropped.
    * Exceptions become ``"exception": {"type", "message", "traceback"}``;
      the traceback is the full text (including chained causes) in one string.
    * Values orjson cannot encode natively are converted by :func:`json_default`
      (``Decimal`` -> string to keep precision, ``Path`` -> string, sets -> lists,
      ``bytes`` -> UTF-8 text with backslash escapes, exceptions -> dicts,
      anything else -> ``repr``); logging never raises because of a value.
      See :mod:`escai.ops.logging_json`.

Routing
    structlog loggers are thin wrappers around stdlib ``logging.Logger``
    objects; the shared processors run at the call site (where the context
    and ``sys.exc_info()`` are right) and the record then travels through the
    stdlib handlers, where a ``structlog.stdlib.ProcessorFormatter`` renders
    it.  Records from plain ``logging`` users (uvicorn, sqlalchemy, httpx)
    run through the same processors in the formatter's ``foreign_pre_chain``,
    so one file or stream carries one format, and stdlib tooling (pytest's
    ``caplog``, other handlers) still sees every ESCAI event.  Foreign records
    pick up the log context when they are formatted, which is in the emitting
    task/thread because stdlib handlers run synchronously; behind a
    ``QueueHandler`` they would not (ESCAI events are unaffected: their
    context is merged at the call site).

Performance
    Calls below the configured level cost one no-op method call: the wrapper
    class is built by ``structlog.make_filtering_bound_logger``.  ESCAI
    loggers are created already bound to one stable wrapper class and one
    processor list, which gives the effect of ``cache_logger_on_first_use``
    while letting :func:`configure_logging` change the level later (it
    re-points the wrapper class's level methods in place).  ``bench/bench_logging.py``
    measures the per-call cost against plain stdlib logging.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import IO, Any, Literal, cast

import structlog
import structlog.contextvars
import structlog.dev
import structlog.stdlib
from structlog import BoundLoggerBase
from structlog.typing import FilteringBoundLogger, Processor

from escai.ops.log_rotation import CompressingRotatingFileHandler
from escai.ops.logging_context import (
    LogContext,
    bind_log_context,
    clear_log_context,
    get_correlation_id,
    get_log_context,
    log_context,
    new_correlation_id,
    run_in_executor_with_context,
    submit_with_context,
    with_log_context,
)
from escai.ops.logging_json import StructuredEvent, json_default, render_json
from escai.ops.logging_processors import (
    add_record_extras,
    console_prepare,
    drop_meta,
    finalize,
    json_renderer,
)

__all__ = [
    "DEFAULT_ADOPTED_LOGGERS",
    "CompressingRotatingFileHandler",
    "EscaiLogger",
    "LogContext",
    "bind_log_context",
    "clear_log_context",
    "configure_logging",
    "get_correlation_id",
    "get_log_context",
    "get_logger",
    "json_default",
    "log_context",
    "new_correlation_id",
    "render_json",
    "reset_logging",
    "run_in_executor_with_context",
    "submit_with_context",
    "with_log_context",
]

#: The logger type returned by :func:`get_logger`.
EscaiLogger = FilteringBoundLogger

#: Loggers that install their own handlers (uvicorn's default ``log_config``);
#: :func:`configure_logging` strips those handlers so records reach ours.
DEFAULT_ADOPTED_LOGGERS: tuple[str, ...] = ("uvicorn", "uvicorn.error", "uvicorn.access")

# The processors structlog runs at the call site.  Module-level and never
# replaced, so loggers created before configure_logging() behave the same.
_CALL_SITE_PROCESSORS: list[Processor] = [
    structlog.contextvars.merge_contextvars,
    finalize,
    # Hands the event to the stdlib logger; ProcessorFormatter unpacks it in the handler.
    structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
]
# What ProcessorFormatter runs for records that did not come from structlog;
# extras first so that context values (merged with setdefault) do not override them.
_FOREIGN_PRE_CHAIN: list[Processor] = [
    add_record_extras,
    structlog.contextvars.merge_contextvars,
    finalize,
]


# -- logger class -----------------------------------------------------------------------------


class _EscaiBoundLogger(BoundLoggerBase):
    """The one wrapper class of every ESCAI logger; level methods are set by :func:`_set_level`."""


def _set_level(level: int) -> None:
    """Point ``_EscaiBoundLogger``'s level methods at structlog's filtering ones.

    ``make_filtering_bound_logger`` returns a static class per level whose
    below-level methods are no-ops.  Copying its methods onto our one class
    (instead of swapping classes) updates loggers that already exist.
    """
    filtering = structlog.make_filtering_bound_logger(level)
    for name, attr in vars(filtering).items():
        if not name.startswith("__"):
            setattr(_EscaiBoundLogger, name, attr)


# Before configure_logging() nothing is filtered here; the stdlib logger's own
# level decides, as for any library that has not been configured.
_set_level(logging.NOTSET)


def get_logger(name: str | None = None, component: str | None = None, **initial_values: Any) -> EscaiLogger:
    """Return a structlog logger that writes through stdlib logger ``name``.

    ``name`` defaults to the caller's module.  ``component`` (and any
    ``initial_values``) are bound to the logger and take precedence over the
    same keys in the log context.  Safe to call at import time, before
    :func:`configure_logging`.
    """
    if name is None:
        caller: str | None = sys._getframe(1).f_globals.get("__name__")
        name = caller or "escai"
    context = dict(initial_values)
    if component is not None:
        context["component"] = component
    bound = _EscaiBoundLogger(logging.getLogger(name), processors=_CALL_SITE_PROCESSORS, context=context)
    return cast(EscaiLogger, bound)


# -- configuration ----------------------------------------------------------------------------


class _State:
    """What configure_logging changed, so it can be undone exactly."""

    def __init__(self) -> None:
        self.key: tuple[Any, ...] | None = None
        self.handlers: list[logging.Handler] = []
        self.root_level: int | None = None
        self.saved_loggers: dict[str, tuple[list[logging.Handler], bool, int]] = {}
        self.saved_structlog: dict[str, Any] | None = None
        self.logger_class: type[logging.Logger] | None = None


_state = _State()
_config_lock = threading.RLock()


def _parse_level(level: str | int) -> int:
    """Turn "info"/"INFO"/20 into a stdlib level number."""
    if isinstance(level, int):
        return level
    value = logging.getLevelName(level.upper())
    if not isinstance(value, int):
        raise ValueError(f"unknown log level {level!r}")
    return value


class _EscaiFormatter(structlog.stdlib.ProcessorFormatter):
    """``ProcessorFormatter`` with a copy-free path for events from ESCAI loggers.

    The stock ``format`` clones every record (``makeLogRecord``) so it can
    overwrite ``msg`` without disturbing other handlers, then runs the
    ``logging.Formatter`` machinery.  Events from ESCAI loggers arrive fully
    processed, without ``exc_info``/``stack_info`` on the record, so rendering a
    copy of the event dict gives the same line for about a third less work.
    Everything else (foreign records, other structlog setups) takes the stock path.
    """

    def format(self, record: logging.LogRecord) -> str:
        """Render ``record`` with this formatter's processors."""
        event = record.msg
        if type(event) is not StructuredEvent:
            return super().format(record)
        # Copy: processors may mutate, and other handlers format the same record.
        rendered: Any = dict(event)
        method_name = getattr(record, "_name", record.levelname.lower())
        logger = getattr(record, "_logger", None)
        for processor in self.processors:
            rendered = processor(logger, method_name, rendered)
        return cast(str, rendered)


def _make_formatter(fmt: Literal["json", "console"], colors: bool) -> structlog.stdlib.ProcessorFormatter:
    """Build the formatter for one handler: JSON lines or structlog's console renderer."""
    renderer: Processor
    if fmt == "json":
        processors: list[Processor] = [drop_meta, json_renderer]
    else:
        renderer = structlog.dev.ConsoleRenderer(
            colors=colors,
            event_key="message",
            timestamp_key="timestamp",
            exception_formatter=structlog.dev.plain_traceback,
        )
        processors = [drop_meta, console_prepare, renderer]
    return _EscaiFormatter(processors=processors, foreign_pre_chain=_FOREIGN_PRE_CHAIN)


def _resolve_stream(stream: IO[str] | Literal["stderr", "stdout"] | None) -> IO[str] | None:
    """Map "stderr"/"stdout" to the current ``sys`` streams."""
    # Resolved at call time, not import time, so a replaced sys.stderr (pytest
    # capture, a daemoniser) is honoured.
    if stream == "stderr":
        return sys.stderr
    if stream == "stdout":
        return sys.stdout
    return stream


def configure_logging(
    level: str | int = "INFO",
    fmt: Literal["json", "console"] = "json",
    file: str | os.PathLike[str] | None = None,
    rotate_bytes: int | None = None,
    rotate_when: str | None = None,
    backup_count: int = 7,
    compress: bool = True,
    stream: IO[str] | Literal["stderr", "stdout"] | None = "stderr",
    *,
    rotate_interval: int = 1,
    logger_levels: Mapping[str, str | int] | None = None,
    adopt_loggers: Iterable[str] = DEFAULT_ADOPTED_LOGGERS,
) -> None:
    """Configure structlog and stdlib logging to emit one format (idempotent).

    ``fmt`` applies to ``stream`` (``"stderr"``/``"stdout"`` are looked up at
    call time; ``None`` disables stream output).  ``"console"`` is
    structlog's human renderer, coloured only when the stream is a TTY and
    ``NO_COLOR`` is unset.  ``file`` always receives JSON lines (rotated files
    are for machines); its directory is created.  ``rotate_bytes`` and/or
    ``rotate_when`` (``"S"``, ``"M"``, ``"H"``, ``"D"``, ``"midnight"``,
    ``"W0"``-``"W6"``, times ``rotate_interval``) enable rotation, gzip when
    ``compress``, keeping ``backup_count`` rotated files.  ``logger_levels``
    raises (or lowers, for stdlib-only loggers) individual loggers' levels,
    e.g. ``{"httpcore": "WARNING"}``.  ``adopt_loggers`` lose their own
    handlers and propagate to ours.

    Calling again with the same arguments changes nothing; different arguments
    replace the previous ESCAI handlers.  Handlers installed by others (e.g.
    pytest's) are left alone.
    """
    if fmt not in ("json", "console"):
        raise ValueError(f"fmt must be 'json' or 'console', got {fmt!r}")
    level_no = _parse_level(level)
    resolved = _resolve_stream(stream)
    levels = {name: _parse_level(lvl) for name, lvl in (logger_levels or {}).items()}
    adopted = tuple(adopt_loggers)
    key = (
        level_no,
        fmt,
        os.path.abspath(file) if file is not None else None,
        rotate_bytes,
        rotate_when,
        rotate_interval,
        backup_count,
        compress,
        resolved,  # compared by identity (streams do not define ==)
        tuple(sorted(levels.items())),
        adopted,
    )
    with _config_lock:
        if _state.key == key:
            return
        # Close the old handlers before opening new ones: a second rotating
        # handler on the same file would race the first over pending rotations.
        # If building the new ones fails we are left unconfigured, not half-configured.
        _undo_handlers_and_loggers()
        _state.key = None

        root = logging.getLogger()
        handlers: list[logging.Handler] = []
        if resolved is not None:
            colors = fmt == "console" and _isatty(resolved) and "NO_COLOR" not in os.environ
            stream_handler = logging.StreamHandler(resolved)
            stream_handler.setFormatter(_make_formatter(fmt, colors))
            handlers.append(stream_handler)
        if file is not None:
            handlers.append(
                _make_file_handler(file, rotate_bytes, rotate_when, rotate_interval, backup_count, compress)
            )
        for handler in handlers:
            handler.set_name("escai")
            root.addHandler(handler)
        _state.handlers = handlers
        if _state.root_level is None:
            _state.root_level = root.level
        root.setLevel(level_no)

        for name in adopted:
            lg = logging.getLogger(name)
            _state.saved_loggers.setdefault(name, (list(lg.handlers), lg.propagate, lg.level))
            for handler in list(lg.handlers):
                lg.removeHandler(handler)
            lg.propagate = True
        for name, lvl in levels.items():
            lg = logging.getLogger(name)
            _state.saved_loggers.setdefault(name, (list(lg.handlers), lg.propagate, lg.level))
            lg.setLevel(lvl)

        _set_level(level_no)
        if _state.saved_structlog is None:
            _state.saved_structlog = structlog.get_config()
            # structlog's LoggerFactory calls logging.setLoggerClass(); undone by reset.
            _state.logger_class = logging.getLoggerClass()
        # Plain structlog.get_logger() users get the same pipeline.
        structlog.configure(
            processors=_CALL_SITE_PROCESSORS,
            wrapper_class=_EscaiBoundLogger,
            context_class=dict,
            logger_factory=structlog.stdlib.LoggerFactory(),
            cache_logger_on_first_use=True,
        )
        _state.key = key


def _make_file_handler(
    file: str | os.PathLike[str],
    rotate_bytes: int | None,
    rotate_when: str | None,
    rotate_interval: int,
    backup_count: int,
    compress: bool,
) -> logging.Handler:
    """Open the JSON file handler, rotating if any rotation trigger is set."""
    path = os.path.abspath(file)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    handler: logging.Handler
    if rotate_bytes or rotate_when:
        handler = CompressingRotatingFileHandler(
            path,
            max_bytes=rotate_bytes or 0,
            when=rotate_when,
            interval=rotate_interval,
            backup_count=backup_count,
            compress=compress,
        )
    else:
        handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(_make_formatter("json", colors=False))
    return handler


def _isatty(stream: IO[str]) -> bool:
    """Whether ``stream`` is an interactive terminal (False when unknown)."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # file-likes without isatty, closed streams
        return False


def _undo_handlers_and_loggers() -> None:
    """Remove and close our handlers and give adopted/overridden loggers their old state."""
    root = logging.getLogger()
    for handler in _state.handlers:
        root.removeHandler(handler)
        handler.close()
    _state.handlers = []
    for name, (handlers, propagate, lvl) in _state.saved_loggers.items():
        lg = logging.getLogger(name)
        for handler in handlers:
            if handler not in lg.handlers:
                lg.addHandler(handler)
        lg.propagate = propagate
        lg.setLevel(lvl)
    _state.saved_loggers = {}


def reset_logging() -> None:
    """Undo :func:`configure_logging`: remove and close ESCAI handlers, restore levels.

    The root level, adopted/overridden loggers and structlog's global
    configuration return to what they were before the first
    :func:`configure_logging`; the log context is not touched.
    """
    with _config_lock:
        _undo_handlers_and_loggers()
        if _state.root_level is not None:
            logging.getLogger().setLevel(_state.root_level)
            _state.root_level = None
        if _state.saved_structlog is not None:
            structlog.configure(**_state.saved_structlog)
            _state.saved_structlog = None
        if _state.logger_class is not None:
            logging.setLoggerClass(_state.logger_class)
            _state.logger_class = None
        _set_level(logging.NOTSET)
        _state.key = None
