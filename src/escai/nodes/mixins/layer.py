"""The shape every mixin shares: a layer wraps the next one around a node's ``execute``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel

if TYPE_CHECKING:
    from escai.nodes.context import NodeContext
    from escai.nodes.kinds import NodeKind
    from escai.nodes.mixins.transaction import UnitOfWork
    from escai.nodes.settings import MixinSettings

__all__ = ["CallStats", "Layer", "NodeHandle", "Proceed"]

Proceed = Callable[[BaseModel], Awaitable[BaseModel]]
"""The rest of the chain: the inner layers and finally ``execute``."""


class NodeHandle(Protocol):
    """What a layer may use of the node it wraps."""

    @property
    def node_name(self) -> str:
        """The node's name (its class name unless the class sets ``name``)."""
        ...

    @property
    def node_kind(self) -> NodeKind:
        """The node's kind."""
        ...

    @property
    def context(self) -> NodeContext:
        """Bus, engine, registry, clock and logger."""
        ...

    @property
    def settings(self) -> MixinSettings:
        """Mixin tuning."""
        ...

    @property
    def output_type(self) -> type[BaseModel]:
        """The output model."""
        ...

    async def execute_once(self, data: BaseModel) -> BaseModel:
        """Run ``execute`` without any mixin (the determinism check runs it a second time this way)."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """Open a unit of work (database transaction or in-memory undo log)."""
        ...


class Layer(Protocol):
    """One mixin's behaviour around the rest of the chain."""

    name: str

    async def invoke(self, data: BaseModel, proceed: Proceed) -> BaseModel:
        """Do this mixin's work around ``proceed(data)``."""
        ...


@dataclass(slots=True)
class CallStats:
    """Counters the health-check mixin keeps (and the retry mixin adds to)."""

    calls: int = 0
    successes: int = 0
    failures: int = 0
    retries: int = 0
    last_error: str | None = None
    last_error_at: float | None = None
    last_success_at: float | None = None
