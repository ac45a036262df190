"""Routes for the code generator's statistics (``escai codegen stats`` over HTTP).

``GET /codegen/stats`` returns all four views; ``/codegen/performance``, ``/codegen/template-cache``,
``/codegen/mixin-compatibility`` and ``/codegen/pattern-feedback`` return one each. All read what
:mod:`escai.store.seed_repository` stored; none writes.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from escai.codegen.metrics import read_codegen_stats, row_to_dict
from escai.server.deps import ConnectionDep
from escai.store.seed_repository import (
    list_mixin_compatibility,
    list_pattern_feedback_analysis,
    list_performance_summary,
    list_template_cache_efficiency,
)
from escai.store.seed_tables import NodeKind

router = APIRouter(prefix="/codegen", tags=["codegen"])


class CodegenStatsResponse(BaseModel):
    """Everything stored about the code generator, one list per view."""

    template_cache: list[dict[str, Any]]
    performance: list[dict[str, Any]]
    mixin_compatibility: list[dict[str, Any]]
    pattern_feedback: list[dict[str, Any]]


class RowsResponse(BaseModel):
    """The rows of one statistics view."""

    rows: list[dict[str, Any]]


@router.get("/stats", operation_id="get_codegen_stats", summary="All code-generator statistics")
async def get_stats(connection: ConnectionDep) -> CodegenStatsResponse:
    """Template-cache efficiency, generation performance, mixin compatibility and pattern precision together."""
    stats = await read_codegen_stats(connection)
    return CodegenStatsResponse(**stats.to_dict())


@router.get("/performance", operation_id="get_codegen_performance", summary="Generation performance per phase")
async def get_performance(
    connection: ConnectionDep,
    node_kind: Annotated[NodeKind | None, Query(description="Only this node kind.")] = None,
) -> RowsResponse:
    """Samples, success rate and durations per (node kind, phase) of generation runs."""
    return RowsResponse(rows=[row_to_dict(row) for row in await list_performance_summary(connection, node_kind)])


@router.get("/template-cache", operation_id="get_codegen_template_cache", summary="Template cache efficiency")
async def get_template_cache(connection: ConnectionDep) -> RowsResponse:
    """Lookups, hit rate, evictions and load times per template."""
    return RowsResponse(rows=[row_to_dict(row) for row in await list_template_cache_efficiency(connection)])


@router.get(
    "/mixin-compatibility", operation_id="get_codegen_mixin_compatibility", summary="Mixin compatibility matrix"
)
async def get_mixin_compatibility(
    connection: ConnectionDep,
    node_kind: Annotated[NodeKind | None, Query(description="Only this node kind.")] = None,
    mixin: Annotated[str | None, Query(description="Only pairs with this mixin.")] = None,
) -> RowsResponse:
    """Observed outcomes, smoothed score and confidence per mixin pair and node kind, best first per kind."""
    rows = await list_mixin_compatibility(connection, node_kind, mixin=mixin)
    return RowsResponse(rows=[row_to_dict(row) for row in rows])


@router.get("/pattern-feedback", operation_id="get_codegen_pattern_feedback", summary="Pattern feedback analysis")
async def get_pattern_feedback(
    connection: ConnectionDep,
    pattern_id: Annotated[str | None, Query(description="Only this pattern.")] = None,
) -> RowsResponse:
    """Reviews, precision, false-positive rate and recall per AST pattern."""
    rows = await list_pattern_feedback_analysis(connection, pattern_id)
    return RowsResponse(rows=[row_to_dict(row) for row in rows])
