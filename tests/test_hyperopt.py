"""Hyperopt adapter: the same sequences as native ``fmin``, and each hyperopt translation trap."""

from __future__ import annotations

import functools
import logging
import math
from collections import Counter

import numpy as np
import pytest

pytest.importorskip("hyperopt")  # a partial install skips this module instead of failing to collect

from hyperopt import STATUS_FAIL, STATUS_OK, Trials, anneal, fmin, hp, rand, tpe
from hyperopt.pyll.stochastic import sample as pyll_sample
from hyperopt.pyll_utils import EQ, expr_to_config

import unitune as ut
from unitune.backends.hyperopt import HyperoptBackend
from unitune.records import TrialRecord

from .spaces import EVERY_PRIMITIVE

FLAT = EVERY_PRIMITIVE

# The native expression of each primitive, exactly as HyperoptBackend.translate documents it ...
NATIVE_FLAT = {
    "x": hp.uniform("x", -2.0, 2.0),
    "q": hp.quniform("q", -0.5, 18.5, 1),
    "lr": hp.loguniform("lr", math.log(1e-5), math.log(1e-1)),
    "n": hp.quniform("n", -0.5, 8.5, 1),
    "s": hp.quniform("s", -0.5, 4.5, 1),
    "w": hp.qloguniform("w", math.log(1.5), math.log(512.5), 1),
    "c": hp.choice("c", ["a", "b", None]),
}


def decode_flat(p: dict) -> dict:
    """... and the decoding translate() documents: grid index k -> low + k*step, qloguniform -> int."""
    return {
        "x": float(p["x"]), "q": FLAT["q"].at(int(p["q"])), "lr": float(p["lr"]), "n": 1 + int(p["n"]),
        "s": 5 * int(p["s"]), "w": int(p["w"]), "c": p["c"],
    }


def value(p: dict) -> float:
    return (p["x"] - 0.5) ** 2 + p["q"] + math.log10(p["lr"]) ** 2 / 10 + p["n"] / 9 + p["s"] / 20 \
        + math.log(p["w"]) / 5 + (p["c"] == "b")


def native_fmin(space, objective, algo, n: int, seed: int) -> tuple[list, Trials]:
    """Native fmin; returns every decoded point the objective saw, in order."""
    seen: list = []

    def fn(p):
        seen.append(p)
        return objective(p)

    trials = Trials()
    fmin(fn, space, algo=algo, max_evals=n, rstate=np.random.default_rng(seed), trials=trials,
         show_progressbar=False)
    return seen, trials


def adapter(space, algorithm: str = "tpe", seed: int | None = 0, direction: str = "minimize",
            **options) -> HyperoptBackend:
    """The adapter of a new study (so its hyperopt Trials can be read after the study ran)."""
    study = ut.Study(space, backend="hyperopt", algorithm=algorithm, direction=direction, seed=seed, **options)
    backend = study._ensure_adapter(None)
    backend.study = study
    return backend


def drive(backend: HyperoptBackend, objective, n: int) -> tuple[list, ut.Result]:
    """The study's own loop, with access to the adapter's hyperopt Trials afterwards."""
    result = backend.study.optimize(objective, n_trials=n)
    return result.records, result


ALGOS = {
    "tpe": (tpe.suggest, {}),
    "random": (rand.suggest, {}),
    "anneal": (anneal.suggest, {}),
    "tpe-options": (functools.partial(tpe.suggest, n_startup_jobs=5, gamma=0.3), {"n_startup_jobs": 5, "gamma": 0.3}),
    "anneal-options": (functools.partial(anneal.suggest, avg_best_idx=1.0, shrink_coef=0.3),
                       {"avg_best_idx": 1.0, "shrink_coef": 0.3}),
}


