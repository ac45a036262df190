"""Feature extraction of the performance predictor: no leakage past a cut, no reading of the outcome, grouping."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
from tests.unit.predict_events import end_event, make_event, tau_bench_runs

from escai.analysis.predict.dataset import has_recorded_times
from escai.analysis.predict.features import (
    FeatureExtractor,
    prefix_events,
    prefix_step_count,
    register_feature_group,
    step_events,
    task_group,
)
from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType


def small_run(success: bool = True) -> list[AgentEvent]:
    """A run with a task, two failing and one passing command, a message and an end event with the outcome."""
    return [
        make_event(0, EventType.SESSION_START, attributes={semconv.ESCAI_TASK: "Fix the bug"}),
        make_event(1, EventType.TOOL_CALL, name="bash", content="pytest", attributes={"gen_ai.tool.name": "bash"}),
        make_event(2, EventType.TOOL_RESULT, name="bash", content="1 failed\nError: boom", status=EventStatus.ERROR),
        make_event(3, EventType.TOOL_CALL, name="bash", content="pytest", attributes={"gen_ai.tool.name": "bash"}),
        make_event(4, EventType.TOOL_RESULT, name="bash", content="Traceback", status=EventStatus.ERROR),
        make_event(5, EventType.MESSAGE, content="Sorry, I might be wrong?", attributes={"message.role": "assistant"}),
        make_event(6, EventType.TOOL_CALL, name="bash", content="ls", attributes={"gen_ai.tool.name": "bash"}),
        make_event(7, EventType.TOOL_RESULT, name="bash", content="ok", status=EventStatus.OK),
        end_event(9, success),
    ]


@pytest.fixture(scope="module")
def tau_runs() -> list[Any]:
    """The 200 tau-bench airline runs (50 tasks x 4 trials) with their outcomes."""
    return tau_bench_runs()


def test_features_of_a_small_run_count_what_happened() -> None:
    """Counts, error streaks, repeats and cue words match the events of a hand-made run."""
    extractor = FeatureExtractor()
    values = dict(zip(extractor.names, extractor.extract(small_run()), strict=True))
    assert values["steps"] == 7
    assert values["tool_calls"] == 3 and values["tool_errors"] == 2
    assert values["longest_error_streak"] == 2 and values["error_streak"] == 0
    assert values["repeated_calls"] == 1 and values["max_identical_calls"] == 2
    assert values["agent_hedges"] >= 2 and values["agent_questions"] == 1
    assert values["tests_failed_mentions"] == 1 and values["output_error_lines"] == 3
    assert values["task_chars"] == len("Fix the bug")


def test_token_features_separate_generated_from_prompt_tokens() -> None:
    """Generated tokens add up per model call; the context size is the latest call's prompt, not a sum."""
    calls = [
        make_event(1, EventType.LLM_RESPONSE, content="a", tokens_input=1000, tokens_output=300),
        make_event(2, EventType.TOOL_CALL, name="bash", content="ls", attributes={"gen_ai.tool.name": "bash"}),
        make_event(3, EventType.LLM_RESPONSE, content="b", tokens_input=1500, tokens_output=100),
    ]
    extractor = FeatureExtractor(("events",))
    values = dict(zip(extractor.names, extractor.extract([small_run()[0], *calls]), strict=True))
    assert values["output_tokens"] == 400 and values["output_tokens_per_call"] == 200
    assert values["max_output_tokens"] == 300 and values["context_tokens"] == 1500
    assert values["tokens"] == 2900


def test_the_end_event_and_the_labels_are_never_read() -> None:
    """Flipping the outcome on the session_end event and in the start event's annotations changes no feature."""
    extractor = FeatureExtractor()
    succeeded = small_run(success=True)
    failed = small_run(success=False)
    failed[0] = failed[0].model_copy(
        update={"attributes": {**failed[0].attributes, semconv.ESCAI_ANNOTATIONS: {"labels": {"success": False}}}}
    )
    assert np.array_equal(extractor.extract(succeeded), extractor.extract(failed))
    assert np.array_equal(extractor.extract(succeeded), extractor.extract(succeeded[:-1]))


