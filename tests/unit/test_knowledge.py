"""Knowledge extraction and the knowledge graph: facts from real tool outputs of several frameworks, entity
kinds, noise rules, and the GraphML, Cypher and JSON exports.

Real runs come from ``../shared/datasets`` (relative to the repository root), read with the project's importers;
those tests are skipped, saying so, when the folder is absent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

from escai.analysis.epistemic.entities import MAX_LABEL
from escai.analysis.epistemic.graph import KnowledgeGraph, cypher_identifier, cypher_string
from escai.analysis.epistemic.knowledge import extract_facts
from escai.ingest.importers import ImportedRun, read_runs
from escai.model.events import AgentEvent, EventStatus, EventType
from escai.model.records import KnowledgeFact

DATASETS = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
TAU_BENCH = DATASETS / "tau_bench_historical" / "gpt-4o-airline.json.gz"
MINI_SWE = DATASETS / "mini_swe_agent_swebench_verified" / "trajectories.jsonl.gz"
WHO_AND_WHEN = DATASETS / "who_and_when" / "Algorithm-Generated"
MAST = DATASETS / "mast_mad_human" / "MAD_human_labelled_dataset.json.gz"
OTEL = DATASETS / "framework_traces" / "any_agent_otel" / "OPENAI_trace.json"
LANGFUSE = DATASETS / "framework_traces" / "langfuse_export" / "openai-agents-2025-09-30.json"

needs_data = pytest.mark.skipif(
    not DATASETS.is_dir(), reason=f"the shared data sets are not at {DATASETS}: knowledge tests on real data skipped"
)


def first_runs(path: Path, count: int = 1) -> list[ImportedRun]:
    """The first ``count`` runs of a data file, read with format detection."""
    runs: list[ImportedRun] = []
    for item in read_runs(path, "auto"):
        if isinstance(item, ImportedRun):
            runs.append(item)
            if len(runs) == count:
                break
    return runs


def results_with_calls(run: ImportedRun) -> Iterator[tuple[AgentEvent, AgentEvent | None]]:
    """Each event of ``run`` with the tool call it answers (its parent, or the call with the same call id)."""
    by_id = {event.id: event for event in run.events}
    calls_by_call_id = {
        event.attributes["gen_ai.tool.call.id"]: event
        for event in run.events
        if event.type is EventType.TOOL_CALL and "gen_ai.tool.call.id" in event.attributes
    }
    for event in run.events:
        # The parent first: some logs reuse a call id for later calls.
        parent = by_id.get(event.parent_id or "")
        if parent is not None and parent.type is EventType.TOOL_CALL:
            yield event, parent
        else:
            yield event, calls_by_call_id.get(event.attributes.get("gen_ai.tool.call.id", ""))


def triples(facts: list[KnowledgeFact]) -> set[tuple[str, str, str]]:
    """The facts as (subject, relation, object) triples."""
    return {(fact.subject, fact.relation, fact.object) for fact in facts}


def tool_event(content: str, **fields: object) -> AgentEvent:
    """A tool_result event with ``content`` and field overrides."""
    values: dict[str, object] = {"session_id": "s", "agent_id": "a", "type": EventType.TOOL_RESULT, "name": "tool"}
    values.update(fields, content=content)
    return AgentEvent.model_validate(values)


# --- extraction on real data ------------------------------------------------------------------------------------


@needs_data
def test_tau_bench_user_record_facts_name_the_user_from_the_call() -> None:
    """A tau-bench user lookup gives the user's e-mail and full name, about the user id the call asked for."""
    run = first_runs(TAU_BENCH)[0]
    event, call = next(
        (event, call)
        for event, call in results_with_calls(run)
        if event.name == "get_user_details" and event.type is EventType.TOOL_RESULT
    )
    assert call is not None
    facts = extract_facts(event, call=call)
    by_triple = {(fact.subject, fact.relation, fact.object): fact for fact in facts}
    email = by_triple[("mia_li_3668", "email", "mia.li3818@example.com")]
    assert (email.subject_kind, email.object_kind) == ("id", "email")
    assert by_triple[("mia_li_3668", "name", "Mia Li")].object_kind == "person"
    assert ("credit_card_4421486", "brand", "visa") in by_triple
    assert all(fact.source_event_id == event.id for fact in facts)
    without_call = extract_facts(event)
    assert ("get_user_details", "email", "mia.li3818@example.com") in triples(without_call)


