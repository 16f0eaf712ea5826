"""What ``MLflowCallback`` costs per trial against a local tracking server.

    python -m benchmarks.mlflow_cost               # starts its own server (SQLite store), 100 trials
    python -m benchmarks.mlflow_cost --trials 300 --uri http://127.0.0.1:5000

Runs the same cheap objective with Optuna's random sampler (the framework's own cost stays flat) without
the callback, with it, and with ``background=True``, and prints the callback's own time per trial (each call
timed; the first call also creates the experiment and the parent run, so the median is the steady cost) and
the difference in wall time per trial.  Each trial is 3 requests: create the run, log its params/metrics,
end it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings
from typing import Any

import unitune as ut
from benchmarks.mlflow_server import MLflowServer
from unitune.integrations.mlflow import MLflowCallback

SPACE = {"x": ut.uniform(-5.0, 5.0), "y": ut.loguniform(1e-4, 1.0), "n": ut.integer(1, 8),
         "opt": ut.choice(["adam", "sgd", None])}


def objective(params: dict[str, Any]) -> dict[str, float]:
    for step in range(3):
        ut.report(params["x"] ** 2 + 3 - step, step=step)
    return {"loss": params["x"] ** 2 + params["y"], "acc": 1.0 / (1.0 + params["x"] ** 2)}


class Timed:
    """The callback with each call timed (``on_run_start``/``on_run_end`` passed through, timed apart)."""

    def __init__(self, callback: MLflowCallback) -> None:
        self.callback, self.calls, self.end_s = callback, [], 0.0

    def on_run_start(self, study: Any) -> None:
        self.callback.on_run_start(study)

    def __call__(self, study: Any, record: Any) -> None:
        started = time.perf_counter()
        self.callback(study, record)
        self.calls.append(time.perf_counter() - started)

    def on_run_end(self, study: Any) -> None:
        started = time.perf_counter()
        self.callback.on_run_end(study)
        self.end_s = time.perf_counter() - started


def measure(uri: str, trials: int) -> dict[str, float]:
    def run(callbacks: list[Any]) -> float:
        started = time.perf_counter()
        ut.minimize(objective, SPACE, backend="optuna", algorithm="random", n_trials=trials, seed=0,
                    metric="loss", callbacks=callbacks)
        return time.perf_counter() - started

    run([])  # warm-up: imports, first-call costs
    without = run([])
    timed = Timed(MLflowCallback(uri, experiment="mlflow-cost"))
    with_callback = run([timed])
    background = Timed(MLflowCallback(uri, experiment="mlflow-cost", background=True))
    with_background = run([background])
    ms = [s * 1000 for s in timed.calls]
    return {"n": len(ms), "median_ms": statistics.median(ms), "mean_ms": statistics.fmean(ms),
            "first_ms": ms[0], "p90_ms": sorted(ms)[int(0.9 * (len(ms) - 1))],
            "end_ms": timed.end_s * 1000, "wall_delta_ms": (with_callback - without) * 1000 / trials,
            "without_ms": without * 1000 / trials,
            "background_call_ms": statistics.median(s * 1000 for s in background.calls),
            "background_end_ms": background.end_s * 1000,
            "background_delta_ms": (with_background - without) * 1000 / trials}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--uri", help="an existing tracking server (default: start a local one)")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # no usage events sent while we time
    if args.uri:
        numbers = measure(args.uri, args.trials)
    else:
        with MLflowServer() as server:
            print(f"mlflow server on {server.uri} (SQLite store) answered /health after {server.start_s:.1f} s")
            numbers = measure(server.uri, args.trials)
    print(f"MLflowCallback, {numbers['n']} trials (optuna random, 3 reports each): "
          f"median {numbers['median_ms']:.1f} ms/trial, mean {numbers['mean_ms']:.1f}, "
          f"p90 {numbers['p90_ms']:.1f}, first {numbers['first_ms']:.1f} (experiment + parent run), "
          f"end of run {numbers['end_ms']:.1f} ms")
    print(f"wall time per trial: {numbers['without_ms']:.2f} ms without the callback, "
          f"+{numbers['wall_delta_ms']:.1f} ms with it")
    print(f"background=True: median {numbers['background_call_ms']:.2f} ms in the callback, "
          f"{numbers['background_end_ms']:.0f} ms waiting for the queue as optimize ends, "
          f"+{numbers['background_delta_ms']:.1f} ms/trial of wall time in all (a trivial objective: "
          f"the queue is the bottleneck; a trial longer than the logging hides it)")


if __name__ == "__main__":
    main()
