"""The explanation engine on real traces: every sentence cites events that exist and support its claim.

Runs come from tau-bench, mini-swe-agent (SWE-bench Verified) and Who&When in ``../shared/datasets``. Sessions
are built from the events alone; the ground-truth labels are read only to pick a resolved and an unresolved run
for the comparison test. Epistemic timelines are built by hand from the real events with simple, stated rules
(the extractor is tested on its own); the remote LLM is the only fake, behind ``httpx.MockTransport``.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from escai.analysis.epistemic.timeline import EpistemicTimeline
from escai.analysis.explain import (
    EvidenceIndex,
    ExplanationEngine,
    OpenAICompatibleWriter,
    PredictionDriver,
    SessionEvidence,
    TemplateWriter,
    check_citations,
    writer_from_settings,
)
from escai.ingest.importers import ImportedRun, read_runs
from escai.model import (
    AgentEvent,
    Belief,
    BeliefRevision,
    ClaimType,
    EpistemicState,
    EventStatus,
    EventType,
    Explanation,
    ExplanationKind,
    ExplanationSentence,
    FailureAttribution,
    FailureCandidate,
    Goal,
    GoalStatus,
    MonitoringSession,
    Prediction,
    RevisionKind,
    semconv,
)

DATASETS = Path(os.environ.get("ESCAI_DATASETS", Path(__file__).resolve().parents[2].parent / "shared" / "datasets"))
TAU = DATASETS / "tau_bench_historical" / "gpt-4o-airline.json.gz"
SWE = DATASETS / "mini_swe_agent_swebench_verified" / "trajectories.jsonl.gz"
WHO = DATASETS / "who_and_when" / "Algorithm-Generated"
EXIT_CODE = "process.exit.code"

pytestmark = pytest.mark.skipif(not DATASETS.is_dir(), reason=f"real traces not found at {DATASETS}")


def _runs(path: Path, count: int) -> list[ImportedRun]:
    return [run for run in itertools.islice(read_runs(path, "auto"), count) if isinstance(run, ImportedRun)]


@pytest.fixture(scope="module")
def tau_runs() -> list[ImportedRun]:
    """The first sixteen tau-bench airline runs (the last one has a tool that failed for good)."""
    return _runs(TAU, 16)


@pytest.fixture(scope="module")
def swe_runs() -> list[ImportedRun]:
    """The first twelve mini-swe-agent runs (resolved and unresolved among them)."""
    return _runs(SWE, 12)


@pytest.fixture(scope="module")
def who_runs() -> list[ImportedRun]:
    """Four Who&When (AG2) logs."""
    files = sorted(WHO.glob("*.json"), key=lambda path: int(path.stem) if path.stem.isdigit() else 0)[:4]
    return [run for path in files for run in read_runs(path, "auto") if isinstance(run, ImportedRun)]


@pytest.fixture(scope="module")
def all_runs(
    tau_runs: list[ImportedRun], swe_runs: list[ImportedRun], who_runs: list[ImportedRun]
) -> list[ImportedRun]:
    """Three runs of each data set."""
    return [*tau_runs[:3], *swe_runs[:3], *who_runs[:3]]


def session_of(run: ImportedRun) -> MonitoringSession:
    """The session as a producer without labels would describe it: ids, agent, task and times from the events."""
    start, last = run.events[0], run.events[-1]
    return MonitoringSession(
        id=run.session_id,
        agent_id=start.agent_id,
        framework=start.framework,
        task=start.content,
        started_at=start.timestamp,
        ended_at=last.timestamp,
        event_count=len(run.events),
    )


def is_failed_result(event: AgentEvent) -> bool:
    """A tool result that failed, judged directly from the data (status or exit code)."""
    code = event.attributes.get(EXIT_CODE)
    return event.type is EventType.TOOL_RESULT and (event.status is EventStatus.ERROR or code not in (None, 0))


def hand_timeline(run: ImportedRun) -> EpistemicTimeline:
    """A timeline built by fixed rules from the run's events.

    The task is the goal; each agent statement is a belief held at the current confidence; a failed tool result
    lowers confidence by 0.2 and contradicts the belief stated just before it (weakens an older one); a success
    raises it by 0.05. The goal ends achieved when the last tool result succeeded, else blocked.
    """
    events = run.events
    timeline = EpistemicTimeline(run.session_id, method="hand")
    start = events[0]
    goal = Goal(description=(start.content or "the task")[:200], evidence_event_ids=[start.id])
    confidence, last_belief, last_was_statement = 0.6, None, False
    beliefs: list[Belief] = []
    for event in events:
        step = event.step_index if event.step_index is not None else 0
        if event.type in (EventType.THOUGHT, EventType.MESSAGE) and event.content and event.agent_id != "user":
            last_belief = Belief(
                statement=event.content.split("\n")[0][:160], confidence=confidence, evidence_event_ids=[event.id]
            )
            beliefs = [*beliefs[-4:], last_belief]
            last_was_statement = True
        elif event.type is EventType.TOOL_RESULT:
            previous, failed = confidence, is_failed_result(event)
            confidence = max(0.05, confidence - 0.2) if failed else min(0.95, confidence + 0.05)
            if failed and last_belief is not None:
                kind = RevisionKind.CONTRADICTED if last_was_statement else RevisionKind.WEAKENED
                timeline.revisions.append(
                    BeliefRevision(
                        session_id=run.session_id,
                        agent_id=event.agent_id,
                        step_index=step,
                        statement=last_belief.statement,
                        kind=kind,
                        previous_confidence=previous,
                        new_confidence=confidence,
                        reason="the next tool result failed",
                        evidence_event_ids=[last_belief.evidence_event_ids[0], event.id],
                        timestamp=event.timestamp,
                    )
                )
            last_was_statement = False
        else:
            continue
        timeline.states.append(
            EpistemicState(
                session_id=run.session_id,
                agent_id=event.agent_id,
                step_index=step,
                event_id=event.id,
                timestamp=event.timestamp,
                beliefs=beliefs,
                goals=[goal],
                confidence=confidence,
                uncertainty=1 - confidence,
                method="hand",
            )
        )
    results = [event for event in events if event.type is EventType.TOOL_RESULT]
    if results and timeline.states:
        status = GoalStatus.BLOCKED if is_failed_result(results[-1]) else GoalStatus.ACHIEVED
        final = goal.model_copy(update={"status": status, "evidence_event_ids": [start.id, results[-1].id]})
        timeline.states[-1] = timeline.states[-1].model_copy(update={"goals": [final]})
    return timeline


def drivers_of(run: ImportedRun) -> list[PredictionDriver]:
    """Prediction drivers computed from the run's events: failed tool results, tool calls, agent turns."""
    failed = [event.id for event in run.events if is_failed_result(event)]
    calls = [event.id for event in run.events if event.type is EventType.TOOL_CALL]
    turns = [event.id for event in run.events if event.type in (EventType.MESSAGE, EventType.THOUGHT)]
    drivers = [PredictionDriver("agent_turns", 0.05, f"{len(turns)} agent turns", turns)]
    if failed:
        drivers.append(PredictionDriver("tool_failures", -0.3, f"{len(failed)} failed tool results", failed))
    if calls:
        drivers.append(PredictionDriver("tool_calls", 0.1, f"{len(calls)} tool calls", calls))
    return drivers


