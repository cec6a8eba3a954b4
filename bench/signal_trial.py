"""Send Ctrl-C or SIGTERM to `happysad train` at random moments; count what went wrong.

A reliability trial, not a test: a wrong outcome is rare (a few in a hundred before the
fixes it measured), so it takes many runs. Each run trains a tiny network on synthetic
faces; the signal goes at a random moment in a window after a line of the output:

    python bench/signal_trial.py --after "Images:" --window 0.4 --runs 100   # model set-up
    python bench/signal_trial.py --after "Epoch 3/" --window 1.0 --runs 100  # mid-training

Prints one line per run that went wrong (exit code not 130, a traceback, or still running
30 s later: a lost signal), then a tally of (exit code, what the run folder says).
About 7-13 s a run on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one_run(data: Path, runs: Path, name: str, after: str, delay: float, sig) -> tuple:
    args = [sys.executable, "-m", "happysad", "train", "--data", str(data), "--runs-dir",
            str(runs), "--name", name, "--epochs", "400", "--image-size", "48",
            "--set", "conv_filters=[8]", "--set", "dense_units=16", "--batch-size", "4",
            "--set", "threshold=null", "--set", "progress=epoch"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    for line in proc.stdout:
        if line.startswith(after):
            break
    time.sleep(delay)
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=30)
        outcome = f"exit {proc.returncode}"
    except subprocess.TimeoutExpired:  # the signal was lost: training went on
        proc.kill()
        _, err = proc.communicate()
        outcome = "LOST"
    run = runs / name
    metrics = run / "metrics.json"
    if not run.exists():
        folder = "no folder"
    elif metrics.exists():
        folder = json.loads(metrics.read_text())["status"]
    else:
        folder = "folder without metrics.json"
    traceback = "Traceback" in err
    return (outcome, folder, "traceback" if traceback else ""), err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--after", default="Images:", help="the output line the window follows")
    parser.add_argument("--window", type=float, default=0.4, help="seconds, the delay's maximum")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    opts = parser.parse_args()

    rng = random.Random(opts.seed)
    tally: dict[tuple, int] = {}
    with tempfile.TemporaryDirectory(prefix="signal-trial-") as tmp:
        data = Path(tmp) / "faces"
        subprocess.run([sys.executable, "-m", "happysad", "synth", str(data), "--per-class",
                        "8", "--size", "48"], check=True, capture_output=True)
        for i in range(opts.runs):
            sig = rng.choice([signal.SIGTERM, signal.SIGINT])
            delay = rng.uniform(0, opts.window)
            key, err = one_run(data, Path(tmp) / "runs", f"r{i}", opts.after, delay, sig)
            tally[key] = tally.get(key, 0) + 1
            if key[0] != "exit 130" or key[2]:
                last = err.strip().splitlines()[-1] if err.strip() else ""
                print(f"run {i}: {sig.name} {delay:.3f} s after {opts.after!r}: {key} {last}",
                      flush=True)
    for key, count in sorted(tally.items(), key=lambda kv: -kv[1]):
        print(f"{count:4d}  {', '.join(k for k in key if k)}")


if __name__ == "__main__":
    main()
