"""PRD parsing: sections, nodes, fields, settings and YAML front matter, on the committed examples and inline text."""

from __future__ import annotations

from pathlib import Path

import pytest

from escai.codegen.errors import PrdSyntaxError
from escai.codegen.prd import parse_prd

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "prd"


@pytest.mark.parametrize("name", ["session_health.md", "tool_failure_alerts.md", "cost_rollup.md"])
def test_every_example_has_all_sections_and_typed_nodes(name: str) -> None:
    """Each committed example has the seven parts and at least two nodes whose outputs all carry a type."""
    parsed = parse_prd((EXAMPLES / name).read_text())
    assert parsed.title
    for section in ("overview", "functional_requirements", "features", "success_criteria", "technical_details"):
        assert section in parsed.sections, section
    assert parsed.sections["overview"]
    assert parsed.dependencies
    assert len(parsed.nodes) >= 2
    assert all(field.type_expr for node in parsed.nodes for field in node.fields if field.role == "output")
    assert parsed.notes == []


def test_front_matter_overrides_and_adds_explicit_choices() -> None:
    """Front-matter kind, hook, mixins and logic land on the node and are marked explicit."""
    parsed = parse_prd((EXAMPLES / "session_health.md").read_text())
    scorer = next(node for node in parsed.nodes if node.name == "SessionHealthScorer")
    assert parsed.front_matter["package"] == "escai_session_health"
    assert scorer.kind == "compute"
    assert scorer.hook == "session"
    assert scorer.mixins == ["logging", "metrics", "validation"]
    assert scorer.logic is not None and scorer.logic.startswith("1.0 - len(")
    assert {"kind", "hook", "mixins", "logic"} <= scorer.explicit


def test_field_lines_carry_type_default_and_description() -> None:
    """``- Config `timeout_seconds` (float, default 5.0): ...`` is read into its four parts."""
    parsed = parse_prd((EXAMPLES / "tool_failure_alerts.md").read_text())
    sender = next(node for node in parsed.nodes if node.name == "AlertWebhookSender")
    timeout = next(field for field in sender.fields if field.name == "timeout_seconds")
    assert (timeout.role, timeout.type_expr, timeout.default) == ("config", "float", "5.0")
    assert timeout.description == "how long one attempt may take."
    events = next(node for node in parsed.nodes if node.name == "ToolFailureFilter").fields[0]
    assert events.type_expr == "list[dict[str, Any]]"
    assert "POST a JSON message" in sender.text
    assert "Input" not in sender.text


def test_nodes_declared_only_in_front_matter_are_created() -> None:
    """A node that exists only in the front matter, with its fields there, is parsed like one in the prose."""
    text = """---
nodes:
  Doubler:
    kind: compute
    description: Doubles the value.
    inputs: [{name: value, type: float}]
    outputs: [{name: doubled, type: float}]
    logic: value * 2
---
# Doubling
## Overview
Doubles numbers.
"""
    node = parse_prd(text).nodes[0]
    assert (node.name, node.section, node.logic) == ("Doubler", "front_matter", "value * 2")
    assert [(field.role, field.name, field.type_expr) for field in node.fields] == [
        ("input", "value", "float"),
        ("output", "doubled", "float"),
    ]


def test_unknown_sections_are_kept_and_noted() -> None:
    """A heading that is not one of the PRD sections is kept under its own key and reported in the notes."""
    parsed = parse_prd("# T\n## Risks\nMany.\n## Overview\nShort.\n")
    assert parsed.sections["risks"] == "Many."
    assert any("Risks" in note for note in parsed.notes)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("## Overview\nno title\n", "no title"),
        ("---\n- a list\n---\n# T\n", "must be a mapping"),
        ("---\nkey: [unclosed\n---\n# T\n", "cannot be parsed"),
        ("---\nnodes: [A, B]\n---\n# T\n", "'nodes' must be a mapping"),
        ("---\nnodes:\n  A: {mixins: logging}\n---\n# T\n", "'mixins' must be a list"),
    ],
)
def test_malformed_documents_raise_clear_errors(text: str, message: str) -> None:
    """Structural problems raise PrdSyntaxError saying what is wrong."""
    with pytest.raises(PrdSyntaxError, match=message):
        parse_prd(text)