def prediction_for(run: ImportedRun) -> Prediction:
    """A forecast at the run's middle step (the numbers are inputs to explain, not results being tested)."""
    steps = [event.step_index for event in run.events if event.step_index is not None]
    return Prediction(
        session_id=run.session_id,
        agent_id=run.events[0].agent_id,
        step_index=steps[len(steps) // 2],
        success_probability=0.35,
        failure_risk=0.65,
        remaining_steps=12,
        confidence=0.7,
        model_version="gbm-test",
    )


def events_by_id(*runs: ImportedRun) -> dict[str, AgentEvent]:
    """Every event of the runs by id."""
    return {event.id: event for run in runs for event in run.events}


def assert_grounded(explanation: Explanation, *runs: ImportedRun) -> None:
    """The explanation has sentences, each citing events, and check_citations finds nothing wrong."""
    assert explanation.sentences, explanation
    assert all(sentence.text and sentence.evidence_event_ids for sentence in explanation.sentences)
    assert check_citations(explanation, events_by_id(*runs)) == []
    assert 0 < explanation.confidence <= 1


# --- every kind on every data set --------------------------------------------------------------------------------


def test_every_kind_is_grounded_on_real_runs(all_runs: list[ImportedRun]) -> None:
    """Behaviour, failure, prediction and comparison explanations of nine real runs all pass check_citations."""
    engine = ExplanationEngine()
    kinds: set[ExplanationKind] = set()
    for run, other in itertools.pairwise([*all_runs, all_runs[0]]):
        session, timeline = session_of(run), hand_timeline(run)
        explanations = [
            engine.explain_behaviour(session, run.events, timeline),
            engine.explain_failure(session, run.events, timeline),
            engine.explain_prediction(session, run.events, prediction_for(run), drivers_of(run)),
            engine.compare(
                SessionEvidence(session, run.events, timeline),
                SessionEvidence(session_of(other), other.events, hand_timeline(other)),
            ),
        ]
        for explanation in explanations:
            assert_grounded(explanation, run, other)
            assert explanation.generator == "template"
            kinds.add(explanation.kind)
    assert kinds == set(ExplanationKind)


def test_behaviour_without_timeline_is_grounded(all_runs: list[ImportedRun]) -> None:
    """Without a timeline, behaviour explanations still cite supporting events and cover task, actions and end."""
    engine = ExplanationEngine()
    for run in all_runs:
        explanation = engine.explain_behaviour(session_of(run), run.events)
        assert_grounded(explanation, run)
        claims = {sentence.claim for sentence in explanation.sentences}
        assert {ClaimType.TASK, ClaimType.ACTION, ClaimType.OUTCOME} <= claims


def test_timelines_of_the_epistemic_extractor_are_grounded(all_runs: list[ImportedRun]) -> None:
    """With timelines from the real extractor, behaviour and failure explanations still pass check_citations."""
    extractor = pytest.importorskip("escai.analysis.epistemic.extractor", reason="the epistemic extractor is absent")
    engine = ExplanationEngine()
    for run in all_runs[::3]:
        timeline = extractor.extract_timeline(run.events)
        for explanation in engine.explain_session(session_of(run), run.events, timeline):
            assert_grounded(explanation, run)
        assert_grounded(engine.explain_failure(session_of(run), run.events, timeline), run)


# --- what the templates say ----------------------------------------------------------------------------------


def test_activity_sentence_names_each_tool_with_its_real_count(tau_runs: list[ImportedRun]) -> None:
    """The activity sentence gives the exact number of calls of each tool, counted here from the events."""
    run = max(tau_runs, key=lambda item: sum(event.type is EventType.TOOL_CALL for event in item.events))
    calls = [event for event in run.events if event.type is EventType.TOOL_CALL]
    explanation = ExplanationEngine().explain_behaviour(session_of(run), run.events)
    (activity,) = [sentence for sentence in explanation.sentences if sentence.claim is ClaimType.ACTION]
    assert f"{len(calls)} tool calls" in activity.text
    counts: dict[str, int] = {}
    for call in calls:
        counts[call.name or ""] = counts.get(call.name or "", 0) + 1
    shown = sorted(counts.items(), key=lambda item: -item[1])[:5]
    assert all(f"{name} ×{count}" in activity.text for name, count in shown)
    assert set(activity.evidence_event_ids) <= {call.id for call in calls}


def test_failures_and_recovery_are_counted_from_exit_codes(swe_runs: list[ImportedRun]) -> None:
    """A SWE run's failed commands are counted, their exit codes named, and the recoveries cite later successes."""
    run = next(item for item in swe_runs if sum(map(is_failed_result, item.events)) >= 3)
    failed = [event for event in run.events if is_failed_result(event)]
    results = [event for event in run.events if event.type is EventType.TOOL_RESULT]
    explanation = ExplanationEngine().explain_behaviour(session_of(run), run.events)
    failure = next(sentence for sentence in explanation.sentences if sentence.claim is ClaimType.TOOL_FAILURE)
    assert failure.text.startswith(f"{len(failed)} of {len(results)} tool results failed: bash {len(failed)}")
    assert "exit code 1" in failure.text
    assert set(failure.evidence_event_ids) == {event.id for event in failed}
    recovery = [sentence for sentence in explanation.sentences if sentence.claim is ClaimType.TOOL_SUCCESS]
    by_id = events_by_id(run)
    first_failure = run.events.index(failed[0])
    assert recovery and all(
        run.events.index(by_id[event_id]) > first_failure for event_id in recovery[0].evidence_event_ids
    )


def test_unrecovered_tool_failure_triggers_a_failure_explanation(tau_runs: list[ImportedRun]) -> None:
    """A tau-bench run whose tool failed and never succeeded again gets a failure explanation quoting the error."""
    run = next(
        item
        for item in tau_runs
        if any(
            is_failed_result(event)
            and not any(
                later.type is EventType.TOOL_RESULT and later.name == event.name and not is_failed_result(later)
                for later in item.events[item.events.index(event) :]
            )
            for event in item.events
        )
    )
    explanations = ExplanationEngine().explain_session(session_of(run), run.events)
    assert [item.kind for item in explanations] == [ExplanationKind.BEHAVIOUR, ExplanationKind.FAILURE]
    failure = explanations[1]
    assert_grounded(failure, run)
    last_failed = [event for event in run.events if is_failed_result(event)][-1]
    evidence = next(sentence for sentence in failure.sentences if sentence.claim is ClaimType.TOOL_FAILURE)
    assert f"{last_failed.name} at step {last_failed.step_index}" in evidence.text
    assert (last_failed.content or "")[:30] in evidence.text
    assert failure.sentences[0].text == "No outcome was reported, but the session's events show signs of trouble."


def test_repeated_identical_command_is_reported_with_its_steps(swe_runs: list[ImportedRun]) -> None:
    """A command run three or more times is reported with the exact count and every step it ran at."""
    engine = ExplanationEngine()
    for run in swe_runs:
        explanation = engine.explain_behaviour(session_of(run), run.events)
        repeated = [sentence for sentence in explanation.sentences if sentence.claim is ClaimType.REPETITION]
        if not repeated:
            continue
        events = [events_by_id(run)[event_id] for event_id in repeated[0].evidence_event_ids]
        commands = {event.content for event in events}
        assert len(commands) == 1 and len(events) >= 2
        assert f"{len(events)} times" in repeated[0].text
        assert all(str(event.step_index) in repeated[0].text for event in events[:6])
        return
    pytest.fail("no SWE run among the first twelve repeats a command")


def test_timeline_facts_are_stated_with_their_evidence(swe_runs: list[ImportedRun]) -> None:
    """Revisions, the blocked or achieved goal and the confidence trajectory appear and cite the timeline's events."""
    run = next(item for item in swe_runs if sum(map(is_failed_result, item.events)) >= 2)
    timeline = hand_timeline(run)
    explanation = ExplanationEngine().explain_behaviour(session_of(run), run.events, timeline)
    by_claim = {sentence.claim: sentence for sentence in reversed(explanation.sentences)}  # the first of each claim
    assert f"revised {len(timeline.revisions)} times" in by_claim[ClaimType.REVISION].text
    lowest = min(timeline.states, key=lambda state: state.confidence)
    confidence = by_claim[ClaimType.BELIEF]
    assert f"{lowest.confidence:.2f}" in confidence.text and lowest.event_id in confidence.evidence_event_ids
    assert "Goals at the end:" in by_claim[ClaimType.GOAL].text
    assert_grounded(explanation, run)


def test_labels_never_change_an_explanation(swe_runs: list[ImportedRun]) -> None:
    """Flipping the recorded outcome on session_end and dropping the annotations leaves every explanation as is."""
    run = next(item for item in swe_runs if item.annotations["labels"]["resolved"] is False)
    flipped = []
    for event in run.events:
        attributes = {key: value for key, value in event.attributes.items() if key != semconv.ESCAI_ANNOTATIONS}
        if event.type is EventType.SESSION_END:
            attributes[semconv.ESCAI_OUTCOME_SUCCESS] = True
            event = event.model_copy(update={"status": EventStatus.OK})
        flipped.append(event.model_copy(update={"attributes": attributes}))
    engine, session = ExplanationEngine(), session_of(run)
    assert engine.explain_session(session, run.events) == engine.explain_session(session, flipped)


def test_reported_failure_is_framed_as_evidence(who_runs: list[ImportedRun]) -> None:
    """When the producer reports a failure, explain_session adds a failure explanation that says it is not a verdict."""
    run = who_runs[0]
    session = session_of(run).model_copy(update={"outcome_success": False})
    explanations = ExplanationEngine().explain_session(session, run.events)
    assert [item.kind for item in explanations] == [ExplanationKind.BEHAVIOUR, ExplanationKind.FAILURE]
    assert explanations[1].sentences[0].text.startswith("The producer reported failure")
    assert "producer reported failure" in explanations[0].sentences[-1].text


def test_attribution_candidates_are_named_and_grounded_in_their_step(who_runs: list[ImportedRun]) -> None:
    """The attribution's top candidates appear in rank order with agent, step and confidence, citing that step."""
    run = max(who_runs, key=lambda item: len(item.events))
    acting = [event for event in run.events if event.type is EventType.MESSAGE and event.step_index]
    first, second = acting[-1], acting[0]
    attribution = FailureAttribution(
        session_id=run.session_id,
        method="counterfactual",
        candidates=[
            FailureCandidate(agent_id=second.agent_id, step_index=second.step_index or 0, confidence=0.2),
            FailureCandidate(
                agent_id=first.agent_id, step_index=first.step_index or 0, confidence=0.6, reason="a wrong figure"
            ),
        ],
    )
    explanation = ExplanationEngine().explain_failure(session_of(run), run.events, hand_timeline(run), attribution)
    blamed = [sentence for sentence in explanation.sentences if sentence.claim is ClaimType.ATTRIBUTION]
    assert blamed[0].text == (
        f"The counterfactual attribution ranks {first.agent_id} at step {first.step_index} first "
        "(confidence 0.60): a wrong figure."
    )
    assert f"{second.agent_id} at step {second.step_index} second" in blamed[1].text
    by_id = events_by_id(run)
    assert {by_id[event_id].step_index for event_id in blamed[0].evidence_event_ids} == {first.step_index}
    assert_grounded(explanation, run)


def test_prediction_drivers_are_ranked_and_only_citable_ones_kept(swe_runs: list[ImportedRun]) -> None:
    """Drivers appear largest effect first; a driver without a known event is left out and lowers confidence."""
    run = next(item for item in swe_runs if any(map(is_failed_result, item.events)))
    engine, session, prediction = ExplanationEngine(), session_of(run), prediction_for(run)
    drivers = drivers_of(run)
    explanation = engine.explain_prediction(session, run.events, prediction, drivers)
    assert explanation.sentences[0].text.startswith(f"At step {prediction.step_index}, model gbm-test put the chance")
    texts = [sentence.text for sentence in explanation.sentences[1:-1]]
    assert [text.split(" (")[0] for text in texts] == [
        driver.description[0].upper() + driver.description[1:]
        for driver in sorted(drivers, key=lambda item: -abs(item.contribution))
    ]
    assert "toward failure (-0.3)" in texts[0]
    ghost = PredictionDriver("ghost", -0.9, "a feature of events not in this session", ["no-such-event"])
    with_ghost = engine.explain_prediction(session, run.events, prediction, [*drivers, ghost])
    assert "ghost" not in with_ghost.text
    assert with_ghost.confidence < explanation.confidence
    assert_grounded(with_ghost, run)


def test_timeline_and_attribution_raise_confidence(who_runs: list[ImportedRun]) -> None:
    """More kinds of evidence give more confidence: a timeline for behaviour, a confident attribution for failure."""
    engine = ExplanationEngine()
    run = max(who_runs, key=lambda item: len(item.events))
    session, timeline = session_of(run), hand_timeline(run)
    assert engine.explain_behaviour(session, run.events, timeline).confidence > (
        engine.explain_behaviour(session, run.events).confidence
    )
    step = next(event for event in run.events if event.type is EventType.MESSAGE and event.step_index)
    attribution = FailureAttribution(
        session_id=run.session_id,
        method="m",
        candidates=[FailureCandidate(agent_id=step.agent_id, step_index=step.step_index or 0, confidence=0.9)],
    )
    assert engine.explain_failure(session, run.events, timeline, attribution).confidence > (
        engine.explain_failure(session, run.events, timeline).confidence
    )


# --- comparison --------------------------------------------------------------------------------------------------


def test_resolved_and_unresolved_swe_runs_differ_in_failed_commands(swe_runs: list[ImportedRun]) -> None:
    """Comparing the first resolved and the first unresolved SWE run states both runs' real failed-command counts."""
    resolved = next(run for run in swe_runs if run.annotations["labels"]["resolved"] is True)
    unresolved = next(run for run in swe_runs if run.annotations["labels"]["resolved"] is False)
    failed = [sum(map(is_failed_result, run.events)) for run in (resolved, unresolved)]
    results = [sum(event.type is EventType.TOOL_RESULT for event in run.events) for run in (resolved, unresolved)]
    assert failed[0] != failed[1], "precondition: the two runs differ in failed commands"
    explanation = ExplanationEngine().compare(
        SessionEvidence(session_of(resolved), resolved.events),
        SessionEvidence(session_of(unresolved), unresolved.events),
    )
    assert explanation.other_session_id == unresolved.session_id
    expected = f"{failed[0]} of A's {results[0]} bash results failed, against {failed[1]} of B's {results[1]}."
    (sentence,) = [item for item in explanation.sentences if item.text == expected]
    sessions = {events_by_id(resolved, unresolved)[event_id].session_id for event_id in sentence.evidence_event_ids}
    assert sessions == {resolved.session_id, unresolved.session_id}
    assert_grounded(explanation, resolved, unresolved)


def test_comparison_of_a_run_with_itself_finds_no_difference(tau_runs: list[ImportedRun]) -> None:
    """A session compared with a copy of itself under another id is reported alike, with the shared counts."""
    run = tau_runs[0]
    copy = ImportedRun(
        "copy",
        [event.model_copy(update={"session_id": "copy", "id": "c" + event.id}) for event in run.events],
        {},
        "",
        "",
    )
    explanation = ExplanationEngine().compare(
        SessionEvidence(session_of(run), run.events), SessionEvidence(session_of(copy), copy.events)
    )
    assert "both worked on the same task" in explanation.sentences[0].text
    assert explanation.sentences[-1].text.startswith("No large difference stands out")
    assert_grounded(explanation, run, copy)


# --- check_citations -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grounded(swe_runs: list[ImportedRun]) -> tuple[ImportedRun, Explanation]:
    """A SWE run with failures and its grounded behaviour explanation."""
    run = next(item for item in swe_runs if any(map(is_failed_result, item.events)))
    return run, ExplanationEngine().explain_behaviour(session_of(run), run.events, hand_timeline(run))


def _with_sentences(explanation: Explanation, sentences: list[ExplanationSentence]) -> Explanation:
    evidence = list(dict.fromkeys(event_id for sentence in sentences for event_id in sentence.evidence_event_ids))
    text = " ".join(sentence.text for sentence in sentences)
    return explanation.model_copy(update={"sentences": sentences, "evidence_event_ids": evidence, "text": text})


def test_check_citations_catches_a_claim_its_event_does_not_support(
    grounded: tuple[ImportedRun, Explanation],
) -> None:
    """A tool-failure claim citing a successful result, and an error claim citing session_end, are both reported."""
    run, explanation = grounded
    success = next(event for event in run.events if event.type is EventType.TOOL_RESULT and not is_failed_result(event))
    end = run.events[-1]
    wrong = [
        ExplanationSentence(text="bash failed.", claim=ClaimType.TOOL_FAILURE, evidence_event_ids=[success.id]),
        ExplanationSentence(text="It erred.", claim=ClaimType.ERROR, evidence_event_ids=[end.id]),
    ]
    problems = check_citations(_with_sentences(explanation, [*explanation.sentences, *wrong]), events_by_id(run))
    count = len(explanation.sentences)
    assert problems == [
        f"sentence {count + 1} (tool_failure): event {success.id!r} (tool_result, status ok, exit code 0) "
        "does not support this claim",
        f"sentence {count + 2} (error): event {end.id!r} (session_end, status {end.status.value}) "
        "does not support this claim",
    ]


def test_check_citations_catches_missing_ids_and_broken_unions(grounded: tuple[ImportedRun, Explanation]) -> None:
    """An unknown id, a sentence without citations, a wrong evidence union, a one-event repetition and bad text."""
    run, explanation = grounded
    first = explanation.sentences[0]
    broken = _with_sentences(
        explanation,
        [
            first.model_copy(update={"evidence_event_ids": [*first.evidence_event_ids, "no-such-event"]}),
            ExplanationSentence(text="Nothing backs this.", claim=ClaimType.ACTION),
            ExplanationSentence(text="It looped.", claim=ClaimType.REPETITION, evidence_event_ids=[run.events[4].id]),
        ],
    )
    broken = broken.model_copy(update={"evidence_event_ids": broken.evidence_event_ids[1:], "text": "other"})
    problems = check_citations(broken, events_by_id(run))
    assert "sentence 1 (task): event 'no-such-event' is unknown" in problems
    assert "sentence 2 (action) cites no event" in problems
    assert "sentence 3 (repetition) needs at least 2 cited events" in problems
    assert f"evidence_event_ids lacks ids the sentences cite: {[first.evidence_event_ids[0]]}" in problems
    assert "text is not the sentences joined" in problems
    assert check_citations(explanation.model_copy(update={"sentences": []}), events_by_id(run)) == [
        "the explanation has no sentences"
    ]


def test_check_citations_refuses_events_of_other_sessions(
    grounded: tuple[ImportedRun, Explanation], tau_runs: list[ImportedRun]
) -> None:
    """A citation of another session's event, and a comparison sentence citing one side only, are reported."""
    run, explanation = grounded
    foreign = tau_runs[0].events[0]
    sentence = ExplanationSentence(text="The task.", claim=ClaimType.TASK, evidence_event_ids=[foreign.id])
    problems = check_citations(_with_sentences(explanation, [sentence]), events_by_id(run, tau_runs[0]))
    assert problems == [f"sentence 1 (task): event {foreign.id!r} belongs to another session ({foreign.session_id!r})"]
    one_sided = ExplanationSentence(
        text="A differs.", claim=ClaimType.COMPARISON, evidence_event_ids=[run.events[0].id]
    )
    comparison = _with_sentences(explanation, [one_sided]).model_copy(
        update={"kind": ExplanationKind.COMPARISON, "other_session_id": tau_runs[0].session_id}
    )
    assert check_citations(comparison, events_by_id(run, tau_runs[0])) == [
        "sentence 1 (comparison) does not cite events of both sessions"
    ]


def test_evidence_index_reads_status_and_exit_codes(swe_runs: list[ImportedRun]) -> None:
    """A non-zero exit code supports a tool failure only; session_end supports the outcome, never an error."""
    run = next(item for item in swe_runs if any(map(is_failed_result, item.events)))
    index = EvidenceIndex(run.events)
    failed = next(event for event in run.events if is_failed_result(event))
    ok = next(event for event in run.events if event.type is EventType.TOOL_RESULT and not is_failed_result(event))
    end, start = run.events[-1], run.events[0]
    assert index.supports(ClaimType.TOOL_FAILURE, failed) and not index.supports(ClaimType.TOOL_SUCCESS, failed)
    assert index.supports(ClaimType.TOOL_SUCCESS, ok) and not index.supports(ClaimType.TOOL_FAILURE, ok)
    assert index.supports(ClaimType.OUTCOME, end) and not index.supports(ClaimType.ERROR, end)
    assert index.supports(ClaimType.TASK, start) and not index.supports(ClaimType.OUTCOME, start)
    assert not index.supports(ClaimType.ACTION, ok) and index.supports(ClaimType.ACTION, run.events[4])


# --- the LLM writer -----------------------------------------------------------------------------------------------


def _chat_reply(content: str) -> dict[str, object]:
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}


