"""Ctrl-C as a person sends it: SIGINT to a separate Python process running a unitune study."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from .conftest import BACKENDS

SCRIPT = textwrap.dedent(
    """
    import json, signal, sys, time, warnings
    warnings.simplefilter("ignore")
    # as an interactive shell sets it: started from a background job, SIGINT would be inherited as ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import unitune as ut

    def objective(p):
        print("trial", flush=True)
        time.sleep(0.2)
        return p["x"] ** 2

    result = ut.minimize(objective, {"x": ut.uniform(-1.0, 1.0)}, backend=sys.argv[1], algorithm="random",
                         n_trials=1000, seed=0)
    table = result.table
    print(json.dumps({"interrupted": result.interrupted, "rows": len(table), "states": list(table["state"]),
                      "last_error": table["error"].iloc[-1], "best": result.best_value}), flush=True)
    """
)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "ray"])  # Ray: tests/test_ray.py
def test_sigint_to_the_driver_returns_the_finished_trials(backend, tmp_path):
    script = tmp_path / "study.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), backend], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    started = 0
    deadline = time.monotonic() + 60
    while started < 4 and time.monotonic() < deadline:
        if proc.stdout.readline().startswith("trial"):
            started += 1
    time.sleep(0.05)  # inside the 4th trial's sleep
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["interrupted"] is True
    assert summary["rows"] == 4
    assert summary["states"] == ["complete"] * 3 + ["failed"]
    assert summary["last_error"].startswith("KeyboardInterrupt")
    assert summary["best"] is not None
