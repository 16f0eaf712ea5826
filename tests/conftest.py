from __future__ import annotations

import os
import warnings

from unitune.threads import use_portable_kernels

# The same BLAS kernels on every x86-64 CPU, before anything loads numpy: the tests compare runs with
# committed results and with native runs, bit for bit (unitune.threads).
use_portable_kernels()

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# Hypothesis profiles (tests/test_properties.py): "ci" is the default, small and derandomized so CI runs the
# same examples every time; "long" (many more examples, fresh ones each run) is what the `slow` copies of the
# properties use (`-m slow`).  HYPOTHESIS_PROFILE=long makes every property test long.
_SLOW_CHECKS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True, database=None,
                          suppress_health_check=_SLOW_CHECKS, print_blob=True)
settings.register_profile("long", max_examples=1000, deadline=None, suppress_health_check=_SLOW_CHECKS,
                          print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Ray, when a test uses it, must not write to the home directory or print tables.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
# Nor MLflow send usage telemetry (tests/test_mlflow.py's client; its server gets the same).
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from unitune.registry import installed_names

BACKENDS = installed_names()


def pytest_report_header(config: pytest.Config) -> str:
    return f"unitune backends under test: {', '.join(BACKENDS)}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


# A real MLflow tracking server (session-scoped, SQLite backend store): tests/fixtures/mlflow_server.py
from .fixtures.mlflow_server import mlflow_server, mlflow_uri  # noqa: E402, F401

# A real PostgreSQL server (session-scoped) and a fresh database URL per test: tests/fixtures/postgres.py
from .fixtures.postgres import postgres_server, postgres_url  # noqa: E402, F401
