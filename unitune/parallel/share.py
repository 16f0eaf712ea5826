"""Each running trial's share of the machine: its BLAS/OpenMP threads and its devices.

A worker process starts OpenMP and BLAS with one thread per core of the machine.  Two workers on two
cores then run four spinning OpenMP threads, and an objective that fits a gradient-boosting model is
many times slower than alone.  So every executor gives each running trial ``threads_per_trial``
threads (by default ``max(1, cpus // n_jobs)``), the way joblib's loky workers and Ray's tasks do:

* the environment variables OpenMP and the BLAS libraries read when they load (``OMP_NUM_THREADS``,
  ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, …) — in a worker process's environment from its
  start, for libraries the objective loads later;
* threadpoolctl (and ``torch.set_num_threads``) for the libraries already loaded.

:func:`trial_threads` does both inside a process; nested and concurrent uses (trials in threads) share
one process-wide setting, restored when the last one ends.  OpenMP's setting is per thread, so it is
also made in each trial's own thread.

``devices=`` gives each concurrent trial its own GPU(s): one group of device ids per running trial,
visible to the objective as ``CUDA_VISIBLE_DEVICES`` (set in the worker process's environment before
it starts, so CUDA sees only those).
"""

from __future__ import annotations

import contextlib
import numbers
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ..exceptions import InvalidRunError

