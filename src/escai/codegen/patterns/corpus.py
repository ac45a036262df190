"""A labelled corpus of code samples, and the evaluation of the matcher against it.

Format (see ``tests/fixtures/patterns/README.md``): one ``<rule-id>.pysample`` file per rule, samples starting
with ``# sample: <name>``, expected findings marked by a trailing ``# expect`` on their line.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from escai.codegen.patterns.model import Finding, Tuning
from escai.codegen.patterns.scanner import scan_source

_SAMPLE_HEADER: Final = "# sample:"
_EXPECT_MARKER: Final = "# expect"


@dataclass(frozen=True, slots=True)
class Sample:
    """One labelled snippet: the rule it exercises, its code and the lines where a finding is expected."""

    pattern_id: str
    name: str
    code: str
    expected_lines: frozenset[int]

    @property
    def is_positive(self) -> bool:
        """Whether the sample holds at least one expected finding."""
        return bool(self.expected_lines)


def parse_samples(pattern_id: str, text: str) -> list[Sample]:
    """The samples of one corpus file for ``pattern_id``."""
    samples: list[Sample] = []
    name: str | None = None
    lines: list[str] = []

    def close() -> None:
        if name is not None:
            expected = frozenset(
                number for number, line in enumerate(lines, start=1) if line.rstrip().endswith(_EXPECT_MARKER)
            )
            samples.append(Sample(pattern_id, name, "\n".join(lines) + "\n", expected))

    for line in text.splitlines():
        if line.startswith(_SAMPLE_HEADER):
            close()
            name, lines = line.removeprefix(_SAMPLE_HEADER).strip(), []
        else:
            lines.append(line)
    close()
    return samples


def load_corpus(directory: Path) -> list[Sample]:
    """Every sample of every ``*.pysample`` file under ``directory``, by rule then name."""
    samples: list[Sample] = []
    for file in sorted(directory.glob("*.pysample")):
        samples.extend(parse_samples(file.stem, file.read_text(encoding="utf-8")))
    return samples


def split_corpus(samples: Sequence[Sample]) -> tuple[list[Sample], list[Sample]]:
    """A training half and a held-out half: per rule, positives and negatives each alternate between halves.

    The order within a stratum is by a hash of the sample's name, so the split does not follow the order in
    which the samples were written.
    """
    train: list[Sample] = []
    held_out: list[Sample] = []
    strata: dict[tuple[str, bool], list[Sample]] = {}
    for sample in samples:
        strata.setdefault((sample.pattern_id, sample.is_positive), []).append(sample)
    for _, members in sorted(strata.items()):
        ordered = sorted(members, key=lambda sample: hashlib.sha256(sample.name.encode()).hexdigest())
        train.extend(ordered[0::2])
        held_out.extend(ordered[1::2])
    return train, held_out


def scan_sample(sample: Sample, tuning: Tuning | None = None, *, include_unreported: bool = False) -> list[Finding]:
    """Findings of the sample's own rule in the sample."""
    return scan_source(
        sample.code,
        f"corpus/{sample.pattern_id}/{sample.name}.py",
        tuning=tuning,
        include_unreported=include_unreported,
        rules=[sample.pattern_id],
    )


@dataclass(slots=True)
class RuleScore:
    """Confusion counts of one rule over a set of samples.

    ``precision = tp / (tp + fp)``; ``recall = tp / (tp + fn)``; ``false_positive_rate`` is the share of
    negative samples on which the rule reported anything (true negatives are whole negative samples).
    """

    pattern_id: str
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    negative_samples: int = 0
    flagged_negative_samples: int = 0

    @property
    def precision(self) -> float | None:
        """tp / (tp + fp), None without findings."""
        reported = self.true_positives + self.false_positives
        return self.true_positives / reported if reported else None

    @property
    def recall(self) -> float | None:
        """tp / (tp + fn), None without expected findings."""
        expected = self.true_positives + self.false_negatives
        return self.true_positives / expected if expected else None

    @property
    def false_positive_rate(self) -> float | None:
        """Flagged negative samples / negative samples, None without negatives."""
        return self.flagged_negative_samples / self.negative_samples if self.negative_samples else None


@dataclass(slots=True)
class Evaluation:
    """Scores per rule and overall."""

    rules: dict[str, RuleScore] = field(default_factory=dict)

    def total(self) -> RuleScore:
        """All rules' counts added up (micro-average)."""
        total = RuleScore("all")
        for score in self.rules.values():
            total.true_positives += score.true_positives
            total.false_positives += score.false_positives
            total.false_negatives += score.false_negatives
            total.negative_samples += score.negative_samples
            total.flagged_negative_samples += score.flagged_negative_samples
        return total


def evaluate(samples: Iterable[Sample], tuning: Tuning | None = None) -> Evaluation:
    """Score the matcher's reported findings under ``tuning`` against the samples' labels."""
    evaluation = Evaluation()
    for sample in samples:
        score = evaluation.rules.setdefault(sample.pattern_id, RuleScore(sample.pattern_id))
        found_lines = {finding.line for finding in scan_sample(sample, tuning)}
        score.true_positives += len(found_lines & sample.expected_lines)
        score.false_positives += len(found_lines - sample.expected_lines)
        score.false_negatives += len(sample.expected_lines - found_lines)
        if not sample.is_positive:
            score.negative_samples += 1
            score.flagged_negative_samples += bool(found_lines)
    return evaluation


@dataclass(frozen=True, slots=True)
class SimulatedReview:
    """What a reviewer would record for one finding or one missed expectation of a sample."""

    feedback_type: str
    finding: Finding | None
    """The reviewed finding (reported, or under threshold for a false negative), None if the rule saw nothing."""
    sample: Sample
    line: int


def simulate_reviews(samples: Iterable[Sample], tuning: Tuning | None = None) -> list[SimulatedReview]:
    """Reviews of every sample by its labels: reported findings judged, missed expectations reported."""
    reviews: list[SimulatedReview] = []
    for sample in samples:
        candidates = scan_sample(sample, tuning, include_unreported=True)
        for finding in candidates:
            if finding.reported:
                verdict = "true_positive" if finding.line in sample.expected_lines else "false_positive"
                reviews.append(SimulatedReview(verdict, finding, sample, finding.line))
        reported_lines = {finding.line for finding in candidates if finding.reported}
        for line in sorted(sample.expected_lines - reported_lines):
            missed = next((finding for finding in candidates if finding.line == line), None)
            reviews.append(SimulatedReview("false_negative", missed, sample, line))
    return reviews
