"""Epistemic extraction: cues, agents' notes, the tracker's beliefs/goals/revisions, batch = live, calibration."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from escai.analysis.epistemic.calibration import ConfidenceCalibrator, fit_calibrator
from escai.analysis.epistemic.cues import count_cues, is_assertion
from escai.analysis.epistemic.extractor import extract_timeline
from escai.analysis.epistemic.sections import SectionKind, read_ledger, read_notes
from escai.analysis.epistemic.tracker import EpistemicTracker
from escai.analysis.text.embedding import HashingEmbedder, MiniLmEmbedder, load_embedder
from escai.model.events import AgentEvent, EventStatus, EventType
from escai.model.records import BeliefSource, GoalStatus, RevisionKind

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
START = datetime(2026, 1, 1, tzinfo=UTC)


class Script:
    """Builds one session's events in order, one second apart."""

    def __init__(self, session_id: str = "s-epi") -> None:
        self.session_id = session_id
        self.events: list[AgentEvent] = []

    def add(self, kind: EventType, content: str | None = None, agent: str = "coder", **fields: Any) -> AgentEvent:
        """Append an event and return it."""
        event = AgentEvent(
            id=f"e{len(self.events)}",
            session_id=self.session_id,
            agent_id=agent,
            type=kind,
            content=content,
            timestamp=START + timedelta(seconds=len(self.events)),
            step_index=len(self.events),
            **fields,
        )
        self.events.append(event)
        return event


def fixing_session() -> Script:
    """A coding session: a task, an expectation, a command that fails twice, a retraction, a fix, completion."""
    script = Script()
    script.add(
        EventType.SESSION_START,
        "Fix the failing date parser in utils.py",
        attributes={"escai.task": "Fix the failing date parser"},
    )
    script.add(EventType.THOUGHT, "The bug is caused by the timezone offset. This change should fix the parser.")
    script.add(EventType.TOOL_CALL, "pytest tests/test_dates.py", name="bash")
    script.add(
        EventType.TOOL_RESULT,
        "FAILED tests/test_dates.py::test_offset",
        name="bash",
        attributes={"process.exit.code": 1},
    )
    script.add(EventType.THOUGHT, "The bug is caused by the timezone offset. The parser should now handle it.")
    script.add(EventType.TOOL_CALL, "pytest tests/test_dates.py", name="bash")
    script.add(
        EventType.TOOL_RESULT,
        "FAILED tests/test_dates.py::test_offset",
        name="bash",
        attributes={"process.exit.code": 1},
    )
    script.add(EventType.TOOL_CALL, "pytest tests/test_dates.py -x", name="bash")
    script.add(
        EventType.TOOL_RESULT, "Traceback (most recent call last): ValueError", name="bash", status=EventStatus.ERROR
    )
    script.add(EventType.THOUGHT, "Actually, that was wrong: the timezone offset is not the cause of the bug.")
    script.add(EventType.TOOL_CALL, "sed -i 's/%z/%Z/' utils.py && pytest", name="bash")
    script.add(EventType.TOOL_RESULT, "5 passed", name="bash", attributes={"process.exit.code": 0})
    script.add(EventType.THOUGHT, "All tests pass and the parser is fixed. TERMINATE")
    return script


def test_hedged_statements_are_less_certain_than_assured_ones() -> None:
    """Hedges lower and boosters raise the certainty read from a sentence."""
    hedged = count_cues("It might possibly be the cache, I think.")
    assured = count_cues("It is definitely the cache; I verified it.")
    assert hedged.certainty < 0.6 < assured.certainty
    assert count_cues("Actually, that was wrong.").retraction


def test_questions_and_instructions_are_not_beliefs() -> None:
    """Only declarative statements of some length count as assertions."""
    assert is_assertion("The config file is located in the etc folder.")
    assert not is_assertion("Is the config file in the etc folder?")
    assert not is_assertion("Let me check the config file in the etc folder.")
    assert not is_assertion("Done.")


