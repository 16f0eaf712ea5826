"""Several objectives on Optuna: the native sequence for every multi-objective sampler (constraints too),
Optuna's own Pareto set, export for plot_pareto_front, warm start, and the refusals."""

from __future__ import annotations

import math
import warnings

import pytest

optuna = pytest.importorskip("optuna")

import unitune as ut  # noqa: E402
from unitune.threads import fixed_threads  # noqa: E402

SPACE = {"x": ut.uniform(0.0, 1.0), "y": ut.uniform(0.0, 1.0), "n": ut.integer(1, 5), "c": ut.choice(["a", "b"])}
DIRECTIONS = ["minimize", "maximize"]


def values(p: dict) -> tuple[float, float]:
    g = 1.0 + 9.0 * p["y"] + p["n"] / 10 + (p["c"] == "b")
    return p["x"], -g * (1.0 - math.sqrt(p["x"] / g))  # the second maximized (ZDT1 negated)


def native_objective(trial: optuna.Trial, constrained: bool) -> tuple[float, float]:
    p = {"x": trial.suggest_float("x", 0.0, 1.0), "y": trial.suggest_float("y", 0.0, 1.0),
         "n": trial.suggest_int("n", 1, 5), "c": trial.suggest_categorical("c", ["a", "b"])}
    f1, f2 = values(p)
    if constrained:  # Optuna 5's way: the trial's constraint values before it ends
        trial.set_constraint("0", f1 - 0.6)
    return f1, f2


SAMPLERS = {
    "nsga2": lambda seed: optuna.samplers.NSGAIISampler(seed=seed, population_size=10),
    "nsga3": lambda seed: optuna.samplers.NSGAIIISampler(seed=seed, population_size=10),
    "tpe": lambda seed: optuna.samplers.TPESampler(seed=seed, constant_liar=True),  # unitune's TPE default
    "random": lambda seed: optuna.samplers.RandomSampler(seed=seed),
    "qmc": lambda seed: optuna.samplers.QMCSampler(seed=seed, warn_independent_sampling=False),
    "gp": lambda seed: optuna.samplers.GPSampler(seed=seed),
}
OPTIONS = {"nsga2": {"population_size": 10}, "nsga3": {"population_size": 10}}
N_TRIALS = {"gp": 12}


@pytest.mark.parametrize("constrained", [False, True])
@pytest.mark.parametrize("algorithm", sorted(SAMPLERS))
def test_same_sequence_as_native_optuna_with_several_objectives(algorithm, constrained):
    n = N_TRIALS.get(algorithm, 40)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with fixed_threads(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        native = optuna.create_study(directions=DIRECTIONS, sampler=SAMPLERS[algorithm](7))
        native.optimize(lambda t: native_objective(t, constrained), n_trials=n)
    result = ut.optimize(values, SPACE, backend="optuna", algorithm=algorithm, directions=DIRECTIONS,
                         metrics=["f1", "f2"], n_trials=n, seed=7, **OPTIONS.get(algorithm, {}),
                         **({"constraints": lambda m: [m["f1"] - 0.6]} if constrained else {}))
    table = result.table
    assert [t.params for t in native.trials] == [
        {k: row[f"params.{k}"] for k in SPACE} for row in table.to_dict("records")]
    assert [t.values for t in native.trials] == table[["values.f1", "values.f2"]].values.tolist()
    # the Pareto column is Optuna's own best_trials (feasible, non-dominated)
    assert sorted(t.number for t in native.best_trials) == table.loc[table["pareto"], "trial"].tolist()
    if constrained:
        assert table["feasible"].tolist() == [t.values[0] <= 0.6 for t in native.trials]


def test_export_is_a_multi_objective_optuna_study_for_pareto_plots():
    result = ut.optimize(values, SPACE, backend="optuna", algorithm="nsga2", directions=DIRECTIONS,
                         metrics=["f1", "f2"], constraints=lambda m: [m["f1"] - 0.6], n_trials=20, seed=1)
    study = result.to_optuna()
    assert study.directions == [optuna.study.StudyDirection.MINIMIZE, optuna.study.StudyDirection.MAXIMIZE]
    assert study.metric_names == ["f1", "f2"]
    assert sorted(t.number for t in study.best_trials) == result.table.loc[result.table["pareto"], "trial"].tolist()
    figure = optuna.visualization.plot_pareto_front(study, constraints_func=None)
    assert len(figure.data) >= 1
    assert sum(len(d.x) for d in figure.data if d.x is not None) == len(result.table)


def test_warm_start_and_replay_tell_optuna_every_value_and_constraint():
    first = ut.optimize(values, SPACE, backend="optuna", algorithm="random", directions=DIRECTIONS,
                        metrics=["f1", "f2"], constraints=lambda m: [m["f1"] - 0.6], n_trials=10, seed=0)
    study = ut.Study(SPACE, backend="optuna", algorithm="nsga2", directions=DIRECTIONS, metrics=["f1", "f2"],
                     constraints=lambda m: [m["f1"] - 0.6], warm_start=first, seed=0, population_size=10)
    study.optimize(values, n_trials=5)
    native = study._adapter.study  # the adapter's Optuna study: the warm start's trials come first
    told = native.get_trials()[:10]
    assert [t.values for t in told] == first.table[["values.f1", "values.f2"]].values.tolist()
    assert [t.constraints["0"] for t in told] == pytest.approx([r.info["constraints"][0] for r in first.records])


def test_refusals_name_the_sampler_and_the_alternative():
    with pytest.raises(ut.UnsupportedFeatureError, match="algorithm='cmaes'.*nsga2"):
        ut.Study(SPACE, backend="optuna", algorithm="cmaes", directions=DIRECTIONS)
    with pytest.raises(ut.UnsupportedFeatureError, match="scheduler='median' with several objectives.*ray"):
        ut.Study(SPACE, backend="optuna", scheduler="median", directions=DIRECTIONS)
    with pytest.raises(ut.UnsupportedFeatureError, match="constraints= with algorithm='cmaes'"):
        ut.Study(SPACE, backend="optuna", algorithm="cmaes", constraints=lambda m: [0.0])
    with pytest.raises(ut.InvalidRunError, match="not both"):
        ut.Study(SPACE, backend="optuna", directions=DIRECTIONS, constraints=lambda m: [0.0],
                 constraints_func=lambda t: [0.0])


def test_tensorboard_logs_every_objective(tmp_path):
    pytest.importorskip("tensorboardX")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    result = ut.optimize(values, SPACE, backend="optuna", algorithm="random", directions=DIRECTIONS,
                         metrics=["f1", "f2"], n_trials=3, seed=0)
    result.to_tensorboard(tmp_path / "tb")
    runs = sorted(p for p in (tmp_path / "tb").iterdir() if p.is_dir())
    acc = EventAccumulator(str(runs[0]))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    assert {"metrics.f1", "metrics.f2"} <= tags
