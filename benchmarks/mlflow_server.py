"""A local MLflow tracking server for the tests (``tests/fixtures/mlflow_server.py``) and the callback's cost
benchmark (``benchmarks/mlflow_cost.py``): ``python -m mlflow server`` on 127.0.0.1, a free port, a SQLite
backend store in a temporary folder, one worker; stopped through the process group we started.

MLflow's optional job execution (a huey consumer it spawns next to the server) is switched off with
``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false``: nothing here uses it and it makes the start ~10 s slower.
The server sends no usage telemetry (``MLFLOW_DISABLE_TELEMETRY=true``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


class MLflowServerUnavailable(RuntimeError):  # noqa: N818
    pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MLflowServer:
    """One running ``mlflow server``: ``uri`` is its tracking URI, ``start_s`` how long it took to answer
    ``GET /health``; ``stop()`` ends it (SIGTERM to its process group, SIGKILL after ``grace`` seconds)."""

    def __init__(self, *, timeout: float = 180.0, attempts: int = 3) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="unitune-mlflow-"))
        self.log_path = self.tmp / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.start_s = 0.0
        errors = []
        for _ in range(attempts):  # another process may take the free port before the server binds it
            try:
                self._start(timeout)
                return
            except (OSError, subprocess.SubprocessError, MLflowServerUnavailable) as exc:
                errors.append(str(exc))
                self._kill()
        shutil.rmtree(self.tmp, ignore_errors=True)
        raise MLflowServerUnavailable("; ".join(errors))

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _start(self, timeout: float) -> None:
        self.port = free_port()
        env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false", MLFLOW_DISABLE_TELEMETRY="true")
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "mlflow", "server",
                 "--backend-store-uri", f"sqlite:///{self.tmp / 'mlflow.db'}",
                 "--default-artifact-root", str(self.tmp / "artifacts"),
                 "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=self.tmp,
                start_new_session=True,  # its own process group: stop() ends the server and its uvicorn child
            )
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise MLflowServerUnavailable(f"mlflow server exited with {self.process.returncode}: "
                                              f"{self.log_path.read_text(errors='replace')[-800:]}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as response:
                    if response.status == 200:
                        self.start_s = time.monotonic() - started
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise MLflowServerUnavailable(f"mlflow server did not answer /health within {timeout:.0f} s: "
                                      f"{self.log_path.read_text(errors='replace')[-800:]}")

    def _kill(self, grace: float = 15.0) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(grace)
        with contextlib.suppress(ProcessLookupError):  # a worker left behind after the CLI exited
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)

    def stop(self) -> None:
        self._kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> MLflowServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
