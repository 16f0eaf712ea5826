"""skopt's GP without its repeated bookkeeping (unitune/backends/skopt_fast.py): faster, and not one number changed."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("skopt")

from skopt import Optimizer, gp_minimize
from skopt.learning.gaussian_process import kernels as skk
from skopt.space import Categorical, Integer, Real, Space
from skopt.utils import cook_estimator

import unitune as ut
from unitune.backends.skopt_fast import CandidateSpace, speed_up_candidates, speed_up_gp, with_cached_metadata
from unitune.threads import fixed_threads

DIMS = [Real(-2.0, 3.0, name="x"), Real(1e-3, 10.0, prior="log-uniform", name="lr"), Integer(1, 12, name="n"),
        Categorical(["relu", "tanh", "gelu"], name="act")]


def _value(x):
    return (x[0] - 0.7) ** 2 + abs(np.log10(x[1])) + abs(x[2] - 5) / 4 + {"relu": 0.0, "tanh": 0.4, "gelu": 0.9}[x[3]]


def _run(speed_up: bool, n_calls: int = 22, noise: object = "gaussian") -> tuple[list, list]:
    rng = np.random.RandomState(11)
    estimator = cook_estimator("GP", space=Space(DIMS), random_state=rng.randint(0, 2**31 - 1), noise=noise)
    if speed_up:
        speed_up_gp(estimator)
    opt = Optimizer(DIMS, estimator, acq_func="EI", n_initial_points=6, random_state=rng)
    if speed_up:
        speed_up_candidates(opt)
    for _ in range(n_calls):
        x = opt.ask()
        opt.tell(x, _value(x))
    return opt.Xi, opt.yi


@pytest.mark.parametrize("noise", ["gaussian", 0.05])
def test_the_sped_up_optimizer_suggests_exactly_what_skopt_suggests(noise):
    with fixed_threads(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        native_x, native_y = _run(False, noise=noise)
        fast_x, fast_y = _run(True, noise=noise)
    assert fast_x == native_x  # bit for bit, not approximately
    assert fast_y == native_y


def test_unitune_gp_equals_native_gp_minimize_bit_for_bit_over_25_trials():
    space = {"x": ut.uniform(-2.0, 3.0), "lr": ut.loguniform(1e-3, 10.0), "act": ut.choice(["relu", "tanh", "gelu"])}
    dims = [DIMS[0], DIMS[1], DIMS[3]]

    def value(p):
        return _value([p["x"], p["lr"], 5, p["act"]])

    with fixed_threads(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        native = gp_minimize(lambda v: _value([v[0], v[1], 5, v[2]]), dims, acq_func="EI", n_calls=25, random_state=4)
    ours = ut.minimize(value, space, backend="skopt", algorithm="gp", n_trials=25, seed=4)
    assert [[r.params["x"], r.params["lr"], r.params["act"]] for r in ours.records] == native.x_iters
    assert [r.value for r in ours.records] == list(native.func_vals)


def test_unitune_builds_its_gp_from_the_cached_kernels():
    study = ut.Study({"x": ut.uniform(0, 1), "c": ut.choice(["a", "b"])}, backend="skopt", algorithm="gp", seed=0)
    opt = study._ask_tell_adapter().optimizer
    assert isinstance(opt.space, CandidateSpace)
    kernel = opt.base_estimator_.kernel
    leaves = [kernel.k1.k1, kernel.k1.k2, kernel.k2]  # (ConstantKernel * Matern) + WhiteKernel, as fit would build
    assert [type(k).__mro__[1].__name__ for k in leaves] == ["_CachedMetadata"] * 3
    assert [type(k).__name__ for k in leaves] == ["ConstantKernel", "Matern", "WhiteKernel"]
    study.close()


def test_cached_metadata_is_what_scikit_learn_computes():
    kernel = skk.ConstantKernel(2.0, (0.01, 1000.0)) * skk.Matern(length_scale=np.ones(3), nu=2.5) + skk.WhiteKernel()
    fast = with_cached_metadata(kernel)
    assert fast.hyperparameters == kernel.hyperparameters
    assert repr(fast) == repr(kernel)
    np.testing.assert_array_equal(fast.theta, kernel.theta)
    np.testing.assert_array_equal(fast.bounds, kernel.bounds)
    theta = np.array([0.3, -0.2, 0.1, 0.5, -1.0])
    fast.theta, kernel.theta = theta, theta
    x = np.random.default_rng(0).random((7, 3))
    k_fast, grad_fast = fast(x, eval_gradient=True)
    k_slow, grad_slow = kernel(x, eval_gradient=True)
    np.testing.assert_array_equal(k_fast, k_slow)
    np.testing.assert_array_equal(grad_fast, grad_slow)
    # a kernel whose bounds are fixed later reports it, as scikit-learn's does
    fast.k2.noise_level_bounds = "fixed"
    kernel.k2.noise_level_bounds = "fixed"
    assert fast.hyperparameters == kernel.hyperparameters and fast.n_dims == kernel.n_dims == 4


def test_candidate_space_draws_the_same_points_and_transforms_them_the_same():
    plain, fast = Space(DIMS), CandidateSpace(DIMS)
    rows = plain.rvs(n_samples=500, random_state=np.random.RandomState(5))
    drawn = fast.rvs(n_samples=500, random_state=np.random.RandomState(5))
    np.testing.assert_array_equal(fast.transform(drawn), plain.transform(rows))
    assert len(drawn) == 500 and list(drawn) == rows and drawn[3] == rows[3]  # reads as skopt's rows too
    np.testing.assert_array_equal(fast.transform(list(drawn)), plain.transform(rows))
    one = fast.rvs(random_state=np.random.RandomState(5))
    assert one == plain.rvs(random_state=np.random.RandomState(5))


def test_candidate_space_with_a_constraint_filters_rows_as_skopt_does():
    def constraint(row):
        return row[0] < 0.5

    plain, fast = Space(DIMS, constraint=constraint), CandidateSpace(DIMS, constraint=constraint)
    rows = plain.rvs(n_samples=50, random_state=np.random.RandomState(1))
    assert fast.rvs(n_samples=50, random_state=np.random.RandomState(1)) == rows
    assert all(r[0] < 0.5 for r in rows)


def test_an_all_categorical_space_runs_the_hamming_gp_as_gp_minimize_does():
    """gp_minimize's acq_optimizer="auto" samples the acquisition when every dimension is categorical (the
    Hamming-kernel GP has no gradient); unitune does the same instead of skopt's "should run with sampling"."""
    colours, sizes = ["red", "green", "blue"], ["s", "m", "l", "xl"]
    space = {"colour": ut.choice(colours), "size": ut.choice(sizes), "flag": ut.choice(["on", "off"])}
    score = {"red": 0.0, "green": 1.0, "blue": 2.0, "s": 3.0, "m": 1.0, "l": 0.2, "xl": 2.0, "on": 0.5, "off": 0.0}

    def value(p):
        return score[p["colour"]] + score[p["size"]] + score[p["flag"]]

    with fixed_threads(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        native = gp_minimize(lambda v: value(dict(zip(space, v, strict=True))),
                             [Categorical(colours), Categorical(sizes), Categorical(["on", "off"])],
                             acq_func="EI", n_calls=16, random_state=2)
    ours = ut.minimize(value, space, backend="skopt", algorithm="gp", n_trials=16, seed=2)
    assert [[r.params[k] for k in space] for r in ours.records] == native.x_iters
    kernel = ut.Study(space, backend="skopt", seed=0)._ask_tell_adapter().optimizer.base_estimator_.kernel
    hamming = type(kernel.k1.k2)
    assert hamming.__name__ == "HammingKernel" and hamming.__module__ == "unitune.backends.skopt_fast"
