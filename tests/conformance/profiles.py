"""Per-backend settings for the conformance suite: budgets, and features a backend cannot do.

A backend that cannot do a feature is declared here with the exact exception it raises
(``xfail_raises``); the test then asserts that exception, so nothing is skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from unitune.exceptions import UnsupportedFeatureError

# What the backends without a scheduler of that name, or without ask/tell, raise (before any trial).
NO_HYPERBAND = {"scheduler:hyperband": UnsupportedFeatureError}
# What the backends that take one value raise for several objectives or constraints (before any trial).
ONE_VALUE = {"multi_objective": UnsupportedFeatureError, "constraints": UnsupportedFeatureError}


@dataclass(frozen=True)
class Profile:
    sampling_algorithm: str = "random"  # cheap algorithm for domain/type tests
    n_trials: int = 30  # trials for domain/type tests
    seeded_n_trials: int = 8  # trials for the default-algorithm reproducibility test
    objective_in_driver: bool = True  # False when the objective runs in another process (Ray)
    timeout_s: float = 2.0  # total budget for the timeout test (must leave room for the backend's own start-up)
    timeout_slack_s: float = 3.0  # how long after the budget the run may take to return
    xfail_raises: dict[str, type[BaseException]] = field(default_factory=dict)


PROFILES: dict[str, Profile] = {
    "optuna": Profile(),
    "hyperopt": Profile(xfail_raises=NO_HYPERBAND | ONE_VALUE),
    # the GP costs ~1 s per trial: 12 trials = 10 random initial points + 2 GP-guided ones
    "skopt": Profile(n_trials=25, seeded_n_trials=12, xfail_raises=NO_HYPERBAND | ONE_VALUE),
    # a Tuner takes ~2.5 s to start its first actor: a 2 s budget would end before any trial
    # and stopping a Tuner (actors, experiment state) takes a few seconds after the budget
    # Ray Tune drives its own loop: Study.ask is refused, Study.optimize works
    "nevergrad": Profile(xfail_raises=NO_HYPERBAND),  # unitune's median/asha/fifo only, as hyperopt and skopt
    "ray": Profile(n_trials=20, objective_in_driver=False, timeout_s=8.0, timeout_slack_s=6.0,
                   xfail_raises={"ask_tell": UnsupportedFeatureError}),
}


def profile(backend: str) -> Profile:
    return PROFILES.get(backend, Profile())