@needs_data
def test_tau_bench_search_results_become_entities_and_errors_are_raised() -> None:
    """Flight records are subjects of their own fields, an error result is ``raised``, a bare number gives nothing."""
    run = first_runs(TAU_BENCH)[0]
    results = [event for event in run.events if event.type is EventType.TOOL_RESULT]
    search = next(event for event in results if event.name == "search_direct_flight")
    search_facts = triples(extract_facts(search))
    assert {("search_direct_flight", "result", "HAT069"), ("HAT069", "origin", "JFK")} <= search_facts
    assert ("HAT069", "prices.economy", "121") in search_facts
    failed = next(event for event in results if event.status is EventStatus.ERROR)
    assert triples(extract_facts(failed)) == {
        ("book_reservation", "raised", "Error: payment amount does not add up, total price is 305, but paid 255")
    }
    calculation = next(event for event in results if event.name == "calculate")
    assert calculation.content == "255.0"
    assert extract_facts(calculation) == []


@needs_data
def test_mini_swe_agent_exit_codes_tests_and_files() -> None:
    """mini-swe-agent outputs give the command's exit code, pytest counts, failed tests, errors and file paths."""
    runs = first_runs(MINI_SWE, 2)
    facts_by_command: dict[str, set[tuple[str, str, str]]] = {}
    checked_codes = 0
    for run in runs:
        for event, call in results_with_calls(run):
            if event.type is not EventType.TOOL_RESULT:
                continue
            facts = extract_facts(event, call=call)
            exit_facts = [fact for fact in facts if fact.relation == "exit_code"]
            if "process.exit.code" in event.attributes:
                assert [fact.object for fact in exit_facts] == [str(event.attributes["process.exit.code"])]
                checked_codes += 1
            if exit_facts:
                facts_by_command.setdefault(exit_facts[0].subject, set()).update(triples(facts))
    assert checked_codes > 20
    pytest_run = facts_by_command["pytest astropy/modeling/tests/test_separable.py"]
    assert ("pytest astropy/modeling/tests/test_separable.py", "exit_code", "0") in pytest_run
    assert ("pytest astropy/modeling/tests/test_separable.py", "tests_passed", "11") in pytest_run
    listing = facts_by_command["ls astropy/modeling/separable.py"]
    assert ("ls astropy/modeling/separable.py", "mentions", "astropy/modeling/separable.py") in listing
    failing = facts_by_command["pytest astropy/table/tests/test_mixin.py"]
    command = "pytest astropy/table/tests/test_mixin.py"
    assert {(command, "exit_code", "1"), (command, "tests_failed", "1")} <= failing
    assert (command, "failed_test", "astropy/table/tests/test_mixin.py::test_skycoord_representation") in failing
    assert (command, "raised", "TypeError: concatenate() got an unexpected keyword argument 'dtype'") in failing


@needs_data
def test_who_and_when_code_outputs() -> None:
    """Who&When executor reports give the exit code, a one-line code output, and the error a failed script raised."""
    succeeded = [
        event for event in first_runs(WHO_AND_WHEN / "1.json")[0].events if event.type is EventType.TOOL_RESULT
    ]
    assert {("python", "exit_code", "0"), ("python", "code_output", "4")} <= triples(extract_facts(succeeded[1]))
    failed = next(
        event
        for event in first_runs(WHO_AND_WHEN / "10.json")[0].events
        if event.type is EventType.TOOL_RESULT and event.status is EventStatus.ERROR
    )
    facts = extract_facts(failed)
    assert facts[0] == KnowledgeFact(
        subject="python",
        relation="exit_code",
        object="1",
        source_event_id=failed.id,
        subject_kind="tool",
        object_kind="number",
    )
    raised = [fact for fact in facts if fact.relation == "raised"]
    assert raised[0].object.startswith("SyntaxError: leading zeros in decimal integer literals")
    assert raised[0].object_kind == "error"