def _llm_engine(reply: Callable[[list[str]], httpx.Response], seen: list[httpx.Request]) -> ExplanationEngine:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        sentences = json.loads(json.loads(request.content)["messages"][1]["content"])["sentences"]
        return reply(sentences)

    writer = OpenAICompatibleWriter(
        "http://llm.test/v1", "tiny-model", api_key="k-123", transport=httpx.MockTransport(handle)
    )
    return ExplanationEngine(writer)


def test_llm_writer_rewords_and_keeps_claims_and_citations(grounded: tuple[ImportedRun, Explanation]) -> None:
    """The LLM's sentences replace the wording only: claims and citations stay, and the generator names the model."""
    run, template = grounded
    seen: list[httpx.Request] = []
    engine = _llm_engine(
        lambda texts: httpx.Response(200, json=_chat_reply(json.dumps([f"In short: {t}" for t in texts]))), seen
    )
    explanation = engine.explain_behaviour(session_of(run), run.events, hand_timeline(run))
    assert explanation.generator == "llm:tiny-model"
    assert [s.text for s in explanation.sentences] == [f"In short: {s.text}" for s in template.sentences]
    assert [(s.claim, s.evidence_event_ids) for s in explanation.sentences] == [
        (s.claim, s.evidence_event_ids) for s in template.sentences
    ]
    assert check_citations(explanation, events_by_id(run)) == []
    (request,) = seen
    body = json.loads(request.content)
    assert str(request.url) == "http://llm.test/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer k-123"
    assert body["model"] == "tiny-model" and body["messages"][0]["role"] == "system"


