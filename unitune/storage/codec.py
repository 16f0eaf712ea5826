"""Trial records <-> table rows, and the space's fingerprint.

Every value comes back as it went in:

- ``value``: a REAL column; NaN is stored as NULL in both dialects (SQLite turns NaN into NULL
  anyway, and NULL keeps NaN out of MIN/MAX), ±inf as themselves.
- ``params``: JSON text ``{path: code}``.  A choice stores its option's *index* and a conditional
  its label, decoded through the space, so the values are the very objects the space defines; an
  ``integer`` stays an ``int``, a float a ``float``.  A value the space cannot encode (not an
  option, an unexpected type, a path the space does not have) is stored as ``{"~": base64 pickle}``.
- ``metrics``/``info``/``intermediate``: JSON when the value is plain JSON data that reads back
  identical (str keys, str/int/float/bool/None, lists; floats may be NaN/inf), else ``"~"`` + base64 pickle.
- timestamps: integer microseconds since the epoch (UTC), exact.
"""

from __future__ import annotations

import base64
import json
import math
import pickle
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..records import TrialRecord
from ..space import Choice, Conditional, Integer, LogUniform, Param, Space, Uniform

PICKLED = "~"  # prefix of a pickled text column; key of a pickled param value
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

try:  # closures, lambdas and classes defined in __main__ survive too; plain pickle reads it back
    import cloudpickle as _pickler
except ImportError:  # pragma: no cover - cloudpickle comes with every backend
    _pickler = pickle  # type: ignore[assignment]


def dumps_b64(obj: Any) -> str:
    return base64.b64encode(_pickler.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)).decode("ascii")


def loads_b64(text: str) -> Any:
    return pickle.loads(base64.b64decode(text))


# --- plain values -----------------------------------------------------------------------------------


def _is_plain(x: Any) -> bool:
    """Whether JSON gives ``x`` back with the same types and values."""
    t = type(x)
    if t is str or t is int or t is float or t is bool or x is None:
        return True
    if t is list:
        return all(_is_plain(v) for v in x)
    if t is dict:
        return all(type(k) is str and _is_plain(v) for k, v in x.items())
    return False


def encode_data(x: Any) -> str:
    if _is_plain(x):
        return json.dumps(x, separators=(",", ":"))
    return PICKLED + dumps_b64(x)


def decode_data(text: str) -> Any:
    if text.startswith(PICKLED):
        return loads_b64(text[1:])
    return json.loads(text)


def encode_intermediate(pairs: list[tuple[int, float]]) -> str:
    if type(pairs) is list and all(
        type(p) is tuple and len(p) == 2 and type(p[0]) is int and type(p[1]) in (float, int) for p in pairs
    ):
        return json.dumps(pairs, separators=(",", ":"))
    return PICKLED + dumps_b64(pairs)


def decode_intermediate(text: str) -> list[tuple[int, float]]:
    if text.startswith(PICKLED):
        return loads_b64(text[1:])
    return [(s, v) for s, v in json.loads(text)]


def encode_value(value: float) -> tuple[float | None, str | None]:
    """``(value column, value_repr column)``: the REAL column holds the value (NULL for NaN, so that
    MIN/MAX skip it); ``value_repr`` is set only where a REAL column may not keep the float's sign (-0.0)."""
    value = float(value) if value is not None else math.nan
    if math.isnan(value):
        return None, None
    return value, ("-0.0" if value == 0.0 and math.copysign(1.0, value) < 0 else None)


def decode_value(value: float | None, exact: str | None) -> float:
    if exact is not None:
        return float(exact)
    return math.nan if value is None else float(value)


