"""The floor under a training step: each kernel of the lab's network, timed alone.

    python bench/profile_kernels.py

For batch 10 at 150x150x3: every convolution's forward pass and its two gradients (and
GFLOP/s), the pooling and ReLU gradients, the Dense layer's three 38 MB products (with
TensorFlow's own input-gradient product beside happysad's), and RMSprop's update as
happysad runs it. Each kernel's fastest of 30 calls, the kernels of a layer alternating:
the best this machine does, which a machine busy with something else cannot make look
better (under load every figure still reads higher). The sum over what a step needs is a
guide to what a step costs with this arithmetic and batch, not a hard floor: in a real
step independent kernels overlap.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

BATCH = 10


def timeit(fns: dict, n: int = 30) -> dict[str, float]:
    """Fastest milliseconds of each function, calls alternating between them."""
    for fn in fns.values():
        fn(), fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(n):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(t) * 1000 for name, t in times.items()}


def main() -> None:
    from happysad.backend import load_keras
    from happysad.speed import keep_freed_memory

    keep_freed_memory()
    load_keras()
    import tensorflow as tf

    needed = 0.0  # ms a training step cannot avoid
    print(f"{'kernel':46s} {'ms':>7s} {'GFLOP/s':>8s}")
    for i, (size, c_in, c_out) in enumerate([(150, 3, 16), (74, 16, 32), (36, 32, 64)], 1):
        out = size - 2
        x = tf.random.uniform((BATCH, size, size, c_in))
        kernel = tf.random.uniform((3, 3, c_in, c_out))
        dy = tf.random.uniform((BATCH, out, out, c_out))
        y = tf.nn.relu(tf.random.normal((BATCH, out, out, c_out)))
        flops = 2 * BATCH * out * out * c_out * 9 * c_in / 1e9
        strides = [1, 1, 1, 1]

        @tf.function
        def pool_grad(y=y):
            with tf.GradientTape() as tape:
                tape.watch(y)
                pooled = tf.nn.max_pool2d(y, 2, 2, "VALID")
            return tape.gradient(pooled, y, output_gradients=tf.ones_like(pooled))

        ms = timeit({
            "forward": tf.function(lambda x=x, k=kernel: tf.nn.conv2d(x, k, 1, "VALID")),
            "filter gradient": tf.function(lambda x=x, dy=dy, s=(3, 3, c_in, c_out):
                                           tf.raw_ops.Conv2DBackpropFilter(
                                               input=x, filter_sizes=s, out_backprop=dy,
                                               strides=strides, padding="VALID")),
            "input gradient": tf.function(lambda k=kernel, dy=dy, s=(BATCH, size, size, c_in):
                                          tf.raw_ops.Conv2DBackpropInput(
                                              input_sizes=s, filter=k, out_backprop=dy,
                                              strides=strides, padding="VALID")),
            "ReLU gradient": tf.function(lambda dy=dy, y=y: tf.raw_ops.ReluGrad(gradients=dy,
                                                                                features=y)),
            "max-pool forward + gradient": pool_grad,
        })
        for name, value in ms.items():
            rate = f"{flops / value * 1000:8.0f}" if "pool" not in name and "ReLU" not in name else ""
            skipped = i == 1 and name == "input gradient"  # the image needs no gradient
            needed += 0 if skipped else value
            print(f"conv{i} {c_in}->{c_out}: {name:33s} {value:7.2f} {rate}"
                  + ("   (not needed in training)" if skipped else ""))

    x = tf.random.uniform((BATCH, 18496))
    w = tf.Variable(tf.random.uniform((18496, 512)))
    velocity = tf.Variable(tf.random.uniform((18496, 512)))
    dy = tf.random.uniform((BATCH, 512))
    grad = tf.random.uniform((18496, 512))

    @tf.function(jit_compile=True)
    def rmsprop_update():  # happysad.speed.fuse_rmsprop's formula
        velocity.assign(0.9 * velocity + 0.1 * tf.square(grad))
        w.assign_sub(0.001 * grad / tf.sqrt(velocity + 1e-7))

    ms = timeit({
        "forward x @ W": tf.function(lambda: tf.matmul(x, w)),
        "kernel gradient x^T @ dy": tf.function(lambda: tf.matmul(x, dy, transpose_a=True)),
        "input gradient, TensorFlow's dy @ W^T": tf.function(
            lambda: tf.matmul(dy, w, transpose_b=True)),
        "input gradient, happysad's einsum": tf.function(
            lambda: tf.einsum("io,bo->bi", w, dy)),
        "RMSprop update (fused, 190 MB moved)": rmsprop_update,
    })
    flops = 2 * BATCH * 18496 * 512 / 1e9
    for name, value in ms.items():
        needed += 0 if "TensorFlow's" in name else value
        rate = f"{flops / value * 1000:8.0f}" if "update" not in name else ""
        print(f"dense 18496->512: {name:37s} {value:7.2f} {rate}")
    print(f"\nsum of what one training step needs: {needed:.1f} ms; 8 steps: {8 * needed / 1000:.3f} s")


if __name__ == "__main__":
    main()