@needs_data
def test_otel_langfuse_and_mast_outputs() -> None:
    """OTel JSON spans, a Langfuse tool sentence and a MAST Python-literal result all give their facts."""
    otel = next(
        event
        for event in first_runs(OTEL)[0].events
        if event.name == "get_current_time" and event.type is EventType.TOOL_RESULT
    )
    otel_facts = triples(extract_facts(otel))
    assert ("get_current_time", "timezone", "America/New_York") in otel_facts
    weather = next(event for event in first_runs(LANGFUSE)[0].events if event.type is EventType.TOOL_RESULT)
    assert triples(extract_facts(weather)) == {("weather in Tokyo", "is", "sunny")}
    manus = [
        event
        for run in first_runs(MAST, 19)
        for event in run.events
        if event.name == "python_execute" and event.type is EventType.TOOL_RESULT
    ]
    literal_facts = set().union(*(triples(extract_facts(event)) for event in manus))
    assert ("python_execute", "success", "true") in literal_facts
    assert ("python_execute", "observation", "17") in literal_facts


@needs_data
def test_every_fact_is_clean_bounded_and_deterministic() -> None:
    """Across formats, facts cite their event, labels are one bounded line, the limit holds and reruns agree."""
    runs = [*first_runs(TAU_BENCH, 3), *first_runs(MINI_SWE, 2), *first_runs(MAST, 19), *first_runs(OTEL)]
    total = 0
    for run in runs:
        for event, call in results_with_calls(run):
            facts = extract_facts(event, call=call, limit=12)
            assert facts == extract_facts(event, call=call, limit=12)
            assert len(facts) <= 12
            for fact in facts:
                assert fact.source_event_id == event.id
                for label in (fact.subject, fact.object):
                    assert label == label.strip() and "\n" not in label and 0 < len(label) <= MAX_LABEL
                assert re.fullmatch(r"[0-9a-z_.]+", fact.relation)
            total += len(facts)
    assert total > 300


# --- extraction rules on constructed events ----------------------------------------------------------------------


def test_only_events_that_report_on_the_world_give_facts() -> None:
    """Thoughts, tool calls and assistant messages give nothing; a tool-role message and an observation do."""
    text = "status: shipped"
    assert extract_facts(tool_event(text, type=EventType.THOUGHT)) == []
    assert extract_facts(tool_event(text, type=EventType.TOOL_CALL)) == []
    assert extract_facts(tool_event(text, type=EventType.MESSAGE, attributes={"message.role": "assistant"})) == []
    tool_message = tool_event(text, type=EventType.MESSAGE, attributes={"message.role": "tool"})
    assert triples(extract_facts(tool_message)) == {("tool", "status", "shipped")}
    observation = tool_event(text, type=EventType.OBSERVATION, name=None)
    assert triples(extract_facts(observation)) == {("observation", "status", "shipped")}


def test_noise_is_dropped_and_long_values_are_cut() -> None:
    """Blank and keyless number lines give nothing; a huge value is cut to the label limit with an ellipsis."""
    assert extract_facts(tool_event("")) == []
    assert extract_facts(tool_event("   \n\n  ")) == []
    assert extract_facts(tool_event("42\n17.5\n-3")) == []
    facts = extract_facts(tool_event("summary: " + "word " * 5000))
    assert len(facts) == 1
    assert len(facts[0].object) == MAX_LABEL and facts[0].object.endswith("…")


def test_code_listings_and_grep_output_give_no_key_values() -> None:
    """Docstring ``name : type`` lines, code keywords and ``path: line`` grep hits are not ``key: value`` facts."""
    listing = (
        "src/app/models.py:    status: str = 'new'\n"
        "    value : int\n"
        "        The value.\n"
        "    else: return None\n"
        "Code output: first line\nsecond line\n"
        "Owner: Ada Lovelace\n"
    )
    facts = triples(extract_facts(tool_event(listing)))
    assert facts == {("tool", "owner", "Ada Lovelace"), ("tool", "mentions", "src/app/models.py")}