# -- fidelity to native fmin ---------------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["minimize", "maximize"])
@pytest.mark.parametrize("case", sorted(ALGOS))
def test_same_sequence_as_native_fmin(case, direction):
    algo, options = ALGOS[case]
    algorithm = case.split("-")[0]
    n = {"tpe": 30, "tpe-options": 15}.get(case, 25)  # tpe: 10 trials past its startup trials (20, or 5)
    sign = 1.0 if direction == "minimize" else -1.0  # maximizing -value is native fmin minimizing value
    native, _ = native_fmin(NATIVE_FLAT, lambda p: value(decode_flat(p)), algo, n, seed=11)
    run = ut.minimize if direction == "minimize" else ut.maximize
    result = run(lambda p: sign * value(p), FLAT, backend="hyperopt", algorithm=algorithm, n_trials=n, seed=11,
                 **options)
    ours = [r.params for r in result.records]
    assert ours == [decode_flat(p) for p in native]  # bit-identical, value and type
    assert all(type(p["n"]) is int and type(p["w"]) is int and type(p["q"]) is float for p in ours)
    assert [r.value for r in result.records] == [sign * value(decode_flat(p)) for p in native]


def test_conditional_space_same_sequence_as_native_nested_space():
    space = {
        "lr": ut.loguniform(1e-4, 1e-1),
        "model": ut.choice({
            "svm": {"C": ut.loguniform(1e-3, 1e3), "kernel": ut.choice(["rbf", "linear"])},
            "forest": {"trees": ut.integer(10, 500, log=True)},
            "dummy": None,
        }),
    }
    native_space = {
        "lr": hp.loguniform("lr", math.log(1e-4), math.log(1e-1)),
        "model": hp.choice("model", [
            {"C": hp.loguniform("model.svm.C", math.log(1e-3), math.log(1e3)),
             "kernel": hp.choice("model.svm.kernel", ["rbf", "linear"])},
            {"trees": hp.qloguniform("model.forest.trees", math.log(9.5), math.log(500.5), 1)},
            {},
        ]),
    }

    def loss(lr: float, label: str, sub: dict) -> float:
        extra = {"svm": abs(math.log10(sub.get("C", 1.0))), "forest": 1.0, "dummy": 2.0}[label]
        return abs(math.log10(lr) + 2) + extra

    def native_decode(p):
        m = p["model"]
        label = "svm" if "C" in m else "forest" if "trees" in m else "dummy"
        sub = {"C": float(m["C"]), "kernel": m["kernel"]} if label == "svm" else \
            {"trees": int(m["trees"])} if label == "forest" else None
        return float(p["lr"]), label, sub

    native, _ = native_fmin(native_space, lambda p: loss(*native_decode(p)[:2], p["model"]), tpe.suggest, 30, 4)
    result = ut.minimize(lambda p: loss(p["lr"], p["model"][0], p["model"][1] or {}), space,
                         backend="hyperopt", n_trials=30, seed=4)
    ours = [result.space.build(r.params) for r in result.records]
    assert [(p["lr"], *p["model"]) for p in ours] == [native_decode(p) for p in native]
    assert {p["model"][0] for p in ours} == {"svm", "forest", "dummy"}


def test_tpe_sees_the_tree_and_inactive_labels_are_absent():
    space = {"m": ut.choice({"a": {"x": ut.uniform(0.0, 1.0)}, "b": {"y": ut.integer(1, 5)}, "c": None})}
    backend = adapter(space)
    hps: dict = {}
    expr_to_config(backend.domain.expr, None, hps)
    assert {(EQ("m", 0),)} == hps["m.a.x"]["conditions"] and {(EQ("m", 1),)} == hps["m.b.y"]["conditions"]
    assert hps["m"]["conditions"] == {()}
    records, _ = drive(backend, lambda p: 0.0 if p["m"][0] == "a" else 1.0, 40)
    for record, doc in zip(records, backend.trials.trials, strict=True):
        backend.space.validate_assignment(record.params)  # exactly the active params
        label = record.params["m"]
        assert (doc["misc"]["vals"]["m.a.x"] != []) == (label == "a")
        assert (doc["misc"]["vals"]["m.b.y"] != []) == (label == "b")
    # Trials.vals lists only active values, so it cannot be lined up with trials (we read misc['vals']).
    assert len(backend.trials.vals["m.a.x"]) == sum(r.params["m"] == "a" for r in records) < len(records)
    # past the 20 startup trials TPE favours the branch that scores best
    assert sum(r.params["m"] == "a" for r in records[20:]) > 12


# -- the traps --------------------------------------------------------------------------------------------


