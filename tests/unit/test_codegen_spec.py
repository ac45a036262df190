"""Spec building and validation, the kind classifier with its reasons and ambiguity, and logic extraction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from escai.codegen.classify import classify_kind
from escai.codegen.errors import SpecValidationError, UnsafeLogicError
from escai.codegen.logic import check_expression, evaluate_logic, extract_logic
from escai.codegen.prd import parse_prd
from escai.codegen.spec import FieldSpec, GenerationSpec, NodeSpec, build_spec
from escai.nodes import NodeKind

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prd"


def spec_of(name: str) -> GenerationSpec:
    """The spec built from one committed example PRD."""
    return build_spec(parse_prd((EXAMPLES / name).read_text()))


def node_of(spec: GenerationSpec, name: str) -> NodeSpec:
    """One node of a spec by class name."""
    return next(node for node in spec.nodes if node.name == name)


def test_examples_build_into_the_expected_kinds() -> None:
    """The three examples cover all four kinds, each decided by the classifier or the front matter."""
    kinds = {
        node.name: node.kind
        for name in ("session_health.md", "tool_failure_alerts.md", "cost_rollup.md")
        for node in spec_of(name).nodes
    }
    assert kinds == {
        "SessionHealthScorer": NodeKind.COMPUTE,
        "ErrorEventCounter": NodeKind.COMPUTE,
        "ToolFailureFilter": NodeKind.COMPUTE,
        "AlertWebhookSender": NodeKind.EFFECT,
        "ToolFailureAlertWorkflow": NodeKind.ORCHESTRATOR,
        "TokenCostAccumulator": NodeKind.REDUCER,
        "AverageCallCost": NodeKind.COMPUTE,
    }


def test_classifier_decisions_show_normalised_scores_and_reasons() -> None:
    """Scores sum to 1 and the reasons name the words that decided, for each kind's typical wording."""
    cases = {
        "Fetch the page from the external API and store it in the database.": NodeKind.EFFECT,
        "Calculate the score by transforming and parsing the text.": NodeKind.COMPUTE,
        "Aggregate the running total of tokens over time.": NodeKind.REDUCER,
        "Coordinate the workflow: first extract, then load, a pipeline of steps.": NodeKind.ORCHESTRATOR,
    }
    for text, expected in cases.items():
        decision = classify_kind(text)
        assert decision.chosen == expected, text
        assert sum(decision.scores.values()) == pytest.approx(1.0, abs=1e-3)
        assert decision.reasons and all(str(expected) in reason for reason in decision.reasons)
        assert not decision.ambiguous


def test_close_scores_are_reported_as_ambiguous() -> None:
    """Text that is as much I/O as computation is flagged ambiguous, and the spec lists it in ambiguities."""
    decision = classify_kind("Parse the record and save it.")
    assert decision.ambiguous
    assert "close call" in decision.reasons[-1]
    spec = build_spec(
        parse_prd("# T\n## Features\n### Scorer\nParse the record and save it.\n- Output `score` (float): s\n")
    )
    assert any("close call" in item and "Scorer" in item for item in spec.ambiguities)


def test_no_evidence_is_ambiguous_not_silently_guessed() -> None:
    """Text with no kind cue defaults to compute and says so."""
    decision = classify_kind("Handles the thing.")
    assert decision.ambiguous
    assert decision.chosen == NodeKind.COMPUTE
    assert "no kind evidence" in decision.reasons[0]


def test_an_explicit_kind_overrides_the_classifier_but_keeps_its_scores() -> None:
    """A Kind: line wins over the text, and the decision still shows the classifier's view."""
    decision = classify_kind("Send the alert to the webhook.", explicit_kind=NodeKind.COMPUTE)
    assert decision.chosen == NodeKind.COMPUTE
    assert decision.explicit
    assert decision.scores["effect"] > 0.5


def test_naming_other_nodes_points_to_orchestrator() -> None:
    """A node that names two other nodes of the PRD scores toward orchestrator."""
    decision = classify_kind("Run Alpha, and Beta after it.", other_node_names=["Alpha", "Beta"])
    assert decision.chosen == NodeKind.ORCHESTRATOR


