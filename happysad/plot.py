"""The lab's two figures, drawn from a run's saved history (never the live model).

- ``training.png``   "Training parameters": training accuracy and loss per epoch.
- ``validation.png`` "Validation parameters": validation accuracy and loss per epoch.

Works for any run folder with at least one finished epoch, cut short or not, Keras or
from-scratch.
"""

from __future__ import annotations

import logging
from pathlib import Path

from .errors import RunError
from .runs import RunFolder

log = logging.getLogger("happysad")

FIGURES = {
    "training": ("Training parameters", "accuracy", "loss"),
    "validation": ("Validation parameters", "val_accuracy", "val_loss"),
}


def _draw(path: Path, title: str, epochs: list, accuracy: list | None, loss: list | None,
          prefix: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # headless: no display needed, ever
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    few = len(epochs) <= 40  # markers help with a few epochs and smear hundreds into a band
    if accuracy is not None:
        ax.plot(epochs, accuracy, "o-" if few else "-", color="tab:blue", label=f"{prefix}accuracy")
    if loss is not None:
        ax.plot(epochs, loss, "s-" if few else "-", color="tab:red", label=f"{prefix}loss")
    ax.set_title(title)
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Accuracy / loss")
    if len(epochs) <= 20:
        ax.set_xticks(epochs)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


def plot_run(run_path: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Write the run's curve figures as PNG and return their paths.

    Args:
        run_path: a run folder with a history (finished or cut short).
        out_dir: where to write the PNGs (default: the run folder).

    Returns:
        The figures written: training always, validation when the run had validation data.

    Raises:
        RunError: no such run, or no finished epoch to draw.
    """
    run = RunFolder(run_path)
    history = run.history()
    # The epoch numbers, when present, are checked where the history is read (RunFolder).
    epochs = history.get("epoch") or list(range(1, len(next(iter(history.values()), [])) + 1))
    if not epochs:
        raise RunError(f"{run.path} has no finished epoch to plot yet")
    out = Path(out_dir) if out_dir is not None else run.path
    if out_dir is not None:  # the run folder's own figures are redrawn; anyone else's never
        taken = [out / f"{stem}.png" for stem in FIGURES if (out / f"{stem}.png").exists()]
        if taken:
            raise RunError(f"{taken[0]} already exists; choose another --out or remove it first")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create {out}: {exc.strerror or exc}; choose another --out") from None

    def column(key):
        values = history.get(key)
        if values is None or all(v is None for v in values):
            return None
        for epoch, v in zip(epochs, values):
            if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
                raise RunError(
                    f"{run.path}: {key} of epoch {epoch} is {v!r}, not a number; "
                    "the history is damaged"
                )
        return [float("nan") if v is None else v for v in values]

    written = []
    for stem, (title, acc_key, loss_key) in FIGURES.items():
        accuracy, loss = column(acc_key), column(loss_key)
        if accuracy is None and loss is None:
            log.warning("%s: no %s in the history (the run had no validation data); "
                        "skipped %s.png", run.path, acc_key, stem)
            continue
        path = out / f"{stem}.png"
        _draw(path, title, epochs, accuracy, loss, "val_" if stem == "validation" else "")
        written.append(path)
    return written
