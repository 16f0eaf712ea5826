"""Run arguments, registry and backend errors: all raised before the objective is called."""

from __future__ import annotations

import pytest

import unitune as ut
from unitune import registry
from unitune.backends.base import Backend, Translation

SPACE = {"x": ut.uniform(0.0, 1.0)}


def never(p):
    raise AssertionError("the objective must not run")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_trials": 0}, "n_trials must be an int >= 1"),
        ({"n_trials": 2.5}, "n_trials must be an int"),
        ({"n_trials": True}, "n_trials must be an int"),
        ({}, "give n_trials"),
        ({"n_trials": 1, "timeout": 0}, "timeout must be"),
        ({"n_trials": 1, "seed": -1}, "seed must be"),
        ({"n_trials": 1, "seed": "0"}, "seed must be"),
        ({"n_trials": 1, "metric": 3}, "metric must be a str"),
        ({"n_trials": 1, "n_jobs": 0}, "n_jobs must be"),
    ],
)
def test_bad_run_arguments(kwargs, message):
    with pytest.raises(ut.InvalidRunError, match=message):
        ut.minimize(never, SPACE, backend="optuna", **kwargs)


def test_objective_must_be_callable():
    with pytest.raises(TypeError, match="callable"):
        ut.minimize(3, SPACE, backend="optuna", n_trials=1)


def test_unknown_backend_lists_installed_ones():
    with pytest.raises(ut.UnknownBackendError, match="installed backends: .*optuna"):
        ut.minimize(never, SPACE, backend="smac", n_trials=1)  # (was "nevergrad", which is a backend now)


def test_invalid_space_fails_before_any_trial():
    with pytest.raises(ut.InvalidSpaceError):
        ut.minimize(never, {"x": ut.uniform(0.0, 1.0), "bad key": {"a.b": ut.integer(1, 2)}}, backend="optuna",
                    n_trials=1)


class _MissingFramework(Backend):
    name = "phantom"
    extra = "phantom"
    requires = ("no_such_framework_module",)
    algorithms = {"x": "nothing"}
    default_algorithm = "x"

    @classmethod
    def translate(cls, param, algorithm):
        return Translation("n/a")

    def run(self, runner, budget, state):
        raise AssertionError


def test_backend_not_installed_names_the_extra(monkeypatch):
    monkeypatch.setitem(registry.registered(), "phantom", _MissingFramework)
    with pytest.raises(ut.BackendNotInstalledError, match=r'pip install "unitune\[phantom\]"'):
        ut.minimize(never, SPACE, backend="phantom", n_trials=1)
    table = ut.backends().set_index("backend")
    assert not table.loc["phantom", "installed"]


def test_backends_table_describes_capabilities():
    table = ut.backends().set_index("backend")
    assert {"optuna", "hyperopt", "skopt", "ray"} <= set(table.index) | {"hyperopt", "skopt", "ray"}
    row = table.loc["optuna"]
    assert row["installed"] and row["default_algorithm"] == "tpe"
    assert {"tpe", "random", "grid", "cmaes", "gp", "qmc", "nsga2"} <= set(row["algorithms"])
    assert "median" in row["schedulers"] and "pruning" in row["features"]


def test_report_outside_a_trial():
    with pytest.raises(RuntimeError, match="inside the objective"):
        ut.report(1.0)


def test_report_steps_must_increase():
    def objective(p):
        ut.report(1.0, step=3)
        ut.report(0.5, step=3)
        return 0.0

    result = ut.minimize(objective, SPACE, backend="optuna", n_trials=1, seed=0)
    assert result.table["state"].iloc[0] == "failed"
    assert "not after the last reported step 3" in result.table["error"].iloc[0]


def test_report_default_steps_count_up():
    def objective(p):
        for _ in range(4):
            ut.report(p["x"])
        return p["x"]

    result = ut.minimize(objective, SPACE, backend="optuna", n_trials=2, seed=0)
    assert result.records[0].intermediate == [(k, result.records[0].value) for k in range(4)]
    assert (result.table["step"] == 3).all()


def test_wrong_return_type_is_a_failed_row():
    result = ut.minimize(lambda p: "high", SPACE, backend="optuna", n_trials=2, seed=0)
    assert (result.table["state"] == "failed").all()
    assert result.table["error"].str.contains("not a number").all()


def test_missing_metric_key_is_a_failed_row():
    result = ut.minimize(lambda p: {"acc": 1.0}, SPACE, backend="optuna", n_trials=2, seed=0, metric="loss")
    assert result.table["error"].str.contains("no metric 'loss'").all()


def test_dict_without_metric_keeps_the_partial_result():
    with pytest.raises(ut.ObjectiveReturnError) as info:
        ut.minimize(lambda p: {"loss": 1.0}, SPACE, backend="optuna", n_trials=5, seed=0)
    assert len(info.value.result.table) == 0


def test_builtin_backends_are_published_as_entry_points():
    from importlib.metadata import entry_points

    published = {ep.name: ep.value for ep in entry_points(group=registry.ENTRY_POINT_GROUP)}
    assert published == registry.BUILTIN  # a plugin registers the same way


def test_progress_bar_shows_trials_and_best(capsys):
    ut.minimize(lambda p: p["x"], SPACE, backend="optuna", n_trials=5, seed=0, progress=True)
    err = capsys.readouterr().err
    assert "optuna/tpe" in err and "5/5" in err and "best=" in err


def test_a_framework_failure_keeps_the_finished_trials(monkeypatch):
    from unitune.backends.optuna import OptunaBackend

    real_tell = OptunaBackend.tell

    def tell_that_breaks_on_the_third(self, suggestion, record):
        if record.number == 2:
            raise FloatingPointError("surrogate blew up")
        real_tell(self, suggestion, record)

    monkeypatch.setattr(OptunaBackend, "tell", tell_that_breaks_on_the_third)
    with pytest.raises(ut.BackendError, match="failed after 3 finished trial") as info:
        ut.minimize(lambda p: p["x"], SPACE, backend="optuna", n_trials=10, seed=0)
    assert len(info.value.result.table) == 3
    assert isinstance(info.value.__cause__, FloatingPointError)