@pytest.mark.parametrize(
    ("text", "inputs", "mappings", "expected_operation", "values", "result"),
    [
        ("Returns the average of costs.", ["costs"], {}, "mean", {"costs": [1.0, 2.0, 6.0]}, 3.0),
        ("The sum of values.", ["values"], {}, "sum", {"values": [1, 2]}, 3),
        ("The maximum of latencies.", ["latencies"], {}, "max", {"latencies": [1.0, 7.0]}, 7.0),
        (
            "Count the events whose type is error.",
            ["events"],
            {"events": True},
            "count",
            {"events": [{"type": "error"}, {"type": "ok"}, {"type": "error"}]},
            2,
        ),
        (
            "Filter the events where status is failed.",
            ["events"],
            {"events": True},
            "filter",
            {"events": [{"status": "failed"}, {"status": "ok"}]},
            [{"status": "failed"}],
        ),
    ],
)
def test_logic_is_extracted_from_phrases(
    text: str,
    inputs: Sequence[str],
    mappings: dict[str, bool],
    expected_operation: str,
    values: dict[str, object],
    result: object,
) -> None:
    """Each supported phrase becomes an expression that computes what the phrase says."""
    logic, notes = extract_logic(text, inputs, item_is_mapping=mappings)
    assert logic is not None, notes
    assert logic.operation == expected_operation
    assert evaluate_logic(logic, values) == result


def test_running_total_becomes_an_accumulation_for_reducers() -> None:
    """ "running total of cost" reads the field cost_usd and adds it to the previous total."""
    logic, _ = extract_logic("Keep the running total of cost.", ["agent_id", "cost_usd"], stateful=True)
    assert logic is not None
    assert logic.expression == "previous + cost_usd"
    assert evaluate_logic(logic, {"previous": 1.5, "cost_usd": 0.5, "agent_id": "a"}) == 2.0


def test_a_phrase_naming_an_unknown_field_is_reported() -> None:
    """ "average of prices" with no prices input yields no logic and a note naming the word."""
    logic, notes = extract_logic("Returns the average of prices.", ["costs"])
    assert logic is None
    assert any('"prices"' in note for note in notes)


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("__import__('os')", "function __import__"),
        ("values.__class__", "attribute .__class__"),
        ("open('f')", "function open"),
        ("(lambda: 1)()", "only named functions"),
        ("[x for x in (lambda: values)()]", "is not allowed|only named"),
        ("unknown + 1", "'unknown', which is not an input field"),
        ("values +", "not a Python expression"),
    ],
)
def test_unsafe_or_unknown_logic_is_refused(expression: str, message: str) -> None:
    """The whitelist refuses calls, attributes and names outside it, with the offending part named."""
    with pytest.raises(UnsafeLogicError, match=message):
        check_expression(expression, ["values"])


def test_explicit_logic_from_front_matter_is_used_as_written() -> None:
    """The session health scorer's front-matter expression becomes its logic, reading only ``events``."""
    scorer = node_of(spec_of("session_health.md"), "SessionHealthScorer")
    assert scorer.logic is not None
    assert scorer.logic.operation == "expression"
    assert scorer.logic.names == ["events"]


def test_spec_reports_derived_package_and_unstated_logic() -> None:
    """A PRD without a package name and with an orchestrator whose steps are prose reports both as ambiguities."""
    spec = spec_of("tool_failure_alerts.md")
    assert spec.package == "tool_failure_alerts"
    assert any("derived 'tool_failure_alerts'" in item for item in spec.ambiguities)
    assert node_of(spec, "ToolFailureAlertWorkflow").logic is None
    sender = node_of(spec, "AlertWebhookSender")
    assert sender.idempotent
    assert sender.mixins == ["circuit_breaker", "timeout", "retry"]


