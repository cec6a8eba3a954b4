"""What ``happysad env`` reports: library versions and the devices TensorFlow sees."""

from __future__ import annotations

import os
import platform
import sys


def environment() -> dict:
    """Versions of Python, TensorFlow, Keras, NumPy, and TensorFlow's devices."""
    from . import __version__
    from .backend import load_keras

    keras = load_keras()
    import numpy
    import tensorflow as tf

    devices = [
        {"name": d.name, "type": d.device_type} for d in tf.config.list_physical_devices()
    ]
    return {
        "happysad": __version__,
        "python": platform.python_version(),
        "executable": sys.executable,
        "platform": platform.platform(),
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "numpy": numpy.__version__,
        "cpu_count": os.cpu_count(),
        "devices": devices,
        "built_with_cuda": bool(tf.test.is_built_with_cuda()),
    }


def format_environment(info: dict) -> str:
    lines = [f"{key:<16}{value}" for key, value in info.items() if key != "devices"]
    lines.append("devices")
    lines += [f"  {d['type']:<6}{d['name']}" for d in info["devices"]] or ["  (none)"]
    return "\n".join(lines) + "\n"
