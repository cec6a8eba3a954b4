"""Export a trained run for serving, and prove each export gives the model's outputs.

Every export is written under a temporary name, loaded back with the runtime that would
serve it, run on a few images next to the trained model, and only then moved into place.
An export that disagrees is an error and leaves nothing behind.

The exported models take what the trained model takes: float32 images of shape
(n, size, size, 3) with pixels in [0, 1] (divide uint8 pixels by 255).
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from .backend import quiet_native_stderr
from .errors import HappysadError, RunError
from .files import replaced_whole
from .inference import TrainedRun, load_run

FORMATS = ("keras", "saved_model", "tflite")
DEFAULT_NAMES = {"keras": "model.keras", "saved_model": "saved_model", "tflite": "model.tflite"}
# How far an export may drift from Keras: float32 kernels differ in summation order.
TOLERANCE = {"keras": 1e-6, "saved_model": 1e-5, "tflite": 1e-4}


class ExportError(HappysadError):
    """An export could not be written or does not reproduce the model."""


def _check_images(trained: TrainedRun, n: int = 4) -> np.ndarray:
    """A few of the run's own images when they are on disk, else seeded noise."""
    from .dataset import scale_pixels

    size = trained.config.image_size
    data = trained.config.data
    if data and Path(data).exists():
        try:
            from .archive import prepare_data
            from .images import find_classes, load_image

            _, files, _ = find_classes(prepare_data(data))
            picked = [f for fs in files.values() for f in fs[: max(1, n // len(files))]][:n]
            if picked:
                return scale_pixels(np.stack([load_image(f, size) for f in picked]))
        except HappysadError:
            pass  # the data moved or changed: fall back to noise, which checks just as well
    rng = np.random.default_rng(0)
    return scale_pixels(rng.integers(0, 256, size=(n, size, size, 3), dtype=np.uint8))


def _run_keras(path: Path, x: np.ndarray) -> np.ndarray:
    import keras

    return np.asarray(keras.models.load_model(path).predict(x, verbose=0))


def _run_saved_model(path: Path, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    return np.asarray(loaded.serve(tf.constant(x)))


def _run_tflite(path: Path, x: np.ndarray) -> np.ndarray:
    import tensorflow as tf

    with warnings.catch_warnings():
        # tf.lite.Interpreter warns that it moves to LiteRT; it is still TensorFlow's own.
        warnings.simplefilter("ignore", UserWarning)
        interpreter = tf.lite.Interpreter(model_path=str(path))
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(inp["index"], list(x.shape))
    with quiet_native_stderr():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], x.astype(np.float32))
        interpreter.invoke()
    return np.asarray(interpreter.get_tensor(out["index"]))


def _write(trained: TrainedRun, fmt: str, tmp: Path) -> None:
    model = trained.model
    if fmt == "keras":
        model.save(tmp)
    elif fmt == "saved_model":
        model.export(str(tmp), format="tf_saved_model", verbose=False)
    else:
        import tensorflow as tf

        # Through a SavedModel: the converter's most reliable input for a Keras 3 model.
        staging = tmp.with_name(tmp.name + ".savedmodel")
        try:
            model.export(str(staging), format="tf_saved_model", verbose=False)
            tflite = tf.lite.TFLiteConverter.from_saved_model(str(staging)).convert()
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        tmp.write_bytes(tflite)


def export_run(run_path: str | os.PathLike, fmt: str, out: str | os.PathLike | None = None,
               ) -> dict[str, Any]:
    """Export a run's model and check it against the trained model.

    Args:
        run_path: a finished run folder.
        fmt: ``keras``, ``saved_model`` or ``tflite``.
        out: where to write it (default ``RUN/export/<model.keras|saved_model|model.tflite>``);
            an existing path is never overwritten.

    Returns:
        ``{"format", "path", "checked_images", "max_abs_diff", "tolerance"}``.

    Raises:
        ExportError: the export failed or its outputs differ beyond the tolerance.
    """
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")
    trained = load_run(run_path)
    target = Path(out) if out else trained.run.path / "export" / DEFAULT_NAMES[fmt]
    if fmt == "keras" and target.suffix != ".keras":
        raise ExportError(f"a Keras export must end in .keras, got {target}")
    if target.exists():
        raise RunError(f"{target} already exists; choose another --out or remove it first")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ExportError(
            f"cannot create {target.parent}: {exc.strerror or exc}; choose another --out"
        ) from None
    try:
        with replaced_whole(target) as tmp:  # written, reloaded and checked, then moved
            _write(trained, fmt, tmp)
            x = _check_images(trained)
            expected = np.asarray(trained.model.predict(x, verbose=0))
            runner = {"keras": _run_keras, "saved_model": _run_saved_model,
                      "tflite": _run_tflite}[fmt]
            got = runner(tmp, x)
            diff = float(np.max(np.abs(got.reshape(expected.shape) - expected)))
            if not diff <= TOLERANCE[fmt]:
                raise ExportError(
                    f"the {fmt} export disagrees with the trained model by {diff:.2e} "
                    f"(tolerance {TOLERANCE[fmt]:.0e}); nothing was written"
                )
    except HappysadError:
        raise
    except Exception as exc:
        raise ExportError(f"{fmt} export failed: {type(exc).__name__}: {exc}") from None
    return {"format": fmt, "path": str(target), "checked_images": int(len(x)),
            "max_abs_diff": diff, "tolerance": TOLERANCE[fmt]}
