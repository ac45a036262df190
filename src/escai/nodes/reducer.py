"""Reducer nodes: fold items into persisted state, once per idempotency key."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

from escai.nodes.base import Node
from escai.nodes.context import NodeContext
from escai.nodes.kinds import NodeKind
from escai.nodes.settings import MixinSettings
from escai.nodes.state import InMemoryStateStore, StateStore, StoredState

__all__ = ["ReducerNode"]

InT = TypeVar("InT", bound=BaseModel)
StateT = TypeVar("StateT", bound=BaseModel)
CfgT = TypeVar("CfgT", bound=BaseModel)


class ReducerNode(Node[InT, StateT, CfgT]):
    """Aggregate items into a state (the output model) kept in a :class:`StateStore`.

    Implement ``reduce(state, item) -> state``. Each item has an idempotency key (its ``idempotency_key`` field,
    or else the SHA-256 of its JSON); an item whose key was already applied returns the current state unchanged,
    so replaying a stream after a crash does not count anything twice. The store comes from the context (shared
    across instances and processes with :class:`JsonFileStateStore`), or is private and in memory.
    """

    kind = NodeKind.REDUCER
    max_remembered_keys: ClassVar[int] = 100_000
    """Keys older than this many items are forgotten (a replay further back than that would apply again)."""

    def __init__(
        self,
        config: CfgT | Mapping[str, Any] | None = None,
        context: NodeContext | None = None,
        *,
        settings: MixinSettings | None = None,
    ) -> None:
        """Build the node and choose its state store (the context's, or a private in-memory one)."""
        super().__init__(config, context, settings=settings)
        self._state_store: StateStore = self.context.state_store or InMemoryStateStore()
        # Load-reduce-save must not interleave between concurrent calls, or one item's update would be lost.
        self._lock = asyncio.Lock()
        self.replays = 0
        """Items ignored because their key had been applied already."""

    def reduce(self, state: StateT, item: InT) -> StateT:
        """Return the state after ``item``; subclasses implement it (without mutating ``state`` in place)."""
        raise NotImplementedError(f"{self.node_name} does not implement reduce()")

    def initial_state(self) -> StateT:
        """The state before any item: the output model's defaults."""
        return self.output_model()  # type: ignore[return-value]

    def idempotency_key(self, item: InT) -> str:
        """The key that identifies ``item`` across replays."""
        explicit = getattr(item, "idempotency_key", None)
        if explicit is not None:
            return str(explicit)
        return hashlib.sha256(item.model_dump_json().encode()).hexdigest()

    def partition(self, item: InT) -> str:
        """Which state ``item`` belongs to; one state per node by default (override to keep one per session...)."""
        return "default"

    @property
    def state_store(self) -> StateStore:
        """The store this reducer reads and writes."""
        return self._state_store

    async def current_state(self, partition: str = "default") -> StateT:
        """Return the stored state of ``partition`` (the initial state if nothing was stored)."""
        stored = await self._state_store.load(self._store_key(partition))
        return self._state_of(stored)

    async def execute(self, data: InT) -> StateT:
        """Apply ``data`` unless its key was applied before; return the resulting state."""
        store_key = self._store_key(self.partition(data))
        key = self.idempotency_key(data)
        async with self._lock:
            stored = await self._state_store.load(store_key)
            state = self._state_of(stored)
            applied = [] if stored is None else stored.applied_keys
            if key in applied:
                self.replays += 1
                return state
            new_state = self.reduce(state, data)
            applied = [*applied, key][-self.max_remembered_keys :]
            version = 0 if stored is None else stored.version
            await self._state_store.save(
                store_key,
                StoredState(state=new_state.model_dump(mode="json"), applied_keys=applied, version=version + 1),
            )
            return new_state

    def _store_key(self, partition: str) -> str:
        return f"{self.node_name}/{partition}"

    def _state_of(self, stored: StoredState | None) -> StateT:
        if stored is None:
            return self.initial_state()
        return self.output_model.model_validate(stored.state)  # type: ignore[return-value]
