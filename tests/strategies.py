"""Hypothesis strategies for unitune spaces: random valid spaces (every primitive, nesting, conditionals,
constants, choices of odd values) and random invalid ones (each must raise before the first trial).

An invalid space is drawn as a zero-argument *builder*: primitives validate themselves when built, so
building is part of what must raise, and the test calls the builder inside ``pytest.raises``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

import unitune as ut
from unitune.space import Choice, Conditional, Dimension, Integer, LogUniform, Uniform

# -- names -----------------------------------------------------------------------------------------------

# Any non-empty str without "." is a valid name: unicode, spaces, slashes and quotes included.
NAME_CHARS = st.characters(codec="utf-8", exclude_characters=".", exclude_categories=("Cs", "Cc"))
names = st.one_of(st.sampled_from(["x", "lr", "n_layers", "model", "a b", "λ", "学习率", "x/y", "'q'"]),
                  st.text(NAME_CHARS, min_size=1, max_size=6))

# -- the primitives --------------------------------------------------------------------------------------

STEPS = [Decimal(s) for s in ("0.001", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "10")]


@st.composite
def stepped_uniforms(draw: st.DrawFn) -> Uniform:
    """``uniform(low, high, step)`` with ``high`` exactly on the grid (decimal arithmetic, as unitune checks it)."""
    step = draw(st.sampled_from(STEPS))
    k = draw(st.integers(-40, 40))
    n = draw(st.integers(1, 12))
    return ut.uniform(float(k * step), float((k + n) * step), step=float(step))


finite = st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)


@st.composite
def continuous_uniforms(draw: st.DrawFn) -> Uniform:
    low = draw(finite)
    width = draw(st.sampled_from([1e-3, 0.5, 1.0, 10.0, 1e4]))
    return ut.uniform(low, low + width)


@st.composite
def loguniforms(draw: st.DrawFn) -> LogUniform:
    low_exp = draw(st.integers(-8, 3))
    decades = draw(st.integers(1, 6))
    mantissa = draw(st.sampled_from([1.0, 2.5, 3.0]))
    return ut.loguniform(mantissa * 10.0**low_exp, mantissa * 10.0 ** (low_exp + decades))


@st.composite
def integers_(draw: st.DrawFn) -> Integer:
    if draw(st.booleans()):  # log scale: low >= 1, step 1
        low = draw(st.integers(1, 100))
        return ut.integer(low, low + draw(st.integers(1, 10_000)), log=True)
    step = draw(st.sampled_from([1, 1, 2, 3, 5, 10]))
    low = draw(st.integers(-1000, 1000))
    return ut.integer(low, low + step * draw(st.integers(1, 20)), step=step)


# Odd option values: None, bools beside ints, tuples, mixed types, odd floats, unicode, bytes, frozensets.
option_values = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20),
    st.floats(allow_nan=True, allow_infinity=True),  # NaN, inf, -0.0, subnormals
    st.text(max_size=5), st.binary(max_size=3),
    st.tuples(st.integers(-5, 5), st.text(max_size=2)), st.tuples(),
    st.frozensets(st.integers(0, 3), max_size=3),
)


def _same(a: Any, b: Any) -> bool:
    """unitune's duplicate rule: same type and equal."""
    return type(a) is type(b) and bool(a == b)


@st.composite
def choices(draw: st.DrawFn) -> Choice:
    raw = draw(st.lists(option_values, min_size=1, max_size=6))
    options: list[Any] = []
    for v in raw:
        if not any(_same(o, v) for o in options):
            options.append(v)
    return ut.choice(options)


primitives = st.one_of(continuous_uniforms(), stepped_uniforms(), loguniforms(), integers_(), choices())

# Constants: plain values, containers of them (the objective gets the very object).
constants = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=4),
    st.lists(st.integers(), max_size=3), st.tuples(st.text(max_size=2), st.none()), st.just({}),
)


# -- spaces ----------------------------------------------------------------------------------------------

def _has_dimension(node: Any) -> bool:
    if isinstance(node, Dimension):
        return True
    return isinstance(node, Mapping) and any(_has_dimension(v) for v in node.values())


