"""Make docs/tensorboard-hparams.png: a real unitune run shown in TensorBoard's HParams dashboard.

    python docs/tensorboard_screenshot.py [--out docs/tensorboard-hparams.png]

Needs `unitune[viz]`, Playwright's Python package (`pip install playwright`) and Debian's Chromium
(`apt-get install -y chromium`; Playwright drives /usr/bin/chromium, it downloads no browser).  The run:
an SVC on 600 digits scored by 3-fold cross-validation, 40 trials of Optuna's TPE; TensorBoard is started
on 127.0.0.1 and stopped by its process id.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import unitune as ut


def run_study() -> ut.Result:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.svm import SVC

    x, y = load_digits(return_X_y=True)
    x, y = x[:600] / 16.0, y[:600]
    folds = StratifiedKFold(3, shuffle=True, random_state=0)

    def objective(params):
        model = SVC(C=params["C"], gamma=params["gamma"], kernel=params["kernel"],
                    class_weight=params["class_weight"])
        accuracy = cross_val_score(model, x, y, cv=folds).mean()
        return {"error": 1 - accuracy, "accuracy": accuracy}

    space = {
        "C": ut.loguniform(1e-2, 1e3),
        "gamma": ut.loguniform(1e-4, 1e1),
        "kernel": ut.choice(["rbf", "sigmoid", "poly"]),
        "class_weight": ut.choice([None, "balanced"]),
    }
    return ut.minimize(objective, space, backend="optuna", n_trials=40, seed=0, metric="error")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).with_name("tensorboard-hparams.png")))
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    result = run_study()
    with tempfile.TemporaryDirectory() as tmp:
        logdir = result.to_tensorboard(Path(tmp) / "svm-digits")
        port = free_port()
        server = subprocess.Popen([sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir),
                                   "--host", "127.0.0.1", "--port", str(port)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            url = f"http://127.0.0.1:{port}/"
            for _ in range(120):
                try:
                    urllib.request.urlopen(url, timeout=2).close()
                    break
                except OSError:
                    time.sleep(0.5)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1500, "height": 900})
                page.goto(url + "#hparams")
                page.get_by_text("PARALLEL COORDINATES VIEW").click()
                page.get_by_text("Logarithmic").first.wait_for()
                for axis in (0, 1):  # C and gamma, the loguniform parameters (first two scale boxes): log axes
                    page.get_by_text("Logarithmic").nth(axis).click()
                page.wait_for_timeout(3000)
                page.screenshot(path=args.out)
                browser.close()
        finally:
            server.kill()
            server.wait(10)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
