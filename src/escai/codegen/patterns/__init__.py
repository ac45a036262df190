"""AST pattern matcher with a feedback loop (issue 7, part 5).

Detects patterns and anti-patterns in any Python source (:data:`RULES`), each finding with a confidence;
reviews recorded with :func:`record` land in ``pattern_feedback_log`` and :func:`load_tuning` turns the log into
per-rule thresholds, calibrations and suppressions that :func:`scan_source` applies.
"""

from escai.codegen.patterns.feedback import load_reviews, load_tuning, precision_report, record
from escai.codegen.patterns.model import Finding, Rule, RuleTuning, Tuning
from escai.codegen.patterns.scanner import RULE_IDS, RULES, describe_rules, scan_path, scan_source
from escai.codegen.patterns.tuning import PatternPrecision, Review, learn_threshold, learn_tuning, summarise_precision

__all__ = [
    "RULES",
    "RULE_IDS",
    "Finding",
    "PatternPrecision",
    "Review",
    "Rule",
    "RuleTuning",
    "Tuning",
    "describe_rules",
    "learn_threshold",
    "learn_tuning",
    "load_reviews",
    "load_tuning",
    "precision_report",
    "record",
    "scan_path",
    "scan_source",
    "summarise_precision",
]
