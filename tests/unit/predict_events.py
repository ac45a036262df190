"""Events and runs shared by the performance predictor's tests: hand-made events and the tau-bench runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from escai.analysis.predict.dataset import OutcomeRun, collect_outcome_runs
from escai.ingest.importers import read_runs
from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
TAU_BENCH = DATASETS / "tau_bench_historical" / "gpt-4o-airline.json.gz"
START = datetime(2025, 1, 1, tzinfo=UTC)


def make_event(index: int, event_type: EventType, *, session: str = "s", **fields: Any) -> AgentEvent:
    """One event of ``session`` at second ``index``, with id ``e<index>`` (prefixed by the session unless ``s``)."""
    prefix = "" if session == "s" else f"{session}-"
    values: dict[str, Any] = {"id": f"{prefix}e{index}", "session_id": session, "agent_id": "agent"}
    values.update(type=event_type, timestamp=START + timedelta(seconds=index), **fields)
    return AgentEvent(**values)


def end_event(index: int, success: bool, *, session: str = "s") -> AgentEvent:
    """The session_end event carrying the outcome (and a final answer no feature may read)."""
    return make_event(
        index,
        EventType.SESSION_END,
        session=session,
        content="final answer",
        attributes={semconv.ESCAI_OUTCOME_SUCCESS: success},
        status=EventStatus.OK if success else EventStatus.ERROR,
    )


def tau_bench_runs() -> list[OutcomeRun]:
    """The 200 tau-bench airline runs with their outcomes (the test is skipped without the shared data)."""
    if not TAU_BENCH.exists():
        pytest.skip(f"dataset missing: {TAU_BENCH}")
    runs, _ = collect_outcome_runs(read_runs(TAU_BENCH, "tau-bench"))
    return runs
