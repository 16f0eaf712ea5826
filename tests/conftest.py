from __future__ import annotations

import os
import warnings

from unitune.threads import use_portable_kernels

# The same BLAS kernels on every x86-64 CPU, before anything loads numpy: the tests compare runs with
# committed results and with native runs, bit for bit (unitune.threads).
use_portable_kernels()

import pytest  # noqa: E402

# Ray, when a test uses it, must not write to the home directory or print tables.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from unitune.registry import installed_names

BACKENDS = installed_names()


def pytest_report_header(config: pytest.Config) -> str:
    return f"unitune backends under test: {', '.join(BACKENDS)}"


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


# A real PostgreSQL server (session-scoped) and a fresh database URL per test: tests/fixtures/postgres.py
from .fixtures.postgres import postgres_server, postgres_url  # noqa: E402, F401
