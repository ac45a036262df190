"""The change-event bus between ingest, storage, analysis workers and live subscribers."""

from escai.bus.base import ChangeEvent, ChangeKind, EventBus, Subscription
from escai.bus.memory import InMemoryBus

__all__ = ["ChangeEvent", "ChangeKind", "EventBus", "InMemoryBus", "Subscription"]
