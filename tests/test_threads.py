"""Thread pinning (unitune.threads): the same seed gives the same table whatever the BLAS/OpenMP thread count."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
from threadpoolctl import threadpool_info

import unitune as ut
from unitune.threads import (
    ENV_VAR,
    PORTABLE_KERNELS,
    _cpu_runs_portable_kernels,
    blas_kernels,
    configured_threads,
    fixed_threads,
    limited_for,
)

ROOT = Path(__file__).resolve().parent.parent

SPACE = {"x": ut.uniform(-1.0, 1.0), "lr": ut.loguniform(1e-4, 1.0), "n": ut.integer(1, 10),
         "c": ut.choice(["a", "b", "c"])}

_STUDY = textwrap.dedent("""
    import json, math, sys, warnings
    warnings.simplefilter("ignore")
    import unitune as ut

    space = {"x": ut.uniform(-1.0, 1.0), "lr": ut.loguniform(1e-4, 1.0), "n": ut.integer(1, 10),
             "c": ut.choice(["a", "b", "c"])}

    def objective(p):
        return (p["x"] - 0.3) ** 2 + (math.log10(p["lr"]) + 2) ** 2 + 0.1 * abs(p["n"] - 5) + (p["c"] != "b")

    # no explicit limit: the Study loop runs skopt's ask/tell under unitune.threads.limited_for
    result = ut.minimize(objective, space, backend="skopt", algorithm="gp", n_trials=14, seed=0, n_initial_points=5)
    cols = ["params.x", "params.lr", "params.n", "params.c", "value"]
    rows = result.table[cols].astype(object).values.tolist()
    from threadpoolctl import threadpool_info
    blas = sorted({i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"})
    print(json.dumps({"rows": [[float(v) if not isinstance(v, str) else v for v in r] for r in rows],
                      "blas_threads_after": blas}))
""")


def _run_study(threads: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env.update({"OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
                "MKL_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)})
    done = subprocess.run([sys.executable, "-c", _STUDY], env=env, capture_output=True, text=True, timeout=120,
                          cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_gp_study_gives_the_same_table_with_one_and_two_blas_threads():
    one, two = _run_study(1), _run_study(2)
    assert len(one["rows"]) == 14
    assert one["rows"] == two["rows"]  # exact: params and values, bit for bit
    assert one["blas_threads_after"] == [1] and two["blas_threads_after"] == [2]  # restored after the block


def _blas_threads() -> list[int]:
    return [i["num_threads"] for i in threadpool_info()]


def test_limits_hold_inside_and_are_restored_after_also_on_error():
    import numpy  # noqa: F401  (BLAS loaded, so there is something to limit)

    before = _blas_threads()
    with fixed_threads(1) as count:
        assert count == 1 and set(_blas_threads()) == {1}
    assert _blas_threads() == before
    with pytest.raises(RuntimeError), fixed_threads(1):
        raise RuntimeError("boom")
    assert _blas_threads() == before


def test_torch_threads_are_pinned_and_restored():
    torch = pytest.importorskip("torch")
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with limited_for("optuna", "gp"):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


def test_environment_variable_chooses_the_count_or_opts_out(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert configured_threads() == 1
    monkeypatch.setenv(ENV_VAR, "2")
    assert configured_threads() == 2
    with fixed_threads() as count:
        assert count == 2 and set(_blas_threads()) == {2}
    monkeypatch.setenv(ENV_VAR, "native")
    before = _blas_threads()
    with fixed_threads() as count:
        assert count is None and _blas_threads() == before
    monkeypatch.setenv(ENV_VAR, "lots")
    with pytest.raises(ValueError, match=ENV_VAR):
        configured_threads()
    assert configured_threads(3) == 3  # an explicit count wins over the environment


def test_only_model_fitting_optimizers_are_limited():
    for backend, algorithm in [("skopt", "gp"), ("skopt", "forest"), ("skopt", "gbrt"), ("optuna", "gp")]:
        assert not isinstance(limited_for(backend, algorithm), contextlib.nullcontext)
    for backend, algorithm in [("optuna", "tpe"), ("hyperopt", "tpe"), ("skopt", "random"), ("ray", "random")]:
        assert isinstance(limited_for(backend, algorithm), contextlib.nullcontext)


def _value(p):
    import math

    return (p["x"] - 0.3) ** 2 + (math.log10(p["lr"]) + 2) ** 2 + 0.1 * abs(p["n"] - 5) + (p["c"] != "b")


def test_pinned_unitune_gp_suggests_what_native_gp_minimize_suggests_under_the_same_limit():
    from skopt import gp_minimize
    from skopt.space import Categorical, Real

    # the native dimensions as ut.explain(SPACE, backend="skopt", algorithm="gp") documents them
    dims = [Real(-1.0, 1.0, name="x"), Real(1e-4, 1.0, prior="log-uniform", name="lr"), Real(0.5, 10.5, name="n"),
            Categorical(["a", "b", "c"], name="c")]

    def native_value(v):
        return _value({"x": v[0], "lr": v[1], "n": min(max(round(v[2]), 1), 10), "c": v[3]})

    with warnings.catch_warnings(), fixed_threads(1):
        warnings.simplefilter("ignore")
        native = gp_minimize(native_value, dims, acq_func="EI", n_calls=14, n_initial_points=5, random_state=0)
        ours = ut.minimize(_value, SPACE, backend="skopt", algorithm="gp", n_trials=14, seed=0, n_initial_points=5)
    assert [r.value for r in ours.records] == pytest.approx(list(native.func_vals), rel=1e-12)
    for record, point in zip(ours.records, native.x_iters, strict=True):
        assert record.params["x"] == pytest.approx(point[0], rel=1e-12)
        assert record.params["c"] == point[3]


# -- the same BLAS kernels on every x86-64 CPU (unitune.threads.use_portable_kernels) -------------------------
portable_cpu = pytest.mark.skipif(not _cpu_runs_portable_kernels(), reason="not an x86-64 CPU with AVX2 and FMA")


@portable_cpu
def test_the_test_session_runs_the_portable_blas_kernels():
    """conftest.py called use_portable_kernels() before numpy loaded: every OpenBLAS here runs the kernels asked for."""
    wanted = os.environ["OPENBLAS_CORETYPE"]  # Haswell, unless whoever started the suite chose otherwise
    openblas = [i for i in threadpool_info() if i.get("internal_api") == "openblas"]
    assert openblas and {i["architecture"].lower() for i in openblas} == {wanted.lower()}
    assert wanted in blas_kernels()


_KERNELS = textwrap.dedent("""
    import json, sys, warnings
    from unitune.threads import use_portable_kernels
    if sys.argv[1] == "late":
        import numpy
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        set_now = use_portable_kernels()
    import numpy, scipy.linalg
    from threadpoolctl import threadpool_info
    print(json.dumps({"set": set_now, "warned": [str(w.message) for w in caught],
                      "kernels": sorted({i["architecture"] for i in threadpool_info() if i.get("architecture")})}))
""")


def _kernels_in_a_fresh_process(when: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in PORTABLE_KERNELS}
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run([sys.executable, "-c", _KERNELS, when], env=env, capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@portable_cpu
def test_portable_kernels_take_effect_before_numpy_and_warn_after():
    early = _kernels_in_a_fresh_process("early")
    assert early["set"] == PORTABLE_KERNELS and early["warned"] == [] and early["kernels"] == ["Haswell"]
    late = _kernels_in_a_fresh_process("late")
    assert late["set"] == {} and len(late["warned"]) == 1 and "numpy is already imported" in late["warned"][0]
    assert "OPENBLAS_CORETYPE=Haswell" in late["warned"][0]


def test_a_users_own_kernel_choice_stands(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Sandybridge")
    monkeypatch.setenv("MKL_CBWR", "COMPATIBLE")
    from unitune.threads import use_portable_kernels

    assert use_portable_kernels() == {}
    assert os.environ["OPENBLAS_CORETYPE"] == "Sandybridge" and os.environ["MKL_CBWR"] == "COMPATIBLE"
