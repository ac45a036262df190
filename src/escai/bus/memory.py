"""The in-process bus used in embedded mode: a bounded asyncio queue per subscriber."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from escai.bus.base import ChangeEvent, ChangeFilter

_CLOSED = object()


class _QueueSubscription:
    def __init__(self, bus: InMemoryBus, accept: ChangeFilter, buffer: int) -> None:
        self._bus = bus
        self.accept = accept
        self.queue: asyncio.Queue[object] = asyncio.Queue(maxsize=buffer)
        self.dropped = 0
        self.closed = False

    def offer(self, change: ChangeEvent) -> None:
        if self.closed or not self.accept(change):
            return
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            # A slow reader must not stall ingest or other readers: drop for this reader and count it.
            self.dropped += 1

    @property
    def pending(self) -> int:
        return self.queue.qsize()

    async def __aiter__(self) -> AsyncIterator[ChangeEvent]:
        while True:
            item = await self.queue.get()
            if item is _CLOSED:
                return
            assert isinstance(item, ChangeEvent)
            yield item

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._bus.discard(self)
        while True:  # make room so the end marker always fits
            try:
                self.queue.get_nowait()
            except asyncio.QueueEmpty:
                break
        self.queue.put_nowait(_CLOSED)


class InMemoryBus:
    """Fan-out of change events to subscribers in the same process."""

    def __init__(self) -> None:
        self._subscriptions: set[_QueueSubscription] = set()

    async def publish(self, changes: list[ChangeEvent]) -> None:
        """Offer each change to every subscriber whose filter accepts it."""
        for subscription in tuple(self._subscriptions):
            for change in changes:
                subscription.offer(change)

    def subscribe(self, accept: ChangeFilter, buffer: int = 10_000) -> _QueueSubscription:
        """A new subscription receiving the changes for which ``accept`` is true."""
        subscription = _QueueSubscription(self, accept, buffer)
        self._subscriptions.add(subscription)
        return subscription

    def discard(self, subscription: _QueueSubscription) -> None:
        """Forget a subscription (called by the subscription when it closes)."""
        self._subscriptions.discard(subscription)

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open."""
        return len(self._subscriptions)

    async def close(self) -> None:
        """Close every subscription."""
        for subscription in tuple(self._subscriptions):
            await subscription.close()
