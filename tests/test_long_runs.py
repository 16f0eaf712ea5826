"""Long runs, marked ``slow`` (excluded from README's test command; run them with ``pytest -m slow``).

The default suite checks native fidelity over a few dozen trials; here the same holds over hundreds,
through the public ask/tell loop, where TPE's model and its startup-to-model switch are well exercised.
"""

from __future__ import annotations

import pytest

import unitune as ut

pytestmark = pytest.mark.slow


def test_optuna_tpe_ask_tell_matches_native_over_300_trials():
    optuna = pytest.importorskip("optuna")
    from .test_optuna import FLAT, native_objective, value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    native = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=5))
    native.optimize(native_objective, n_trials=300)
    study = ut.Study(FLAT, backend="optuna", seed=5)
    for _ in range(300):
        trial = study.ask()
        study.tell(trial, value(trial.params))
    assert [r.value for r in study.records] == pytest.approx([t.value for t in native.trials], rel=0, abs=1e-12)


def test_hyperopt_tpe_ask_tell_matches_native_fmin_over_200_trials():
    pytest.importorskip("hyperopt")
    from hyperopt import tpe

    from .test_hyperopt import FLAT, NATIVE_FLAT, decode_flat, native_fmin, value

    seen, _ = native_fmin(NATIVE_FLAT, lambda p: value(decode_flat(p)), tpe.suggest, 200, seed=5)
    study = ut.Study(FLAT, backend="hyperopt", seed=5)
    for _ in range(200):
        trial = study.ask()
        study.tell(trial, value(trial.params))
    assert [r.params for r in study.records] == [decode_flat(p) for p in seen]
