"""Where one training step of the lab's network goes: a per-part profile.

    python bench/profile_step.py            # as happysad trains (speed-ups on)
    python bench/profile_step.py --stock    # stock Keras, no speed-ups

Times (median of 20, batch of 10 random 150x150x3 images) the forward pass, forward and
backward, the full step, the optimizer update alone, and each layer's forward and backward.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def timeit(fn, n=20):
    fn(), fn()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stock", action="store_true", help="no happysad speed-ups")
    args = parser.parse_args()

    from happysad.backend import load_keras
    from happysad.config import TrainConfig
    from happysad.speed import keep_freed_memory
    from happysad.train import build_model

    if not args.stock:
        keep_freed_memory()
    keras = load_keras()
    import tensorflow as tf

    model = build_model(TrainConfig(speedups=not args.stock), 2)
    x = tf.random.uniform((10, 150, 150, 3), seed=1)
    y = tf.cast(tf.random.uniform((10, 1), seed=2) > 0.5, tf.float32)
    loss_fn = keras.losses.BinaryCrossentropy()
    variables = model.trainable_variables
    zeros = [tf.zeros_like(v) for v in variables]

    @tf.function
    def forward():
        return model(x, training=True)

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        return tape.gradient(loss, variables)

    @tf.function
    def step():
        model.optimizer.apply_gradients(zip(forward_backward(), variables))

    @tf.function
    def update_only():
        model.optimizer.apply_gradients(zip(zeros, variables))

    print(f"{'part':32s} ms per batch of 10")
    for name, fn in [("forward", forward), ("forward + backward", forward_backward),
                     ("full training step", step), ("optimizer update alone", update_only)]:
        print(f"{name:32s} {timeit(fn):8.1f}")
    inputs = [x]
    for layer in model.layers:
        inputs.append(layer(inputs[-1]))
    for layer, inp in zip(model.layers, inputs):
        @tf.function
        def layer_fb(layer=layer, inp=inp):
            with tf.GradientTape() as tape:
                tape.watch(inp)
                out = tf.reduce_sum(layer(inp))
            return tape.gradient(out, [inp, *layer.trainable_variables])

        print(f"  {layer.name + ' fwd+bwd':30s} {timeit(layer_fb):8.1f}")


if __name__ == "__main__":
    main()
