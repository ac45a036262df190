"""Repetition and loop detection: the same action over and over, and short cycles (period 2-4) repeated.

Two readings of "the same action" are checked. *Exact* loops compare step signatures (the tool with its exact
arguments, or the exact text): running the identical command twice in a row, or cycling through the same two
commands, means the agent learnt nothing in between. *Behavioural* loops compare the abstract action tokens
(``sed:ok python:error sed:ok python:error ...``): the agent keeps doing the same kind of thing, which becomes
suspicious only after more repetitions, so it needs more of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from escai.analysis.behaviour.sequences import Step

EXACT_MIN_REPEATS = 2
"""Occurrences of an identical action (or cycle) in a row that make an exact loop."""
BEHAVIOUR_MIN_REPEATS = {1: 4, 2: 3, 3: 3, 4: 3}
"""Occurrences in a row, by period, that make a behavioural loop."""
MAX_PERIOD = 4


@dataclass(frozen=True, slots=True)
class Loop:
    """A run of steps in which one action, or one cycle of 2-4 actions, repeats back to back."""

    kind: str
    """``repeat`` (period 1) or ``cycle`` (period 2-4)."""
    exact: bool
    """True when the repeated steps are literally identical (same tool and arguments)."""
    actions: tuple[str, ...]
    """The repeated action, or the cycle's actions."""
    start: int
    """Position of the first step of the loop in the session's step sequence."""
    repetitions: int
    errors: int
    """Steps of the loop whose outcome was an error."""
    event_ids: tuple[str, ...]
    description: str

    @property
    def length(self) -> int:
        """Steps the loop spans."""
        return len(self.actions) * self.repetitions


def _tandem_runs(keys: Sequence[str], period: int, min_repeats: int) -> list[tuple[int, int]]:
    """(start, repetitions) of maximal back-to-back repeats of a block of ``period`` keys, left to right."""
    found = []
    position = 0
    while position + period * min_repeats <= len(keys):
        block = keys[position : position + period]
        # A cycle of one repeated action is a repeat, not a cycle: leave it to period 1.
        if period > 1 and len(set(block)) == 1:
            position += 1
            continue
        repetitions = 1
        while keys[position + repetitions * period : position + (repetitions + 1) * period] == block:
            repetitions += 1
        if repetitions >= min_repeats:
            found.append((position, repetitions))
            position += repetitions * period
        else:
            position += 1
    return found


def _describe(kind: str, exact: bool, steps: Sequence[Step], period: int, repetitions: int, errors: int) -> str:
    first, last = steps[0], steps[-1]
    where = f"steps {first.position}-{last.position}"
    failed = f", {errors} of {len(steps)} failing" if errors else ""
    if kind == "repeat":
        what = f"the identical action `{first.detail or first.action}`" if exact else f"`{first.action}`"
        return f"{what} ran {repetitions} times in a row ({where}{failed})."
    cycle = " -> ".join(step.action for step in steps[:period])
    sameness = "the same exact commands" if exact else "the same kinds of action"
    return f"the cycle {cycle} repeated {repetitions} times with {sameness} ({where}{failed})."


def detect_loops(steps: Sequence[Step]) -> list[Loop]:
    """Exact and behavioural loops of a session's steps, in order; a behavioural loop inside an exact one is dropped."""
    loops: list[Loop] = []
    covered: set[int] = set()
    for exact in (True, False):
        keys = [step.signature if exact else step.action for step in steps]
        for period in range(1, MAX_PERIOD + 1):
            min_repeats = EXACT_MIN_REPEATS if exact else BEHAVIOUR_MIN_REPEATS[period]
            for start, repetitions in _tandem_runs(keys, period, min_repeats):
                span = range(start, start + period * repetitions)
                if not exact and set(span) <= covered:
                    continue
                looped = steps[span.start : span.stop]
                errors = sum(step.status == "error" for step in looped)
                kind = "repeat" if period == 1 else "cycle"
                loops.append(
                    Loop(
                        kind=kind,
                        exact=exact,
                        actions=tuple(step.action for step in looped[:period]),
                        start=start,
                        repetitions=repetitions,
                        errors=errors,
                        event_ids=tuple(event_id for step in looped for event_id in step.event_ids),
                        description=_describe(kind, exact, looped, period, repetitions, errors),
                    )
                )
                if exact:
                    covered.update(span)
    return sorted(loops, key=lambda loop: (loop.start, not loop.exact, len(loop.actions)))


def loop_coverage(steps: Sequence[Step], loops: Sequence[Loop]) -> float:
    """Fraction of the session's steps that lie inside some loop (0 when there are no steps)."""
    if not steps:
        return 0.0
    inside = {position for loop in loops for position in range(loop.start, loop.start + loop.length)}
    return len(inside) / len(steps)
