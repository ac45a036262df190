"""The built-in ``words`` feature group: a hashed bag of the words (and word pairs) of a session.

Words are read from two voices, kept apart by a prefix: what the agent says or thinks (``a:``) and the tool calls it
makes (``c:``: tool name and arguments). Each word and each pair of
neighbouring words in one text is hashed (CRC-32) into one of :data:`WORD_BUCKETS` counters, so any domain's
vocabulary is learned from its own labelled runs without a word list, and the vector has a fixed width for live
prediction. Only whole alphabetic words count: identifiers with digits (reservation codes, user ids, hashes) never
become features. Tool output and the other party's messages are left out: tool output is long, repetitive and
mostly about the environment, and the other party's words mostly restate the task; adding either made the bag
predict worse on tau-bench (docs/prediction.md).

These columns are read by the ``words`` member model (:mod:`~escai.analysis.predict.word_model`), never screened
into the other members or the drift reference: :func:`word_columns` finds them by name.
"""

from __future__ import annotations

import itertools
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence

from escai.analysis.predict.feature_groups import message_side
from escai.analysis.predict.features import Evidence, register_feature_group
from escai.model.events import AgentEvent, EventType

WORD_BUCKETS = 4096
"""Hash buckets: wide enough that collisions cost little on the judged data, narrow enough for dense rows."""
WORD_PREFIX = "word_"
"""Name prefix of the bucket features."""
WORD = re.compile(r"\b[a-z][a-z_]{1,30}\b")
"""A whole lower-case word of letters (and underscores, for tool and function names); no digits."""
_READ_CHARS = 4_000  # the opening of a long text carries its vocabulary; bounds the cost per event
_AGENT_TYPES = frozenset({EventType.THOUGHT, EventType.LLM_RESPONSE, EventType.PLAN, EventType.DECISION})

WORD_FEATURES: dict[str, str] = {
    f"{WORD_PREFIX}{bucket:04d}": f"uses of the words hashed to bucket {bucket}" for bucket in range(WORD_BUCKETS)
}


def word_columns(names: Sequence[str]) -> list[int]:
    """Positions of the word-bucket features in a feature layout."""
    return [index for index, name in enumerate(names) if name.startswith(WORD_PREFIX)]


def voiced_tokens(voice: str, text: str) -> list[str]:
    """The words of ``text`` and the pairs of neighbouring words, each prefixed by its voice."""
    words = WORD.findall(text[:_READ_CHARS].lower())
    tokens = [f"{voice}:{word}" for word in words]
    tokens += [f"{voice}:{first} {second}" for first, second in itertools.pairwise(words)]
    return tokens


def bucket_of(token: str) -> int:
    """The bucket a token is counted in (stable across processes, unlike ``hash``)."""
    return zlib.crc32(token.encode()) % WORD_BUCKETS


def words_in_bucket(texts: Iterable[tuple[str, str]], bucket: int, limit: int = 3) -> list[str]:
    """Up to ``limit`` distinct tokens of ``(voice, text)`` pairs that fall into ``bucket`` (for explanations)."""
    found: list[str] = []
    for voice, text in texts:
        for token in voiced_tokens(voice, text):
            if bucket_of(token) == bucket and token not in found:
                found.append(token)
                if len(found) == limit:
                    return found
    return found


def voice_of(event: AgentEvent, main_agent: str | None) -> tuple[str, str] | None:
    """``(voice, text)`` of an event whose words count, or None (tool output, session boundaries, ...)."""
    if event.type is EventType.TOOL_CALL:
        return "c", f"{event.name or ''} {event.content or ''}"
    if event.type in _AGENT_TYPES:
        return "a", event.content or ""
    if event.type is EventType.MESSAGE and message_side(event, main_agent) == "agent":
        return "a", event.content or ""
    return None


class _WordBag:
    def __init__(self) -> None:
        self.counts: dict[int, float] = {}
        self.main_agent: str | None = None
        self.proof = Evidence()

    def update(self, event: AgentEvent) -> None:
        if event.type is EventType.SESSION_START:
            self.main_agent = event.agent_id
            return
        voiced = voice_of(event, self.main_agent)
        if voiced is None:
            return
        touched = set()
        for token in voiced_tokens(*voiced):
            bucket = bucket_of(token)
            self.counts[bucket] = self.counts.get(bucket, 0.0) + 1.0
            touched.add(bucket)
        for bucket in touched:
            self.proof.add(f"{WORD_PREFIX}{bucket:04d}", event.id)

    def values(self) -> dict[str, float]:
        # Only the buckets seen so far: the extractor fills the rest with zeros.
        return {f"{WORD_PREFIX}{bucket:04d}": count for bucket, count in self.counts.items()}

    def evidence(self) -> Mapping[str, Sequence[str]]:
        return self.proof.as_mapping()


class WordsGroup:
    """A hashed bag of the agent's words and its tool calls."""

    name = "words"
    descriptions: Mapping[str, str] = WORD_FEATURES

    def start(self) -> _WordBag:
        """A fresh accumulator."""
        return _WordBag()


register_feature_group(WordsGroup.name, WordsGroup)
