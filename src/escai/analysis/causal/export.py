"""Graphs out: causal relationships as a graph, and any graph as JSON, GraphML or Cypher.

The exporters take a networkx (multi)digraph whose node and edge attributes are plain values; lists and dicts are
written as JSON text, ``None`` is left out. An undirected causal edge keeps a ``directed`` data value of false in
every format. GraphML could also say so with a per-edge ``directed="false"``, but common readers (networkx among
them) refuse mixed graphs, so the document stays a plain directed graph; Cypher relationships always have a
direction anyway.

Strings are escaped for each format: GraphML is built with ElementTree (which escapes markup) after replacing
characters XML 1.0 cannot carry at all (terminal escapes in tool output, NUL); Cypher string literals escape
backslashes, quotes and control characters, and labels, relationship types and property keys are backquoted.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

import networkx as nx  # type: ignore[import-untyped, unused-ignore]

from escai.analysis.causal.discovery import PC_UNDIRECTED_METHOD
from escai.model.records import CausalRelationship

GRAPHML_NAMESPACE = "http://graphml.graphdrawing.org/xmlns"
CAUSAL_NODE_LABEL = "Variable"
CAUSAL_RELATIONSHIP_TYPE = "CAUSES"
UNDIRECTED_METHODS = frozenset({PC_UNDIRECTED_METHOD})
"""Methods whose relationships are adjacencies without a direction."""

_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_REPLACEMENT = "\ufffd"
_CYPHER_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def relationships_to_graph(relationships: Iterable[CausalRelationship]) -> nx.MultiDiGraph:
    """A multigraph of variables with one edge per relationship (two methods may relate the same pair)."""
    graph = nx.MultiDiGraph()
    for found in relationships:
        graph.add_node(found.cause)
        graph.add_node(found.effect)
        graph.add_edge(
            found.cause,
            found.effect,
            strength=found.strength,
            confidence=found.confidence,
            method=found.method,
            lag=found.lag,
            session_id=found.session_id,
            directed=found.method not in UNDIRECTED_METHODS,
        )
    return graph


def plain_value(value: Any) -> str | int | float | bool | None:
    """A value a graph format can hold: scalars as they are, datetimes as ISO text, anything else as JSON text."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    return json.dumps(value, sort_keys=True, default=str)


def _plain_attributes(attributes: dict[str, Any]) -> dict[str, str | int | float | bool]:
    found = {str(key): plain_value(value) for key, value in attributes.items()}
    return {key: value for key, value in found.items() if value is not None}


def _identity(node: Any) -> str | int | float | bool:
    found = plain_value(node)
    return str(node) if found is None else found


def _edges(graph: nx.DiGraph) -> Iterator[tuple[Any, Any, dict[str, Any]]]:
    yield from graph.edges(data=True)


def json_value(value: Any) -> Any:
    """A JSON-ready copy: datetimes as ISO text, tuples and sets as lists, non-finite floats as None."""
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted((json_value(item) for item in value), key=str)
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def graph_to_json(graph: nx.DiGraph) -> dict[str, Any]:
    """``{"directed": true, "nodes": [{"id", ...}], "edges": [{"source", "target", ...}]}``, JSON-ready."""
    return {
        "directed": True,
        "nodes": [{**json_value(data), "id": _identity(node)} for node, data in graph.nodes(data=True)],
        "edges": [
            {**json_value(data), "source": _identity(source), "target": _identity(target)}
            for source, target, data in _edges(graph)
        ],
    }


def xml_text(value: object) -> str:
    """Text safe for XML 1.0: characters it forbids (control characters, lone surrogates) become U+FFFD."""
    return _INVALID_XML.sub(_REPLACEMENT, str(value))


