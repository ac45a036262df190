"""The knowledge graph of a session: entities as nodes, facts as labelled edges, with GraphML and Cypher export.

A node is one (label, kind) pair, so ``HAT136`` the flight id and ``HAT136`` the value are different nodes, as
they are in the ``knowledge_nodes`` table. An edge is one fact: its relation and the event that established it.
The same triple established by two events is two edges (two pieces of evidence); the same fact added twice is
one. Everything keeps insertion order, so exports of the same facts are identical text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

import networkx as nx

from escai.model.records import KnowledgeFact

__all__ = ["KnowledgeGraph", "cypher_identifier", "cypher_string"]

ENTITY_LABEL: Final = "Entity"
"""The Neo4j label every exported node carries besides its kind, so all entities can be matched at once."""

_FactKey = tuple[str, str, str, str, str, str | None]
# XML 1.0 cannot carry these characters at all, escaped or not; GraphML export replaces them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_IDENTIFIER_CHARS = re.compile(r"[^0-9A-Za-z_]+")
_CYPHER_ESCAPES: Final = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CYPHER_SPECIAL = re.compile("[\\\\'\"\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")


def cypher_string(text: str) -> str:
    """``text`` as a single-quoted Cypher string literal (quotes, backslashes, newlines and controls escaped)."""

    def escape(match: re.Match[str]) -> str:
        char = match.group(0)
        return _CYPHER_ESCAPES.get(char) or f"\\u{ord(char):04x}"

    return "'" + _CYPHER_SPECIAL.sub(escape, text) + "'"


def cypher_identifier(text: str, *, style: str = "label") -> str:
    """``text`` as a bare Cypher identifier: ``PascalCase`` for node labels, ``UPPER_SNAKE`` for relationship types.

    Characters outside ``[A-Za-z0-9_]`` become word breaks; an identifier never starts with a digit and is never
    empty (``Entity`` / ``RELATED_TO``).
    """
    words = [word for word in _IDENTIFIER_CHARS.split(text) if word]
    if style == "relationship":
        name = "_".join(word.upper() for word in words) or "RELATED_TO"
    else:
        name = "".join(word[:1].upper() + word[1:] for word in words) or ENTITY_LABEL
    return f"_{name}" if name[0].isdigit() else name


def _xml_safe(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text) if _XML_INVALID.search(text) else text


class KnowledgeGraph:
    """Entities and the facts that relate them, over a :class:`networkx.MultiDiGraph`.

    Node ids are ``n0``, ``n1``, ... in the order entities were first seen; each node has ``label`` and ``kind``
    attributes. Each edge has ``relation`` and, when known, ``source_event_id``.
    """

    def __init__(self) -> None:
        self.graph: nx.MultiDiGraph = nx.MultiDiGraph()
        self._node_ids: dict[tuple[str, str], str] = {}
        self._facts: dict[_FactKey, KnowledgeFact] = {}

    @classmethod
    def from_facts(cls, facts: Iterable[KnowledgeFact]) -> KnowledgeGraph:
        """A graph holding ``facts``."""
        graph = cls()
        graph.add_facts(facts)
        return graph

    def add_facts(self, facts: Iterable[KnowledgeFact]) -> int:
        """Add facts (a fact already in the graph is skipped); return how many were new."""
        added = 0
        for fact in facts:
            key = (
                fact.subject,
                fact.subject_kind,
                fact.relation,
                fact.object,
                fact.object_kind,
                fact.source_event_id,
            )
            if key in self._facts:
                continue
            self._facts[key] = fact
            source = self._node(fact.subject, fact.subject_kind)
            target = self._node(fact.object, fact.object_kind)
            attributes: dict[str, Any] = {"relation": fact.relation}
            if fact.source_event_id is not None:
                attributes["source_event_id"] = fact.source_event_id
            self.graph.add_edge(source, target, **attributes)
            added += 1
        return added

    def _node(self, label: str, kind: str) -> str:
        node_id = self._node_ids.get((label, kind))
        if node_id is None:
            node_id = f"n{len(self._node_ids)}"
            self._node_ids[(label, kind)] = node_id
            self.graph.add_node(node_id, label=label, kind=kind)
        return node_id

    def __len__(self) -> int:
        """The number of facts (edges)."""
        return len(self._facts)

    @property
    def node_count(self) -> int:
        """The number of entities."""
        return len(self._node_ids)

    @property
    def edge_count(self) -> int:
        """The number of facts; the same as ``len(graph)``."""
        return len(self._facts)

    def entities(self) -> list[tuple[str, str]]:
        """Every entity as (label, kind), in the order first seen."""
        return list(self._node_ids)

    def facts(self) -> list[KnowledgeFact]:
        """Every fact, in the order added."""
        return list(self._facts.values())

    def neighbours(self, label: str) -> list[tuple[str, str]]:
        """The entities (label, kind) related to any entity labelled ``label``, by facts in either direction."""
        found: dict[tuple[str, str], None] = {}
        for (node_label, _kind), node_id in self._node_ids.items():
            if node_label != label:
                continue
            for other in (*self.graph.successors(node_id), *self.graph.predecessors(node_id)):
                attributes = self.graph.nodes[other]
                found[(attributes["label"], attributes["kind"])] = None
        return list(found)

    def degrees(self) -> list[tuple[str, str, int]]:
        """Entities as (label, kind, number of facts touching them), most connected first, ties in first-seen order."""
        ranked = [(label, kind, int(self.graph.degree(node_id))) for (label, kind), node_id in self._node_ids.items()]
        return sorted(ranked, key=lambda entry: -entry[2])

    def to_graphml(self) -> str:
        """The graph as a GraphML document (networkx's writer; every attribute is a string)."""
        export: nx.MultiDiGraph = nx.MultiDiGraph()
        for node_id, attributes in self.graph.nodes(data=True):
            export.add_node(node_id, label=_xml_safe(attributes["label"]), kind=_xml_safe(attributes["kind"]))
        for source, target, attributes in self.graph.edges(data=True):
            export.add_edge(source, target, **{name: _xml_safe(value) for name, value in attributes.items()})
        return "\n".join(nx.generate_graphml(export, encoding="utf-8", prettyprint=True)) + "\n"

    def to_cypher(self) -> str:
        """The graph as Cypher statements, one per line: a ``MERGE`` per entity, then a ``MATCH ... MERGE`` per fact.

        Each statement stands alone (ends with ``;``), so ``cypher-shell`` can run the text as a file, and running
        it twice creates nothing new. Nodes carry the :data:`ENTITY_LABEL` label and their kind as a second label;
        relationship types are the relations in ``UPPER_SNAKE`` case, with the original in a ``relation`` property.
        """
        lines: list[str] = []
        patterns: dict[str, str] = {}
        for node_id, attributes in self.graph.nodes(data=True):
            kind_label = cypher_identifier(attributes["kind"])
            labels = ENTITY_LABEL if kind_label == ENTITY_LABEL else f"{ENTITY_LABEL}:{kind_label}"
            patterns[node_id] = (
                f"{labels} {{label: {cypher_string(attributes['label'])}, kind: {cypher_string(attributes['kind'])}}}"
            )
            lines.append(f"MERGE (:{patterns[node_id]});")
        for source, target, attributes in self.graph.edges(data=True):
            relation = attributes["relation"]
            properties = f"relation: {cypher_string(relation)}"
            if "source_event_id" in attributes:
                properties += f", source_event_id: {cypher_string(attributes['source_event_id'])}"
            lines.append(
                f"MATCH (a:{patterns[source]}), (b:{patterns[target]}) "
                f"MERGE (a)-[:{cypher_identifier(relation, style='relationship')} {{{properties}}}]->(b);"
            )
        return "\n".join(lines) + ("\n" if lines else "")

    def as_dict(self) -> dict[str, Any]:
        """The graph as JSON-ready data: ``nodes`` (id, label, kind) and ``edges`` (source, target, relation, ...)."""
        nodes = [
            {"id": node_id, "label": attributes["label"], "kind": attributes["kind"]}
            for node_id, attributes in self.graph.nodes(data=True)
        ]
        edges = [
            {
                "source": source,
                "target": target,
                "relation": attributes["relation"],
                "source_event_id": attributes.get("source_event_id"),
            }
            for source, target, attributes in self.graph.edges(data=True)
        ]
        return {"nodes": nodes, "edges": edges}
