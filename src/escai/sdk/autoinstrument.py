"""``escai run -- CMD``: run a program with every installed framework instrumented, without code changes.

The command runs as a child process whose ``PYTHONPATH`` starts with a folder holding only a ``sitecustomize``
module; Python imports it at start-up in every Python process of the command (subprocesses included), and it calls
:func:`bootstrap`: ``escai.init()`` from the ``ESCAI_*`` variables set here, then post-import hooks that instrument
LangChain, AutoGen, CrewAI and the OpenAI SDK when (and only if) the program imports them.

The run is one monitoring session. This process emits its ``session_start`` (the command line as the task) before
starting the command and its ``session_end`` after it exits, with the exit code as the outcome, so the session ends
properly even when the program crashes or is killed. Every event the program emits outside its own
``escai.session`` blocks belongs to this session and hangs under its start event.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Final

from escai.model.semconv import PROCESS_EXIT_CODE
from escai.sdk.context import Scope, enter_scope
from escai.sdk.errors import internal_errors_handled

BOOTSTRAP_DIR = Path(__file__).with_name("_bootstrap")

PROCESS_COMMAND_LINE: Final = "process.command_line"
"""OpenTelemetry's attribute for the command line, on the run's ``session_start``."""

_bootstrapped = False


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How ``escai run`` monitors the command."""

    endpoint: str | None = None
    api_key: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    database_url: str | None = None
    frameworks: Sequence[str] | None = None
    """Frameworks to instrument; None: every installed one; empty: none."""
    shutdown_timeout: float = 5.0
    extra_environment: Mapping[str, str] = field(default_factory=dict)


def default_agent_id(command: Sequence[str]) -> str:
    """The agent id of a command: the script of ``python script.py`` / ``python -m module``, else the program."""
    program = Path(command[0]).name
    if program.startswith("python") and len(command) > 1:
        arguments = list(command[1:])
        if arguments[0] == "-m" and len(arguments) > 1:
            return arguments[1]
        for argument in arguments:
            if not argument.startswith("-"):
                return Path(argument).stem
    return Path(program).stem or "program"


def child_environment(
    base: Mapping[str, str], options: RunOptions, *, session_id: str, parent_id: str | None, agent_id: str
) -> dict[str, str]:
    """The environment of the command: PYTHONPATH led by the bootstrap folder, and the ``ESCAI_*`` settings."""
    environment = dict(base)
    path = environment.get("PYTHONPATH")
    environment["PYTHONPATH"] = str(BOOTSTRAP_DIR) + (os.pathsep + path if path else "")
    values = {
        "ESCAI_RUN": "1",
        "ESCAI_SESSION_ID": session_id,
        "ESCAI_PARENT_ID": parent_id,
        "ESCAI_AGENT_ID": agent_id,
        "ESCAI_AGENT_NAME": options.agent_name,
        "ESCAI_ENDPOINT": options.endpoint,
        "ESCAI_API_KEY": options.api_key,
        "ESCAI_DATABASE_URL": options.database_url,
        "ESCAI_SHUTDOWN_TIMEOUT": str(options.shutdown_timeout),
        "ESCAI_INSTRUMENT": None if options.frameworks is None else ",".join(options.frameworks) or "none",
    }
    environment.update({name: value for name, value in values.items() if value})
    environment.update(options.extra_environment)
    return environment


def _float_env(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, ""))
    except ValueError:
        return default


