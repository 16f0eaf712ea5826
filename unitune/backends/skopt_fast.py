"""scikit-optimize's GP trials without its repeated bookkeeping: the same numbers, less time.

Two places where skopt and scikit-learn spend a GP trial's time on bookkeeping rather than numbers:

* **Kernel metadata.** Fitting skopt's GP evaluates the log-marginal likelihood a few hundred times
  per trial, and every evaluation asks each kernel for two pieces of metadata that scikit-learn
  recomputes from scratch: ``Kernel.hyperparameters`` scans ``dir(self)`` for ``hyperparameter_*``
  attributes, and ``Kernel.get_params`` inspects ``__init__``'s signature. Both depend only on the
  kernel's class, so the subclasses here compute them once per class.
* **Candidates.** Every trial draws 10,000 random candidates for the acquisition with
  ``Space.rvs``, which transposes its per-dimension columns into a list of rows, and
  ``Space.transform`` transposes those rows back into columns. ``CandidateSpace`` draws the same
  columns (same calls, same random stream) and transforms them directly.

Nothing numerical changes: the fidelity tests compare every suggestion with a native
``gp_minimize``; ``docs/benchmarks/gp-speed.md`` has the times. Only the objects unitune builds are
swapped; skopt's and scikit-learn's classes are left as they are, so a native run in the same
process is not sped up behind its back.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from inspect import signature
from typing import Any

import numpy as np
from sklearn.utils import check_random_state
from skopt.learning.gaussian_process import kernels as skk
from skopt.learning.gaussian_process.gpr import _param_for_white_kernel_in_Sum
from skopt.space import Space
from skopt.space.space import _transpose_list_array


@cache
def _hyperparameter_names(cls: type) -> tuple[str, ...]:
    return tuple(name for name in dir(cls) if name.startswith("hyperparameter_"))


@cache
def _init_arguments(cls: type) -> tuple[str, ...]:
    return tuple(p.name for p in signature(cls.__init__).parameters.values()
                 if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name != "self")


class _CachedMetadata:
    """What ``sklearn...kernels.Kernel`` computes per call, looked up per class (leaf kernels only)."""

    @property
    def hyperparameters(self) -> list[Any]:
        if any(name.startswith("hyperparameter_") for name in vars(self)):  # set on the instance: be as slow as sklearn
            return super().hyperparameters  # type: ignore[misc]
        return [getattr(self, name) for name in _hyperparameter_names(type(self))]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _init_arguments(type(self))}


# Same class names as skopt's, so reprs (and anything that prints a model) read the same.
class ConstantKernel(_CachedMetadata, skk.ConstantKernel):
    pass


class Matern(_CachedMetadata, skk.Matern):
    pass


class HammingKernel(_CachedMetadata, skk.HammingKernel):
    pass


class WhiteKernel(_CachedMetadata, skk.WhiteKernel):
    pass


class RBF(_CachedMetadata, skk.RBF):
    pass


_CACHED = {skk.ConstantKernel: ConstantKernel, skk.Matern: Matern, skk.HammingKernel: HammingKernel,
           skk.WhiteKernel: WhiteKernel, skk.RBF: RBF}


def with_cached_metadata(kernel: Any) -> Any:
    """The same kernel tree (same classes' numerics, same parameters) built from the cached-metadata leaves."""
    if isinstance(kernel, (skk.Sum, skk.Product)):
        return type(kernel)(with_cached_metadata(kernel.k1), with_cached_metadata(kernel.k2))
    cached = _CACHED.get(type(kernel))
    return cached(**kernel.get_params()) if cached is not None else kernel


def speed_up_gp(estimator: Any) -> Any:
    """Give skopt's ``GaussianProcessRegressor`` the cached-metadata kernels, in place.

    Its ``fit`` adds a ``WhiteKernel`` to the kernel on every fit when ``noise`` is set; that kernel
    is added here once, exactly as ``fit`` would (same parameters), so it is a cached one too and
    ``fit`` finds it present and adds nothing.
    """
    kernel, noise = estimator.kernel, estimator.noise
    if kernel is None:
        return estimator
    if noise and not _param_for_white_kernel_in_Sum(kernel)[0]:
        if noise == "gaussian":
            kernel = kernel + skk.WhiteKernel()
        elif not isinstance(noise, str):
            kernel = kernel + skk.WhiteKernel(noise_level=noise, noise_level_bounds="fixed")
    estimator.set_params(kernel=with_cached_metadata(kernel))
    return estimator


class _Columns(Sequence):
    """Random points drawn column by column. It reads as skopt's list of rows (built when first
    looked at); ``CandidateSpace.transform`` reads its columns without building them."""

    def __init__(self, columns: list[Any], n_samples: int) -> None:
        self.columns, self.n_samples = columns, n_samples
        self._rows: list[list[Any]] | None = None

    def rows(self) -> list[list[Any]]:
        if self._rows is None:
            self._rows = _transpose_list_array(self.columns)
        return self._rows

    def __len__(self) -> int:
        return self.n_samples

    def __getitem__(self, index: Any) -> Any:
        return self.rows()[index]


class CandidateSpace(Space):
    """skopt's ``Space`` whose many-point draws skip the transposition to rows and back (same values)."""

    def rvs(self, n_samples: int = 1, random_state: Any = None) -> Any:
        if n_samples < 2 or self.constraint is not None:  # a constraint filters rows: skopt's own loop
            return super().rvs(n_samples=n_samples, random_state=random_state)
        rng = check_random_state(random_state)
        return _Columns([dim.rvs(n_samples=n_samples, random_state=rng) for dim in self.dimensions], n_samples)

    def transform(self, points: Any) -> Any:
        if not isinstance(points, _Columns):
            return super().transform(points)
        columns = [dim.transform(column) for dim, column in zip(self.dimensions, points.columns, strict=True)]
        return np.hstack([np.asarray(c).reshape((points.n_samples, -1)) for c in columns])


def speed_up_candidates(optimizer: Any) -> Any:
    """Give a skopt ``Optimizer`` the ``CandidateSpace`` of its own dimensions and constraint, in place."""
    space = optimizer.space
    optimizer.space = CandidateSpace(space.dimensions, constraint=space.constraint)
    return optimizer
