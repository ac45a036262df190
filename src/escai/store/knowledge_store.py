"""Storing and reading a session's knowledge graph (``knowledge_nodes`` and ``knowledge_edges``).

Nodes are unique per (session, label, kind) by construction: :func:`save_knowledge` reads the session's nodes in
one query, inserts only the missing ones, and inserts only the edges (source, target, relation, source event)
the session does not have yet, so saving the same facts twice adds nothing. The tables carry no unique
constraint, so two writers saving the same session at the same moment could each add a node; analysis of a
session is serialised by its caller (one transaction per analysis), which keeps that from happening. Nothing here
is dialect-specific.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from escai.analysis.epistemic.graph import KnowledgeGraph
from escai.model.records import KnowledgeFact
from escai.store.tables import knowledge_edges, knowledge_nodes

__all__ = ["KnowledgeGraph", "delete_knowledge", "load_knowledge_graph", "save_knowledge"]

MAX_LABEL_CHARS: Final = 512
"""Width of ``knowledge_nodes.label``; longer labels are cut (PostgreSQL would refuse them)."""
MAX_KIND_CHARS: Final = 64
MAX_RELATION_CHARS: Final = 256

_NodeKey = tuple[str, str]
_EdgeKey = tuple[int, int, str, str | None]


def _text(value: str, width: int) -> str:
    # PostgreSQL text cannot hold NUL; the column widths are hard limits there.
    return value.replace("\x00", "")[:width]


def _node_key(label: str, kind: str) -> _NodeKey:
    return _text(label, MAX_LABEL_CHARS), _text(kind, MAX_KIND_CHARS)


async def _session_nodes(connection: AsyncConnection, session_id: str) -> dict[_NodeKey, int]:
    result = await connection.execute(
        select(knowledge_nodes.c.id, knowledge_nodes.c.label, knowledge_nodes.c.kind)
        .where(knowledge_nodes.c.session_id == session_id)
        .order_by(knowledge_nodes.c.id)
    )
    nodes: dict[_NodeKey, int] = {}
    for node_id, label, kind in result:
        # Should a concurrent writer have duplicated a node, the first one stays the one every edge uses.
        nodes.setdefault((label, kind), node_id)
    return nodes


async def save_knowledge(connection: AsyncConnection, session_id: str, facts: Sequence[KnowledgeFact]) -> int:
    """Store ``facts`` as the session's nodes and edges, skipping what is already stored; return edges added."""
    if not facts:
        return 0
    nodes = await _session_nodes(connection, session_id)
    missing: dict[_NodeKey, str | None] = {}
    for fact in facts:
        for node in (_node_key(fact.subject, fact.subject_kind), _node_key(fact.object, fact.object_kind)):
            if node not in nodes and node not in missing:
                missing[node] = fact.source_event_id
    if missing:
        rows = [
            {
                "session_id": session_id,
                "label": label,
                "kind": kind,
                "properties": {"first_event_id": event_id} if event_id is not None else {},
            }
            for (label, kind), event_id in missing.items()
        ]
        await connection.execute(insert(knowledge_nodes), rows)
        nodes = await _session_nodes(connection, session_id)

    existing = await connection.execute(
        select(
            knowledge_edges.c.source_id,
            knowledge_edges.c.target_id,
            knowledge_edges.c.relation,
            knowledge_edges.c.source_event_id,
        ).where(knowledge_edges.c.session_id == session_id)
    )
    stored: set[_EdgeKey] = {(row[0], row[1], row[2], row[3]) for row in existing}
    new_edges: list[dict[str, object]] = []
    for fact in facts:
        key: _EdgeKey = (
            nodes[_node_key(fact.subject, fact.subject_kind)],
            nodes[_node_key(fact.object, fact.object_kind)],
            _text(fact.relation, MAX_RELATION_CHARS),
            fact.source_event_id,
        )
        if key in stored:
            continue
        stored.add(key)
        new_edges.append(
            {
                "session_id": session_id,
                "source_id": key[0],
                "target_id": key[1],
                "relation": key[2],
                "source_event_id": key[3],
            }
        )
    if new_edges:
        await connection.execute(insert(knowledge_edges), new_edges)
    return len(new_edges)


async def load_knowledge_graph(connection: AsyncConnection, session_id: str) -> KnowledgeGraph:
    """The session's knowledge graph, facts in the order they were stored (empty when it has none)."""
    node_rows = await connection.execute(
        select(knowledge_nodes.c.id, knowledge_nodes.c.label, knowledge_nodes.c.kind).where(
            knowledge_nodes.c.session_id == session_id
        )
    )
    nodes = {node_id: (label, kind) for node_id, label, kind in node_rows}
    result = await connection.execute(
        select(
            knowledge_edges.c.source_id,
            knowledge_edges.c.target_id,
            knowledge_edges.c.relation,
            knowledge_edges.c.source_event_id,
        )
        .where(knowledge_edges.c.session_id == session_id)
        .order_by(knowledge_edges.c.id)
    )
    facts = []
    for source_id, target_id, relation, source_event_id in result:
        subject, subject_kind = nodes[source_id]
        obj, object_kind = nodes[target_id]
        facts.append(
            KnowledgeFact(
                subject=subject,
                relation=relation,
                object=obj,
                source_event_id=source_event_id,
                subject_kind=subject_kind,
                object_kind=object_kind,
            )
        )
    return KnowledgeGraph.from_facts(facts)


async def delete_knowledge(connection: AsyncConnection, session_id: str) -> None:
    """Remove the session's knowledge graph (edges first: they reference the nodes)."""
    await connection.execute(delete(knowledge_edges).where(knowledge_edges.c.session_id == session_id))
    await connection.execute(delete(knowledge_nodes).where(knowledge_nodes.c.session_id == session_id))
