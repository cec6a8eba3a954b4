"""A finished run, loaded for use: its model, its config, its classes, its preprocessing.

``evaluate``, ``predict`` and ``export`` all start here, so that every one of them feeds
the model exactly what training fed it (size, RGB, [0, 1] pixels).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .config import TrainConfig, build_config
from .errors import RunError
from .runs import METRICS_FILE, MODEL_FILE, RunFolder


@dataclass
class TrainedRun:
    """A loaded run.

    Attributes:
        run: the run folder.
        model: the trained ``keras.Model``.
        config: the config it was trained with.
        class_names: label i is ``class_names[i]``.
        metrics: the run's metrics.json.
    """

    run: RunFolder
    model: object
    config: TrainConfig
    class_names: list[str]
    metrics: dict = field(default_factory=dict)

    @property
    def binary(self) -> bool:
        return len(self.class_names) == 2

    def probabilities(self, images_uint8: np.ndarray, batch_size: int = 32) -> np.ndarray:
        """Class probabilities, shape (n, K), for uint8 images shaped like training's."""
        from .dataset import scale_pixels

        if len(images_uint8) == 0:
            return np.zeros((0, len(self.class_names)))
        out = np.asarray(self.model.predict(scale_pixels(images_uint8), batch_size=batch_size,
                                            verbose=0), dtype=np.float64)
        if out.shape[1] == 1:  # one sigmoid unit: P(class 1)
            out = np.concatenate([1.0 - out, out], axis=1)
        return out


def check_run(run_path: str | os.PathLike) -> RunFolder:
    """The cheap checks of ``load_run`` (no TensorFlow): a finished Keras run folder."""
    run = RunFolder(run_path).require()
    if not run.model_path.is_file() and run.is_scratch():  # not 'resume it': it cannot be
        raise RunError(
            f"{run.path} is a from-scratch (NumPy) run: evaluate, predict and export take Keras "
            "runs from 'happysad train'; its accuracy is in metrics.json ('happysad runs')"
        )
    return run.require(MODEL_FILE, METRICS_FILE)


def load_run(run_path: str | os.PathLike) -> TrainedRun:
    """Load a finished Keras run folder.

    Raises:
        RunError: not a run folder, not finished, a from-scratch run, or a damaged model.
    """
    from .backend import load_keras

    run = check_run(run_path)
    metrics = run.metrics()
    class_names = metrics.get("class_names")  # its type is checked where it is read
    if class_names is None:
        raise RunError(f"{run.metrics_path} has no class_names; the run folder is damaged")
    config = build_config(TrainConfig, run.config_dict(), source=str(run.config_path))
    keras = load_keras()
    try:
        model = keras.models.load_model(run.model_path)
    except Exception as exc:  # a damaged or foreign file: name it
        raise RunError(
            f"cannot load {run.model_path}: the file is damaged or not a Keras model "
            f"({type(exc).__name__}); train the run again"
        ) from None
    _check_fits(run, model, config, class_names)
    return TrainedRun(run, model, config, class_names, metrics)


def _check_fits(run: RunFolder, model, config: TrainConfig, class_names: list[str]) -> None:
    """RunError unless the model takes the configured images and has an output per class.

    A mismatch means the run's files were edited or mixed from two runs; feeding the model
    anyway ends in a Keras traceback or, worse, in labels from another run's classes.
    """
    try:
        inputs, units = tuple(model.input_shape), model.output_shape[-1]
    except (AttributeError, TypeError, ValueError, IndexError):  # several inputs or outputs
        inputs, units = (), None
    if len(inputs) != 4 or not isinstance(units, int):
        raise RunError(f"{run.model_path} is not a one-input, one-output image classifier; "
                       "the run folder is damaged")
    size = config.image_size
    if any(got is not None and got != want for got, want in zip(inputs[1:], (size, size, 3))):
        taken = "x".join("?" if d is None else str(d) for d in inputs[1:])
        raise RunError(
            f"{run.config_path} says image_size {size}, but {run.model_path} takes {taken} "
            "images; the run folder is damaged (was config.yaml edited?)"
        )
    classes = 2 if units == 1 else units  # one sigmoid unit tells two classes apart
    if len(class_names) != classes:
        raise RunError(
            f"{run.metrics_path} names {len(class_names)} classes, but {run.model_path} has "
            f"{units} output unit{'s' if units != 1 else ''} ({classes} classes); "
            "the run folder is damaged"
        )


def check_same_classes(trained: TrainedRun, class_names: list[str], source: Path | str) -> None:
    if class_names != trained.class_names:
        raise RunError(
            f"{source} has classes {class_names}, but the run was trained on "
            f"{trained.class_names}; use data with the same class folders"
        )
