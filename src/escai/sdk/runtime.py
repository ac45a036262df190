"""The process-wide recorder that ``escai.init`` configures and instrumentors emit through."""

from __future__ import annotations

import os
import sys
import threading

from escai.sdk.recorder import Recorder

_lock = threading.Lock()
_recorder: Recorder | None = None


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
    return _recorder