def test_limit_caps_the_facts_of_a_large_record() -> None:
    """A record with hundreds of keys gives exactly ``limit`` facts, top-level keys first."""
    content = "{" + ", ".join(f'"field_{index}": "value {index}"' for index in range(300)) + "}"
    facts = extract_facts(tool_event(content), limit=25)
    assert len(facts) == 25
    assert facts[0].relation == "field_0"


def test_command_and_exit_code_come_from_the_call_and_attributes() -> None:
    """The call's one-line command is the subject of the exit code the result's attribute reports."""
    call = AgentEvent(
        session_id="s",
        agent_id="a",
        type=EventType.TOOL_CALL,
        name="bash",
        attributes={"gen_ai.tool.call.arguments": {"command": "make test"}},
    )
    result = tool_event("make: *** [test] Error 2", name="bash", attributes={"process.exit.code": 2})
    facts = extract_facts(result, call=call)
    assert facts[0].subject == "make test" and facts[0].subject_kind == "command"
    assert (facts[0].relation, facts[0].object) == ("exit_code", "2")
    assert ("make test", "raised", "make: *** [test] Error 2") in triples(facts)


def test_error_type_attribute_and_tracebacks_are_raised() -> None:
    """An error-type attribute and the last line of a traceback are both reported as ``raised``."""
    traceback = "Traceback (most recent call last):\n  File \"/app/run.py\", line 3, in <module>\nKeyError: 'id'\n"
    event = tool_event(
        traceback,
        status=EventStatus.ERROR,
        attributes={"escai.error.type": "ToolException", "escai.error.message": "lookup failed"},
    )
    facts = triples(extract_facts(event))
    assert {("tool", "raised", "ToolException: lookup failed"), ("tool", "raised", "KeyError: 'id'")} <= facts
    assert ("tool", "mentions", "/app/run.py") in facts


def test_failed_json_result_names_its_error() -> None:
    """A failed step whose body is ``{"error": {...}}`` raised that error; its other fields are still facts."""
    event = tool_event('{"error": {"message": "quota exceeded", "code": 429}}', status=EventStatus.ERROR)
    facts = triples(extract_facts(event))
    assert ("tool", "raised", "quota exceeded") in facts
    assert ("tool", "error.code", "429") in facts


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("https://example.com/a?b=1", "url"),
        ("mia.li3818@example.com", "email"),
        ("1,024", "number"),
        ("$55", "number"),
        ("-3.5e2", "number"),
        ("2024-05-20", "date"),
        ("2025-09-16T08:43:15-04:00", "date"),
        ("Sep 26, 2022", "date"),
        ("06:00:00", "time"),
        ("ValueError: bad input", "error"),
        ("astropy/modeling/separable.py", "file"),
        ("/testbed", "file"),
        ("reproduce_issue.py", "file"),
        ("America/New_York", "value"),
        ("HAT136", "id"),
        ("credit_card_4421486", "id"),
        ("terror", "value"),
        ("the capital of France", "value"),
    ],
)
def test_entity_kind(label: str, kind: str) -> None:
    """``entity_kind`` tells each kind of label apart."""
    from escai.analysis.epistemic.knowledge import entity_kind

    assert entity_kind(label) == kind


# --- the graph and its exports -----------------------------------------------------------------------------------

AWKWARD = KnowledgeFact(
    subject='O\'Brien \\ "Bob"',
    relation="said: it's",
    object="line one\nline two\ttabbed \x1b[0m",
    source_event_id="e-1",
    subject_kind="person",
    object_kind="free text!",
)
PLAIN = [
    KnowledgeFact(subject="HAT136", relation="origin", object="JFK", source_event_id="e-2", subject_kind="id"),
    KnowledgeFact(subject="HAT136", relation="origin", object="JFK", source_event_id="e-3", subject_kind="id"),
    KnowledgeFact(subject="HAT136", relation="price", object="152", subject_kind="id", object_kind="number"),
    KnowledgeFact(subject="JFK", relation="city", object="New York"),
]