def bootstrap(sitecustomize_file: str | None = None) -> None:
    """Configure ESCAI in a process started by ``escai run`` (called from the bootstrap ``sitecustomize``)."""
    global _bootstrapped
    if _bootstrapped:
        return
    _bootstrapped = True
    here = str(Path(sitecustomize_file).parent) if sitecustomize_file else str(BOOTSTRAP_DIR)
    if os.environ.get("ESCAI_RUN") == "1":
        with internal_errors_handled("escai run bootstrap"):
            from escai.instrument.auto import instrument_when_imported
            from escai.sdk.api import init

            init(shutdown_timeout=_float_env("ESCAI_SHUTDOWN_TIMEOUT", 5.0))
            session_id = os.environ.get("ESCAI_SESSION_ID")
            if session_id:
                # The whole main thread (and the asyncio tasks it starts) runs inside the run's session, so that
                # instrumentors that open their own session outside any scope join this one instead.
                enter_scope(Scope(session_id=session_id, parent_id=os.environ.get("ESCAI_PARENT_ID") or None))
            wanted = os.environ.get("ESCAI_INSTRUMENT", "").strip()
            if wanted.lower() != "none":
                instrument_when_imported(wanted.split(",") if wanted else None)
    _load_shadowed_sitecustomize(here)


def _load_shadowed_sitecustomize(here: str) -> None:
    """Run the ``sitecustomize`` that ours hides (a distribution's or a virtualenv's), as Python would have."""
    own = os.path.realpath(here)
    # Our folder leaves the import path of this process (children still inherit it through PYTHONPATH).
    sys.path[:] = [entry for entry in sys.path if os.path.realpath(entry or ".") != own]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    with internal_errors_handled("shadowed sitecustomize"):
        spec.loader.exec_module(module)


def _exit_status(returncode: int) -> int:
    # A child killed by a signal reports -N; shells report 128 + N.
    return 128 - returncode if returncode < 0 else returncode


def run_instrumented(command: Sequence[str], options: RunOptions) -> int:
    """Run ``command`` monitored as one session; return its exit status (127 if it cannot be started)."""
    from escai.sdk.api import init, shutdown
    from escai.sdk.embedded_exporter import EmbeddedExporter
    from escai.sdk.monitor import session_end_event, session_start_event

    session_id = uuid.uuid4().hex
    agent_id = options.agent_id or options.agent_name or default_agent_id(command)
    task = shlex.join(command)
    recorder = init(
        options.endpoint,
        api_key=options.api_key,
        agent_id=agent_id,
        agent_name=options.agent_name,
        database_url=options.database_url,
        session_id=session_id,
        shutdown_timeout=options.shutdown_timeout,
    )
    start_id = None
    if recorder is not None:
        if isinstance(recorder.exporter, EmbeddedExporter):
            # Let the store finish migrating before the command's own processes open it.
            recorder.exporter.wait_ready(60.0)
        with internal_errors_handled("escai run"):
            start_id = session_start_event(
                recorder,
                session_id,
                task,
                agent_id=agent_id,
                agent_name=options.agent_name,
                framework=None,
                metadata={PROCESS_COMMAND_LINE: task},
            )
    environment = child_environment(os.environ, options, session_id=session_id, parent_id=start_id, agent_id=agent_id)
    started = time.monotonic()
    error: BaseException | None = None
    try:
        status = _run_child(command, environment)
    except OSError as failure:
        print(f"escai run: cannot start {command[0]!r}: {failure}", file=sys.stderr)
        status, error = 127, failure
    if recorder is not None:
        with internal_errors_handled("escai run"):
            session_end_event(
                recorder,
                session_id,
                start_id,
                agent_id=agent_id,
                duration_s=time.monotonic() - started,
                success=status == 0,
                score=None,
                error=error,
                extra={PROCESS_EXIT_CODE: status},
            )
    shutdown(options.shutdown_timeout)
    return status


def _run_child(command: Sequence[str], environment: Mapping[str, str]) -> int:
    process = subprocess.Popen(list(command), env=dict(environment))  # noqa: S603 - running it is the point

    def forward(signum: int, _frame: FrameType | None) -> None:
        process.send_signal(signum)

    previous = signal.signal(signal.SIGTERM, forward) if _on_main_thread() else None
    try:
        while True:
            try:
                return _exit_status(process.wait())
            except KeyboardInterrupt:
                # The terminal sent SIGINT to the child as well; let it decide how to stop, and wait for it.
                continue
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()
