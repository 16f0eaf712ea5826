"""Benchmark problems: synthetic functions with known optima, real scikit-learn tasks, a multi-fidelity task.

A problem is plain data plus a module-level objective, so runs can go to worker processes.
To add one: write the objective in one of these modules (or a new one), describe it with a
``Problem`` and add it to ``PROBLEMS`` below.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import multifidelity, sklearn_tasks, synthetic


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
