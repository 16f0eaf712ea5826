"""Small contract points: explain prints whole notes, the best trial is finite, the optimizer-time column."""

from __future__ import annotations

import math

import unitune as ut
from unitune.records import TrialRecord
from unitune.results import Result


def test_explain_prints_every_note_whole_in_a_terminal():
    space = {"w": ut.integer(2, 512, log=True), "m": ut.choice({"a": {"y": ut.uniform(0.0, 1.0)}, "b": {}})}
    table = ut.explain(space, backend="hyperopt")
    text = str(table)
    assert "..." not in text
    for note in table["note"]:  # every word of every note, wrapped but not cut
        assert all(word in text for word in note.split())
    assert "when m == 'a'" in text and "hp.qloguniform('w'" in text
    assert table.set_index("parameter").loc["w", "fidelity"] == "exact"  # still a DataFrame as data


def test_the_best_trial_is_a_finite_one_like_what_a_framework_learns_from():
    space = ut.Space({"x": ut.uniform(0.0, 1.0)})
    records = [TrialRecord(number=0, state="complete", value=math.inf, params={"x": 0.1}),
               TrialRecord(number=1, state="complete", value=2.0, params={"x": 0.2})]
    result = Result(records=records, space=space, backend="optuna", algorithm="tpe", seed=0, direction="maximize")
    assert not records[0].ok and result.best_record is records[1]
    assert result.best_value == 2.0
