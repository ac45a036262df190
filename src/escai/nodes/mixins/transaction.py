"""Units of work: a database transaction over the context's engine, or an in-memory undo log of compensations."""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from pydantic import BaseModel

from escai.nodes.mixins.layer import NodeHandle, Proceed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection

    from escai.nodes.context import NodeContext

__all__ = ["Compensation", "TransactionLayer", "UnitOfWork", "current_unit_of_work", "open_unit_of_work"]

Compensation = Callable[[], Awaitable[None] | None]
"""Undoes one side effect; sync or async."""

_CURRENT: contextvars.ContextVar[UnitOfWork | None] = contextvars.ContextVar("escai_node_unit_of_work", default=None)


class UnitOfWork:
    """The work of one call: commit together or undo together.

    ``connection`` is an open SQLAlchemy connection inside a transaction when the context has an engine.
    Side effects outside the database register a compensation with :meth:`on_rollback`; on failure the
    compensations run newest first, after the database rollback.
    """

    def __init__(self, connection: AsyncConnection | None = None) -> None:
        """Start with no compensations."""
        self.connection = connection
        self._compensations: list[Compensation] = []
        self.outcome: str = "open"
        """``open``, then ``committed`` or ``rolled_back``."""
        self.compensation_errors: list[BaseException] = []

    def on_rollback(self, compensation: Compensation) -> None:
        """Register how to undo a side effect that has just happened."""
        self._compensations.append(compensation)

    async def compensate(self) -> None:
        """Run the compensations newest first; one failing compensation does not stop the others."""
        while self._compensations:
            compensation = self._compensations.pop()
            try:
                result = compensation()
                if inspect.isawaitable(result):
                    await result
            except Exception as error:
                self.compensation_errors.append(error)


def current_unit_of_work() -> UnitOfWork | None:
    """Return the unit of work the current call runs in, if any."""
    return _CURRENT.get()


@asynccontextmanager
async def open_unit_of_work(context: NodeContext) -> AsyncIterator[UnitOfWork]:
    """Open a unit of work; commit when the block succeeds, roll back and compensate when it raises.

    Inside another unit of work this joins the outer one, so a node called from a transactional node commits or
    rolls back with its caller.
    """
    outer = _CURRENT.get()
    if outer is not None:
        yield outer
        return
    if context.engine is None:
        unit = UnitOfWork()
        token = _CURRENT.set(unit)
        try:
            yield unit
        except BaseException:
            await unit.compensate()
            unit.outcome = "rolled_back"
            raise
        finally:
            _CURRENT.reset(token)
        unit.outcome = "committed"
        return
    async with context.engine.connect() as connection:
        transaction = await connection.begin()
        unit = UnitOfWork(connection)
        token = _CURRENT.set(unit)
        try:
            yield unit
        except BaseException:
            await transaction.rollback()
            await unit.compensate()
            unit.outcome = "rolled_back"
            raise
        finally:
            _CURRENT.reset(token)
        await transaction.commit()
        unit.outcome = "committed"


class TransactionLayer:
    """Run the rest of the chain inside ``node.transaction()``."""

    name = "transaction"

    def __init__(self, node: NodeHandle) -> None:
        """Remember the node whose transaction helper opens the unit of work."""
        self._node = node

    async def invoke(self, data: BaseModel, proceed: Proceed) -> BaseModel:
        """Commit when ``proceed`` returns, roll back and compensate when it raises."""
        async with self._node.transaction():
            return await proceed(data)