def _graphml_type(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "long"
    if isinstance(value, float):
        return "double"
    return "string"


def _graphml_value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return xml_text(value)


def _declare_keys(
    root: ElementTree.Element, scope: str, rows: list[dict[str, str | int | float | bool]]
) -> dict[str, str]:
    types: dict[str, str] = {}
    for row in rows:
        for name, value in row.items():
            kind = _graphml_type(value)
            # One key has one type: a name seen with two kinds of values is declared as text.
            types[name] = kind if types.get(name, kind) == kind else "string"
    ids: dict[str, str] = {}
    for name in sorted(types):
        ids[name] = f"{scope[0]}_{len(ids)}"
        ElementTree.SubElement(
            root, "key", {"id": ids[name], "for": scope, "attr.name": xml_text(name), "attr.type": types[name]}
        )
    return ids


def to_graphml(graph: nx.DiGraph) -> str:
    """The graph as a GraphML document: a directed graph, node and edge attributes as typed ``data`` keys."""
    root = ElementTree.Element("graphml", {"xmlns": GRAPHML_NAMESPACE})
    nodes = [(node, _plain_attributes(data)) for node, data in graph.nodes(data=True)]
    edges = [(source, target, _plain_attributes(data)) for source, target, data in _edges(graph)]
    node_keys = _declare_keys(root, "node", [data for _, data in nodes])
    edge_keys = _declare_keys(root, "edge", [data for _, _, data in edges])
    body = ElementTree.SubElement(root, "graph", {"id": "G", "edgedefault": "directed"})
    for node, data in nodes:
        element = ElementTree.SubElement(body, "node", {"id": xml_text(node)})
        for name, value in data.items():
            ElementTree.SubElement(element, "data", {"key": node_keys[name]}).text = _graphml_value(value)
    for number, (source, target, data) in enumerate(edges):
        fields = {"id": f"e{number}", "source": xml_text(source), "target": xml_text(target)}
        element = ElementTree.SubElement(body, "edge", fields)
        for name, value in data.items():
            ElementTree.SubElement(element, "data", {"key": edge_keys[name]}).text = _graphml_value(value)
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def cypher_string(value: object) -> str:
    """A Cypher string literal: single-quoted, with backslashes, quotes and control characters escaped."""
    text = str(value)
    escaped = "".join(
        _CYPHER_ESCAPES.get(char) or (f"\\u{ord(char):04x}" if ord(char) < 0x20 or ord(char) == 0x7F else char)
        for char in text
    )
    return f"'{escaped}'"


def cypher_name(name: object) -> str:
    """A label, relationship type or property key, backquoted (a backquote inside is doubled)."""
    return "`" + str(name).replace("`", "``") + "`"


def _cypher_value(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return cypher_string(value)


def _cypher_map(data: dict[str, str | int | float | bool]) -> str:
    return "{" + ", ".join(f"{cypher_name(key)}: {_cypher_value(value)}" for key, value in data.items()) + "}"


def to_cypher(
    graph: nx.DiGraph,
    *,
    node_label: str = CAUSAL_NODE_LABEL,
    relationship_type: str = CAUSAL_RELATIONSHIP_TYPE,
    type_attribute: str | None = None,
) -> str:
    """Cypher statements (one per line) that MERGE the graph's nodes by ``id`` and CREATE its edges.

    An edge's relationship type is its ``type_attribute`` value when given and present, else ``relationship_type``.
    """
    label = cypher_name(node_label)
    lines = []
    for node, data in graph.nodes(data=True):
        properties = _plain_attributes(data)
        properties.pop("id", None)  # the node's identity is its key in the graph
        identity = _cypher_value(_identity(node))
        setting = f" SET n += {_cypher_map(properties)}" if properties else ""
        lines.append(f"MERGE (n:{label} {{id: {identity}}}){setting};")
    for source, target, data in _edges(graph):
        properties = _plain_attributes(data)
        kind = properties.get(type_attribute) if type_attribute else None
        relation = cypher_name(kind if kind is not None else relationship_type)
        lines.append(
            f"MATCH (a:{label} {{id: {_cypher_value(_identity(source))}}}), "
            f"(b:{label} {{id: {_cypher_value(_identity(target))}}}) "
            f"CREATE (a)-[:{relation} {_cypher_map(properties)}]->(b);"
        )
    return "\n".join(lines) + ("\n" if lines else "")
