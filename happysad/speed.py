"""CPU speed-ups for training that leave the learned model unchanged (to rounding).

The profile that motivated them (``bench/profile_step.py``; one training step of the
lab's network, batch 10, 2 cores): about 310 ms a step, of which

- ~90 ms went to page faults: every step allocates fresh 38 MB buffers for the Dense
  layer's gradient and the optimizer's temporaries; glibc hands out allocations that
  large with ``mmap`` and returns them with ``munmap``, so each step faults 38 MB of new
  pages in again. ``keep_freed_memory`` tells glibc to serve them from its heap and keep
  it, so the pages are touched once per process, not once per step.
- ~95 ms went to RMSprop's update of the 9.5M-parameter Dense kernel: Keras computes it
  as a chain of separate element-wise ops, each a full pass over 38 MB. ``fuse_rmsprop``
  compiles the same formula for the large variables with XLA into one pass (~15 ms).
  XLA for the whole step would fuse this too, but its CPU convolutions are ~2x slower
  than TensorFlow's oneDNN ones, so only the update is compiled.

A later profile on an AVX-512 machine (``bench/profile_step.py``, ~48 ms a step) found one
more: the Dense layer's input gradient. TensorFlow's MatMul gradient computes it as
``dy @ kernel^T``, and oneDNN runs that product with a transposed 18496x512 kernel about
twice as slow as the forward product (~5.5 vs ~2.8 ms). ``fast_dense_input_gradient``
computes the same sums without the transpose (~2.8 ms).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4

# Variables smaller than this keep Keras's own update: compiling them gains nothing.
FUSE_MIN_ELEMENTS = 1 << 16


def keep_freed_memory() -> bool:
    """Ask glibc to reuse freed memory instead of unmapping it (Linux/glibc only).

    Returns:
        True if the setting was applied, False where there is no glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # musl or another libc without mallopt
    # No mmap for large blocks, and never give the heap top back: steady-state training
    # then reuses the same pages every step.
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, 1 << 40))


def fuse_rmsprop(optimizer, min_elements: int = FUSE_MIN_ELEMENTS) -> bool:
    """Compile RMSprop's update of large variables into one XLA kernel.

    The formula is Keras's own (``keras.optimizers.RMSprop.update_step`` with no momentum
    and ``centered=False``), op for op:

        velocity = rho * velocity + (1 - rho) * grad**2
        variable -= lr * grad / sqrt(velocity + epsilon)

    Args:
        optimizer: a built or unbuilt ``keras.optimizers.RMSprop``.
        min_elements: variables with fewer elements keep the stock update.

    Returns:
        True if the optimizer was patched (plain RMSprop), False if left alone.
    """
    import keras
    import tensorflow as tf

    if type(optimizer) is not keras.optimizers.RMSprop:
        return False
    if optimizer.momentum or optimizer.centered:
        return False

    @tf.function(jit_compile=True)
    def fused(variable, velocity, grad, lr, rho, epsilon):
        velocity.assign(tf.add(tf.multiply(rho, velocity), tf.multiply(1 - rho, tf.square(grad))))
        variable.assign_sub(tf.divide(tf.multiply(lr, grad), tf.sqrt(tf.add(velocity, epsilon))))

    stock = optimizer.update_step

    def update_step(gradient, variable, learning_rate):
        if variable.shape.num_elements() < min_elements:
            return stock(gradient, variable, learning_rate)
        dtype = variable.dtype
        velocity = optimizer._velocities[optimizer._get_variable_index(variable)]
        fused(variable, velocity.value, tf.cast(gradient, dtype), tf.cast(learning_rate, dtype),
              tf.constant(optimizer.rho, dtype), tf.constant(optimizer.epsilon, dtype))

    optimizer.update_step = update_step  # this instance only; the saved config is unchanged
    return True


def fast_dense_input_gradient(model, min_elements: int = FUSE_MIN_ELEMENTS) -> int:
    """Give the model's large Dense layers a faster gradient with respect to their input.

    The forward pass and both gradients are the same sums as stock Keras's (to rounding):
    only the input gradient's product is laid out so that it reads the kernel row by row
    (``einsum("io,bo->bi")``) instead of as a transposed matrix. The layers stay plain
    ``keras.layers.Dense``: the change is to these instances' ``call`` only, so a saved
    model is the same as without it.

    Args:
        model: a built ``keras.Model``.
        min_elements: Dense layers with smaller kernels are left alone.

    Returns:
        How many layers were changed: plain float32 Dense layers on 2-D inputs, without
        LoRA or quantization.
    """
    import types

    import keras
    import tensorflow as tf

    @tf.custom_gradient
    def matmul(inputs, kernel):
        def grad(upstream):
            return (tf.einsum("io,bo->bi", kernel, upstream),
                    tf.matmul(inputs, upstream, transpose_a=True))

        return tf.matmul(inputs, kernel), grad

    def call(self, inputs, training=None):
        if len(inputs.shape) != 2:  # Dense over the last axis of N-D input: stock
            return type(self).call(self, inputs, training=training)
        outputs = matmul(inputs, self.kernel.value)
        if self.bias is not None:
            outputs = keras.ops.add(outputs, self.bias)
        return self.activation(outputs) if self.activation is not None else outputs

    changed = 0
    for layer in model.layers:
        if (type(layer) is keras.layers.Dense and layer.built
                and layer.kernel.dtype == "float32" and layer.compute_dtype == "float32"
                and not getattr(layer, "lora_enabled", False)
                and getattr(layer, "quantization_mode", None) is None
                and layer.kernel.shape[0] * layer.kernel.shape[1] >= min_elements):
            layer.call = types.MethodType(call, layer)  # this instance only
            changed += 1
    return changed