def _nodes(depth: int) -> st.SearchStrategy[Any]:
    """A value of a space definition: a primitive, a constant, a group (dict) or a conditional choice."""
    if depth <= 0:
        return st.one_of(primitives, primitives, constants)
    child = st.deferred(lambda: _nodes(depth - 1))
    groups = st.dictionaries(names, child, max_size=3)
    conditionals = st.dictionaries(names, st.one_of(groups, child), min_size=1, max_size=3).map(ut.choice)
    return st.one_of(primitives, constants, groups, conditionals)


@st.composite
def spaces(draw: st.DrawFn, max_depth: int = 2, max_size: int = 4) -> dict[str, Any]:
    """A valid space definition: a few top-level primitives (so every example searches something), then
    random nodes (primitives, constants, groups, conditional choices) up to ``max_depth`` levels deep."""
    top = draw(st.lists(primitives, min_size=1, max_size=3))
    space = {f"p{i}": dim for i, dim in enumerate(top)}
    space.update(draw(st.dictionaries(names, _nodes(max_depth), max_size=max_size)))
    if not _has_dimension(space):  # the random part replaced every top-level primitive with a constant
        space[draw(names.filter(lambda k: k not in space))] = draw(primitives)
    return space


# -- what a suggestion must look like --------------------------------------------------------------------