def test_llm_writer_accepts_a_fenced_json_reply(grounded: tuple[ImportedRun, Explanation]) -> None:
    """A reply wrapped in a markdown code fence is still read as the JSON array it contains."""
    run, _ = grounded

    def fenced(texts: list[str]) -> httpx.Response:
        return httpx.Response(200, json=_chat_reply("```json\n" + json.dumps(texts) + "\n```"))

    explanation = _llm_engine(fenced, []).explain_behaviour(session_of(run), run.events)
    assert explanation.generator == "llm:tiny-model"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (lambda texts: httpx.Response(200, json=_chat_reply("Sure! Here is the text.")), "not a JSON array"),
        (lambda texts: httpx.Response(200, json=_chat_reply(json.dumps(texts[:-1]))), "sentences for"),
        (lambda texts: httpx.Response(200, json={"error": "nope"}), "no choices"),
        (lambda texts: httpx.Response(503, text="overloaded"), "HTTP 503"),
        (lambda texts: httpx.Response(200, content=b"<html>"), "not JSON"),
    ],
    ids=["prose", "wrong-count", "no-choices", "http-error", "not-json"],
)
def test_llm_writer_falls_back_to_templates_and_logs_why(
    grounded: tuple[ImportedRun, Explanation],
    caplog: pytest.LogCaptureFixture,
    reply: Callable[[list[str]], httpx.Response],
    reason: str,
) -> None:
    """A malformed, short or failed reply leaves the template explanation unchanged and logs the reason."""
    run, template = grounded
    caplog.set_level(logging.WARNING, "escai.analysis.explain.writer")
    explanation = _llm_engine(reply, []).explain_behaviour(session_of(run), run.events, hand_timeline(run))
    assert explanation == template
    logged = [json.loads(record.getMessage()) for record in caplog.records if record.name.endswith("writer")]
    assert any(reason in entry["reason"] for entry in logged), logged


