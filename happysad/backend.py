"""Importing TensorFlow and Keras quietly, once, only where a command needs them."""

from __future__ import annotations

import os
import sys


def load_keras():
    """Import TensorFlow and Keras and return the ``keras`` module.

    TensorFlow's C++ runtime prints CUDA-probing lines to stderr while it loads and
    looks for devices, before its log level can be set; they say nothing a CPU user can act on, so stderr is
    pointed at /dev/null for the import alone (Python errors still surface: they are
    raised after it is restored).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" not in sys.modules and not os.environ.get("HAPPYSAD_TF_VERBOSE"):
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            with open(os.devnull, "w") as devnull:
                os.dup2(devnull.fileno(), 2)
                import tensorflow

                tensorflow.config.list_physical_devices()  # the CUDA probe prints here too
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    import keras

    return keras
