"""A fixed thread count for the numerical work of model-fitting optimizers, so a seed gives the same run anywhere.

scikit-optimize's GP, forest and GBRT and Optuna's GP sampler fit models with BLAS/OpenMP (and torch).
A multithreaded BLAS sums in a different order with a different thread count, the last bits of a fit
change, and from there the suggestions diverge: the same seed then gives another trajectory on a
machine with another core count.  :func:`fixed_threads` pins those libraries to one thread count
(one by default) for the duration of a block and restores the previous settings afterwards.

Opt-out or override with the environment variable ``UNITUNE_THREADS``:

* unset or ``1`` (default): one thread, the same results on every machine;
* an integer ``n``: ``n`` threads (reproducible among machines using the same ``n``);
* ``native``: leave the libraries' thread settings alone (what the framework does natively).

The thread count is half of it: BLAS libraries also pick their kernels by CPU when they load
(OpenBLAS runs its SkylakeX kernels on an AVX-512 Intel CPU and its Haswell ones on an AMD EPYC; MKL
and numpy's own loops dispatch likewise), and a GP's trajectory differs between those from the last
bits on.
:func:`use_portable_kernels`, called before numpy and torch load, makes every x86-64 CPU with AVX2
run the same kernels; ``python -m benchmarks`` and the test suite call it.
"""

from __future__ import annotations

import contextlib
import os
import platform
import re
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

ENV_VAR = "UNITUNE_THREADS"
DEFAULT_THREADS = 1

# (backend, algorithm) pairs whose ask/tell fit a model with BLAS/OpenMP/torch.
MODEL_FITTING: frozenset[tuple[str, str]] = frozenset({
    ("skopt", "gp"), ("skopt", "forest"), ("skopt", "gbrt"), ("optuna", "gp"),
})


def configured_threads(n: int | None = None) -> int | None:
    """The thread count to pin to: ``n`` if given, else ``UNITUNE_THREADS``, else 1; None means "native"."""
    if n is not None:
        if n < 1:
            raise ValueError(f"thread count must be >= 1, got {n}")
        return n
    raw = os.environ.get(ENV_VAR, "").strip().lower()
    if raw in ("", "default"):
        return DEFAULT_THREADS
    if raw in ("native", "none", "off"):
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{ENV_VAR}={raw!r}: expected a positive integer or 'native'") from None
    if value < 1:
        raise ValueError(f"{ENV_VAR}={raw!r}: expected a positive integer or 'native'")
    return value


_CONTROLLER: tuple[int, object] | None = None


def _controller():
    """threadpoolctl's view of the loaded BLAS/OpenMP libraries, rescanned only after new imports.

    Building a ``ThreadpoolController`` walks every loaded shared library (~10 ms on a busy 2-core
    machine); a run enters :func:`fixed_threads` around every ask and tell, so the scan is cached
    and redone only when ``sys.modules`` has grown (a new import may have loaded a new library).
    """
    global _CONTROLLER
    from threadpoolctl import ThreadpoolController

    key = len(sys.modules)
    if _CONTROLLER is None or _CONTROLLER[0] != key:
        _CONTROLLER = (key, ThreadpoolController())
    return _CONTROLLER[1]


@contextlib.contextmanager
def fixed_threads(n: int | None = None, *, import_torch: bool = False) -> Iterator[int | None]:
    """Pin BLAS/OpenMP (threadpoolctl) and torch to ``n`` threads inside the block.

    torch is pinned when it is already imported, or, with ``import_torch=True`` (Optuna's GP, which
    imports it anyway), when it is installed.  ``n=None`` reads ``UNITUNE_THREADS`` (default 1;
    ``native`` makes this a no-op).  Every setting is restored on exit, also when the block raises.
    Yields the thread count in force (None: native).
    """
    count = configured_threads(n)
    if count is None:
        yield None
        return
    torch = sys.modules.get("torch")
    if torch is None and import_torch:
        with contextlib.suppress(ImportError):
            import torch  # before the limits, so its OpenMP runtime is loaded and limited too
    torch_before = torch.get_num_threads() if torch is not None else None
    with _controller().limit(limits=count):
        if torch is not None and torch_before != count:
            torch.set_num_threads(count)
        try:
            yield count
        finally:
            if torch is not None and torch_before is not None and torch.get_num_threads() != torch_before:
                torch.set_num_threads(torch_before)


