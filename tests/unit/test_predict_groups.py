"""The epistemic, behaviour and conduct feature groups: what they read, and that they never read past the cut."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from tests.unit.predict_events import end_event, make_event, tau_bench_runs

from escai.analysis.behaviour.features import session_features
from escai.analysis.epistemic.tracker import EpistemicTracker
from escai.analysis.predict.features import FeatureExtractor, prefix_events, prefix_step_count, step_events
from escai.analysis.predict.predictor import Predictor
from escai.analysis.predict.training import TrainingOptions, train_models
from escai.model import semconv
from escai.model.events import AgentEvent, EventStatus, EventType

NEW_GROUPS = ("epistemic", "behaviour", "conduct", "words")


def call(index: int, name: str, **arguments: Any) -> AgentEvent:
    """A tool call with arguments."""
    attributes = {"gen_ai.tool.name": name, "gen_ai.tool.call.arguments": arguments}
    return make_event(index, EventType.TOOL_CALL, name=name, content=str(arguments), attributes=attributes)


def result(index: int, name: str, failed: bool) -> AgentEvent:
    """A tool result answering the call just before it."""
    status = EventStatus.ERROR if failed else EventStatus.OK
    content = "Error: not found" if failed else "ok"
    return make_event(
        index, EventType.TOOL_RESULT, name=name, content=content, status=status, parent_id=f"e{index - 1}"
    )


def say(index: int, role: str, text: str) -> AgentEvent:
    """A chat message by ``role``."""
    return make_event(index, EventType.MESSAGE, content=text, attributes={"message.role": role})


def support_run(success: bool = True) -> list[AgentEvent]:
    """A customer-support style run: a read, a failing write retried and recovered, an upset user, an end event."""
    return [
        make_event(0, EventType.SESSION_START, attributes={semconv.ESCAI_TASK: "Change my reservation"}),
        say(1, "user", "Hi, I want to change my reservation."),
        call(2, "get_reservation", reservation_id="R1"),
        result(3, "get_reservation", failed=False),
        say(4, "assistant", "I found it. Would you like me to proceed with the change?"),
        say(5, "user", "Yes! Why is this taking so long? This is ridiculous."),
        call(6, "update_reservation", reservation_id="R1", flight="F2"),
        result(7, "update_reservation", failed=True),
        call(8, "update_reservation", reservation_id="R1", flight="F2"),
        result(9, "update_reservation", failed=False),
        say(10, "assistant", "I'm sorry, but our policy does not allow a refund for this fare."),
        end_event(11, success),
    ]


@pytest.fixture(scope="module")
def tau_runs() -> list[Any]:
    """The first 40 tau-bench airline runs (10 tasks) with their outcomes."""
    return tau_bench_runs()[:40]


def test_conduct_cues_count_what_happened() -> None:
    """Confirmation, refusal, frustration, retry, recovery and read/write counts match a hand-made run."""
    extractor = FeatureExtractor(("conduct",))
    values = dict(zip(extractor.names, extractor.extract(support_run()), strict=True))
    assert values["agent_confirmations"] == 1 and values["agent_refusals"] == 1
    assert values["other_frustration"] >= 2 and values["other_exclamations"] == 1
    assert values["retry_after_error"] == 1 and values["recoveries"] == 1 and values["unrecovered_failures"] == 0
    assert values["read_actions"] == 1 and values["write_actions"] == 2 and values["reads_before_first_write"] == 1
    assert values["write_share"] == pytest.approx(2 / 3)
    assert values["steps_since_write"] == 2


def test_a_printed_unified_diff_gives_the_size_of_the_change() -> None:
    """Changed lines and files are read from the latest unified diff in tool output, not from its header lines."""
    diff = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,3 +1,3 @@\n keep\n-old\n+new\n+added\n"
    events = [
        make_event(0, EventType.SESSION_START, attributes={semconv.ESCAI_TASK: "Fix it"}),
        make_event(1, EventType.TOOL_CALL, name="bash", content="git diff", attributes={"gen_ai.tool.name": "bash"}),
        make_event(2, EventType.TOOL_RESULT, name="bash", content=diff, status=EventStatus.OK, parent_id="e1"),
    ]
    extractor = FeatureExtractor(("conduct",))
    values = dict(zip(extractor.names, extractor.extract(events), strict=True))
    assert values["diff_lines"] == 3 and values["diff_files"] == 1
    assert values["read_actions"] == 1 and values["write_actions"] == 0


def test_new_groups_never_read_the_end_event_or_the_labels() -> None:
    """Flipping the outcome on the end event and in the start event's annotations changes no new feature."""
    extractor = FeatureExtractor(NEW_GROUPS)
    succeeded = support_run(success=True)
    failed = support_run(success=False)
    failed[0] = failed[0].model_copy(
        update={"attributes": {**failed[0].attributes, semconv.ESCAI_ANNOTATIONS: {"labels": {"success": False}}}}
    )
    assert np.array_equal(extractor.extract(succeeded), extractor.extract(failed))
    assert np.array_equal(extractor.extract(succeeded), extractor.extract(succeeded[:-1]))