def test_a_fact_sheet_plan_and_ledger_are_read_by_their_headers() -> None:
    """Headers' words decide the section: verified facts, open questions, guesses and plan steps."""
    notes = read_notes(
        "Here is an initial fact sheet to consider:\n\n1. GIVEN OR VERIFIED FACTS\n"
        "   - The request concerns the 1977 regular season of baseball.\n"
        "2. FACTS TO LOOK UP\n   - The player with the most walks that season.\n"
        "3. EDUCATED GUESSES\n   - Possibly Reggie Jackson or Thurman Munson.\n\n"
        "Here is the plan to follow as best as possible:\n"
        "- **Step 1:** Search the season statistics.\n- **Step 2:** Report the at bats of that player.\n"
    )
    assert notes.of_kind(SectionKind.VERIFIED) == ["The request concerns the 1977 regular season of baseball."]
    assert notes.of_kind(SectionKind.OPEN_QUESTIONS) == ["The player with the most walks that season."]
    assert notes.of_kind(SectionKind.GUESSES) == ["Possibly Reggie Jackson or Thurman Munson."]
    assert notes.of_kind(SectionKind.PLAN) == ["Search the season statistics.", "Report the at bats of that player."]
    ledger = read_ledger(
        json.dumps(
            {
                "is_request_satisfied": {"reason": "The answer was found", "answer": True},
                "is_in_loop": {"reason": "no", "answer": False},
                "is_progress_being_made": {"reason": "yes", "answer": True},
            }
        )
    )
    assert ledger is not None and ledger.request_satisfied is True and ledger.in_loop is False
    assert ledger.reasons["satisfied"] == "The answer was found"


def test_failed_actions_weaken_expectations_and_a_repeat_weakens_more() -> None:
    """The belief stated before a failing command loses confidence, more when the same command fails again."""
    timeline = extract_timeline(fixing_session().events)
    weakened = [revision for revision in timeline.revisions if revision.kind is RevisionKind.WEAKENED]
    reasons = {revision.reason for revision in weakened}
    assert "the action it led to failed" in reasons
    assert "the same action failed again" in reasons
    for revision in weakened:
        assert revision.new_confidence < revision.previous_confidence
        assert revision.evidence_event_ids[-1] in {"e3", "e6"}


def test_restatement_reaffirms_and_retraction_lowers_the_belief() -> None:
    """Saying the same thing again raises its confidence; 'actually, that was wrong' on it lowers it."""
    timeline = extract_timeline(fixing_session().events)
    kinds = {(revision.kind, revision.evidence_event_ids[-1]) for revision in timeline.revisions}
    assert (RevisionKind.REAFFIRMED, "e4") in kinds
    assert any(kind in (RevisionKind.RETRACTED, RevisionKind.CONTRADICTED) and event == "e9" for kind, event in kinds)


def test_numbers_that_disagree_contradict_an_earlier_belief() -> None:
    """A restatement with another value is a contradiction, recorded with both events."""
    script = Script()
    script.add(EventType.SESSION_START, "Count the clients", attributes={"escai.task": "Count the clients"})
    script.add(EventType.MESSAGE, "The number of clients with even addresses is 4.", agent="analyst")
    script.add(EventType.MESSAGE, "The number of clients with even addresses is 7.", agent="analyst")
    timeline = extract_timeline(script.events)
    contradicted = [revision for revision in timeline.revisions if revision.kind is RevisionKind.CONTRADICTED]
    assert len(contradicted) == 1
    assert contradicted[0].evidence_event_ids == ["e1", "e2"]
    assert contradicted[0].new_confidence < contradicted[0].previous_confidence


def test_goal_status_follows_failures_success_and_completion() -> None:
    """Three failures in a row block the task goal, a success unblocks it, a declared completion achieves it."""
    script = fixing_session()
    tracker = EpistemicTracker(script.session_id, HashingEmbedder())
    statuses = []
    for event in script.events:
        update = tracker.observe(event)
        if update.state is not None:
            statuses.append((event.id, update.state.goals[0].status))
    status_of = dict(statuses)
    assert status_of["e1"] is GoalStatus.ACTIVE
    assert status_of["e8"] is GoalStatus.BLOCKED
    assert status_of["e11"] is GoalStatus.ACTIVE
    assert status_of["e12"] is GoalStatus.ACHIEVED
    final = tracker.timeline().final_state()
    assert final is not None and final.goals[0].progress == 1.0