def encode_time(t: datetime) -> int:
    if t.tzinfo is None:  # records hold UTC; a naive time is taken as UTC
        t = t.replace(tzinfo=UTC)
    delta = t - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def decode_time(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


# --- params -------------------------------------------------------------------------------------------


def _encoder(param: Param | None) -> Callable[[Any], Any]:
    dim = param.dim if param is not None else None

    def pickled(v: Any) -> dict[str, str]:
        return {PICKLED: dumps_b64(v)}

    if isinstance(dim, (Choice, Conditional)):
        def enc_choice(v: Any) -> Any:
            try:
                return dim.index(v)
            except ValueError:
                return pickled(v)
        return enc_choice
    if isinstance(dim, Integer):
        return lambda v: v if type(v) is int else pickled(v)
    if isinstance(dim, (Uniform, LogUniform)):
        return lambda v: v if type(v) is float else pickled(v)
    return pickled


def _decoder(param: Param | None) -> Callable[[Any], Any]:
    dim = param.dim if param is not None else None
    if isinstance(dim, (Choice, Conditional)):
        options = dim.options
        return lambda c: options[c] if type(c) is int else loads_b64(c[PICKLED])
    if isinstance(dim, Integer):
        return lambda c: c if type(c) is int else loads_b64(c[PICKLED])
    if isinstance(dim, (Uniform, LogUniform)):
        return lambda c: float(c) if type(c) is not dict else loads_b64(c[PICKLED])
    return lambda c: loads_b64(c[PICKLED]) if type(c) is dict else c


class ParamCodec:
    """Encodes and decodes a trial's flat params through one space (one encoder/decoder per path)."""

    def __init__(self, space: Space) -> None:
        self.space = space
        self._enc = {p.path: _encoder(p) for p in space.params}
        self._dec = {p.path: _decoder(p) for p in space.params}
        self._options = {p.path: p.dim.options for p in space.params if isinstance(p.dim, (Choice, Conditional))}
        self._unknown_enc = _encoder(None)
        self._unknown_dec = _decoder(None)

    def encode(self, params: Mapping[str, Any]) -> str:
        enc, unknown = self._enc, self._unknown_enc
        return json.dumps({k: enc.get(k, unknown)(v) for k, v in params.items()}, separators=(",", ":"))

    def decode(self, text: str) -> dict[str, Any]:
        dec, unknown = self._dec, self._unknown_dec
        return {k: dec.get(k, unknown)(c) for k, c in json.loads(text).items()}

    def decode_many(self, texts: list[str]) -> list[dict[str, Any]]:
        """``decode`` of many trials at once: one JSON parse for all of them (the 10k-trial read path)."""
        decoded = json.loads("[" + ",".join(texts) + "]")
        options = self._options
        for params in decoded:
            for k, c in params.items():
                if type(c) is dict:  # pickled: a value the space could not encode, or a path it lacks
                    params[k] = loads_b64(c[PICKLED])
                elif k in options:
                    params[k] = options[k][c]
        return decoded


# --- records <-> rows ---------------------------------------------------------------------------------

# The trial columns a finished trial writes, in the order of ``record_row``.
TRIAL_COLUMNS = ("state", "value", "value_repr", "params", "metrics", "step", "intermediate", "started", "finished",
                 "error", "optimizer_s", "worker", "info")


def record_row(record: TrialRecord, codec: ParamCodec) -> tuple[Any, ...]:
    """The values of ``TRIAL_COLUMNS`` for a finished trial."""
    if record.state not in ("complete", "pruned", "failed"):
        raise ValueError(f"trial {record.number}: state {record.state!r} is not a finished state")
    optimizer_s = record.optimizer_s
    return (
        record.state,
        *encode_value(record.value),
        codec.encode(record.params),
        encode_data(dict(record.metrics)),
        None if record.step is None else int(record.step),
        encode_intermediate(list(record.intermediate)),
        encode_time(record.started),
        encode_time(record.finished),
        record.error,
        None if optimizer_s is None else float(optimizer_s),
        record.worker,
        encode_data(dict(record.info)),
    )


# The columns ``row_record`` reads, in order (the trial number first).
READ_COLUMNS = ("number", *TRIAL_COLUMNS)


def row_record(row: tuple[Any, ...], codec: ParamCodec) -> TrialRecord:
    return rows_records([row], codec)[0]


def _decode_column(texts: list[str | None], empty: Any) -> list[Any]:
    """Decode a column of ``encode_data`` texts: the JSON ones in one parse, the pickled ones one by one."""
    trivial = "{}" if empty is dict else "[]"  # the common case, no parse at all
    plain = [t for t in texts if t and t != trivial and not t.startswith(PICKLED)]
    parsed = iter(json.loads("[" + ",".join(plain) + "]")) if plain else iter(())
    out = []
    for t in texts:
        if not t or t == trivial:
            out.append(empty())
        elif t.startswith(PICKLED):
            out.append(loads_b64(t[1:]))
        else:
            out.append(next(parsed))
    return out


def rows_records(rows: list[tuple[Any, ...]], codec: ParamCodec) -> list[TrialRecord]:
    """Rows of ``READ_COLUMNS`` (extra trailing columns ignored) as records, decoded column by column."""
    if not rows:
        return []
    columns = list(zip(*rows, strict=True))
    params_text = [t or "{}" for t in columns[4]]
    params = codec.decode_many(params_text)
    metrics = _decode_column(list(columns[5]), dict)
    intermediate = [[(s, v) for s, v in pairs] if pairs and type(pairs) is list else pairs
                    for pairs in _decode_column(list(columns[7]), list)]
    info = _decode_column(list(columns[13]), dict)
    out = []
    for i, (number, state, value, value_repr, _, _, step, _, started, finished, error, optimizer_s, worker,
            *_rest) in enumerate(rows):
        out.append(TrialRecord(
            number=number,
            state=state,
            value=decode_value(value, value_repr),
            params=params[i],
            metrics=metrics[i],
            step=step,
            intermediate=intermediate[i],
            started=decode_time(started),
            finished=decode_time(finished if finished is not None else started),
            error=error,
            optimizer_s=optimizer_s,
            worker=worker,
            info=info[i],
        ))
    return out


# --- the space's fingerprint ------------------------------------------------------------------------


def _canonical(x: Any) -> str:
    """A deterministic text for a choice option (no memory addresses, whatever the process)."""
    if x is None or isinstance(x, (bool, int, float, str, bytes)):
        return repr(x)
    if isinstance(x, (tuple, list)):
        inner = ", ".join(_canonical(v) for v in x)
        return f"({inner},)" if isinstance(x, tuple) and len(x) == 1 else (
            f"({inner})" if isinstance(x, tuple) else f"[{inner}]")
    if isinstance(x, (set, frozenset)):
        return f"{type(x).__name__}({{{', '.join(sorted(_canonical(v) for v in x))}}})"
    if isinstance(x, Mapping):
        return "{" + ", ".join(f"{_canonical(k)}: {_canonical(v)}" for k, v in x.items()) + "}"
    cls = type(x)
    if cls.__repr__ is object.__repr__:  # the default repr holds the address: use the state instead
        state = getattr(x, "__dict__", None)
        return f"{cls.__module__}.{cls.__qualname__}({_canonical(state) if state else ''})"
    return repr(x)


def describe_dim(param: Param) -> str:
    """A deterministic text of one parameter's domain, e.g. ``uniform(0.0, 1.0)`` or ``choice(['a', None])``."""
    dim = param.dim
    if isinstance(dim, Choice):
        return f"choice([{', '.join(_canonical(o) for o in dim.options)}])"
    return repr(dim)


def _param_line(param: Param) -> str:
    where = "".join(f" if {path}={label!r}" for path, label in param.conditions)
    return f"{param.path}: {describe_dim(param)}{where}"


def space_fingerprint(space: Space) -> str:
    """Canonical text of the space: one line per parameter (path, domain, conditions), in space order.
    Two spaces with the same fingerprint search the same domain."""
    return "\n".join(_param_line(p) for p in space.params)


def describe_space_change(old: Space, new: Space) -> str | None:
    """What differs between two spaces, in words, or ``None`` when they search the same domain."""
    if space_fingerprint(old) == space_fingerprint(new):
        return None
    old_params = {p.path: p for p in old.params}
    new_params = {p.path: p for p in new.params}
    changes: list[str] = []
    for path, p in old_params.items():
        q = new_params.get(path)
        if q is None:
            changes.append(f"parameter {path!r} removed (was {describe_dim(p)})")
        elif describe_dim(p) != describe_dim(q):
            changes.append(f"parameter {path!r} changed from {describe_dim(p)} to {describe_dim(q)}")
        elif p.conditions != q.conditions:
            def cond(c: tuple[tuple[str, str], ...]) -> str:
                return " and ".join(f"{a}={b!r}" for a, b in c) or "always"
            changes.append(f"parameter {path!r} is active {cond(q.conditions)} (was {cond(p.conditions)})")
    for path, q in new_params.items():
        if path not in old_params:
            changes.append(f"parameter {path!r} added ({describe_dim(q)})")
    if not changes:
        changes.append(f"parameter order changed from {list(old_params)} to {list(new_params)}")
    return "; ".join(changes)
