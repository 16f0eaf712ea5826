"""Benchmark problems: synthetic functions with known optima, real scikit-learn tasks, a multi-fidelity task,
and problems with two objectives (``MULTI_OBJECTIVE_PROBLEMS``, for ``python -m benchmarks --multi-objective``).

A problem is plain data plus a module-level objective, so runs can go to worker processes.
To add one: write the objective in one of these modules (or a new one), describe it with a
``Problem`` and add it to ``PROBLEMS`` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import multi_objective, multifidelity, sklearn_tasks, synthetic


@dataclass(frozen=True)
class Problem:
    name: str
    space: dict[str, Any]
    objective: Callable[[dict[str, Any]], float]
    optimum: float | None  # the known minimum, or None for real problems (best found is used)
    quick_trials: int
    full_trials: int
    kind: str  # "synthetic", "real" or "multi-fidelity"
    description: str
    run_options: dict[str, Any] = field(default_factory=dict)  # extra minimize() arguments (e.g. scheduler)
    full_only: bool = False


PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in [
        Problem("branin", synthetic.BRANIN_SPACE, synthetic.branin, synthetic.BRANIN_OPTIMUM, 25, 100, "synthetic",
                "Branin-Hoo, 2-D continuous"),
        Problem("hartmann6", synthetic.HARTMANN6_SPACE, synthetic.hartmann6, synthetic.HARTMANN6_OPTIMUM, 25, 100,
                "synthetic", "Hartmann 6-D continuous"),
        Problem("mixed", synthetic.MIXED_SPACE, synthetic.mixed, synthetic.MIXED_OPTIMUM, 25, 100, "synthetic",
                "stepped float + log int + categorical"),
        Problem("conditional", synthetic.CONDITIONAL_SPACE, synthetic.conditional, synthetic.CONDITIONAL_OPTIMUM, 25,
                100, "synthetic", "a choice between two sub-spaces with different optima"),
        Problem("svm_digits", sklearn_tasks.SVM_SPACE, sklearn_tasks.svm_digits, None, 20, 50, "real",
                "SVC on digits (600 samples), 3-fold CV error"),
        Problem("gb_breast_cancer", sklearn_tasks.GB_SPACE, sklearn_tasks.gb_breast_cancer, None, 20, 60, "real",
                "gradient boosting on breast_cancer, 3-fold CV log-loss"),
        Problem("sgd_epochs", multifidelity.SGD_SPACE, multifidelity.sgd_epochs, None, 20, 60, "multi-fidelity",
                "SGDClassifier on digits trained epoch by epoch, validation error; ASHA stops bad runs",
                run_options={"scheduler": "asha"}, full_only=True),
    ]
}


@dataclass(frozen=True)
class MultiObjectiveProblem:
    """A problem with several objectives: the objective returns one value per metric (tuple or dict).

    The hypervolume of a run's Pareto front is measured against ``reference``, a point fixed per problem
    (in the metrics' own units, after negating maximized ones).  ``ideal`` is a point no trial can beat,
    so ``prod(reference - ideal)`` bounds the hypervolume; ``best_hypervolume`` is the hypervolume of the
    true Pareto front when it is known (None for real problems: the best any run found is used).
    """

    name: str
    space: dict[str, Any]
    objective: Callable[[dict[str, Any]], Any]
    metrics: tuple[str, ...]
    directions: tuple[str, ...]
    reference: tuple[float, ...]
    ideal: tuple[float, ...]
    best_hypervolume: float | None
    quick_trials: int
    full_trials: int
    kind: str  # "synthetic" or "real"
    description: str
    front: Callable[[Any], Any] | None = None  # the true Pareto front, f2 as a function of f1 (arrays), if known

    @property
    def run_options(self) -> dict[str, Any]:
        """The extra ``ut.optimize`` arguments of every run: directions and metrics."""
        return {"directions": list(self.directions), "metrics": list(self.metrics)}


_MINMIN = ("minimize", "minimize")
MULTI_OBJECTIVE_PROBLEMS: dict[str, MultiObjectiveProblem] = {
    p.name: p
    for p in [
        MultiObjectiveProblem("zdt1", multi_objective.ZDT_SPACE, multi_objective.zdt1, ("f1", "f2"), _MINMIN,
                              multi_objective.ZDT_REFERENCE, (0.0, 0.0), multi_objective.ZDT1_BEST_HYPERVOLUME,
                              200, 200, "synthetic", "ZDT1, 6 variables in [0, 1], convex front",
                              multi_objective.zdt1_front),
        MultiObjectiveProblem("zdt2", multi_objective.ZDT_SPACE, multi_objective.zdt2, ("f1", "f2"), _MINMIN,
                              multi_objective.ZDT_REFERENCE, (0.0, 0.0), multi_objective.ZDT2_BEST_HYPERVOLUME,
                              200, 200, "synthetic", "ZDT2, 6 variables in [0, 1], concave front",
                              multi_objective.zdt2_front),
        MultiObjectiveProblem("rf_digits", multi_objective.RF_SPACE, multi_objective.rf_digits,
                              ("error", "log10_nodes"), _MINMIN, multi_objective.RF_REFERENCE, (0.0, 0.0), None,
                              60, 100, "real", "random forest on 600 digits: 3-fold CV error vs log10(tree nodes)"),
    ]
}
