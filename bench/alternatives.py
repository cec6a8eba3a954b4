"""Options that happysad does not take, measured: bfloat16 arithmetic, and PyTorch.

    python bench/alternatives.py            # about 2 minutes on 2 cores
    pip install torch --index-url https://download.pytorch.org/whl/cpu   # for the torch row

Seconds per epoch (8 steps of batch 10, 150x150x3, the lab's network and RMSprop) of:

- ``float32``: happysad's model, built as ``happysad train`` builds it (speed-ups on);
- ``mixed_bfloat16``: the same, under Keras's mixed-precision policy (bfloat16 arithmetic,
  float32 weights), which oneDNN runs on AVX-512 BF16 / AMX where the CPU has them;
- ``torch``: the same network and optimizer in plain PyTorch (eager, oneDNN convolutions,
  ``foreach`` RMSprop), skipped when torch is not installed.

Each side runs in its own process, sides alternate round by round, and medians are
reported, as in ``bench/run.py``. The images are random: the time of a step does not
depend on their values. Neither option is adopted: bfloat16 changes the arithmetic, hence
what is learned, and PyTorch was slower (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

STEPS, BATCH, SIZE, WARMUP, EPOCHS = 8, 10, 150, 2, 6


def _time_epochs(run_epoch) -> list[float]:
    for _ in range(WARMUP):
        run_epoch()
    seconds = []
    for _ in range(EPOCHS):
        start = time.perf_counter()
        run_epoch()
        seconds.append(time.perf_counter() - start)
    return seconds


def keras_side(policy: str) -> list[float]:
    import numpy as np

    from happysad.backend import load_keras
    from happysad.config import TrainConfig
    from happysad.speed import keep_freed_memory
    from happysad.train import build_model

    keep_freed_memory()
    keras = load_keras()
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(1)
    model = build_model(TrainConfig(), 2, steps_per_epoch=STEPS)
    import tensorflow as tf

    rng = np.random.default_rng(1)
    x = rng.random((STEPS * BATCH, SIZE, SIZE, 3), dtype=np.float32)
    y = (rng.random(STEPS * BATCH) > 0.5).astype(np.float32)
    # In-memory batches, as happysad feeds them. (Keras's adapter for NumPy arrays ran
    # some epochs at half speed here, on one core; a tf.data stream did not.)
    batches = tf.data.Dataset.from_tensor_slices((x, y)).batch(BATCH).cache().repeat()
    seconds: list[float] = []

    class EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    # One fit, timed epoch by epoch: a fit call per epoch would add its set-up to each.
    model.fit(batches.prefetch(2), steps_per_epoch=STEPS, epochs=WARMUP + EPOCHS, verbose=0,
              callbacks=[EpochTimes()])
    return seconds[WARMUP:]


def torch_side() -> list[float]:
    import torch
    from torch import nn

    torch.manual_seed(1)
    layers, channels, size = [], 3, SIZE
    for filters in (16, 32, 64):
        layers += [nn.Conv2d(channels, filters, 3), nn.ReLU(), nn.MaxPool2d(2)]
        channels, size = filters, (size - 2) // 2
    model = nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * size * size, 512),
                          nn.ReLU(), nn.Linear(512, 1))
    # Keras's RMSprop defaults: rho 0.9, epsilon 1e-7.
    optimizer = torch.optim.RMSprop(model.parameters(), lr=0.001, alpha=0.9, eps=1e-7,
                                    foreach=True)
    loss_fn = nn.BCEWithLogitsLoss()
    x = torch.rand(STEPS * BATCH, 3, SIZE, SIZE)
    y = (torch.rand(STEPS * BATCH, 1) > 0.5).float()

    def run_epoch():
        for i in range(0, STEPS * BATCH, BATCH):
            optimizer.zero_grad()
            loss_fn(model(x[i:i + BATCH]), y[i:i + BATCH]).backward()
            optimizer.step()

    return _time_epochs(run_epoch)


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--side":
        side = sys.argv[2]
        seconds = torch_side() if side == "torch" else keras_side(side)
        print("RESULT " + json.dumps(seconds), flush=True)
        return
    sides = ["float32", "mixed_bfloat16"]
    try:
        import torch  # noqa: F401

        sides.append("torch")
    except ImportError:
        print("torch is not installed: its row is skipped", flush=True)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    results: dict[str, list[float]] = {side: [] for side in sides}
    for r in range(3):
        for side in sides if r % 2 == 0 else sides[::-1]:
            out = subprocess.run([sys.executable, __file__, "--side", side], env=env,
                                 capture_output=True, text=True, check=True).stdout
            seconds = json.loads(out.split("RESULT ", 1)[1])
            results[side].extend(seconds)
            print(f"  round {r + 1}/3 {side:15s} median {statistics.median(seconds):.3f} s/epoch",
                  flush=True)
    base = statistics.median(results["float32"])
    print(f"\n| side | s/epoch (median of {3 * EPOCHS}) | vs float32 |\n| --- | ---: | ---: |")
    for side, seconds in results.items():
        print(f"| {side} | {statistics.median(seconds):.3f} | {base / statistics.median(seconds):.2f}x |")


if __name__ == "__main__":
    main()
