"""Multi-fidelity: ut.report + a scheduler stops bad trials on every backend that declares pruning."""

from __future__ import annotations

import pytest

import unitune as ut
from unitune.registry import get_backend

from .helpers import run_or_expect

STEPS = 12
SPACE = {"quality": ut.uniform(0.0, 1.0)}


def curve(quality: float, step: int) -> float:
    """A learning curve: lower is better; a trial's ranking is fixed from the first step on."""
    return quality + 1.0 / (step + 1)


def objective(p):
    for step in range(STEPS):
        ut.report(curve(p["quality"], step), step=step)
    return curve(p["quality"], STEPS - 1)


SCHEDULER_OPTIONS = {
    # budgets so that a 30-trial run of 12 steps prunes: the backends' defaults assume longer runs
    ("ray", "median"): {"grace_period": 1, "min_samples_required": 3},
    ("ray", "asha"): {"grace_period": 1, "max_t": STEPS},
    ("ray", "hyperband"): {"max_t": STEPS},
    ("optuna", "median"): {"n_startup_trials": 3},
}


@pytest.mark.parametrize("scheduler", ["median", "asha", "hyperband"])
def test_scheduler_prunes_bad_trials(backend, scheduler):
    def run():
        return ut.minimize(objective, SPACE, backend=backend, algorithm="random", n_trials=30, seed=0,
                           scheduler=scheduler, scheduler_options=SCHEDULER_OPTIONS.get((backend, scheduler), {}))

    result = run_or_expect(backend, f"scheduler:{scheduler}", run)
    table = result.table
    pruned = table[table["state"] == "pruned"]
    complete = table[table["state"] == "complete"]
    assert len(pruned) >= 5, table[["state", "step", "value"]]
    assert len(complete) >= 1
    assert (pruned["step"] < STEPS - 1).all() and (complete["step"] == STEPS - 1).all()
    for _, row in pruned.iterrows():  # a pruned row holds the last value it reported
        assert row["value"] == pytest.approx(curve(row["params.quality"], int(row["step"])))
    # what was pruned is worse than what completed, on average
    assert pruned["params.quality"].mean() > complete["params.quality"].mean()
    assert result.best_record.state == "complete"


def test_fifo_never_prunes(backend):
    cls = get_backend(backend)
    if "fifo" not in cls.schedulers:
        pytest.xfail(f"{backend} declares no 'fifo' scheduler")
    result = ut.minimize(objective, SPACE, backend=backend, algorithm="random", n_trials=6, seed=0,
                         scheduler="fifo")
    assert (result.table["state"] == "complete").all()
    assert (result.table["step"] == STEPS - 1).all()