def test_llm_writer_falls_back_on_timeout(grounded: tuple[ImportedRun, Explanation]) -> None:
    """A request that times out gives the template explanation."""
    run, template = grounded

    def time_out(texts: list[str]) -> httpx.Response:
        raise httpx.ReadTimeout("slow model")

    explanation = _llm_engine(time_out, []).explain_behaviour(session_of(run), run.events, hand_timeline(run))
    assert explanation == template


def test_llm_sentence_with_an_invented_number_keeps_its_template(grounded: tuple[ImportedRun, Explanation]) -> None:
    """A rewritten sentence stating a number its template lacks is replaced by the template sentence."""
    run, template = grounded

    def invent(texts: list[str]) -> httpx.Response:
        reworded = [f"{texts[0]} Roughly 987 times.", *(text.upper() for text in texts[1:])]
        return httpx.Response(200, json=_chat_reply(json.dumps(reworded)))

    explanation = _llm_engine(invent, []).explain_behaviour(session_of(run), run.events, hand_timeline(run))
    assert explanation.sentences[0].text == template.sentences[0].text
    assert explanation.sentences[1].text == template.sentences[1].text.upper()
    assert explanation.generator == "llm:tiny-model"


def test_writer_from_settings_needs_both_endpoint_and_model() -> None:
    """Without an endpoint or a model the templates are used; with both, the LLM writer with its key."""
    assert isinstance(writer_from_settings(None, "m", None), TemplateWriter)
    assert isinstance(writer_from_settings("http://llm.test/v1", None, "k"), TemplateWriter)
    writer = writer_from_settings("http://llm.test/v1/", "m", SecretStr("secret"))
    assert isinstance(writer, OpenAICompatibleWriter)
    assert writer.url == "http://llm.test/v1/chat/completions" and writer.generator == "llm:m"
    writer.close()


def test_package_exports_exactly_its_public_names() -> None:
    """escai.analysis.explain's __all__ lists every public class and function it exposes, and each resolves."""
    import types

    import escai.analysis.explain as package

    public = {
        name
        for name, value in vars(package).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType) and name != "annotations"
    }
    assert set(package.__all__) == public
