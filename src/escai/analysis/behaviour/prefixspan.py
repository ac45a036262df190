"""PrefixSpan over sequences of single items, with a maximum gap, and closed or maximal filtering.

No maintained PyPI package does this: ``prefixspan`` (last release 2018) has closed and generator patterns but
no gap constraint, ``seq2pat`` constrains attributes rather than positions, and ``pycspade``/``spmf`` wrap
unmaintained C or Java builds. This module is the algorithm of Pei et al. (2001) with the projection kept as
*every* end position of the prefix in each sequence, which a gap constraint needs: the first occurrence of a
prefix may be too far from the next item while a later one is close enough.

Definitions (the tests check them against brute force):

- a pattern ``p1 ... pn`` occurs in a sequence when there are positions ``i1 < ... < in`` with ``s[ik] == pk`` and,
  when ``max_gap`` is set, ``i(k+1) - ik - 1 <= max_gap`` (at most ``max_gap`` other items between two);
- its support is the number of sequences in which it occurs (once per sequence);
- a frequent pattern is *closed* when no other frequent pattern contains it as a subsequence and occurs in exactly
  the same sequences (with gaps, equal support alone does not imply equal sequences, so sets are compared);
- it is *maximal* when no other frequent pattern contains it as a subsequence.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass


class PatternKind(enum.StrEnum):
    """Which frequent patterns to keep."""

    ALL = "all"
    CLOSED = "closed"
    MAXIMAL = "maximal"


@dataclass(frozen=True, slots=True)
class FrequentPattern:
    """A frequent sequential pattern and the sequences (by index) it occurs in."""

    items: tuple[str, ...]
    sequence_ids: frozenset[int]

    @property
    def support(self) -> int:
        """How many sequences contain the pattern."""
        return len(self.sequence_ids)


def occurs(pattern: Sequence[Hashable], sequence: Sequence[Hashable], max_gap: int | None = None) -> bool:
    """Whether ``pattern`` occurs in ``sequence`` with at most ``max_gap`` items between consecutive matches."""
    if not pattern:
        return True
    ends = [position for position, item in enumerate(sequence) if item == pattern[0]]
    for wanted in pattern[1:]:
        reachable: set[int] = set()
        for end in ends:
            stop = len(sequence) if max_gap is None else min(len(sequence), end + max_gap + 2)
            reachable.update(position for position in range(end + 1, stop) if sequence[position] == wanted)
        ends = sorted(reachable)
        if not ends:
            return False
    return bool(ends)


def is_subsequence(shorter: Sequence[Hashable], longer: Sequence[Hashable]) -> bool:
    """Whether ``shorter`` can be read in ``longer`` in order, with any gaps."""
    remaining = iter(longer)
    return all(any(item == candidate for candidate in remaining) for item in shorter)


class _Miner:
    """Depth-first PrefixSpan over integer-coded sequences."""

    def __init__(self, sequences: Sequence[Sequence[str]], min_support: int, max_gap: int | None, max_length: int):
        self.alphabet = sorted({item for sequence in sequences for item in sequence})
        codes = {item: code for code, item in enumerate(self.alphabet)}
        self.sequences = [[codes[item] for item in sequence] for sequence in sequences]
        self.min_support = max(1, min_support)
        self.max_gap = max_gap
        self.max_length = max_length
        self.found: list[FrequentPattern] = []

    def run(self) -> list[FrequentPattern]:
        starts: dict[int, dict[int, list[int]]] = defaultdict(dict)
        for sequence_id, sequence in enumerate(self.sequences):
            for position, code in enumerate(sequence):
                starts[code].setdefault(sequence_id, []).append(position)
        for code in sorted(starts):
            self._grow((code,), starts[code])
        return self.found

    def _grow(self, prefix: tuple[int, ...], projection: dict[int, list[int]]) -> None:
        if len(projection) < self.min_support:
            return
        self.found.append(FrequentPattern(tuple(self.alphabet[code] for code in prefix), frozenset(projection)))
        if len(prefix) >= self.max_length:
            return
        extensions = self._extensions(projection)
        for code in sorted(extensions):
            if len(extensions[code]) >= self.min_support:
                self._grow((*prefix, code), extensions[code])

    def _extensions(self, projection: dict[int, list[int]]) -> dict[int, dict[int, list[int]]]:
        extensions: dict[int, dict[int, list[int]]] = defaultdict(dict)
        for sequence_id, ends in projection.items():
            sequence = self.sequences[sequence_id]
            if self.max_gap is None:
                # Without a gap bound the earliest end dominates: every later item is reachable from it, and the
                # earliest match of the next item is the only end the following extensions need.
                seen: set[int] = set()
                for position in range(ends[0] + 1, len(sequence)):
                    code = sequence[position]
                    if code not in seen:
                        seen.add(code)
                        extensions[code][sequence_id] = [position]
                continue
            reached: dict[int, set[int]] = defaultdict(set)
            for end in ends:
                for position in range(end + 1, min(len(sequence), end + self.max_gap + 2)):
                    reached[sequence[position]].add(position)
            for code, positions in reached.items():
                extensions[code][sequence_id] = sorted(positions)
        return extensions


def _closed(patterns: list[FrequentPattern]) -> list[FrequentPattern]:
    by_sequences: dict[frozenset[int], list[FrequentPattern]] = defaultdict(list)
    for pattern in patterns:
        by_sequences[pattern.sequence_ids].append(pattern)
    kept = []
    for pattern in patterns:
        rivals = by_sequences[pattern.sequence_ids]
        if not any(
            len(rival.items) > len(pattern.items) and is_subsequence(pattern.items, rival.items) for rival in rivals
        ):
            kept.append(pattern)
    return kept


def _maximal(patterns: list[FrequentPattern]) -> list[FrequentPattern]:
    # Index the longer patterns by the items they contain so each pattern is compared only with candidates
    # that hold every one of its items.
    holding: dict[str, set[int]] = defaultdict(set)
    for index, pattern in enumerate(patterns):
        for item in pattern.items:
            holding[item].add(index)
    kept = []
    for pattern in patterns:
        candidates = set.intersection(*(holding[item] for item in set(pattern.items)))
        if not any(
            len(patterns[index].items) > len(pattern.items) and is_subsequence(pattern.items, patterns[index].items)
            for index in candidates
        ):
            kept.append(pattern)
    return kept


def mine_patterns(
    sequences: Sequence[Sequence[str]],
    min_support: int,
    *,
    max_gap: int | None = None,
    max_length: int = 5,
    min_length: int = 1,
    kind: PatternKind = PatternKind.CLOSED,
) -> list[FrequentPattern]:
    """Frequent sequential patterns occurring in at least ``min_support`` sequences, longest first within support.

    ``max_gap`` bounds the items skipped between two consecutive pattern items (0: contiguous; None: unbounded);
    ``max_length`` bounds the pattern length, and closed or maximal filtering is relative to the patterns mined
    within that bound. Patterns shorter than ``min_length`` are dropped after filtering.
    """
    if max_length < 1:
        raise ValueError("max_length must be at least 1")
    if max_gap is not None and max_gap < 0:
        raise ValueError("max_gap must be None or >= 0")
    patterns = _Miner(sequences, min_support, max_gap, max_length).run()
    if kind is PatternKind.CLOSED:
        patterns = _closed(patterns)
    elif kind is PatternKind.MAXIMAL:
        patterns = _maximal(patterns)
    kept = [pattern for pattern in patterns if len(pattern.items) >= min_length]
    return sorted(kept, key=lambda pattern: (-pattern.support, -len(pattern.items), pattern.items))