def test_quniform_on_the_value_is_off_grid_so_the_index_is_sampled():
    dim = ut.uniform(0.1, 1.0, step=0.3)  # grid 0.1, 0.4, 0.7, 1.0
    native = {round(float(pyll_sample(hp.quniform("v", 0.1, 1.0, 0.3), rng=np.random.default_rng(i))), 9)
              for i in range(200)}
    assert not native <= set(dim.grid())  # hyperopt rounds round(x/q)*q around 0: 0.0, 0.3, 0.6, 0.9 ...
    result = ut.minimize(lambda p: 0.0, {"v": dim}, backend="hyperopt", algorithm="random", n_trials=800, seed=0)
    counts = Counter(result.table["params.v"])
    assert set(counts) == set(dim.grid())  # ... ours: exactly the decimal grid, both ends reachable
    assert min(counts.values()) > 150  # each of the 4 grid values ~200 times: ends have full weight


def test_uniformint_would_halve_the_ends_so_integers_are_uniform():
    native = Counter(int(pyll_sample(hp.uniformint("n", 1, 3), rng=np.random.default_rng(i))) for i in range(900))
    assert native[1] < 260 and native[2] > 400  # hyperopt's uniformint: ends 1/4 each, middle 1/2
    result = ut.minimize(lambda p: 0.0, {"n": ut.integer(1, 3)}, backend="hyperopt", algorithm="random",
                         n_trials=900, seed=0)
    counts = Counter(r.params["n"] for r in result.records)
    assert all(type(n) is int for n in counts)
    assert all(250 < counts[k] < 350 for k in (1, 2, 3)), counts


def test_log_integer_has_log_mass_and_never_zero():
    # native qloguniform with a low bound below log(0.5) returns 0: the trap the translation avoids
    zeros = [pyll_sample(hp.qloguniform("w", math.log(1e-3), math.log(4), 1), rng=np.random.default_rng(i))
             for i in range(50)]
    assert 0.0 in zeros
    result = ut.minimize(lambda p: 0.0, {"w": ut.integer(1, 4, log=True)}, backend="hyperopt",
                         algorithm="random", n_trials=1000, seed=1)
    counts = Counter(r.params["w"] for r in result.records)
    assert set(counts) == {1, 2, 3, 4} and all(type(w) is int for w in counts)
    for k in (1, 2, 3, 4):  # each integer gets the log-scale mass of [k-0.5, k+0.5]
        expected = math.log((k + 0.5) / (k - 0.5)) / math.log(4.5 / 0.5)
        assert counts[k] / 1000 == pytest.approx(expected, abs=0.05), (k, counts)
    # a 0 (or anything past high) that qloguniform could round to is clamped before the objective
    backend = adapter({"w": ut.integer(1, 4, log=True)})
    assert backend._decoders["w"](np.float64(0.0)) == 1 and backend._decoders["w"](np.float64(5.0)) == 4


def test_loguniform_bounds_are_log_space_and_clamped():
    dim = ut.loguniform(1e-5, 1.0)
    result = ut.minimize(lambda p: 0.0, {"lr": dim}, backend="hyperopt", algorithm="random", n_trials=400, seed=0)
    lrs = np.array(result.table["params.lr"])
    assert ((lrs >= 1e-5) & (lrs <= 1.0)).all()
    assert 0.4 < (lrs < math.sqrt(1e-5)).mean() < 0.6  # half the draws below the geometric midpoint
    # exp(log(1e-5)) rounds to just below 1e-5: a draw at hyperopt's lower bound is clamped into the domain
    assert float(np.exp(np.log(1e-5))) < 1e-5
    decoded = adapter({"lr": dim})._decoders["lr"](np.exp(np.log(1e-5)))
    assert decoded == 1e-5 and type(decoded) is float and dim.contains(decoded)


def test_choice_indices_map_back_to_the_objects():
    pair = (1, 2)
    options = [None, True, pair, 1, False, "adam", 2.5]
    backend = adapter({"c": ut.choice(options)}, algorithm="random")
    records, _ = drive(backend, lambda p: 0.0, 120)
    seen = [r.params["c"] for r in records]
    raw = [doc["misc"]["vals"]["c"][0] for doc in backend.trials.trials]
    assert set(map(int, raw)) == set(range(len(options)))  # hyperopt holds indices ...
    for index, v in zip(raw, seen, strict=True):
        assert v is options[int(index)]  # ... unitune hands over the very objects (True is not 1, the tuple is ours)
    assert not any(isinstance(v, np.generic) for v in seen)


