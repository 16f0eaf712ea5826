"""Space primitives validate themselves; a space validates as a whole and names parameter paths."""

from __future__ import annotations

import pytest

import unitune as ut
from unitune.space import Space


def test_stepped_uniform_grid_is_decimal_clean_with_both_ends():
    grid = ut.uniform(0.0, 0.9, step=0.05).grid()
    assert grid[0] == 0.0 and grid[-1] == 0.9 and len(grid) == 19
    assert 0.15 in grid and 0.8999999999999999 not in grid
    assert ut.uniform(-1.0, 1.0, step=0.1).grid()[13] == 0.3


def test_snap_and_contains():
    dim = ut.uniform(0.1, 0.7, step=0.2)
    assert dim.grid() == (0.1, 0.3, 0.5, 0.7)
    assert dim.snap(0.31) == 0.3 and dim.snap(5.0) == 0.7 and dim.snap(-3.0) == 0.1
    assert dim.contains(0.5) and not dim.contains(0.4) and not dim.contains(1)
    assert ut.integer(0, 10, step=5).snap(6.9) == 5


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ut.uniform(1.0, 0.0), "low must be < high"),
        (lambda: ut.uniform(0.0, float("inf")), "finite"),
        (lambda: ut.uniform(0.0, 1.0, step=0.3), r"use high=0\.9 or high=1\.2"),
        (lambda: ut.uniform(0.0, 1.0, step=-0.1), "step must be"),
        (lambda: ut.uniform("a", 1.0), "real numbers"),
        (lambda: ut.loguniform(0.0, 1.0), "low must be > 0"),
        (lambda: ut.integer(1.5, 3), "low must be an int"),
        (lambda: ut.integer(0, 10, step=3), "use high=9 or high=12"),
        (lambda: ut.integer(0, 100, log=True), "log=True needs low >= 1"),
        (lambda: ut.integer(1, 100, step=3, log=True), "log=True needs step=1"),
        (lambda: ut.integer(3, 3), "low must be < high"),
        (lambda: ut.choice([]), "at least one option"),
        (lambda: ut.choice(["a", "b", "a"]), "'a' is given twice"),
        (lambda: ut.choice("abc"), "list, a tuple or a dict"),
        (lambda: ut.choice([ut.uniform(0, 1)]), "conditional space"),
        (lambda: ut.choice({}), "at least one branch"),
        (lambda: ut.choice({"a.b": None}), "must not contain '.'"),
        (lambda: ut.choice({1: None}), "non-empty str"),
    ],
)
def test_invalid_primitives_fail_when_built(build, message):
    with pytest.raises(ut.InvalidSpaceError, match=message):
        build()


def test_invalid_space_names_the_path():
    with pytest.raises(ut.InvalidSpaceError, match=r"^opt: parameter name 'lr.max'"):
        Space({"opt": {"lr.max": ut.uniform(0, 1)}})
    with pytest.raises(ut.InvalidSpaceError, match=r"^layers: a list holds search dimensions"):
        Space({"layers": [ut.integer(1, 3), ut.integer(1, 3)]})
    with pytest.raises(ut.InvalidSpaceError, match="only constants"):
        Space({"a": 1})
    with pytest.raises(ut.InvalidSpaceError, match="must be a dict"):
        Space([ut.uniform(0, 1)])


def test_choice_allows_equal_values_of_different_types():
    dim = ut.choice([1, True, 1.0, "1", None])
    assert dim.index(True) == 1 and dim.index(1.0) == 2 and dim.index(None) == 4


def test_compiled_space_paths_conditions_and_build():
    space = Space({
        "lr": ut.loguniform(1e-4, 1e-1),
        "epochs": 10,
        "model": ut.choice({"svm": {"C": ut.uniform(0.1, 10.0)}, "tree": {"depth": ut.integer(1, 5)}, "none": None}),
    })
    assert space.paths == ("lr", "model", "model.svm.C", "model.tree.depth")
    assert space.param("model.svm.C").conditions == (("model", "svm"),)
    assignment = {"lr": 0.01, "model": "tree", "model.tree.depth": 3}
    assert [p.path for p in space.active_params(assignment)] == ["lr", "model", "model.tree.depth"]
    assert space.build(assignment) == {"lr": 0.01, "epochs": 10, "model": ("tree", {"depth": 3})}
    assert space.build({"lr": 0.01, "model": "none"})["model"] == ("none", None)
    space.validate_assignment(assignment)
    with pytest.raises(ValueError, match="active params"):
        space.validate_assignment({**assignment, "model.svm.C": 1.0})
    with pytest.raises(ValueError, match="not in integer"):
        space.validate_assignment({**assignment, "model.tree.depth": 9})


def test_sample_walks_only_the_active_branch():
    space = Space({"m": ut.choice({"a": {"x": ut.uniform(0, 1)}, "b": {"y": ut.integer(1, 2)}}), "z": ut.integer(0, 1)})
    asked = []

    def suggest(param):
        asked.append(param.path)
        return "b" if param.path == "m" else param.dim.grid()[0] if param.dim.grid() else 0.5

    assert space.sample(suggest) == {"m": "b", "m.b.y": 1, "z": 0}
    assert asked == ["m", "m.b.y", "z"]


def test_finite_and_conditional_flags():
    assert Space({"a": ut.integer(1, 3), "b": ut.uniform(0, 1, step=0.5)}).is_finite
    assert not Space({"a": ut.uniform(0, 1)}).is_finite
    assert Space({"m": ut.choice({"a": None})}).is_conditional
