"""unitune's own schedulers (used by Hyperopt and scikit-optimize), checked on hand-made learning curves."""

from __future__ import annotations

import pytest

from unitune.exceptions import InvalidRunError
from unitune.pruning import MedianStopping, SuccessiveHalving, make_scheduler
from unitune.records import TrialRecord

_trials: dict = {}


def stop(rule, number, step, intermediate):
    """Whether ``rule`` stops trial ``number`` (the same trial keeps its hooks, as in a run)."""
    hooks = _trials.setdefault((id(rule), number), rule.hooks(number))
    return hooks.should_prune(step, intermediate[-1][1], intermediate)


def finished(number, curve, state="complete"):
    return TrialRecord(number=number, state=state, value=curve[-1][1], params={}, intermediate=curve)


def test_median_waits_for_startup_trials_then_stops_worse_than_median():
    rule = MedianStopping("minimize", n_startup_trials=3)
    assert not stop(rule, 0, 0, [(0, 100.0)])  # nothing to compare with yet
    for i, level in enumerate([1.0, 2.0, 3.0]):
        rule.observe(finished(i, [(s, level + 1 / (s + 1)) for s in range(5)]))
    assert not stop(rule, 9, 2, [(0, 1.5), (1, 1.4), (2, 1.3)])  # best 1.3 < median 2.33
    assert stop(rule, 9, 2, [(0, 5.0), (1, 4.0), (2, 3.5)])  # 3.5 > median 2.33
    assert not stop(rule, 9, 7, [(7, 99.0)])  # no completed trial reached step 7: no vote


def test_median_respects_direction_and_warmup():
    rule = MedianStopping("maximize", n_startup_trials=1, n_warmup_steps=2)
    rule.observe(finished(0, [(0, 0.5), (1, 0.6), (2, 0.7)]))
    assert not stop(rule, 1, 1, [(0, 0.1), (1, 0.1)])  # warm-up
    assert stop(rule, 1, 2, [(0, 0.1), (1, 0.1), (2, 0.1)])
    assert not stop(rule, 2, 2, [(0, 0.9), (1, 0.9), (2, 0.9)])


def test_asha_promotes_the_top_fraction_per_rung():
    rule = SuccessiveHalving("minimize", min_resource=1, reduction_factor=2)
    # rung steps: 1, 2, 4, 8 ...
    assert not stop(rule, 0, 1, [(0, 0.9), (1, 0.5)])  # first at rung 0
    assert stop(rule, 1, 1, [(0, 0.9), (1, 0.7)])  # 0.7 is not in the best half of [0.5, 0.7]
    assert not stop(rule, 2, 1, [(0, 0.9), (1, 0.1)])  # best half of [0.1, 0.5, 0.7]
    assert not stop(rule, 2, 1, [(0, 0.9), (1, 0.1)])  # a rung is judged once per trial
    assert stop(rule, 3, 3, [(1, 0.6), (3, 0.6)])  # rung 0 at step 1 and rung 1 at step 2 judged on step 3


def test_scheduler_options_are_checked_before_the_run():
    with pytest.raises(InvalidRunError, match="grace_period"):
        make_scheduler("asha", "minimize", {"grace_period": 1})
    with pytest.raises(InvalidRunError, match="reduction_factor"):
        make_scheduler("asha", "minimize", {"reduction_factor": 1})
    assert not stop(make_scheduler(None, "minimize", {}), 0, 5, [(5, 1.0)])