def test_failed_and_nan_trials_are_told_as_status_fail_and_tpe_avoids_them():
    def objective(p):
        if p["x"] > 0.0:
            raise RuntimeError("half the space fails")
        if p["x"] < -0.9:
            return float("nan")
        return (p["x"] + 0.5) ** 2

    backend = adapter({"x": ut.uniform(-1.0, 1.0)}, n_startup_jobs=10)
    records, _ = drive(backend, objective, 60)
    assert len(records) == 60
    results = [doc["result"] for doc in backend.trials.trials]
    # every failure is kept in Trials (fmin's catch_eval_exceptions would drop it) as STATUS_FAIL without a loss
    assert len(results) == 60
    for record, res in zip(records, results, strict=True):
        if record.state == "failed":
            assert res == {"status": STATUS_FAIL}
        else:
            assert res["status"] == STATUS_OK and math.isfinite(res["loss"])
    assert sum(r.state == "failed" for r in records[:10]) >= 3
    # TPE ranks failed trials as loss inf (its "bad" group): it keeps proposing valid points, more often than
    # random search would (45% of the space is valid), and finds the optimum at -0.5
    assert sum(r.state == "complete" for r in records[30:]) >= 15
    best = min((r for r in records if r.state == "complete"), key=lambda r: r.value)
    assert abs(best.params["x"] + 0.5) < 0.05


def test_failures_match_native_fail_status():
    def native_obj(p):
        x = decode_flat(p)
        return {"status": STATUS_FAIL} if x["n"] in (2, 3) else {"status": STATUS_OK, "loss": value(x)}

    def ours(p):
        if p["n"] == 2:
            raise ValueError("boom")
        return float("nan") if p["n"] == 3 else value(p)

    native, trials = native_fmin(NATIVE_FLAT, native_obj, functools.partial(tpe.suggest, n_startup_jobs=8), 18, 2)
    result = ut.minimize(ours, FLAT, backend="hyperopt", n_trials=18, seed=2, n_startup_jobs=8)
    assert [r.params for r in result.records] == [decode_flat(p) for p in native]
    assert (result.table["state"] == "failed").sum() == trials.statuses().count(STATUS_FAIL) > 0


def test_infinite_values_are_told_as_is():
    def objective(p):
        return math.inf if p["x"] > 0.5 else -math.inf if p["x"] < -0.99 else p["x"]

    backend = adapter({"x": ut.uniform(-1.0, 1.0)}, n_startup_jobs=5)
    records, _ = drive(backend, objective, 30)
    losses = [doc["result"]["loss"] for doc in backend.trials.trials]
    assert math.inf in losses and not any(math.isnan(v) for v in losses)
    maximizing = adapter({"x": ut.uniform(-1.0, 1.0)}, direction="maximize", n_startup_jobs=5)
    records, _ = drive(maximizing, lambda p: math.inf if p["x"] > 0.5 else p["x"], 30)
    assert -math.inf in [doc["result"]["loss"] for doc in maximizing.trials.trials]  # negated, still digestible
    assert all(r.state == "complete" for r in records)


def test_maximize_negates_the_loss_and_keeps_values():
    result = ut.maximize(lambda p: -(p["x"] - 0.3) ** 2, {"x": ut.uniform(-1.0, 1.0)}, backend="hyperopt",
                         n_trials=40, seed=0)
    assert (result.table["value"] <= 0).all()
    assert result.best_value == result.table["value"].max() and abs(result.best_params["x"] - 0.3) < 0.2
    backend = adapter({"x": ut.uniform(-1.0, 1.0)}, direction="maximize")
    records, _ = drive(backend, lambda p: p["x"], 5)
    assert [doc["result"]["loss"] for doc in backend.trials.trials] == [-r.value for r in records]


def test_interrupted_trial_is_told_as_failed():
    calls = []

    def objective(p):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return p["x"]

    backend = adapter({"x": ut.uniform(0.0, 1.0)})
    records, state = drive(backend, objective, 10)
    assert state.interrupted and len(records) == 3 and records[-1].state == "failed"
    doc = backend.trials.trials[-1]
    assert doc["result"] == {"status": STATUS_FAIL} and doc["state"] == 2  # JOB_STATE_DONE, not left running


