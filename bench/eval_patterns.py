"""Precision and false-positive rate of the AST pattern matcher, before and after feedback (a script, not a test).

Loads the labelled corpus (``tests/fixtures/patterns``), splits each rule's samples into two halves (positives and
negatives alternating), and for each fold: scores the held-out half with the default tuning, simulates a
reviewer on the training half (true/false positives of reported findings, false negatives for missed
expectations, with the base confidence when the rule had scored the line under threshold), records those reviews
in ``pattern_feedback_log`` of a fresh, migrated database through ``escai.codegen.patterns.record``, reads the
tuning back with ``load_tuning`` and scores the held-out half again. Both folds (A trains, B tests; then B trains,
A tests) are reported, with the sums over folds.

It also renders the node packages of the example PRDs (``escai.codegen.render``) and lists the findings in the
generated Python files (unlabelled: for a reader to review).

Run: ``.venv/bin/python bench/eval_patterns.py [--database-url URL] [--write-docs]``
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine
from escai.codegen.patterns import RULE_IDS, Tuning, describe_rules, load_tuning, precision_report, record, scan_source
from escai.codegen.patterns.corpus import (
    Evaluation,
    RuleScore,
    Sample,
    evaluate,
    load_corpus,
    simulate_reviews,
    split_corpus,
)
from escai.codegen.patterns.tuning import MIN_CORRECTED_REVIEWS
from escai.store.engine import create_engine
from escai.store.migrate import upgrade_async

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "tests" / "fixtures" / "patterns"
DOCS = ROOT / "docs" / "codegen.md"
HEADING = "## AST pattern matcher: precision before and after feedback"


def replace_section(document: Path, heading: str, body: str) -> None:
    """Put ``body`` under ``heading`` (a ``## `` line) in ``document``, replacing only that section.

    The section runs to the next ``## `` heading; it is appended when missing, and the file created if needed.
    Other engineers own other headings of the same file, so nothing else is touched.
    """
    text = document.read_text(encoding="utf-8") if document.exists() else "# Code generation\n"
    lines = text.splitlines()
    section = [heading, "", *body.strip("\n").splitlines(), ""]
    if heading in lines:
        start = lines.index(heading)
        end = next((index for index in range(start + 1, len(lines)) if lines[index].startswith("## ")), len(lines))
        lines[start:end] = section
    else:
        lines.extend(["", *section] if lines and lines[-1] else section)
    document.write_text("\n".join(lines).rstrip("\n") + "\n", encoding="utf-8")


async def learn_from_reviews(database_url: str, train: list[Sample]) -> tuple[list[Tuning], list[Any]]:
    """Record simulated reviews of ``train`` in a fresh database; read back the tunings (default, then a threshold
    that moves on one review) and the precision report."""
    await upgrade_async(database_url)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            for review in simulate_reviews(train):
                if review.finding is not None:
                    confidence = None if review.feedback_type != "false_negative" else review.finding.base_confidence
                    await record(conn, review.finding, review.feedback_type, confidence=confidence)  # type: ignore[arg-type]
                else:
                    await record(
                        conn,
                        review.sample.pattern_id,
                        "false_negative",
                        line_number=review.line,
                        file_path=f"corpus/{review.sample.pattern_id}/{review.sample.name}.py",
                    )
        async with engine.connect() as conn:
            variants = [await load_tuning(conn, min_corrected=count) for count in (MIN_CORRECTED_REVIEWS, 1)]
            return variants, await precision_report(conn)
    finally:
        await engine.dispose()


def add_scores(total: Evaluation, part: Evaluation) -> None:
    """Add ``part``'s counts into ``total``, rule by rule."""
    for pattern_id, score in part.rules.items():
        into = total.rules.setdefault(pattern_id, RuleScore(pattern_id))
        into.true_positives += score.true_positives
        into.false_positives += score.false_positives
        into.false_negatives += score.false_negatives
        into.negative_samples += score.negative_samples
        into.flagged_negative_samples += score.flagged_negative_samples


def show(value: float | None) -> str:
    """A ratio with two decimals, or a dash when undefined."""
    return "-" if value is None else f"{value:.2f}"


def format_table(before: Evaluation, after: Evaluation, tunings: list[Tuning]) -> str:
    """The Markdown table of per-rule figures before and after feedback, summed over folds."""
    rows = [
        "| rule | TP/FP/FN before | precision before | FP rate before | recall before "
        "| TP/FP/FN after | precision after | FP rate after | recall after | thresholds learned (fold A, B) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for pattern_id in [*sorted(before.rules), "all"]:
        old = before.total() if pattern_id == "all" else before.rules[pattern_id]
        new = after.total() if pattern_id == "all" else after.rules[pattern_id]
        thresholds = ", ".join(f"{tuning.for_rule(pattern_id).threshold:.2f}" for tuning in tunings)
        rows.append(
            f"| {pattern_id} | {old.true_positives}/{old.false_positives}/{old.false_negatives} "
            f"| {show(old.precision)} | {show(old.false_positive_rate)} | {show(old.recall)} "
            f"| {new.true_positives}/{new.false_positives}/{new.false_negatives} "
            f"| {show(new.precision)} | {show(new.false_positive_rate)} | {show(new.recall)} "
            f"| {thresholds if pattern_id != 'all' else ''} |"
        )
    return "\n".join(rows)


def scan_generated_examples() -> str:
    """Findings in the code generated from ``examples/prd/*.md`` (rendered node packages), or why none ran."""
    try:
        prd = importlib.import_module("escai.codegen.prd")
        spec_module = importlib.import_module("escai.codegen.spec")
        render = importlib.import_module("escai.codegen.render")
        template_cache = importlib.import_module("escai.codegen.template_cache")
    except ImportError as error:
        return f"Generated code of the example PRDs: not scanned (generator not available: {error})."
    cache = template_cache.TemplateCache(render.TEMPLATES_DIRECTORY)
    files = 0
    listed: list[str] = []
    for document in sorted((ROOT / "examples" / "prd").glob("*.md")):
        spec = spec_module.build_spec(prd.parse_prd(document.read_text(encoding="utf-8")))
        for node in spec.nodes:
            for path, text in render.render_node_package(spec, node, cache).items():
                if not path.endswith(".py"):
                    continue
                files += 1
                listed.extend(
                    f"- `{document.stem}`: `{path}` line {finding.line}: {finding.pattern_id} "
                    f"({finding.confidence:.2f}) - {finding.message}"
                    for finding in scan_source(text, path)
                )
    summary = f"Generated code of the {len(list((ROOT / 'examples' / 'prd').glob('*.md')))} example PRDs "
    summary += f"({files} Python files rendered by `escai.codegen.render`, unlabelled) - findings:"
    return "\n".join([summary, "", *(listed or ["- none"])])


def main() -> None:
    """Run both folds, print the figures, optionally write them to docs/codegen.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="a migrated-on-the-fly database per fold (default: temp SQLite)")
    parser.add_argument("--write-docs", action="store_true", help=f"write the figures under {HEADING!r}")
    arguments = parser.parse_args()

    samples = load_corpus(CORPUS)
    half_a, half_b = split_corpus(samples)
    before, after, eager = Evaluation(), Evaluation(), Evaluation()
    tunings: list[Tuning] = []
    with tempfile.TemporaryDirectory() as folder:
        for fold, (train, held_out) in enumerate([(half_a, half_b), (half_b, half_a)]):
            url = arguments.database_url or f"sqlite+aiosqlite:///{Path(folder) / f'fold{fold}.db'}"
            (tuning, eager_tuning), report = asyncio.run(learn_from_reviews(url, train))
            tunings.append(tuning)
            add_scores(before, evaluate(held_out))
            add_scores(after, evaluate(held_out, tuning))
            add_scores(eager, evaluate(held_out, eager_tuning))
            reviewed = [row for row in report if row.true_positives + row.false_positives + row.false_negatives]
            print(f"fold {'AB'[fold]}: {len(train)} training samples, {len(held_out)} held out")
            for row in reviewed:
                print(
                    f"  log {row.pattern_id}: tp={row.true_positives} fp={row.false_positives} "
                    f"fn={row.false_negatives} precision={show(row.precision)} "
                    f"posterior={row.posterior_mean:.2f} [{row.credible_low:.2f}, {row.credible_high:.2f}] "
                    f"threshold={row.threshold:.2f}"
                )
    table = format_table(before, after, tunings)
    eager_total = eager.total()
    eager_line = (
        f"With a threshold that moves on a single review (`min_corrected=1`) instead of {MIN_CORRECTED_REVIEWS}, the "
        f"held-out totals are TP/FP/FN {eager_total.true_positives}/{eager_total.false_positives}/"
        f"{eager_total.false_negatives}, precision {show(eager_total.precision)}, FP rate "
        f"{show(eager_total.false_positive_rate)}, recall {show(eager_total.recall)}."
    )
    generated = scan_generated_examples()
    positives = sum(sample.is_positive for sample in samples)
    rule_lines = "\n".join(f"- `{rule.pattern_id}`: {rule.description}" for rule in describe_rules())
    body = f"""Measured by `.venv/bin/python bench/eval_patterns.py --write-docs` on {machine()}.

Rules (`escai.codegen.patterns.RULES`):

{rule_lines}

Feedback (`record(conn, finding, "true_positive" | "false_positive" | "false_negative" | "user_override")` into
`pattern_feedback_log`; `load_tuning(conn)` reads it back) changes, per rule: the reporting threshold on the
rule's base confidence (the cut that misclassifies the fewest reviewed confidences, moved only when it corrects at
least {MIN_CORRECTED_REVIEWS} reviews), the reported confidence (shifted on the log-odds scale by the Beta
posterior of the rule's precision, prior Beta(4, 1)), and suppressions (user overrides silence that exact finding).
`precision_report(conn)` gives precision, false-positive rate and recall from the `pattern_feedback_analysis` view
beside the posterior's mean and 90 % interval and the learned threshold.

Corpus: {len(samples)} hand-written samples over {len(RULE_IDS)} rules ({positives} positive, {len(samples) - positives}
negative) in `tests/fixtures/patterns/`. Two folds: each half of every rule's samples trains (simulated reviews
recorded in `pattern_feedback_log`, tuning read back with `load_tuning`), the other half is held out; the
figures are held-out counts summed over both folds. *Before* is the default tuning (threshold 0.5 on every rule);
*after* is the tuning learned from the training half. Precision = TP/(TP+FP); FP rate = negative samples with
any finding / negative samples; recall = TP/(TP+FN).

{table}

{eager_line}

{generated}

How to read it: the rules and the corpus were written by the same engineer, so the *before* figures flatter the
rules; what the table shows fairly is the change feedback makes on samples it did not see. Reviewers only see
reported findings, so false negatives under the threshold pull it down with nothing to hold it up: feedback
trades some precision for recall on the rules whose low-confidence candidates are mixed (mutable defaults
built by calls, secrets with low-entropy values, coroutines handed to unknown callees). A rule whose true and
false positives share one base confidence cannot be separated by a threshold at all: feedback then lowers its
calibrated confidence (Beta posterior) but not what is reported. User overrides silence one exact finding
(fingerprint of rule and source line) and cannot generalise to held-out samples, so they are not simulated here."""
    print()
    print(body)
    if arguments.write_docs:
        replace_section(DOCS, HEADING, body)
        print(f"\nwritten to {DOCS}")


if __name__ == "__main__":
    main()
