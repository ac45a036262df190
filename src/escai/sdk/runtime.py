"""The process-wide recorder that ``escai.init`` configures and instrumentors emit through.

With ``ESCAI_AUTO_INIT=1`` in the environment, the first call of :func:`get_recorder` in a process where nothing
called ``escai.init`` configures ESCAI from the environment (``escai.init()`` without arguments: the server named
by ``ESCAI_ENDPOINT``, or the embedded store). Without it, an unconfigured process records nothing.
"""

from __future__ import annotations

import os
import sys
import threading

from escai.sdk.errors import internal_errors_handled
from escai.sdk.recorder import Recorder

_lock = threading.Lock()
_recorder: Recorder | None = None
_auto_init_tried = False


def default_agent_id() -> str:
    """The agent id used when none is given: the running script's name."""
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
    return os.path.splitext(script)[0] or "python"


def set_recorder(recorder: Recorder | None) -> Recorder | None:
    """Install ``recorder`` as the process-wide one; return the previous one (not shut down)."""
    global _recorder
    with _lock:
        previous, _recorder = _recorder, recorder
    return previous


def get_recorder() -> Recorder | None:
    """The process-wide recorder, or None before ``escai.init`` (instrumentors then record nothing)."""
    recorder = _recorder
    if recorder is None and not _auto_init_tried:
        return _auto_init()
    return recorder


def _auto_init() -> Recorder | None:
    global _auto_init_tried
    with _lock:
        if _auto_init_tried:
            return _recorder
        _auto_init_tried = True
    if os.environ.get("ESCAI_AUTO_INIT", "").strip().lower() not in {"1", "true", "yes"}:
        return None
    with internal_errors_handled("escai auto-init"):
        from escai.sdk.api import init

        return init()
    return None
