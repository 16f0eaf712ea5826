"""Spaces shared by the backend fidelity tests."""

from __future__ import annotations

import unitune as ut

# Every flat primitive once: the space the native-sequence tests translate by hand.
EVERY_PRIMITIVE = {
    "x": ut.uniform(-2.0, 2.0),
    "q": ut.uniform(0.0, 0.9, step=0.05),
    "lr": ut.loguniform(1e-5, 1e-1),
    "n": ut.integer(1, 9),
    "s": ut.integer(0, 20, step=5),
    "w": ut.integer(2, 512, log=True),
    "c": ut.choice(["a", "b", None]),
}