def test_confidence_falls_with_failures_and_recovers_with_success() -> None:
    """The agent's confidence is lowest after its failure streak and higher once the fix works."""
    timeline = extract_timeline(fixing_session().events)
    by_event = {state.event_id: state for state in timeline.states}
    assert by_event["e8"].confidence < by_event["e1"].confidence
    assert by_event["e12"].confidence > by_event["e8"].confidence
    assert all(0 <= state.confidence <= 1 and 0 <= state.uncertainty <= 1 for state in timeline.states)
    assert by_event["e8"].signals["failures"] == 3.0


def test_batch_extraction_equals_live_tracking() -> None:
    """Pre-embedding a session in one batch gives exactly the states of event-by-event tracking."""
    events = fixing_session().events
    tracker = EpistemicTracker(events[0].session_id, HashingEmbedder())
    live = [tracker.observe(event).state for event in events]
    batch = extract_timeline(events, HashingEmbedder())
    assert [state for state in live if state is not None] == batch.states


def test_the_recorded_outcome_never_reaches_the_states() -> None:
    """Flipping the outcome on session_end (imported ground truth) changes nothing in the timeline."""
    script = fixing_session()
    won = script.add(EventType.SESSION_END, None, status=EventStatus.OK, attributes={"escai.outcome.success": True})
    lost = won.model_copy(update={"status": EventStatus.ERROR, "attributes": {"escai.outcome.success": False}})
    assert extract_timeline(script.events).states == extract_timeline([*script.events[:-1], lost]).states


def test_light_embedder_scores_a_restatement_above_an_unrelated_sentence() -> None:
    """Unit vectors whose dot product ranks a paraphrase above an unrelated text."""
    vectors = HashingEmbedder().embed(
        ["The parser fails on timezone offsets.", "The parser fails for timezone offsets.", "Book a flight to Seattle."]
    )
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.6 > vectors[0] @ vectors[2]
    assert load_embedder("light").name == "light"


@pytest.mark.skipif(not MiniLmEmbedder.available(), reason="the nlp extra (MiniLM) is not installed")
def test_minilm_ranks_a_paraphrase_above_an_unrelated_sentence() -> None:
    """all-MiniLM-L6-v2 loads offline and recognises a paraphrase with different words."""
    embedder = load_embedder("minilm")
    vectors = embedder.embed(["The tests pass now.", "All the tests succeed at this point.", "Book a flight."])
    assert embedder.name == "minilm" and vectors.shape == (3, 384)
    assert vectors[0] @ vectors[1] > 0.6 > vectors[0] @ vectors[2]


def test_calibrator_learns_the_direction_of_a_signal_and_round_trips(tmp_path: Path) -> None:
    """A fitted calibrator maps a success-linked signal to higher probability and survives save/load."""
    rng = np.random.default_rng(0)
    examples = []
    for _ in range(200):
        success = bool(rng.random() < 0.5)
        examples.append(({"action_success": float(rng.normal(0.8 if success else 0.4, 0.1))}, success))
    calibrator = fit_calibrator(examples)
    assert calibrator.calibrate({"action_success": 0.9}) > 0.7 > 0.3 > calibrator.calibrate({"action_success": 0.3})
    path = tmp_path / "calibration.json"
    calibrator.save(path)
    assert ConfidenceCalibrator.load(path) == calibrator
    with pytest.raises(ValueError, match="both outcomes"):
        fit_calibrator([({"steps": 1.0}, True), ({"steps": 2.0}, True)])


def test_a_calibrated_tracker_keeps_the_raw_confidence() -> None:
    """With a calibrator the state's confidence is the calibrated value and the raw one stays in its signals."""
    calibrator = fit_calibrator([({"failures": 0.0}, True), ({"failures": 5.0}, False)] * 10)
    tracker = EpistemicTracker("s", HashingEmbedder(), calibrator=calibrator)
    states = [tracker.observe(event).state for event in fixing_session().events]
    final = [state for state in states if state is not None][-1]
    assert "raw_confidence" in final.signals
    assert final.confidence == calibrator.calibrate(final.signals)


