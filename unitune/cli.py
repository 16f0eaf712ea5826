"""The ``unitune`` console command: look at the studies in a trial store.

    unitune studies runs.db                      one row per study
    unitune show runs.db NAME [--csv F] [--parquet F]   a study's trials (and export them)
    unitune dashboard runs.db [--host 127.0.0.1] [--port 8080]   optuna-dashboard over every study
    unitune tensorboard runs.db NAME LOGDIR      TensorBoard HParams data for one study

A store is an SQLite file path, ``sqlite:///path`` or a ``postgresql://`` URL.  A missing store, an
unknown study or an unwritable output is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

EXIT_USAGE = 2
SHOW_DROP = ("backend", "algorithm", "seed", "started", "finished", "optimizer_s", "worker")


class CommandError(Exception):
    """A user error: printed as one line, exit status 2."""


def _check_store(store: str) -> str:
    """Refuse a file path that does not exist (opening it would create an empty store)."""
    if "://" in store and not store.startswith("sqlite:///"):
        return store
    path = Path(store[len("sqlite:///"):] if store.startswith("sqlite:///") else store).expanduser()
    if not path.exists():
        raise CommandError(f"no store at {path}")
    if path.is_dir():
        raise CommandError(f"{path} is a folder, not a store file")
    return store


def _studies(store: str) -> Any:
    from .storage import studies

    return studies(_check_store(store))


def _load(store: str, name: str) -> Any:
    from .storage import load

    return load(_check_store(store), name)


def _terminal_table(table: Any, max_colwidth: int = 28) -> str:
    import pandas as pd

    def fmt(x: float) -> str:
        return "" if isinstance(x, float) and math.isnan(x) else f"{x:.6g}"

    table = table.copy()
    for column in table.columns:
        if table[column].dtype == object:  # None (an inactive branch, no error) shows as blank
            table[column] = ["" if v is None else v for v in table[column]]
        elif isinstance(table[column].dtype, pd.Int64Dtype):
            table[column] = ["" if v is pd.NA else str(v) for v in table[column]]
        elif isinstance(table[column].dtype, pd.DatetimeTZDtype):
            table[column] = table[column].dt.strftime("%Y-%m-%d %H:%M:%S")
    width = shutil.get_terminal_size((160, 24)).columns
    with pd.option_context("display.width", width, "display.max_columns", None, "display.max_rows", None):
        return table.to_string(index=False, max_colwidth=max_colwidth, float_format=fmt, na_rep="")


def _exportable(table: Any) -> Any:
    """Object columns as Parquet can hold them: numbers/str/bool/None stay, other objects become repr."""
    out = table.copy()
    for column in out.columns:
        if out[column].dtype != object:
            continue
        values = out[column].tolist()
        kinds = {type(v) for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))}
        if len(kinds) > 1 or not kinds <= {str, bool, int, float}:
            out[column] = [None if v is None else v if isinstance(v, str) else repr(v) for v in values]
    return out


def cmd_studies(args: argparse.Namespace) -> int:
    table = _studies(args.store)
    if table.empty:
        print(f"no studies in {args.store}")
        return 0
    print(_terminal_table(table))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    result = _load(args.store, args.name)
    table = result.table
    counts = table["state"].value_counts().to_dict() if len(table) else {}
    states = ", ".join(f"{counts.get(s, 0)} {s}" for s in ("complete", "pruned", "failed"))
    if result.several_objectives:
        goal = result.objectives.describe()  # type: ignore[union-attr]
        best = f"{len(result.best_trials)} trials on the Pareto front"
    else:
        goal, best = f"{result.direction} {result.metric or 'value'}", f"best value {result.best_value}"
    print(f"{args.name}: {result.backend}/{result.algorithm}, seed {result.seed}, {goal}; {len(table)} trials "
          f"({states}); {best}")
    if args.csv:
        _write(args.csv, lambda path: table.to_csv(path, index=False))
    if args.parquet:
        _write(args.parquet, lambda path: _exportable(table).to_parquet(path, index=False))
    if len(table):
        shown = table.copy()
        for param in result.space.params:  # a chosen None reads "None"; an inactive parameter stays blank
            column = f"params.{param.path}"
            if column in shown.columns and shown[column].dtype == object:
                shown[column] = ["None" if v is None and param.path in r.params else v
                                 for v, r in zip(shown[column], result.records, strict=True)]
        shown = shown.drop(columns=[c for c in SHOW_DROP if c in table.columns and not args.all_columns])
        if args.sort:
            shown = shown.sort_values("value", ascending=result.direction == "minimize", na_position="last")
        print(_terminal_table(shown.head(args.limit) if args.limit else shown))
    return 0


def _write(path: str, write: Any) -> None:
    target = Path(path)
    if not target.parent.exists():
        raise CommandError(f"cannot write {target}: the folder {target.parent} does not exist")
    try:
        write(target)
    except ImportError as exc:
        raise CommandError(f"cannot write {target}: {exc}") from exc
    except OSError as exc:
        raise CommandError(f"cannot write {target}: {exc.strerror or exc}") from exc
    print(f"wrote {target}", file=sys.stderr)


def build_dashboard_storage(store: str, names: Sequence[str] | None = None) -> Any:
    """An Optuna ``InMemoryStorage`` holding every study of ``store`` (or ``names``), exported with to_optuna."""
    import optuna

    from .integrations.optuna_export import to_optuna

    listed = list(_studies(store)["name"])
    for name in names or ():
        if name not in listed:
            raise CommandError(f"no study {name!r} in {store} (it has: {', '.join(listed) or 'none'})")
    storage = optuna.storages.InMemoryStorage()
    for name in names or listed:
        to_optuna(_load(store, name), study_name=name, storage=storage)
    return storage


def cmd_dashboard(args: argparse.Namespace) -> int:
    try:
        from optuna_dashboard import run_server
    except ImportError:
        raise CommandError('the dashboard needs optuna-dashboard: pip install "unitune[viz]"') from None
    storage = build_dashboard_storage(args.store, args.name)
    count = len(storage.get_all_studies())
    print(f"optuna-dashboard on http://{args.host}:{args.port}/ with {count} "
          f"stud{'y' if count == 1 else 'ies'} from {args.store} (Ctrl-C stops it)", file=sys.stderr, flush=True)
    try:
        run_server(storage, host=args.host, port=args.port)
    except OSError as exc:
        raise CommandError(f"cannot serve on {args.host}:{args.port}: {exc.strerror or exc}") from exc
    except KeyboardInterrupt:
        pass
    return 0


def cmd_tensorboard(args: argparse.Namespace) -> int:
    result = _load(args.store, args.name)
    try:
        logdir = result.to_tensorboard(args.logdir)
    except FileExistsError as exc:
        raise CommandError(str(exc)) from exc
    except OSError as exc:
        raise CommandError(f"cannot write {args.logdir}: {exc.strerror or exc}") from exc
    print(f"wrote {len(result.records)} runs to {logdir}; view them with: tensorboard --logdir {logdir}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="unitune", description="Look at the studies in a unitune trial store (SQLite file or postgresql:// URL)."
    )
    parser.add_argument("--version", action="version", version=f"unitune {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("studies", help="list the studies in a store", description="One row per study in STORE.")
    p.add_argument("store", metavar="STORE", help="an SQLite file, sqlite:///path or postgresql://…")
    p.set_defaults(func=cmd_studies)

    p = sub.add_parser("show", help="show one study's trials as a table (and export it)",
                       description="The trials of study NAME in STORE, one row each (the unitune table).")
    p.add_argument("store", metavar="STORE")
    p.add_argument("name", metavar="NAME", help="the study's name (see `unitune studies STORE`)")
    p.add_argument("--csv", metavar="PATH", help="also write the full table as CSV")
    p.add_argument("--parquet", metavar="PATH", help="also write the full table as Parquet (objects as their repr)")
    p.add_argument("--sort", action="store_true", help="best value first")
    p.add_argument("--limit", type=int, default=0, metavar="N", help="show only the first N rows")
    p.add_argument("--all-columns", action="store_true", help="also show backend, seed, timestamps, worker")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("dashboard", help="open optuna-dashboard on every study of a store",
                       description="Export each study of STORE with to_optuna into an in-memory Optuna "
                       "storage and serve optuna-dashboard on it.")
    p.add_argument("store", metavar="STORE")
    p.add_argument("--name", action="append", metavar="NAME", help="only this study (repeatable)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.set_defaults(func=cmd_dashboard)

    p = sub.add_parser("tensorboard", help="write one study for TensorBoard's HParams dashboard",
                       description="Write study NAME of STORE to LOGDIR (a new or empty folder) as TensorBoard "
                       "HParams data: one run per trial.  Then: tensorboard --logdir LOGDIR")
    p.add_argument("store", metavar="STORE")
    p.add_argument("name", metavar="NAME")
    p.add_argument("logdir", metavar="LOGDIR")
    p.set_defaults(func=cmd_tensorboard)
    return parser


def _version() -> str:
    from . import __version__

    return __version__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (``sys.argv[1:]`` when None); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CommandError as exc:
        print(f"unitune: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # a store or study error from unitune: one line, no traceback
        from .exceptions import UnituneError

        if isinstance(exc, (UnituneError, OSError)):
            message = " ".join(str(exc).split())
            print(f"unitune: error: {message}", file=sys.stderr)
            return EXIT_USAGE
        raise
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