def base_prd(node_lines: str, front_matter: str = "") -> str:
    """A minimal PRD around one node section."""
    return f"{front_matter}# T\n## Features\n### Node\nCompute the value.\n{node_lines}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (base_prd("- Output `x` (set[int]): bad type\n"), r"type 'set\[int\]' is not allowed"),
        (base_prd("- Output `x` (dict[int, str]): bad key\n"), "not allowed"),
        (base_prd("- Output `BadName` (int): x\n"), "snake_case"),
        (base_prd("- Output `x` (int): x\n- Output `x` (int): again\n"), "declared more than once"),
        (base_prd("- Output `x` (int): x\n- Mixins: logging, telepathy\n"), "unknown mixin"),
        (base_prd("- Output `x` (int): x\n- Mixins: logging, logging\n"), "more than once|listed 2 times"),
        (base_prd("- Output `x` (int): x\n- Kind: effect\n- Mixins: caching\n"), "'caching' on an effect node"),
        (base_prd("- Input `a` (int): a\n- Output `x` (int): x\n- Logic: b + 1\n"), "'b', which is not an input"),
        (base_prd("- Output `x` (int, default [1): x\n"), "not a Python literal"),
        (base_prd("- Input `a` (int): a\n"), "no output field"),
        (base_prd("- Output `x` (int): x\n- Kind: gadget\n"), "not a node kind"),
        ("# T\n## Features\n### lowercase\nCompute.\n- Output `x` (int): x\n", "PascalCase"),
        ("# T\n## Overview\nnothing\n", "no nodes"),
        (
            "# T\n## Features\n### A\nCompute.\n- Output `x` (int): x\n### A\nCompute.\n- Output `y` (int): y\n",
            "duplicate node names",
        ),
    ],
)
def test_invalid_specs_raise_with_every_problem_named(text: str, message: str) -> None:
    """Names, duplicates, mixins, types, defaults and logic are validated with a message saying what is wrong."""
    with pytest.raises(SpecValidationError, match=message):
        build_spec(parse_prd(text))


def test_problems_of_several_nodes_are_reported_together() -> None:
    """Two broken nodes give two problems in one error, not just the first."""
    text = "# T\n## Features\n### A\nCompute.\n- Output `x` (set): x\n### B\nCompute.\n- Output `y` (tuple): y\n"
    with pytest.raises(SpecValidationError) as caught:
        build_spec(parse_prd(text))
    assert len(caught.value.problems) == 2


def test_a_field_without_type_is_assumed_str_and_reported() -> None:
    """An untyped field is not silently typed: the assumption is listed in ambiguities."""
    spec = build_spec(parse_prd(base_prd("- Input `name`: who\n- Output `x` (int): x\n")))
    assert spec.nodes[0].inputs == [FieldSpec(name="name", type_expr="str", description="who")]
    assert any("'name' has no type; assumed str" in item for item in spec.ambiguities)


class RecordingAdvisor:
    """A compatibility advisor that warns about one pair and records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[NodeKind, tuple[str, ...]]] = []

    def advise(self, kind: NodeKind, mixins: Sequence[str]) -> list[str]:
        """Warn when logging and metrics are combined."""
        self.asked.append((kind, tuple(mixins)))
        return ["logging+metrics predicted incompatible (score 0.2)"] if {"logging", "metrics"} <= set(mixins) else []


def test_the_compatibility_advisor_is_consulted_and_its_warnings_recorded() -> None:
    """build_spec asks the advisor per node and puts its warnings in the spec."""
    advisor = RecordingAdvisor()
    spec = build_spec(parse_prd((EXAMPLES / "cost_rollup.md").read_text()), compatibility=advisor)
    assert (NodeKind.REDUCER, ("logging", "metrics")) in advisor.asked
    assert any("TokenCostAccumulator: logging+metrics predicted incompatible" in item for item in spec.warnings)


def test_an_inferred_incompatible_mixin_is_dropped_and_reported() -> None:
    """Caching read from an Effect node's prose is dropped (caching a side effect), and the drop is an ambiguity."""
    text = "# T\n## Features\n### Sender\nSend the report to the webhook and cache the answer.\n- Output `x` (int): x\n"
    spec = build_spec(parse_prd(text))
    assert spec.nodes[0].kind == NodeKind.EFFECT
    assert "caching" not in spec.nodes[0].mixins
    assert any("dropped caching" in item for item in spec.ambiguities)
