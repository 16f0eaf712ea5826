"""Ray Tune: native ``Tuner`` runs vs ``ut.minimize(backend="ray")`` on the same trivial objective.

Both sides use the same ``BasicVariantGenerator`` seed and one Ray runtime (``ray.init`` is not what is
measured).  Two comparisons:

* ``random``: a default native ``Tuner``, which starts an actor per trial (the issue's baseline), at
  50 trials;
* ``random-reuse``: a native ``Tuner(reuse_actors=True)``, what unitune configures, at 20 trials.

Every Ray run pays one actor start (a new worker process that imports ``ray.tune``, about 3 s on a
2-core machine, native or not); the two trial counts show that fixed cost and the per-trial cost.
"""

from __future__ import annotations

import tempfile

import unitune as ut

from . import OverheadCase

SPACE = {"x": ut.uniform(-5.0, 5.0), "y": ut.uniform(-5.0, 5.0)}


def _native_tuner(n_trials: int, seed: int, reuse_actors: bool) -> object:
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    from unitune.backends.ray import _ensure_ray

    _ensure_ray(verbose=False)  # one Ray runtime for both sides

    def trainable(config):
        tune.report({"score": (config["x"] - 1.0) ** 2 + config["y"] ** 2})

    with tempfile.TemporaryDirectory() as storage:
        return tune.Tuner(trainable, param_space={"x": tune.uniform(-5.0, 5.0), "y": tune.uniform(-5.0, 5.0)},
                          tune_config=tune.TuneConfig(metric="score", mode="min", num_samples=n_trials,
                                                      reuse_actors=reuse_actors,
                                                      search_alg=BasicVariantGenerator(random_state=seed)),
                          run_config=tune.RunConfig(storage_path=storage, verbose=0)).fit()


def _native_default(n_trials: int, seed: int) -> object:
    return _native_tuner(n_trials, seed, reuse_actors=False)


def _native_reuse(n_trials: int, seed: int) -> object:
    return _native_tuner(n_trials, seed, reuse_actors=True)


def _unitune(n_trials: int, seed: int) -> object:
    return ut.minimize(lambda p: (p["x"] - 1.0) ** 2 + p["y"] ** 2, SPACE, backend="ray", n_trials=n_trials, seed=seed)


def cases() -> list[OverheadCase]:
    return [
        OverheadCase("ray", "random", _native_default, _unitune, 50, warmup_trials=2),
        OverheadCase("ray", "random-reuse", _native_reuse, _unitune, 20, warmup_trials=2),
    ]
