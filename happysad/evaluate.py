"""How good a trained run is: loss, accuracy, per-class precision/recall/F1, confusion
matrix, ROC AUC. Computed here in NumPy from the model's probabilities, so the numbers
do not depend on which metrics the model was compiled with.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import DataError
from .inference import TrainedRun, check_same_classes, load_run


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """Counts, rows = true class, columns = predicted class."""
    matrix = np.zeros((k, k), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def per_class_scores(matrix: np.ndarray, class_names: list[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support per class (0 where undefined, as scikit-learn)."""
    scores = {}
    for i, name in enumerate(class_names):
        tp = matrix[i, i]
        predicted, actual = matrix[:, i].sum(), matrix[i, :].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[name] = {"precision": float(precision), "recall": float(recall),
                        "f1": float(f1), "support": int(actual)}
    return scores


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float | None:
    """Area under the ROC curve for a binary problem (ties count half).

    It equals the probability that a random positive scores above a random negative
    (the Mann-Whitney U statistic), computed from ranks in O(n log n).
    """
    positives = y_true == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return None  # undefined with one class present
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(len(score), dtype=np.float64)
    sorted_scores = score[order]
    # Average ranks over ties.
    _, start, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for s, c in zip(start, counts):
        ranks[order[s:s + c]] = s + (c + 1) / 2.0
    u = ranks[positives].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def cross_entropy(y_true: np.ndarray, probs: np.ndarray) -> float:
    eps = 1e-7  # Keras clips probabilities the same way
    p = np.clip(probs[np.arange(len(y_true)), y_true], eps, 1 - eps)
    return float(-np.log(p).mean())


def score(y_true: np.ndarray, probs: np.ndarray, class_names: list[str],
          threshold: float = 0.5) -> dict[str, Any]:
    """All metrics from true labels and (n, K) class probabilities."""
    k = len(class_names)
    if k == 2:
        y_pred = (probs[:, 1] >= threshold).astype(np.int64)
    else:
        y_pred = probs.argmax(axis=1)
    matrix = confusion_matrix(y_true, y_pred, k)
    return {
        "images": int(len(y_true)),
        "loss": cross_entropy(y_true, probs),
        "accuracy": float((y_pred == y_true).mean()) if len(y_true) else 0.0,
        "per_class": per_class_scores(matrix, class_names),
        "confusion_matrix": matrix.tolist(),
        "roc_auc": roc_auc(y_true, probs[:, 1]) if k == 2 else None,
        "class_names": class_names,
    }


def _evaluation_images(trained: TrainedRun, data: str | None):
    """The images to score and a description of them.

    Without ``data`` the run's own held-out images are rebuilt: the same source, the same
    seeded split. A run trained on everything is scored on its training images, and says so.
    """
    from .data import locate_data
    from .dataset import stratified_split
    from .images import load_images

    config = trained.config

    def locate_runs_own(path):
        try:
            return locate_data(path, config.url, config.sha256, progress=False)
        except DataError:
            raise DataError(
                f"the data this run was trained on ({path}) is no longer there; pass "
                "--data PATH to evaluate on a zip or folder with the same classes"
            ) from None

    if data is not None:
        source = locate_data(data, config.url, config.sha256, progress=False)
        images = load_images(source, config.image_size, "rgb", config.skip_bad_images)
        check_same_classes(trained, images.class_names, source)
        return images, f"all images of {source}"
    if config.val_data:
        source = locate_runs_own(config.val_data)
        images = load_images(source, config.image_size, "rgb", config.skip_bad_images)
        return images, f"the run's validation data {source}"
    source = locate_runs_own(config.data)
    if config.val_split > 0:
        _check_unchanged(trained, source)
    images = load_images(source, config.image_size, "rgb", config.skip_bad_images)
    check_same_classes(trained, images.class_names, source)
    if config.val_split > 0:
        _, val_idx = stratified_split(images.y, config.val_split, config.seed, images.class_names)
        return images.subset(val_idx), f"the run's held-out {config.val_split:g} split of {source}"
    return images, f"the training images of {source} (the run held none out)"


def _check_unchanged(trained: TrainedRun, source: Path) -> None:
    """DataError if the data differs from what the run trained on (its saved SHA-256).

    The held-out images are found by splitting the data again with the run's seed; an image
    added, removed or changed since moves others across the split, and the score would then
    silently include images the model was trained on.
    """
    from .data import fingerprint

    expected = trained.metrics.get("data_sha256")
    if expected is None:
        return  # not recorded: nothing to compare with
    if fingerprint(Path(source)) != expected:
        raise DataError(
            f"the data at {source} changed since training; its held-out split is no longer "
            "the one training held out: pass --data with a separate set"
        )


def evaluate_run(run_path: str | os.PathLike, data: str | None = None,
                 threshold: float = 0.5, figure: bool = True) -> dict[str, Any]:
    """Score a trained run.

    Args:
        run_path: a finished run folder.
        data: a zip/folder/``synth`` to score on; default the run's own validation images.
        threshold: for a binary model, P(second class) at or above this predicts it.
        figure: also write ``confusion.png`` into the run folder.

    Returns:
        A dict: images, loss, accuracy, per_class, confusion_matrix, roc_auc, class_names,
        evaluated_on, and (with ``figure``) confusion_png.
    """
    if not 0.0 < threshold < 1.0:
        raise DataError(f"threshold must be between 0 and 1, got {threshold}")
    trained = load_run(run_path)
    images, described = _evaluation_images(trained, data)
    probs = trained.probabilities(images.x)
    result = score(images.y, probs, trained.class_names, threshold)
    result["evaluated_on"] = described
    if figure:
        path = trained.run.path / "confusion.png"
        draw_confusion(np.asarray(result["confusion_matrix"]), trained.class_names, path)
        result["confusion_png"] = str(path)
    return result


def draw_confusion(matrix: np.ndarray, class_names: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4 + 0.4 * len(class_names),) * 2, dpi=100)
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(class_names)), class_names)
    ax.set_yticks(range(len(class_names)), class_names)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("True")
    ax.set_title("Confusion matrix")
    top = matrix.max() if matrix.size else 0
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center",
                color="white" if count > top / 2 else "black")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def format_report(result: dict[str, Any]) -> str:
    """The result as a text report (what ``happysad evaluate`` prints)."""
    names = result["class_names"]
    width = max(12, *(len(n) for n in names))
    lines = [
        f"Evaluated on {result['images']} images: {result['evaluated_on']}",
        f"loss {result['loss']:.4f}   accuracy {result['accuracy']:.4f}"
        + (f"   ROC AUC {result['roc_auc']:.4f}" if result.get("roc_auc") is not None else ""),
        "",
        f"{'class':<{width}} precision  recall      f1  support",
    ]
    for name in names:
        s = result["per_class"][name]
        lines.append(f"{name:<{width}} {s['precision']:9.4f} {s['recall']:7.4f} "
                     f"{s['f1']:7.4f} {s['support']:8d}")
    lines += ["", "confusion matrix (rows: true, columns: predicted)",
              " " * width + "".join(f"{n:>10}" for n in names)]
    for name, row in zip(names, result["confusion_matrix"]):
        lines.append(f"{name:<{width}}" + "".join(f"{c:>10}" for c in row))
    if result.get("confusion_png"):
        lines += ["", f"figure: {result['confusion_png']}"]
    return "\n".join(lines) + "\n"