def limited_for(backend_name: str, algorithm: str, n: int | None = None) -> contextlib.AbstractContextManager:
    """The context to run one ask/tell of ``backend_name``/``algorithm`` in.

    :func:`fixed_threads` for the model-fitting optimizers (skopt gp/forest/gbrt, optuna gp), a no-op
    ``contextlib.nullcontext()`` for everything else (their work does not depend on the thread count).
    """
    if (backend_name, algorithm) in MODEL_FITTING:
        return fixed_threads(n, import_torch=backend_name == "optuna")
    return contextlib.nullcontext()


# -- the same BLAS kernels on every x86-64 CPU ------------------------------------------------------------
# OpenBLAS's Haswell kernels (AVX2 + FMA) and MKL's conditional-numerical-reproducibility mode for AVX2:
# what every x86-64 CPU of the last decade runs, and the same code path (so the same sums) on all of them.
# numpy's own loops (exp, log, sum, ...) dispatch likewise: on an AVX-512 CPU they run their AVX-512
# versions, whose results differ in the last bits; NPY_DISABLE_CPU_FEATURES keeps them to AVX2 too.
def _numpy_avx512_features() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        major, minor = (int(part) for part in version("numpy").split(".")[:2])
    except (PackageNotFoundError, ValueError):
        return "X86_V4 AVX512_ICL AVX512_SPR"
    if (major, minor) >= (2, 4):  # numpy 2.4 groups the x86 features by x86-64 level
        return "X86_V4 AVX512_ICL AVX512_SPR"
    return "AVX512F AVX512CD AVX512_KNL AVX512_KNM AVX512_SKX AVX512_CLX AVX512_CNL AVX512_ICL AVX512_SPR"


PORTABLE_KERNELS: dict[str, str] = {"OPENBLAS_CORETYPE": "Haswell", "MKL_CBWR": "AVX2",
                                    "NPY_DISABLE_CPU_FEATURES": _numpy_avx512_features()}


def _cpu_runs_portable_kernels() -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        found = re.search(r"^flags\s*:(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    except OSError:  # not Linux: leave the libraries' own choice
        return False
    return found is not None and {"avx2", "fma"} <= set(found.group(1).split())


def use_portable_kernels() -> dict[str, str]:
    """Make OpenBLAS and MKL run the same kernels on every x86-64 CPU with AVX2; returns what it set.

    Sets ``OPENBLAS_CORETYPE=Haswell``, ``MKL_CBWR=AVX2`` and ``NPY_DISABLE_CPU_FEATURES`` (numpy's
    AVX-512 loops) in this process's environment (each only
    when unset, so a user's own choice stands; inherited by worker processes). The libraries read
    them when they load, so call this before numpy, scipy or torch are imported (first thing in a
    script); after that it sets nothing and warns. On other CPUs (ARM, x86 without AVX2) it sets
    nothing: there the kernels are the library's choice. The cost is speed on large matrices on
    AVX-512 CPUs; the optimizers' matrices (at most a few hundred rows) do not notice.
    """
    missing = {k: v for k, v in PORTABLE_KERNELS.items() if k not in os.environ}
    if not missing or not _cpu_runs_portable_kernels():
        return {}
    loaded = [name for name in ("numpy", "torch") if name in sys.modules]
    if loaded:
        warnings.warn(f"use_portable_kernels(): {', '.join(loaded)} is already imported, so its BLAS has "
                      f"chosen its kernels; set {', '.join(f'{k}={v}' for k, v in missing.items())} in the "
                      "environment before starting Python instead", RuntimeWarning, stacklevel=2)
        return {}
    os.environ.update(missing)
    return missing


def blas_kernels() -> str:
    """The loaded BLAS libraries and the kernels they chose, e.g. ``"openblas 0.3.31 Haswell"``; for reports."""
    seen = []
    for info in _controller().info():
        if info.get("user_api") == "blas":
            seen.append(" ".join(str(x) for x in (info.get("internal_api"), info.get("version"),
                                                  info.get("architecture")) if x))
    if os.environ.get("MKL_CBWR"):
        seen.append(f"MKL_CBWR={os.environ['MKL_CBWR']}")
    numpy = sys.modules.get("numpy")
    if numpy is not None:  # the highest SIMD level numpy's own loops run here
        try:
            from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
        except ImportError:
            pass
        else:
            used = [name for name in __cpu_dispatch__ if __cpu_features__.get(name)]
            seen.append(f"numpy loops {used[-1] if used else 'baseline'}")
    return ", ".join(dict.fromkeys(seen)) or "none loaded"
