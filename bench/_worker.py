"""One side of a benchmark comparison, run in its own process by ``bench/run.py``.

Each side gets a fresh process, so that process-wide settings of one side (thread pools,
the allocator setting of ``happysad.speed``) cannot leak into the other.

    python bench/_worker.py epochs SIDE ZIP N     -> per-epoch seconds of N epochs (after 1 warm-up)
                                                     (happysad sides: the whole of train(): history,
                                                     backup and all)
    python bench/_worker.py threshold SIDE ZIP RUNS_DIR -> seconds from start to the threshold stop

SIDE is one of: happysad, happysad-nospeedups, happysad-xla, lab. Prints one JSON line.
"""

from __future__ import annotations

import json
import os
import sys
import time

START = time.perf_counter()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def _happysad_config(side: str, data: str, **extra):
    from happysad.config import TrainConfig, build_config

    values = dict(data=data, val_split=0.0, steps_per_epoch=8, progress="none", seed=1,
                  speedups=side != "happysad-nospeedups", jit_compile=side == "happysad-xla")
    values.update(extra)
    return build_config(TrainConfig, values)


class _Timer:
    """Seconds between consecutive epoch ends: everything an epoch costs, callbacks included.

    Added as the last callback, so the time of the callbacks before it (history, backup)
    falls inside the epoch that ran them.
    """

    def __init__(self, keras):
        outer = self

        class T(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                outer.last = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                now = time.perf_counter()
                outer.seconds.append(now - outer.last)
                outer.last = now

        self.seconds: list[float] = []
        self.last = 0.0
        self.callback = T()


def epochs(side: str, data: str, n: int) -> dict:
    """N epochs after a warm-up one: the lab's loop, or the whole of ``happysad train``."""
    from happysad.backend import load_keras

    keras = load_keras()
    timer = _Timer(keras)
    if side == "lab":
        from lab_pipeline import lab_generator, lab_model

        from happysad.archive import prepare_data

        keras.utils.set_random_seed(1)
        model, generator = lab_model(), lab_generator(prepare_data(data))
        model.fit(generator, steps_per_epoch=8, epochs=n + 1, verbose=0, callbacks=[timer.callback])
    else:
        import tempfile

        from happysad.train import train

        with tempfile.TemporaryDirectory() as runs:
            config = _happysad_config(side, data, epochs=n + 1, threshold=None, runs_dir=runs)
            train(config, echo=lambda s: None, callbacks=[timer.callback])
    return {"side": side, "warmup": timer.seconds[0], "seconds": timer.seconds[1:]}


def threshold(side: str, data: str, runs_dir: str) -> dict:
    """The whole process to the threshold stop, and the part of it spent in epochs."""
    from happysad.backend import load_keras

    keras = load_keras()
    timer = _Timer(keras)
    if side == "lab":
        from lab_pipeline import LabCallback, lab_generator, lab_model

        from happysad.archive import prepare_data

        keras.utils.set_random_seed(1)
        model, generator = lab_model(), lab_generator(prepare_data(data))
        history = model.fit(generator, steps_per_epoch=8, epochs=15, verbose=0,
                            callbacks=[LabCallback(), timer.callback])
        acc = history.history["accuracy"]
        return {"side": side, "seconds": time.perf_counter() - START, "epochs": len(acc),
                "final_accuracy": acc[-1], "epoch_seconds": sum(timer.seconds)}
    from happysad.train import train

    config = _happysad_config(side, data, runs_dir=runs_dir)
    result = train(config, echo=lambda s: None, callbacks=[timer.callback])
    return {"side": side, "seconds": time.perf_counter() - START, "epochs": result.epochs_run,
            "final_accuracy": result.final.get("accuracy"), "run": str(result.run.path),
            "epoch_seconds": sum(timer.seconds)}


if __name__ == "__main__":
    mode, side, data, arg = sys.argv[1:5]
    out = epochs(side, data, int(arg)) if mode == "epochs" else threshold(side, data, arg)
    print("RESULT " + json.dumps(out), flush=True)
