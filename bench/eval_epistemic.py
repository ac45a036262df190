"""Do the epistemic states carry information? AUROC of confidence/uncertainty against recorded outcomes.

For each run of a file with recorded outcomes (SWE-bench: resolved; tau-bench: reward), the epistemic timeline is
extracted without the labels, and the agent's state is read at 25/50/75 % of its events and at the end. Printed per
file: AUROC for success of the raw confidence, of 1 - uncertainty, and of the calibrated confidence (a
:func:`fit_calibrator` map from the state's confidence components, cross-fitted: 5 folds grouped by task text, so
runs of one task are never both fitted and scored), beside the class prior (a constant scores AUROC 0.5); Brier
scores of the raw, the calibrated and the class-prior forecasts; and how often the task goal's final status agrees
with the outcome (achieved on success, not achieved on failure).

    python bench/eval_epistemic.py [--method light|minilm] [--limit N] [FILE ...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import GroupKFold

from _common import DATASETS, machine
from escai.analysis.epistemic.calibration import fit_calibrator
from escai.analysis.epistemic.extractor import extract_timeline
from escai.analysis.epistemic.timeline import EpistemicTimeline
from escai.analysis.text import load_embedder
from escai.ingest.importers import read_runs
from escai.model.records import EpistemicState, GoalStatus
from escai.model.semconv import ESCAI_TASK

DEFAULT_FILES = (
    DATASETS / "mini_swe_agent_swebench_verified" / "trajectories.jsonl.gz",
    DATASETS / "tau_bench_historical" / "gpt-4o-airline.json.gz",
)
FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def state_at(timeline: EpistemicTimeline, event_ids: list[str], fraction: float) -> EpistemicState | None:
    """The last state at or before ``fraction`` of the run's events."""
    cut = set(event_ids[: max(1, round(fraction * len(event_ids)))])
    chosen = None
    for state in timeline.states:
        if state.event_id in cut:
            chosen = state
    return chosen


def cross_fitted(states: list[EpistemicState], labels: np.ndarray, groups: list[str]) -> np.ndarray:
    """Calibrated confidence of each run, from a calibrator fitted on the other folds (grouped by task)."""
    calibrated = np.zeros(len(states))
    for train, test in GroupKFold(n_splits=5).split(np.zeros(len(states)), labels, groups):
        calibrator = fit_calibrator([(states[index].signals, bool(labels[index])) for index in train])
        calibrated[test] = [calibrator.calibrate(states[index].signals) for index in test]
    return calibrated


def evaluate_file(path: Path, method: str, limit: int | None) -> dict[str, Any]:
    """Extract every run's timeline and score its states against the recorded outcome."""
    embedder = load_embedder(method)  # type: ignore[arg-type]
    rows: dict[float, list[EpistemicState]] = {fraction: [] for fraction in FRACTIONS}
    labels: list[int] = []
    groups: list[str] = []
    goal_agreement: list[bool] = []
    events_seen = 0
    started = time.perf_counter()
    for number, run in enumerate(read_runs(path, "auto")):
        if limit is not None and number >= limit:
            break
        success = run.annotations.get("labels", {}).get("success")
        if success is None:
            continue
        events = [event for event in run.events if event.type.value != "session_end"]
        timeline = extract_timeline(events, embedder)
        events_seen += len(events)
        ids = [event.id for event in events]
        points = [state_at(timeline, ids, fraction) for fraction in FRACTIONS]
        if any(point is None for point in points):
            continue
        for fraction, point in zip(FRACTIONS, points, strict=True):
            assert point is not None
            rows[fraction].append(point)
        labels.append(int(bool(success)))
        groups.append(str(run.events[0].attributes.get(ESCAI_TASK) or run.session_id))
        final = timeline.final_state()
        task_goals = [goal for goal in (final.goals if final else []) if goal.source == "task"]
        achieved = bool(task_goals) and task_goals[0].status is GoalStatus.ACHIEVED
        goal_agreement.append(achieved == bool(success))
    elapsed = time.perf_counter() - started
    label_array = np.asarray(labels)
    result: dict[str, Any] = {
        "file": path.name,
        "method": embedder.name,
        "n": len(labels),
        "success_rate": float(label_array.mean()),
        "events": events_seen,
        "events_per_second": events_seen / elapsed,
        "auroc_confidence": {},
        "auroc_certainty": {},
        "auroc_calibrated": {},
        "brier_raw": {},
        "brier_calibrated": {},
    }
    for fraction in FRACTIONS:
        key = str(fraction)
        confidence = np.asarray([state.confidence for state in rows[fraction]])
        certainty = 1 - np.asarray([state.uncertainty for state in rows[fraction]])
        calibrated = cross_fitted(rows[fraction], label_array, groups)
        result["auroc_confidence"][key] = float(roc_auc_score(label_array, confidence))
        result["auroc_certainty"][key] = float(roc_auc_score(label_array, certainty))
        result["auroc_calibrated"][key] = float(roc_auc_score(label_array, calibrated))
        result["brier_raw"][key] = float(brier_score_loss(label_array, confidence))
        result["brier_calibrated"][key] = float(brier_score_loss(label_array, calibrated))
    result["brier_prior"] = float(brier_score_loss(label_array, np.full(len(label_array), label_array.mean())))
    result["goal_status_agreement"] = float(np.mean(goal_agreement))
    return result


def main() -> None:
    """Run the evaluation and print one table per file (and JSON with --json)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, default=list(DEFAULT_FILES))
    parser.add_argument("--method", default="light", choices=["light", "minilm"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--json", action="store_true")
    options = parser.parse_args()
    print(machine())
    results = [evaluate_file(path, options.method, options.limit) for path in options.files]
    for result in results:
        print(
            f"\n{result['file']} ({result['method']}): n={result['n']}, success rate {result['success_rate']:.3f}, "
            f"{result['events_per_second']:.0f} events/s"
        )
        print(
            "  at     AUROC: raw conf  1-uncertainty  calibrated   Brier: raw  calibrated  (prior "
            f"{result['brier_prior']:.3f})"
        )
        for fraction in FRACTIONS:
            key = str(fraction)
            print(
                f"  {fraction:>4.0%}   {result['auroc_confidence'][key]:>14.3f}"
                f"  {result['auroc_certainty'][key]:>13.3f}"
                f"  {result['auroc_calibrated'][key]:>10.3f}  {result['brier_raw'][key]:>10.3f}"
                f"  {result['brier_calibrated'][key]:>10.3f}"
            )
        print(f"  task goal status agrees with outcome: {result['goal_status_agreement']:.3f}")
    if options.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
