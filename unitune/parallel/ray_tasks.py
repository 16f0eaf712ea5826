"""``executor="ray"``: each trial is one Ray task, on the local Ray runtime or the cluster in ``RAY_ADDRESS``.

The objective is cloudpickled once per run and ``ray.put`` once; each task gets that object, the
trial's number and params, runs ``TrialRunner.run`` in a Ray worker process and returns the pickled
record (plus the Ray node id in ``record.info["ray_node"]``).  Only the objective travels: the data it
loads, it loads where it runs.  ``RayTasks(num_cpus=1, num_gpus=0, resources=None)`` sets each task's
resources (default: one CPU per trial, so a trial is placed on a node with a free CPU).

* Pruning: with a scheduler, each ``ut.report`` calls a small async Ray actor of the run (no network
  listener of ours), which hands the report to the driver and returns the driver's decision.
* Timeout and Ctrl-C: ``ray.cancel(ref, force=True)`` kills the worker process running the trial.
* A worker that dies under a trial (``os._exit``, a segfault) is ``WorkerCrashedError`` for Ray: a
  ``failed`` row, and Ray starts a new worker for the next task (tasks are never retried).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from typing import Any

from .channel import AskDriverHooks, Event, LocalHooks, loads
from .worker import cached_runner, encode, evaluate

_start_lock = threading.Lock()


class RayTasks:
    """``executor=RayTasks(num_cpus=..., num_gpus=..., resources={...})``: Ray tasks with these resources
    per trial (``executor="ray"`` is ``RayTasks()``: one CPU per trial)."""

    def __init__(self, num_cpus: float = 1, num_gpus: float = 0, resources: dict[str, float] | None = None) -> None:
        self.num_cpus, self.num_gpus, self.resources = num_cpus, num_gpus, dict(resources or {})

    def __repr__(self) -> str:
        return f"RayTasks(num_cpus={self.num_cpus}, num_gpus={self.num_gpus}, resources={self.resources})"


def ensure_ray() -> Any:
    """Start Ray once per process (or attach to ``RAY_ADDRESS``), quietly, as the Ray backend does."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if not os.environ.get("RAY_ADDRESS"):
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a private local runtime: no token in ~/.ray
    import ray

    with _start_lock:
        if not ray.is_initialized():
            ray.init(address=os.environ.get("RAY_ADDRESS") or None, include_dashboard=False,
                     logging_level=logging.ERROR, log_to_driver=False, configure_logging=True,
                     ignore_reinit_error=True)
    return ray


def check_gpus(tasks: RayTasks) -> None:
    """Refuse, before any trial, tasks asking for more GPUs than any node of the Ray cluster has."""
    if not tasks.num_gpus:
        return
    from ..exceptions import InvalidRunError

    ray = ensure_ray()
    most = max((node["Resources"].get("GPU", 0.0) for node in ray.nodes() if node.get("Alive")), default=0.0)
    if most < tasks.num_gpus:
        raise InvalidRunError(f"executor={tasks!r} asks each trial for {tasks.num_gpus} GPU(s), but the largest node "
                              f"of the Ray cluster has {most:g}: its tasks would wait forever. Use num_gpus <= "
                              f"{most:g}, or a cluster with GPUs (RAY_ADDRESS)")


def _ray_trial(blob: bytes, number: int, assignment: dict[str, Any], channel: Any) -> bytes:
    import ray

    runner = cached_runner(blob)
    if channel is None:
        hooks: Any = LocalHooks()
    else:
        def ask(step: int, value: float, intermediate: list[tuple[int, float]]) -> bool:
            return bool(ray.get(channel.report.remote(number, step, value, intermediate)))

        hooks = AskDriverHooks(ask)
    info = {"ray_node": ray.get_runtime_context().get_node_id()}
    return encode(evaluate(runner, number, assignment, hooks, info), assignment)


class _Channel:
    """The run's report channel: trials ``await report(...)``; the driver ``take``s reports and ``decide``s."""

    def __init__(self) -> None:
        self._reports: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._decisions: dict[int, asyncio.Future[bool]] = {}

    async def report(self, number: int, step: int, value: float, intermediate: list[tuple[int, float]]) -> bool:
        future = asyncio.get_running_loop().create_future()
        self._decisions[number] = future
        await self._reports.put(("report", number, step, value, intermediate))
        return await future

    async def take(self, timeout: float) -> list[tuple[Any, ...]]:
        try:
            first = await asyncio.wait_for(self._reports.get(), timeout)
        except TimeoutError:
            return []
        taken = [first]
        while not self._reports.empty():
            taken.append(self._reports.get_nowait())
        return taken

    async def decide(self, number: int, stop: bool) -> None:
        future = self._decisions.pop(number, None)
        if future is not None and not future.done():
            future.set_result(stop)