def same_value(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down; NaN equals NaN and -0.0 is not 0.0."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    return bool(a == b)


def check_built(definition: Any, got: Any, *, identical: bool, where: str = "params") -> None:
    """Assert ``got`` (what the objective received) is shaped like ``definition`` and lies in its domain.

    ``identical``: choices and constants must be the user's very objects (the objective ran in this process);
    otherwise equal values of the same type (they were pickled to another process).
    """
    def user_object(expected: Any) -> bool:
        return got is expected if identical else same_value(expected, got)

    if isinstance(definition, Conditional):
        assert type(got) is tuple and len(got) == 2, f"{where}: a conditional gives (label, sub), got {got!r}"
        label, sub = got
        assert type(label) is str and label in definition.branches, f"{where}: unknown branch {label!r}"
        check_built(definition.branches[label], sub, identical=identical, where=f"{where}.{label}")
    elif isinstance(definition, Choice):
        assert any(o is got for o in definition.options) if identical else any(
            same_value(o, got) for o in definition.options), f"{where}: {got!r} is not an option of {definition!r}"
    elif isinstance(definition, Integer):
        assert type(got) is int and definition.contains(got), f"{where}: {got!r} not in {definition!r}"
    elif isinstance(definition, (Uniform, LogUniform)):
        assert type(got) is float and definition.contains(got), f"{where}: {got!r} not in {definition!r}"
    elif isinstance(definition, Mapping):  # a group: a fresh dict each trial
        assert type(got) is dict and list(got) == list(definition), f"{where}: keys {list(got)} != {list(definition)}"
        for key, sub in definition.items():
            check_built(sub, got[key], identical=identical, where=f"{where}.{key}")
    else:
        assert user_object(definition), f"{where}: constant {definition!r} came back as {got!r}"


# -- invalid spaces --------------------------------------------------------------------------------------

Builder = Callable[[], Any]
not_real = st.sampled_from(["1", None, True, 1j, [0.0], Decimal("nan")])
non_finite = st.sampled_from([math.nan, math.inf, -math.inf])


@st.composite
def _low_high_not_increasing(draw: st.DrawFn) -> tuple[float, float]:
    high = draw(finite)
    return high + draw(st.sampled_from([0.0, 1e-9, 1.0, 1e3])), high


bad_keys = st.one_of(st.sampled_from(["", "a.b", ".", "x."]), st.sampled_from([1, None, ("a",), 2.5, b"x"]))


@st.composite
def invalid_primitives(draw: st.DrawFn) -> tuple[str, Builder]:
    """``(what is wrong, builder)`` of one primitive that must refuse to be built."""
    low, high = draw(_low_high_not_increasing())
    bad_step = draw(st.sampled_from([0.0, -0.1, -1.0, math.nan, math.inf, "0.1", True]))
    bad_int = draw(st.sampled_from([1.0, 2.5, "3", None, True, math.nan]))
    nf, nr, first, k = draw(non_finite), draw(not_real), draw(st.booleans()), draw(st.integers(0, 5))
    empty = draw(st.sampled_from([[], ()]))
    not_sequence = draw(st.sampled_from(["abc", {1, 2}, 3, None]))
    dup = draw(st.sampled_from([1, "a", None, (1, 2), 2.5, True, frozenset({1})]))
    dup_prefix = draw(st.lists(st.sampled_from(["p", 7, (0,)]), max_size=2, unique=True))
    holder = draw(st.sampled_from([tuple, dict]))
    bad_key = draw(bad_keys)
    cases: list[tuple[str, Builder]] = [
        ("uniform low >= high", lambda: ut.uniform(low, high)),
        ("uniform bound not finite", lambda: ut.uniform(nf, 1.0) if first else ut.uniform(0.0, nf)),
        ("uniform bound not a real", lambda: ut.uniform(nr, 1.0) if first else ut.uniform(0.0, nr)),
        ("uniform step <= 0 / not finite / wrong type", lambda: ut.uniform(0.0, 1.0, step=bad_step)),
        ("uniform high off the step grid", lambda: ut.uniform(0.0, 1.0, step=0.3)),
        ("loguniform low <= 0", lambda: ut.loguniform(-abs(low) if first else 0.0, 10.0)),
        ("loguniform low >= high", lambda: ut.loguniform(abs(high) + 1 + (low - high), abs(high) + 1)),
        ("loguniform bound not finite", lambda: ut.loguniform(1e-3, nf)),
        ("loguniform bound not a real", lambda: ut.loguniform(nr, 1.0)),
        ("integer low >= high", lambda: ut.integer(int(low), int(low) - k)),
        ("integer bound not an int", lambda: ut.integer(bad_int, 10) if first else ut.integer(0, bad_int)),
        ("integer step < 1", lambda: ut.integer(0, 10, step=-k)),
        ("integer step not an int", lambda: ut.integer(0, 10, step=bad_int)),
        ("integer high off the step grid", lambda: ut.integer(0, 10, step=3)),
        ("integer log with low < 1", lambda: ut.integer(-k, 100, log=True)),
        ("integer log with step != 1", lambda: ut.integer(1, 101, step=2 + k, log=True)),
        ("empty choice", lambda: ut.choice(empty)),
        ("choice of a str / set / number", lambda: ut.choice(not_sequence)),
        ("choice with an option twice", lambda: ut.choice([*dup_prefix, dup, dup])),
        ("choice with a search dimension inside an option",
         lambda: ut.choice(["a", (1, ut.uniform(0, 1)) if holder is tuple else {"k": ut.integer(1, 2)}])),
        ("conditional with no branch", lambda: ut.choice({})),
        ("conditional with a bad label", lambda: ut.choice({bad_key: {"x": ut.uniform(0, 1)}})),
    ]
    return draw(st.sampled_from(cases))


@st.composite
def invalid_structures(draw: st.DrawFn) -> tuple[str, Builder]:
    """``(what is wrong, builder)`` of a node that is wrong as a part of a space (the primitives are fine)."""
    dim = draw(st.sampled_from([lambda: ut.uniform(0, 1), lambda: ut.integer(1, 3), lambda: ut.choice(["a"])]))
    key = draw(bad_keys)
    container = draw(st.sampled_from([list, tuple, set]))
    cases: list[tuple[str, Builder]] = [
        ("a bad parameter name", lambda: {key: dim()}),
        (f"a {container.__name__} holding a search dimension", lambda: container([1, dim()])),
    ]
    return draw(st.sampled_from(cases))


@st.composite
def invalid_spaces(draw: st.DrawFn) -> tuple[str, Builder]:
    """``(what is wrong, builder)``: a random valid space with one wrong part at a random depth, or a wrong whole."""
    only_constants = draw(st.dictionaries(names, constants, max_size=3))
    not_a_dict = draw(st.sampled_from([lambda: [("x", ut.uniform(0, 1))], lambda: "x", lambda: None, lambda: 3]))
    whole: list[tuple[str, Builder]] = [
        ("no search dimension (only constants)", lambda: only_constants),
        ("not a dict", not_a_dict),
    ]
    what, bad = draw(st.one_of(invalid_primitives(), invalid_structures(), st.sampled_from(whole)))
    if what in dict(whole):
        return what, bad
    valid = draw(spaces(max_depth=1, max_size=3))
    path = draw(st.lists(names, min_size=1, max_size=3))
    in_branch = draw(st.booleans())

    def build() -> Any:
        node: Any = bad()
        if in_branch:  # inside a branch of a conditional choice
            node = ut.choice({path[-1]: node})
        for key in reversed(path):
            node = {key: node}
        return {**valid, **node}

    return f"{what} at {'.'.join(path)}", build
