"""Knowledge-graph storage on SQLite and PostgreSQL: idempotent saves, unique nodes, round trips and deletion.

Every test takes ``database_url`` and so runs once per engine (PostgreSQL when ``ESCAI_TEST_POSTGRES_URL`` is
set). One test stores the facts extracted from a real tau-bench run from ``../shared/datasets``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from escai.analysis.epistemic.graph import KnowledgeGraph
from escai.analysis.epistemic.knowledge import extract_facts
from escai.ingest.importers import ImportedRun, read_runs
from escai.model.events import EventType
from escai.model.records import KnowledgeFact
from escai.store.engine import create_engine
from escai.store.knowledge_store import delete_knowledge, load_knowledge_graph, save_knowledge
from escai.store.migrate import upgrade_async
from escai.store.tables import knowledge_edges, knowledge_nodes

TAU_BENCH = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "tau_bench_historical"
FACTS = [
    KnowledgeFact(subject="HAT136", relation="origin", object="JFK", source_event_id="e-1", subject_kind="id"),
    KnowledgeFact(
        subject="HAT136", relation="price", object="152", source_event_id="e-1", subject_kind="id", object_kind="number"
    ),
    KnowledgeFact(subject="HAT136", relation="origin", object="JFK", source_event_id="e-2", subject_kind="id"),
    KnowledgeFact(subject="JFK", relation="city", object="New York"),
    KnowledgeFact(
        subject="bash",
        relation="raised",
        object="Error: it's \\ broken\nbadly",
        subject_kind="tool",
        object_kind="error",
    ),
]


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine on the parametrised database, migrated to head."""
    await upgrade_async(database_url)
    created = create_engine(database_url)
    yield created
    await created.dispose()


async def row_counts(engine: AsyncEngine, session_id: str) -> tuple[int, int]:
    """The session's (node rows, edge rows)."""
    async with engine.connect() as connection:
        nodes = await connection.execute(
            select(func.count()).select_from(knowledge_nodes).where(knowledge_nodes.c.session_id == session_id)
        )
        edges = await connection.execute(
            select(func.count()).select_from(knowledge_edges).where(knowledge_edges.c.session_id == session_id)
        )
        return int(nodes.scalar_one()), int(edges.scalar_one())


async def test_save_is_idempotent_and_loads_back(engine: AsyncEngine) -> None:
    """Saving the same facts twice adds nothing the second time, and loading gives the same graph."""
    async with engine.begin() as connection:
        assert await save_knowledge(connection, "s-1", FACTS) == 5
    async with engine.begin() as connection:
        assert await save_knowledge(connection, "s-1", FACTS) == 0
    assert await row_counts(engine, "s-1") == (7, 5)
    async with engine.connect() as connection:
        loaded = await load_knowledge_graph(connection, "s-1")
    expected = KnowledgeGraph.from_facts(FACTS)
    assert loaded.facts() == FACTS
    assert loaded.as_dict() == expected.as_dict()
    assert loaded.to_cypher() == expected.to_cypher()


async def test_nodes_are_unique_per_label_and_kind_across_saves(engine: AsyncEngine) -> None:
    """A later save reuses the session's stored nodes and adds only its new facts."""
    async with engine.begin() as connection:
        await save_knowledge(connection, "s-1", FACTS[:2])
        added = await save_knowledge(
            connection,
            "s-1",
            [*FACTS, KnowledgeFact(subject="HAT136", relation="destination", object="ATL", subject_kind="id")],
        )
    assert added == 4
    async with engine.connect() as connection:
        result = await connection.execute(
            select(knowledge_nodes.c.label, knowledge_nodes.c.kind, func.count())
            .where(knowledge_nodes.c.session_id == "s-1")
            .group_by(knowledge_nodes.c.label, knowledge_nodes.c.kind)
        )
        counts = {(label, kind): count for label, kind, count in result}
    assert set(counts.values()) == {1}
    assert ("JFK", "value") in counts and ("JFK", "entity") in counts
    assert len(counts) == 8


async def test_sessions_are_separate_and_delete_removes_one(engine: AsyncEngine) -> None:
    """Each session has its own nodes; deleting one session's knowledge leaves the other's intact."""
    async with engine.begin() as connection:
        await save_knowledge(connection, "s-1", FACTS)
        assert await save_knowledge(connection, "s-2", FACTS[:1]) == 1
    async with engine.begin() as connection:
        await delete_knowledge(connection, "s-1")
    assert await row_counts(engine, "s-1") == (0, 0)
    assert await row_counts(engine, "s-2") == (2, 1)
    async with engine.connect() as connection:
        assert len(await load_knowledge_graph(connection, "s-1")) == 0
        assert (await load_knowledge_graph(connection, "s-2")).facts() == FACTS[:1]


async def test_overlong_labels_are_cut_to_the_column_width(engine: AsyncEngine) -> None:
    """Labels longer than the column are stored cut (PostgreSQL refuses overlong values), and still deduplicated."""
    fact = KnowledgeFact(subject="x" * 600, relation="r" * 300, object="y\x00z")
    async with engine.begin() as connection:
        assert await save_knowledge(connection, "s-1", [fact, fact]) == 1
        assert await save_knowledge(connection, "s-1", [fact]) == 0
        loaded = (await load_knowledge_graph(connection, "s-1")).facts()
    assert loaded[0].subject == "x" * 512 and loaded[0].relation == "r" * 256 and loaded[0].object == "yz"


@pytest.mark.skipif(not TAU_BENCH.is_dir(), reason=f"the shared data sets are not at {TAU_BENCH.parent}")
async def test_real_run_round_trip(engine: AsyncEngine) -> None:
    """The facts of a real tau-bench run are stored and read back as the same graph."""
    run = next(
        item for item in read_runs(TAU_BENCH / "gpt-4o-airline.json.gz", "auto") if isinstance(item, ImportedRun)
    )
    facts = [fact for event in run.events if event.type is EventType.TOOL_RESULT for fact in extract_facts(event)]
    expected = KnowledgeGraph.from_facts(facts)
    async with engine.begin() as connection:
        assert await save_knowledge(connection, run.session_id, facts) == len(expected)
    async with engine.connect() as connection:
        loaded = await load_knowledge_graph(connection, run.session_id)
    assert len(loaded) > 50
    assert loaded.as_dict() == expected.as_dict()
    assert loaded.to_graphml() == expected.to_graphml()
