"""Ray Tune's random search with distinct live trials: ``BasicVariantGenerator``, repeats of a live point redrawn.

Ray samples every trial's config independently, so on a small discrete space two trials that run at
once may share their params.  ``distinct_variants`` subclasses Ray's own generator (same seeded draws,
same trial objects) and checks each new trial against the trials Ray holds live (created, not yet
completed), as ``unitune.distinct`` does for ask/tell backends:

1. a repeat is dropped before Ray sees it and the generator draws again (its sample count is given
   back, so the run still has ``n_trials`` trials), up to ``REASKS`` times;
2. then unitune picks the nearest free point (``Distinct.free_point``) and hands it to the generator
   as a preset point (Ray's ``points_to_evaluate`` path), which Ray turns into the trial.

With no other trial live (one at a time) nothing is compared: the sequence is Ray's own.  A trial whose
point was redrawn or chosen carries the reason in ``TrialRecord.info["distinct"]`` (through the config
entry ``INFO_KEY``, which the objective never sees).  Known points (``Study.enqueue``, passed as
``points_to_evaluate``) come first, as Ray makes them, and are never redrawn (``info["enqueued"]``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from ..distinct import ALL_PENDING, REASKS, Distinct, Key, point_key, reasked_note
from ..space import Space

INFO_KEY = "unitune_info"  # a trial's config entry with what goes into its TrialRecord.info


def distinct_variants(space: Space, decode: Callable[[dict[str, Any]], dict[str, Any]],
                      encode: Callable[[Mapping[str, Any]], dict[str, Any]], evaluated: Iterable[Mapping[str, Any]],
                      seed: int | None, stopped: Callable[[], bool], **options: Any) -> Any:
    """A ``BasicVariantGenerator(random_state=seed, **options)`` whose live trials never share a point.

    ``decode``/``encode`` map a Ray config to unitune's flat params and back; ``evaluated`` holds the
    params of trials run before (a resumed study), so a chosen free point prefers unevaluated ones.
    Once ``stopped()`` is true (``Study.stop``) it creates no trial: Tune ends after the live ones.
    """
    from ray.tune.search.basic_variant import BasicVariantGenerator

    class DistinctVariantGenerator(BasicVariantGenerator):
        def __init__(self) -> None:
            super().__init__(random_state=seed, **options)
            self._distinct = Distinct(space, seed)
            self._live_keys: dict[str, Key] = {}  # trial id -> its point, for trials created and not completed
            self._done_keys = {point_key(space, params) for params in evaluated}
            self._known_left = len(options.get("points_to_evaluate") or ())

        def next_trial(self) -> Any:
            if stopped():
                self.set_finished()
                return None
            trial = super().next_trial()
            if trial is not None and self._known_left:  # Ray makes the known points first: run them as given
                self._known_left -= 1
                return self._keep(trial, enqueued=True)
            if trial is None or not self._live_keys:
                return self._keep(trial)
            taken = set(self._live_keys.values())
            for attempt in range(REASKS + 1):
                if self._key(trial) not in taken:
                    return self._keep(trial, distinct=reasked_note(attempt) if attempt else None)
                if attempt < REASKS:
                    self._drop(trial)
                    trial = super().next_trial()
                    if trial is None:
                        return None
            point = self._distinct.free_point(decode(trial.config), taken, self._done_keys)
            if point is None:
                return self._keep(trial, distinct=ALL_PENDING)
            self._drop(trial)
            self._iterators[-1].points_to_evaluate.append(encode(point))
            return self._keep(super().next_trial(), distinct=self._distinct.chosen_note)

        def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
            super().on_trial_complete(trial_id, result=result, error=error)
            key = self._live_keys.pop(trial_id, None)
            if key is not None:
                self._done_keys.add(key)

        def _key(self, trial: Any) -> Key:
            return point_key(space, decode(trial.config))

        def _keep(self, trial: Any, **info: Any) -> Any:
            if trial is not None:
                self._live_keys[trial.trial_id] = self._key(trial)
                info = {k: v for k, v in info.items() if v is not None}
                if info:
                    trial.config[INFO_KEY] = info
            return trial

        def _drop(self, trial: Any) -> None:
            # Ray never sees this trial: forget it and give its sample back to the generator.
            self._live_trials.discard(trial.trial_id)
            self._iterators[-1].num_samples_left += 1

    return DistinctVariantGenerator()