AUTO = "auto"
VISIBLE = "visible"
DEVICE_VAR = "CUDA_VISIBLE_DEVICES"
# What OpenMP (GNU, LLVM, Intel), OpenBLAS, MKL, BLIS, Accelerate and numexpr read when they load.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def machine_cpus() -> int:
    """The cores this process may run on (its CPU affinity, e.g. a container's or ``taskset``'s share)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class TrialShare:
    """What each running trial gets: ``threads`` (None: the libraries' own defaults) and, per concurrent
    slot, one comma-separated group of device ids (None: devices untouched)."""

    threads: int | None = None
    devices: tuple[str, ...] | None = None

    def env(self, slot: int | None = None) -> dict[str, str]:
        """The environment variables of a worker process for running trial slot ``slot``."""
        env = {name: str(self.threads) for name in THREAD_VARS} if self.threads is not None else {}
        if self.devices is not None and slot is not None:
            env["UNITUNE_DEVICES"] = "1"  # the worker records its devices in each trial's info
            env[DEVICE_VAR] = self.devices[slot % len(self.devices)]
        return env


def _device_groups(devices: Any) -> tuple[str, ...]:
    if isinstance(devices, str):
        if devices != VISIBLE:
            raise InvalidRunError(f"devices must be {VISIBLE!r} (one trial per id in {DEVICE_VAR}), a list of device "
                                  f"ids or a list of id lists, got {devices!r}")
        raw = os.environ.get(DEVICE_VAR, "").strip()
        ids = [part.strip() for part in raw.split(",") if part.strip()]
        if not ids or ids == ["-1"]:
            raise InvalidRunError(f"devices='visible' takes one device per trial from {DEVICE_VAR}, which is "
                                  f"{'unset' if not raw else repr(raw)}: set it, or give the ids (devices=[0, 1])")
        return tuple(ids)
    if not isinstance(devices, Sequence) or not devices:
        raise InvalidRunError(f"devices must be {VISIBLE!r}, a non-empty list of device ids (one per running trial) "
                              f"or a list of id lists (a group per running trial), got {devices!r}")
    groups, seen = [], set()
    for entry in devices:
        ids = [entry] if not isinstance(entry, Sequence) or isinstance(entry, str) else list(entry)
        if not ids:
            raise InvalidRunError(f"devices: an empty device group in {devices!r}")
        for one in ids:
            if isinstance(one, bool) or not isinstance(one, numbers.Integral | str) or not str(one).strip() \
                    or "," in str(one) or (isinstance(one, numbers.Integral) and one < 0):
                raise InvalidRunError(f"devices: {one!r} is not a device id (an int >= 0 or a name like 'GPU-…')")
            if str(one) in seen:
                raise InvalidRunError(f"devices: device {one!r} is given twice in {devices!r}; each running trial "
                                      "needs its own")
            seen.add(str(one))
        groups.append(",".join(str(one).strip() for one in ids))
    return tuple(groups)


def resolve_share(threads_per_trial: Any, devices: Any, *, n_jobs: int, kind: str | None,
                  ray_cpus: float | None = None) -> TrialShare:
    """Check ``threads_per_trial``/``devices`` for a run before any trial and say what each trial gets.

    ``kind`` is the executor's (``"process"``, ``"thread"``, ``"ray"``, ``"executor"``), ``None`` for the
    sequential loop, ``"tune"`` for the Ray Tune backend's own actors; ``ray_cpus`` is a Ray task's
    ``num_cpus``.  ``"auto"`` leaves a sequential run alone (the native libraries' behaviour), gives Ray
    tasks their ``num_cpus`` and every other run ``max(1, cpus // n_jobs)``.
    """
    if threads_per_trial is None:
        threads = None
    elif isinstance(threads_per_trial, str) and threads_per_trial == AUTO:
        if kind is None:
            threads = None
        elif kind == "ray":
            threads = max(1, int(ray_cpus or 1))
        else:
            threads = max(1, machine_cpus() // n_jobs)
    elif isinstance(threads_per_trial, numbers.Integral) and not isinstance(threads_per_trial, bool) \
            and threads_per_trial >= 1:
        threads = int(threads_per_trial)
    else:
        raise InvalidRunError(f"threads_per_trial must be 'auto', an int >= 1 or None (leave the libraries' thread "
                              f"settings alone), got {threads_per_trial!r}")
    groups = None
    if devices is not None:
        groups = _device_groups(devices)
        if kind in ("thread", "executor"):
            name = "a concurrent.futures.Executor" if kind == "executor" else "executor='thread'"
            raise InvalidRunError(
                f"devices= needs one environment per running trial, which {name} cannot give (its trials share "
                "processes): use executor='process' (each worker process sees its own CUDA_VISIBLE_DEVICES) or "
                "executor=ut.RayTasks(num_gpus=1) (Ray gives each task its own GPUs)")
        if kind in ("ray", "tune"):
            raise InvalidRunError(
                "devices= is for unitune's own worker processes; on Ray, Ray assigns the GPUs and sets "
                "CUDA_VISIBLE_DEVICES itself: use executor=ut.RayTasks(num_gpus=1)"
                if kind == "ray" else
                "devices= is for unitune's own worker processes; the Ray Tune backend's actors get their GPUs from "
                "Ray: use another backend with executor='process', or executor=ut.RayTasks(num_gpus=1)")
        if len(groups) < n_jobs:
            raise InvalidRunError(f"devices= gives {len(groups)} device group(s) {list(groups)} for n_jobs={n_jobs} "
                                  f"running trials; each needs its own: use n_jobs <= {len(groups)} or more devices")
    return TrialShare(threads, groups)


@contextlib.contextmanager
def environment(variables: dict[str, str]) -> Iterator[None]:
    """Set ``variables`` in this process's environment inside the block; the previous values come back after."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        _restore_env(before)


def _restore_env(before: dict[str, str | None]) -> None:
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


# -- the thread limit inside a process ------------------------------------------------------------------
_lock = threading.Lock()
_holders = 0
_restore: list[Any] = []


def _apply_process_wide(n: int) -> list[Any]:
    """Set the environment, the loaded BLAS/OpenMP libraries and torch to ``n`` threads; the undo steps."""
    from ..threads import _controller

    undo: list[Any] = []
    before = {name: os.environ.get(name) for name in THREAD_VARS}
    os.environ.update({name: str(n) for name in THREAD_VARS})
    undo.append(("env", before))
    undo.append(("limiter", _controller().limit(limits=n)))
    torch = sys.modules.get("torch")
    if torch is not None:
        undo.append(("torch", torch, torch.get_num_threads()))
        torch.set_num_threads(n)
    return undo


def _undo(steps: list[Any]) -> None:
    for step in reversed(steps):
        if step[0] == "env":
            _restore_env(step[1])
        elif step[0] == "limiter":
            step[1].restore_original_limits()
        elif step[0] == "torch" and step[1].get_num_threads() != step[2]:
            step[1].set_num_threads(step[2])


@contextlib.contextmanager
def trial_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` BLAS/OpenMP/torch threads in this process (``None``: a no-op).

    The process-wide part (environment, BLAS pools, torch) is set by the first holder and restored when
    the last one leaves, so concurrent trials in threads of one process share it; OpenMP's thread count,
    which is per calling thread, is set (and restored) in this thread.
    """
    global _holders, _restore
    if n is None:
        yield
        return
    from ..threads import _controller

    with _lock:
        if _holders == 0:
            _restore = _apply_process_wide(n)
        _holders += 1
    try:
        with _controller().limit(limits=n, user_api="openmp"):
            yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0:
                steps, _restore = _restore, []
                _undo(steps)
