"""Performance-predictor speed: training on 500 runs, and the live prediction update per event.

Training: the 200 tau-bench airline runs, the 250 SWE-bench runs and repeats of the first runs (as extra trials,
so 500 runs in all) are featurised and the full-run classifier, the early-warning model and the drift reference
are trained, as ``escai model train --folds 0`` does; the time covers feature extraction and fitting.
Live: a :class:`LivePredictor` of the trained model follows held runs of both data sets event by event; each
update (feature accumulation and prediction) is timed.

    python bench/bench_predict.py [--runs 500] [--live-runs 60] [--groups events,text,actions,conduct,epistemic]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time

from _common import DATASETS, machine
from escai.analysis.predict.dataset import OutcomeRun, collect_outcome_runs
from escai.analysis.predict.features import DEFAULT_GROUPS
from escai.analysis.predict.predictor import Predictor
from escai.analysis.predict.training import TrainingOptions, train_models
from escai.ingest.importers import read_runs

TAU_BENCH = DATASETS / "tau_bench_historical" / "gpt-4o-airline.json.gz"
SWE_BENCH = DATASETS / "mini_swe_agent_swebench_verified" / "trajectories.jsonl.gz"


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` quantile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def load_runs() -> list[OutcomeRun]:
    """Both labelled data sets, tau-bench first."""
    tau, _ = collect_outcome_runs(read_runs(TAU_BENCH, "tau-bench"))
    swe, _ = collect_outcome_runs(read_runs(SWE_BENCH, "mini-swe-agent"))
    return [*tau, *swe]


def main() -> None:
    """Print the training time on the requested number of runs and the live update latency."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=500, help="Training runs (the data sets are repeated to reach it).")
    parser.add_argument("--live-runs", type=int, default=60, help="Runs replayed event by event for the live latency.")
    parser.add_argument(
        "--groups", default=",".join(DEFAULT_GROUPS), help="Comma-separated feature groups (default: the default)."
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    runs = load_runs()
    training = list(itertools.islice(itertools.cycle(runs), args.runs))
    events = sum(len(run.events) for run in training)
    started = time.perf_counter()
    models = train_models(training, TrainingOptions(feature_groups=tuple(args.groups.split(","))))
    seconds = time.perf_counter() - started
    print(f"groups: {args.groups}")
    print(f"training: {len(training)} runs ({events} events), {len(models.feature_names)} features: {seconds:.1f} s")

    predictor = Predictor(models)
    replayed = runs[:: max(1, len(runs) // args.live_runs)][: args.live_runs]
    latencies: list[float] = []
    for run in replayed:
        live = predictor.live(run.session_id, run.events[0].agent_id)
        for event in run.events:
            begun = time.perf_counter()
            live.update(event)
            latencies.append(time.perf_counter() - begun)
    milliseconds = [value * 1000 for value in latencies]
    print(
        f"live update: {len(milliseconds)} events of {len(replayed)} runs: "
        f"p50 {statistics.median(milliseconds):.2f} ms, p95 {percentile(milliseconds, 0.95):.2f} ms, "
        f"p99 {percentile(milliseconds, 0.99):.2f} ms, max {max(milliseconds):.2f} ms"
    )


if __name__ == "__main__":
    main()
