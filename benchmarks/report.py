"""Convergence plots (PNG) and one self-contained HTML report."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import pandas as pd

from .summary import best_so_far


def convergence_plots(trials: pd.DataFrame, refs: pd.DataFrame, out: Path) -> dict[str, Path]:
    """One PNG per problem: best-so-far vs trial, mean over seeds with a min–max band, per optimizer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = best_so_far(trials)
    curves["optimizer"] = curves["backend"] + "/" + curves["algorithm"]
    paths: dict[str, Path] = {}
    for problem, group in curves.groupby("problem", sort=False):
        fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
        known = problem in refs.index and bool(refs.loc[problem, "optimum_known"])
        for optimizer, runs in group.groupby("optimizer", sort=False):
            wide = runs.pivot_table(index="trial", columns="run", values="best_so_far", aggfunc="first")
            if known:  # regret on a log axis: the last digits matter near the optimum
                wide = (wide - refs.loc[problem, "optimum"]).clip(lower=1e-6)
            x = wide.index.to_numpy() + 1
            ax.plot(x, wide.mean(axis=1), label=optimizer, linewidth=1.6)
            ax.fill_between(x, wide.min(axis=1), wide.max(axis=1), alpha=0.15)
        if known:
            ax.set_yscale("log")
        what = "regret (best so far − optimum)" if known else "best value so far"
        ax.set_title(f"{problem}: {what}; mean over seeds, band = min–max", fontsize=10)
        ax.set_xlabel("trial")
        ax.set_ylabel(f"{'regret, log scale' if known else 'best value'} (lower is better)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, ncol=2)
        fig.tight_layout()
        path = out / f"convergence_{problem}.png"
        fig.savefig(path)
        plt.close(fig)
        paths[problem] = path
    return paths


def html_report(summary_md: str, table: pd.DataFrame, overall: pd.DataFrame, plots: dict[str, Path],
                config: dict[str, object], out: Path, title: str = "unitune benchmark",
                filename: str = "report.html", summary_name: str = "summary.md",
                note: str = "Normalized score: 0 = median of random search, 100 = the optimum (known, or best found "
                            "by any run).") -> Path:
    """Write ``out/filename`` (``report.html``): configuration, both tables and every plot inlined as base64."""
    def frame(df: pd.DataFrame) -> str:
        return df.to_html(index=False, float_format=lambda v: f"{v:.4g}", na_rep="–", border=0, classes="t")

    images = "\n".join(
        f"<h3>{html.escape(name)}</h3><img alt='{html.escape(name)}' "
        f"src='data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()}'>"
        for name, path in plots.items()
    )
    settings = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in config.items())
    page = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}}
table.t{{border-collapse:collapse;font-size:13px}} table.t td,table.t th{{padding:3px 8px;border-bottom:1px solid #ddd}}
img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1><ul>{settings}</ul>
<p>{html.escape(note)}</p>
<h2>Overall</h2>{frame(overall)}
<h2>Per problem</h2>{frame(table)}
<h2>Plots</h2>{images}
<h2>{html.escape(summary_name)}</h2><pre>{html.escape(summary_md)}</pre>
</body></html>"""
    path = out / filename
    path.write_text(page, encoding="utf-8")
    return path
