"""Where Reducer nodes keep their state: in memory, or in JSON files that survive the process."""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from pydantic import BaseModel, Field

__all__ = ["InMemoryStateStore", "JsonFileStateStore", "StateStore", "StoredState"]


class StoredState(BaseModel):
    """A reducer's state with the idempotency keys already applied to it."""

    state: dict[str, Any]
    applied_keys: list[str] = Field(default_factory=list)
    """Oldest first; bounded by the reducer's ``max_remembered_keys``."""
    version: int = 0
    """How many items have changed the state."""


class StateStore(Protocol):
    """Load and save a reducer's state by key."""

    async def load(self, key: str) -> StoredState | None:
        """Return the state saved under ``key``, or None."""
        ...

    async def save(self, key: str, stored: StoredState) -> None:
        """Replace the state saved under ``key``."""
        ...


class InMemoryStateStore:
    """State in a dict, for one process (copies in and out, so callers cannot mutate what is stored)."""

    def __init__(self) -> None:
        """Start empty."""
        self._states: dict[str, StoredState] = {}

    async def load(self, key: str) -> StoredState | None:
        """Return a copy of the stored state."""
        stored = self._states.get(key)
        return None if stored is None else stored.model_copy(deep=True)

    async def save(self, key: str, stored: StoredState) -> None:
        """Store a copy."""
        self._states[key] = stored.model_copy(deep=True)


class JsonFileStateStore:
    """One JSON file per key in ``directory``, replaced atomically so a crash never leaves half a state."""

    def __init__(self, directory: Path) -> None:
        """Create ``directory`` if needed."""
        self.directory = directory
        self.directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, key: str) -> Path:
        """Return the file holding ``key`` (the key is percent-encoded into a safe file name)."""
        return self.directory / f"{quote(key, safe='')}.json"

    async def load(self, key: str) -> StoredState | None:
        """Read the file for ``key`` if it exists."""
        path = self.path_for(key)
        text = await asyncio.to_thread(_read_if_exists, path)
        return None if text is None else StoredState.model_validate_json(text)

    async def save(self, key: str, stored: StoredState) -> None:
        """Write to a temporary file and rename it over the old one."""
        await asyncio.to_thread(_write_atomically, self.path_for(key), stored.model_dump_json())


def _read_if_exists(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _write_atomically(path: Path, text: str) -> None:
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".state-", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