def test_prefix_rows_ignore_everything_after_the_cut(tau_runs: list[Any]) -> None:
    """A row at k steps equals the features of the first k steps, however the rest of the run is changed."""
    extractor = FeatureExtractor()
    for run in tau_runs[:5]:
        events = list(run.events)
        total = len(step_events(events))
        cut = prefix_step_count(total, 0.5)
        row = extractor.extract_at(events, [cut])[0]
        kept = prefix_events(events, 0.5)
        assert len(step_events(kept)) == cut
        assert np.array_equal(row, extractor.extract(kept))
        tampered = kept + [
            event.model_copy(update={"content": "Error: everything failed", "status": EventStatus.ERROR})
            for event in events[len(kept) :]
        ]
        assert np.array_equal(row, extractor.extract_at(tampered, [cut])[0])


def test_prefixes_never_hold_the_end_event(tau_runs: list[Any]) -> None:
    """No prefix, not even the whole run, contains the session_end event; every prefix keeps at least one step."""
    for run in tau_runs[:5]:
        for fraction in (0.01, 0.25, 0.5, 0.75, 1.0):
            kept = prefix_events(run.events, fraction)
            assert all(event.type is not EventType.SESSION_END for event in kept)
            assert len(step_events(kept)) >= 1
    assert prefix_step_count(10, 0.25) == 3 and prefix_step_count(10, 1.0) == 10 and prefix_step_count(0, 0.5) == 0


def test_live_updates_reach_the_batch_vector(tau_runs: list[Any]) -> None:
    """Feeding events one at a time yields the same vector as extracting the whole run at once."""
    extractor = FeatureExtractor()
    run = tau_runs[0]
    running = extractor.start()
    for event in run.events:
        running.update(event)
    assert np.array_equal(running.vector(), extractor.extract(run.events))
    snapshot = running.snapshot()
    known = {event.id for event in run.events}
    assert all(set(ids) <= known for ids in snapshot.evidence.values())


def test_task_group_joins_trials_of_one_task_and_nothing_else(tau_runs: list[Any]) -> None:
    """Trials of one task share a group (tau-bench has four per task); whitespace and case do not matter."""
    groups: dict[str, set[Any]] = {}
    for run in tau_runs:
        annotations = run.events[0].attributes[semconv.ESCAI_ANNOTATIONS]
        groups.setdefault(run.group, set()).add(annotations["task"]["task_id"])
    assert all(len(task_ids) == 1 for task_ids in groups.values())
    assert len(groups) < len(tau_runs)
    plain = [make_event(0, EventType.SESSION_START, attributes={semconv.ESCAI_TASK: "Book  a Flight"})]
    spaced = [make_event(0, EventType.SESSION_START, attributes={semconv.ESCAI_TASK: "book a flight "})]
    assert task_group(plain, "a") == task_group(spaced, "b")
    assert task_group([make_event(1, EventType.MESSAGE)], "only") == "session:only"


def test_recorded_times_are_told_from_synthesised_ones(tau_runs: list[Any]) -> None:
    """Evenly spaced (synthesised) timestamps do not count as recorded; uneven ones do."""
    assert not has_recorded_times(tau_runs[0].events)
    uneven = [make_event(index * index, EventType.MESSAGE, id=f"m{index}") for index in range(4)]
    assert has_recorded_times(uneven)


def test_a_registered_group_extends_the_layout() -> None:
    """A group registered by another engine adds its features after the built-in ones."""

    class Counting:
        def __init__(self) -> None:
            self.seen = 0.0

        def update(self, event: AgentEvent) -> None:
            self.seen += 1

        def values(self) -> dict[str, float]:
            return {"plugin_events": self.seen}

        def evidence(self) -> dict[str, list[str]]:
            return {}

    class CountingGroup:
        name = "plugin_test"
        descriptions: ClassVar[dict[str, str]] = {"plugin_events": "events the plugin saw"}

        def start(self) -> Counting:
            return Counting()

    register_feature_group("plugin_test", CountingGroup)
    extractor = FeatureExtractor(("events", "plugin_test"))
    assert extractor.names[-1] == "plugin_events"
    assert extractor.extract(small_run())[-1] == 8  # the session_start and seven steps; the end is withheld
    with pytest.raises(KeyError):
        FeatureExtractor(("no_such_group",))