class RayPool:
    kind = "ray"
    stops_running_trials = True

    def __init__(self, tasks: RayTasks, init_blob: bytes, prune: bool) -> None:
        ray = self._ray = ensure_ray()
        options: dict[str, Any] = {"num_cpus": tasks.num_cpus, "max_retries": 0}
        if tasks.num_gpus:
            options["num_gpus"] = tasks.num_gpus
        if tasks.resources:
            options["resources"] = tasks.resources
        self._remote = ray.remote(_ray_trial).options(**options)
        self._blob = ray.put(init_blob)
        self._refs: dict[Any, int] = {}
        self._reports: list[Event] = []
        self._channel = None
        self._taker: threading.Thread | None = None
        self._closed = False
        self._lock = threading.Lock()
        if prune:
            self._channel = ray.remote(num_cpus=0, max_concurrency=1000)(_Channel).remote()
            self._taker = threading.Thread(target=self._take, name="unitune-ray-channel", daemon=True)
            self._taker.start()

    def _take(self) -> None:
        assert self._channel is not None
        while not self._closed:
            try:
                reports = self._ray.get(self._channel.take.remote(0.5))
            except Exception:
                if self._closed:
                    return
                continue
            with self._lock:
                self._reports.extend(reports)

    def submit(self, number: int, assignment: dict[str, Any]) -> str | None:
        ref = self._remote.remote(self._blob, number, dict(assignment), self._channel)
        self._refs[ref] = number
        return None

    def reply(self, number: int, stop: bool) -> None:
        if self._channel is not None:
            self._channel.decide.remote(number, stop)

    def _drain_reports(self) -> list[Event]:
        with self._lock:
            reports, self._reports = self._reports, []
        return reports

    def _ready(self, timeout: float) -> list[Any]:
        if not self._refs:
            return []
        refs = list(self._refs)
        ready, _ = self._ray.wait(refs, num_returns=1, timeout=timeout)
        if ready and len(refs) > 1:
            ready, _ = self._ray.wait(refs, num_returns=len(refs), timeout=0)
        return ready

    def poll(self, timeout: float) -> list[Event]:
        # Without a channel, block in ray.wait; with one, wait in short slices to pick up reports too.
        slice_s = 0.02 if self._channel is not None else max(timeout, 0.0)
        end = time.monotonic() + max(timeout, 0.0)
        while True:
            events = self._drain_reports()
            wait_s = 0.0 if events else max(min(slice_s, end - time.monotonic()), 0.0)
            if self._refs:
                ready = self._ready(wait_s)
            else:
                ready = []
                time.sleep(wait_s)
            for ref in ready:
                events.append(self._outcome(ref, self._refs.pop(ref)))
            events.extend(self._drain_reports())
            if events or time.monotonic() >= end:
                return events

    def _outcome(self, ref: Any, number: int) -> Event:
        ray = self._ray
        try:
            return loads(ray.get(ref))
        except ray.exceptions.WorkerCrashedError as exc:
            return ("crashed", number, f"WorkerCrashed: the Ray worker process running this trial died "
                                       f"({str(exc).strip().splitlines()[0]})")
        except ray.exceptions.TaskCancelledError:
            return ("crashed", number, "WorkerCrashed: the Ray task was cancelled")
        except Exception as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return ("crashed", number, f"WorkerCrashed: the Ray task failed: {type(exc).__name__}: {first}")

    def cancel(self, number: int) -> None:
        ref = next((r for r, n in self._refs.items() if n == number), None)
        if ref is None:
            return
        del self._refs[ref]
        with contextlib.suppress(Exception):
            self._ray.cancel(ref, force=True)

    def close(self) -> None:
        for number in list(self._refs.values()):
            self.cancel(number)
        self._closed = True
        if self._channel is not None:
            with contextlib.suppress(Exception):
                self._ray.kill(self._channel)
        if self._taker is not None:
            self._taker.join(2)
