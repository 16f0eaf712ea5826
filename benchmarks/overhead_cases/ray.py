"""Ray Tune: a default native ``Tuner`` (an actor per trial) vs ``ut.minimize(backend="ray")`` (actors reused).

Both run the same trivial objective with the same ``BasicVariantGenerator`` seed.  The number that
matters here is seconds per trial, not a ratio: unitune configures Ray for small jobs.
"""

from __future__ import annotations

import tempfile

import unitune as ut

from . import OverheadCase

SPACE = {"x": ut.uniform(-5.0, 5.0), "y": ut.uniform(-5.0, 5.0)}

def _native(n_trials: int, seed: int) -> object:
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from unitune.backends.ray import _ensure_ray

    _ensure_ray(verbose=False)  # one Ray runtime for both sides: ray.init is not what is measured

    def trainable(config):
        tune.report({"score": (config["x"] - 1.0) ** 2 + config["y"] ** 2})

    with tempfile.TemporaryDirectory() as storage:
        return tune.Tuner(trainable, param_space={"x": tune.uniform(-5.0, 5.0), "y": tune.uniform(-5.0, 5.0)},
                          tune_config=tune.TuneConfig(metric="score", mode="min", num_samples=n_trials,
                                                      search_alg=BasicVariantGenerator(random_state=seed)),
                          run_config=tune.RunConfig(storage_path=storage, verbose=0)).fit()

def _unitune(n_trials: int, seed: int) -> object:
    return ut.minimize(lambda p: (p["x"] - 1.0) ** 2 + p["y"] ** 2, SPACE, backend="ray", n_trials=n_trials, seed=seed)

def cases() -> list[OverheadCase]:
    return [OverheadCase("ray", "random", _native, _unitune, 20)]