def test_pruned_trial_is_told_as_failed():
    backend = adapter({"x": ut.uniform(0.0, 1.0)})
    suggestion = backend.ask()
    backend.tell(suggestion, TrialRecord(number=0, state="pruned", value=0.25, params=suggestion.params, step=3))
    assert backend.trials.trials[0]["result"] == {"status": STATUS_FAIL}  # its intermediate value is not a loss


def test_same_seed_same_run_and_no_seed_differs():
    a = ut.minimize(value, FLAT, backend="hyperopt", algorithm="anneal", n_trials=8, seed=5)
    b = ut.minimize(value, FLAT, backend="hyperopt", algorithm="anneal", n_trials=8, seed=5)
    c = ut.minimize(value, FLAT, backend="hyperopt", algorithm="anneal", n_trials=8)
    d = ut.minimize(value, FLAT, backend="hyperopt", algorithm="anneal", n_trials=8)
    assert [r.params for r in a.records] == [r.params for r in b.records]
    assert [r.params for r in c.records] != [r.params for r in d.records]


# -- options, errors, explain, quiet -------------------------------------------------------------------------


def test_option_names_are_the_algorithms_keyword_arguments():
    assert HyperoptBackend.option_names("tpe") == {"prior_weight", "n_startup_jobs", "n_EI_candidates", "gamma"}
    assert HyperoptBackend.option_names("anneal") == {"avg_best_idx", "shrink_coef"}
    assert HyperoptBackend.option_names("random") == frozenset()
    with pytest.raises(ut.UnknownOptionError, match="shrink_coef"):
        ut.minimize(value, FLAT, backend="hyperopt", algorithm="tpe", n_trials=2, shrink_coef=0.2)


def test_points_to_evaluate_is_refused_before_the_run():
    # fmin ignores points_to_evaluate whenever trials= is passed; unitune refuses it instead of dropping it.
    with pytest.raises(ut.UnknownOptionError, match="points_to_evaluate"):
        ut.minimize(lambda p: pytest.fail("objective called"), FLAT, backend="hyperopt", n_trials=2,
                    points_to_evaluate=[{"x": 0.0}])


def test_atpe_is_refused_before_the_run_with_the_alternatives():
    with pytest.raises(ut.UnknownAlgorithmError, match="atpe") as info:
        ut.minimize(lambda p: pytest.fail("objective called"), FLAT, backend="hyperopt", algorithm="atpe",
                    n_trials=2)
    assert all(name in str(info.value) for name in ("tpe", "random", "anneal"))


def test_explain_is_exact_everywhere_and_strict_runs():
    space = {**FLAT, "m": ut.choice({"a": {"y": ut.integer(1, 3, log=True)}, "b": None})}
    for algorithm in HyperoptBackend.algorithms:
        table = ut.explain(space, backend="hyperopt", algorithm=algorithm).set_index("parameter")
        assert set(table["fidelity"]) == {"exact"}
        assert table.loc["lr", "native"] == "hp.loguniform('lr', math.log(1e-05), math.log(0.1))"
        assert table.loc["q", "native"] == "0.0 + 0.05 * hp.quniform('q', -0.5, 18.5, 1)"
        assert table.loc["n", "native"] == "1 + int(hp.quniform('n', -0.5, 8.5, 1))"
        assert table.loc["w", "native"] == "int(hp.qloguniform('w', math.log(1.5), math.log(512.5), 1))"
        assert table.loc["m.a.y", "active_when"] == "m == 'a'"
        result = ut.minimize(lambda p: 0.0, space, backend="hyperopt", algorithm=algorithm, n_trials=3, seed=0,
                             strict=True)
        assert (result.table["state"] == "complete").all()


def test_quiet_unless_verbose(caplog):
    with caplog.at_level(logging.INFO, logger="hyperopt"):
        ut.minimize(value, FLAT, backend="hyperopt", n_trials=3, seed=0)
        assert not [r for r in caplog.records if r.name.startswith("hyperopt")]
        ut.minimize(value, FLAT, backend="hyperopt", n_trials=3, seed=0, verbose=True)
        assert any("TPE using" in r.getMessage() for r in caplog.records)


