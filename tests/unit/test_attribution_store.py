"""Storing failure attributions in ``failure_attributions`` on SQLite and PostgreSQL."""

from __future__ import annotations

from test_attribution_methods import planted_events

from escai.analysis.causal.attribution import ErrorCueScorer, attribute_failure
from escai.store.attribution_store import list_attributions, save_attribution
from escai.store.engine import create_engine
from escai.store.migrate import upgrade_async


async def test_saved_attribution_is_listed_back_unchanged(database_url: str) -> None:
    """An attribution saved for a session comes back equal, newest first, and filterable by method."""
    await upgrade_async(database_url)
    events = planted_events(3)
    combined = attribute_failure(events)
    single = attribute_failure(events, methods=[ErrorCueScorer()])
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await save_attribution(connection, combined)
            await save_attribution(connection, single)
        async with engine.connect() as connection:
            listed = await list_attributions(connection, combined.session_id)
            only_cues = await list_attributions(connection, combined.session_id, method="cues")
            other = await list_attributions(connection, "no-such-session")
    finally:
        await engine.dispose()
    assert listed == [single, combined]
    assert only_cues == [single]
    assert other == []
