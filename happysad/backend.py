"""Importing TensorFlow and Keras quietly, once, only where a command needs them."""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager


def load_keras():
    """Import TensorFlow and Keras and return the ``keras`` module.

    TensorFlow's C++ runtime prints CUDA-probing lines to stderr while it loads and
    looks for devices, before its log level can be set; they say nothing a CPU user can act on, so stderr is
    pointed at /dev/null for the import alone (Python errors still surface: they are
    raised after it is restored).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules:
        with quiet_native_stderr():
            import tensorflow

            tensorflow.config.list_physical_devices()  # the CUDA probe prints here too
    import keras

    return keras


@contextmanager
def quiet_native_stderr():
    """Silence what C++ code writes to file descriptor 2 (not Python's exceptions).

    Set HAPPYSAD_TF_VERBOSE=1 to see it all, e.g. when debugging a GPU setup.
    """
    if os.environ.get("HAPPYSAD_TF_VERBOSE"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
