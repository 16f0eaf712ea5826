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
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

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