def test_graph_counts_facts_and_entities() -> None:
    """The same triple from two events is two facts; the same fact twice is one; entities are (label, kind)."""
    graph = KnowledgeGraph.from_facts([*PLAIN, PLAIN[0]])
    assert len(graph) == 4 and graph.edge_count == 4
    expected = [("HAT136", "id"), ("JFK", "value"), ("152", "number"), ("JFK", "entity"), ("New York", "value")]
    assert graph.entities() == expected
    assert graph.node_count == 5
    assert graph.facts() == PLAIN
    assert graph.add_facts(PLAIN) == 0
    assert set(graph.neighbours("JFK")) == {("HAT136", "id"), ("New York", "value")}
    assert graph.degrees()[0] == ("HAT136", "id", 3)


def test_graphml_parses_back_with_the_same_counts() -> None:
    """GraphML export parses with networkx into the same nodes, edges and attributes, control characters included."""
    graph = KnowledgeGraph.from_facts([*PLAIN, AWKWARD])
    parsed = nx.parse_graphml(graph.to_graphml(), force_multigraph=True)
    assert parsed.number_of_nodes() == graph.node_count
    assert parsed.number_of_edges() == len(graph)
    assert {data["label"] for _node, data in parsed.nodes(data=True)} >= {"HAT136", 'O\'Brien \\ "Bob"'}
    relations = sorted(data["relation"] for _source, _target, data in parsed.edges(data=True))
    assert relations == sorted(fact.relation for fact in graph.facts())


def _read_cypher_literal(text: str) -> str:
    """Decode one single-quoted Cypher string literal (the escapes Neo4j accepts)."""
    assert text[0] == text[-1] == "'"
    simple = {"n": "\n", "r": "\r", "t": "\t", "'": "'", '"': '"', "\\": "\\"}
    return re.sub(
        r"\\(u[0-9a-fA-F]{4}|.)",
        lambda match: chr(int(match.group(1)[1:], 16)) if match.group(1)[0] == "u" else simple[match.group(1)],
        text[1:-1],
    )


def test_cypher_escapes_quotes_backslashes_and_newlines() -> None:
    """Cypher string literals have no raw quote, backslash or newline and decode back to the original text."""
    literal = cypher_string(AWKWARD.subject)
    assert literal == "'O\\'Brien \\\\ \\\"Bob\\\"'"
    for text in (AWKWARD.subject, AWKWARD.object, "a\u2028b"):
        encoded = cypher_string(text)
        assert "\n" not in encoded and re.fullmatch(r"'(?:[^'\\]|\\.)*'", encoded, re.DOTALL)
        assert _read_cypher_literal(encoded) == text


def test_cypher_statements_are_one_per_line_with_sanitised_names() -> None:
    """Each node and fact is one MERGE statement; labels and relationship types are valid identifiers."""
    graph = KnowledgeGraph.from_facts([*PLAIN, AWKWARD])
    lines = graph.to_cypher().splitlines()
    assert len(lines) == graph.node_count + len(graph)
    assert all(line.endswith(";") for line in lines)
    assert lines[0] == "MERGE (:Entity:Id {label: 'HAT136', kind: 'id'});"
    assert "MERGE (:Entity:FreeText {label: 'line one\\nline two\\ttabbed \\u001b[0m', kind: 'free text!'});" in lines
    assert any("-[:SAID_IT_S {relation: 'said: it\\'s', source_event_id: 'e-1'}]->" in line for line in lines)
    for line in lines:
        unquoted = re.sub(r"'(?:[^'\\]|\\.)*'", "''", line)
        for name in re.findall(r":([^\s{(),;'\]:]+)", unquoted):
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name), name
    assert cypher_identifier("3d model") == "_3dModel"
    assert cypher_identifier("exit code", style="relationship") == "EXIT_CODE"
    assert cypher_identifier("!!!", style="relationship") == "RELATED_TO"


def test_as_dict_lists_nodes_and_edges() -> None:
    """The JSON form names every node once and every fact as an edge between node ids."""
    data = KnowledgeGraph.from_facts(PLAIN).as_dict()
    assert [node["label"] for node in data["nodes"]] == ["HAT136", "JFK", "152", "JFK", "New York"]
    assert data["edges"][0] == {"source": "n0", "target": "n1", "relation": "origin", "source_event_id": "e-2"}
    assert len(data["edges"]) == 4
