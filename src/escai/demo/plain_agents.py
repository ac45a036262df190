"""A plain-Python demo agent instrumented with ``@escai.observe``: a support agent whose conversation carries
personal data that the server masks before storing it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from escai.sdk.observe import observe


@observe(kind="tool")
def update_order(order: int, address: str, api_key: str) -> str:
    """Change the delivery address of an order (scripted)."""
    return f"order {order} now ships to {address}"


@observe(kind="llm", name="scripted-gpt")
def read_customer_message(message: str) -> str:
    """The model's reading of the customer's message (scripted)."""
    return "The customer wants order 4411 delivered to 12 Elm Street."


def run_support_agent() -> str:
    """Read the customer's message, then update the order."""
    message = (
        "Hi, I'm jane.doe@example.com, phone +1 415 555 0134; my card is 4111 1111 1111 1111. "
        "Please send order 4411 to 12 Elm Street."
    )
    read_customer_message(message)
    return update_order(4411, "12 Elm Street", api_key="sk-demo-1234567890abcdefghij")


def scripts() -> Iterator[tuple[str, Any]]:
    """(label, callable) for the plain-Python demo run."""
    yield "Support agent, plain Python (PII masked on ingest)", run_support_agent
