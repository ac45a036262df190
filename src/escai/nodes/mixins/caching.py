"""Cache of outputs keyed on the validated input's JSON, with a TTL and a bound on entries (LRU)."""

from __future__ import annotations

from collections import OrderedDict

from pydantic import BaseModel

from escai.nodes.mixins.layer import NodeHandle, Proceed

__all__ = ["CacheLayer"]


class CacheLayer:
    """Return the stored output for an input seen within ``ttl_seconds``; otherwise compute and store it."""

    name = "caching"

    def __init__(self, node: NodeHandle) -> None:
        """Start empty."""
        self._node = node
        self._settings = node.settings.caching
        self._entries: OrderedDict[str, tuple[float, BaseModel]] = OrderedDict()
        self.hits = 0
        self.misses = 0
        self.evictions = 0

    def __len__(self) -> int:
        """Number of stored entries (expired ones included until they are next looked up or evicted)."""
        return len(self._entries)

    async def invoke(self, data: BaseModel, proceed: Proceed) -> BaseModel:
        """Serve a fresh hit, or proceed and store the result."""
        key = data.model_dump_json()
        now = self._node.context.clock.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            self.hits += 1
            self._entries.move_to_end(key)
            # A copy, so a caller mutating its result cannot change what later callers get.
            return entry[1].model_copy(deep=True)
        self.misses += 1
        result = await proceed(data)
        self._entries[key] = (now + self._settings.ttl_seconds, result.model_copy(deep=True))
        self._entries.move_to_end(key)
        while len(self._entries) > self._settings.max_entries:
            self._entries.popitem(last=False)
            self.evictions += 1
        return result