@pytest.mark.skipif(not (DATASETS / "who_and_when").exists(), reason="../shared/datasets is not present")
def test_multi_agent_plans_and_verifications_become_goals_and_beliefs() -> None:
    """Who&When group chats yield plan-step goals and verdict beliefs from the agents' own sections."""
    from escai.ingest.importers import read_runs

    path = DATASETS / "who_and_when" / "Algorithm-Generated" / "1.json"
    run = next(read_runs(path, "auto"))
    timeline = extract_timeline(run.events)
    final = timeline.final_state()
    assert final is not None
    assert sum(goal.source == "plan" for goal in final.goals) >= 3
    sources = {belief.source for state in timeline.states for belief in state.beliefs}
    assert BeliefSource.VERDICT in sources
    event_ids = {event.id for event in run.events}
    assert all(state.event_id in event_ids for state in timeline.states)
    assert all(set(belief.evidence_event_ids) <= event_ids for state in timeline.states for belief in state.beliefs)


@pytest.mark.skipif(not (DATASETS / "mast_mad_human").exists(), reason="../shared/datasets is not present")
def test_an_orchestrator_fact_sheet_yields_fact_beliefs_and_open_questions() -> None:
    """A Magentic-One log's fact sheet gives firm verified facts, loose guesses and open-question goals."""
    from escai.ingest.importers import read_runs

    runs = read_runs(DATASETS / "mast_mad_human" / "MAD_human_labelled_dataset.json.gz", "auto")
    run = next(run for run in runs if any("GIVEN OR VERIFIED FACTS" in (event.content or "") for event in run.events))
    timeline = extract_timeline(run.events)
    facts = {
        belief.statement: belief.confidence
        for state in timeline.states
        for belief in state.beliefs
        if belief.source is BeliefSource.FACT_SHEET
    }
    assert any(confidence >= 0.85 for confidence in facts.values())
    assert any(confidence <= 0.5 for confidence in facts.values())
    final = timeline.final_state()
    assert final is not None
    assert any(goal.source == "open_question" for goal in final.goals)
    assert any(goal.source == "plan" for goal in final.goals)


def test_a_team_run_reads_inline_plans_approval_and_the_root_agent_ending() -> None:
    """An inline "Plan:" becomes plan goals, a reviewer's APPROVE achieves the task, the root agent's end is final."""
    script = Script("s-team")
    script.add(EventType.SESSION_START, "Fix the pagination bug", agent="team")
    script.add(EventType.AGENT_START, "Fix the pagination bug", agent="team", status=EventStatus.OK)
    script.add(
        EventType.MESSAGE,
        "Plan: read pagination.py, change the slice end to start + size, run the tests.",
        agent="planner",
    )
    script.add(EventType.MESSAGE, "Patched pagination.py so the slice end is now start + size.", agent="coder")
    script.add(EventType.MESSAGE, "The bound is right and the tests pass. APPROVE", agent="reviewer")
    timeline = extract_timeline(script.events)
    final = timeline.final_state()
    assert final is not None
    plan = [goal.description for goal in final.goals if goal.source == "plan"]
    assert plan == ["read pagination.py", "change the slice end to start + size", "run the tests"]
    assert final.goals[0].status is GoalStatus.ACHIEVED
    beliefs = {belief.statement for state in timeline.states for belief in state.beliefs}
    assert "Patched pagination.py so the slice end is now start + size." in beliefs

    failing = Script("s-crash")
    failing.add(EventType.SESSION_START, "Answer the question", agent="graph")
    failing.add(EventType.AGENT_START, "question", agent="graph")
    failing.add(EventType.AGENT_END, "GraphRecursionError: limit reached", agent="graph", status=EventStatus.ERROR)
    crashed = extract_timeline(failing.events).final_state()
    assert crashed is not None and crashed.goals[0].status is GoalStatus.ABANDONED