def test_new_groups_ignore_everything_after_the_cut(tau_runs: list[Any]) -> None:
    """A prefix row of the new groups equals the prefix's own features, however the rest of the run is changed."""
    extractor = FeatureExtractor(NEW_GROUPS)
    for run in tau_runs[:4]:
        events = list(run.events)
        cut = prefix_step_count(len(step_events(events)), 0.5)
        row = extractor.extract_at(events, [cut])[0]
        kept = prefix_events(events, 0.5)
        assert np.array_equal(row, extractor.extract(kept))
        tampered = kept + [
            event.model_copy(update={"content": "Error: I give up, this failed", "status": EventStatus.ERROR})
            for event in events[len(kept) :]
        ]
        assert np.array_equal(row, extractor.extract_at(tampered, [cut])[0])


def test_epistemic_features_are_the_trackers_last_state(tau_runs: list[Any]) -> None:
    """The epistemic group's signals, confidence and uncertainty equal those of a tracker fed the same prefix."""
    extractor = FeatureExtractor(("epistemic",))
    kept = prefix_events(tau_runs[0].events, 0.5)
    values = dict(zip(extractor.names, extractor.extract(kept), strict=True))
    tracker = EpistemicTracker(kept[0].session_id)
    states = [update.state for update in map(tracker.observe, kept) if update.state is not None]
    assert states, "the tracker produced no state"
    last = states[-1]
    assert values["epi_confidence"] == pytest.approx(last.confidence)
    assert values["epi_uncertainty"] == pytest.approx(last.uncertainty)
    for name, value in last.signals.items():
        assert values[f"epi_{name}"] == pytest.approx(value)
    assert values["epi_task_active"] + values["epi_task_achieved"] + values["epi_task_blocked"] <= 1


def test_behaviour_features_are_the_session_features_of_the_prefix(tau_runs: list[Any]) -> None:
    """The behaviour group equals the behaviour engine's session features of the steps up to the cut."""
    extractor = FeatureExtractor(("behaviour",))
    kept = prefix_events(tau_runs[1].events, 0.5)
    values = dict(zip(extractor.names, extractor.extract(kept), strict=True))
    expected = session_features(step_events(kept))
    for name, value in expected.items():
        assert values[f"beh_{name}"] == pytest.approx(value)
    assert values["beh_steps"] < len(step_events(tau_runs[1].events))


def test_a_loop_shows_up_in_the_behaviour_features() -> None:
    """Four identical failing calls in a row make an exact loop that is still open at the end."""
    events = [make_event(0, EventType.SESSION_START, attributes={semconv.ESCAI_TASK: "Find the file"})]
    for index in range(1, 9, 2):
        events += [call(index, "bash", command="cat missing.txt"), result(index + 1, "bash", failed=True)]
    extractor = FeatureExtractor(("behaviour",))
    values = dict(zip(extractor.names, extractor.extract(events), strict=True))
    assert values["beh_loops"] >= 1 and values["beh_exact_loops"] >= 1
    assert values["beh_loop_repetitions"] >= 4 and values["beh_open_loop"] == 1


def test_running_features_match_batch_features_for_new_groups(tau_runs: list[Any]) -> None:
    """Feeding events one at a time (reading the vector after each) ends at the batch vector of the whole run."""
    extractor = FeatureExtractor(NEW_GROUPS)
    run = tau_runs[2]
    running = extractor.start()
    for event in run.events:
        running.update(event)
        running.vector()
    assert np.array_equal(running.vector(), extractor.extract(run.events))
    known = {event.id for event in run.events}
    assert all(set(ids) <= known for ids in running.snapshot().evidence.values())


def test_a_live_predictor_keeps_its_own_tracker_per_session(tau_runs: list[Any]) -> None:
    """Two interleaved live sessions of a model with the new groups each end at their own batch prediction."""
    models = train_models(tau_runs, TrainingOptions(feature_groups=("events", *NEW_GROUPS)))
    predictor = Predictor(models)
    first, second = tau_runs[0].events, tau_runs[5].events
    live_first = predictor.live(first[0].session_id, first[0].agent_id)
    live_second = predictor.live(second[0].session_id, second[0].agent_id)
    for index in range(max(len(first), len(second))):
        if index < len(first):
            live_first.update(first[index])
        if index < len(second):
            live_second.update(second[index])
    for live, events in ((live_first, first), (live_second, second)):
        expected = predictor.predict(events)
        assert live.last is not None
        assert live.last.success_probability == pytest.approx(expected.success_probability)
    assert live_first.features is not live_second.features
