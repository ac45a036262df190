"""Building template sentences whose citations are, by construction, events that support their claim."""

from __future__ import annotations

from collections.abc import Iterable

from escai.analysis.explain.claims import EvidenceIndex
from escai.model.events import AgentEvent
from escai.model.records import ClaimType, ExplanationSentence

MAX_CITATIONS = 24
"""Most events one sentence cites; a longer list is thinned evenly, keeping its first and last event."""
_MIN_CITATIONS = {ClaimType.REPETITION: 2}


def thin(events: list[AgentEvent], limit: int = MAX_CITATIONS) -> list[AgentEvent]:
    """At most ``limit`` of ``events``, spread evenly over the list and keeping both ends."""
    if len(events) <= limit:
        return events
    last = len(events) - 1
    positions = sorted({round(number * last / (limit - 1)) for number in range(limit)})
    return [events[position] for position in positions]


class Drafter:
    """Writes sentences and keeps, of the events offered as evidence, only those that can support the claim.

    A sentence left with no supporting event (or, for a repetition, fewer than two) is not written at all:
    the templates never state what no event backs.
    """

    def __init__(self, index: EvidenceIndex) -> None:
        self.index = index

    def events_of(self, event_ids: Iterable[str | None]) -> list[AgentEvent]:
        """The known events among ``event_ids``, in order (unknown ids and None are dropped)."""
        return [self.index.by_id[event_id] for event_id in event_ids if event_id in self.index.by_id]

    def sentence(self, claim: ClaimType, text: str, evidence: Iterable[AgentEvent]) -> ExplanationSentence | None:
        """The sentence with its supporting evidence, or None when too little of the evidence supports it."""
        kept = self.index.supporting(claim, evidence)
        if len(kept) < _MIN_CITATIONS.get(claim, 1):
            return None
        return ExplanationSentence(text=text, claim=claim, evidence_event_ids=[event.id for event in thin(kept)])

    def comparison(
        self, text: str, left: Iterable[AgentEvent], right: Iterable[AgentEvent]
    ) -> ExplanationSentence | None:
        """A comparison sentence citing events of both sessions (each side thinned on its own), or None."""
        sides = [thin(self.index.supporting(ClaimType.COMPARISON, side), MAX_CITATIONS // 2) for side in (left, right)]
        if not all(sides):
            return None
        ids = list(dict.fromkeys(event.id for side in sides for event in side))
        return ExplanationSentence(text=text, claim=ClaimType.COMPARISON, evidence_event_ids=ids)


class SentenceList(list[ExplanationSentence]):
    """A list of sentences that ignores the None a :class:`Drafter` returns for an unsupported sentence."""

    def add(self, sentence: ExplanationSentence | None) -> None:
        """Append ``sentence`` unless it is None."""
        if sentence is not None:
            self.append(sentence)
