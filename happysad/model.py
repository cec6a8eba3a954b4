"""The lab's network, built from the config. Nothing here knows the data.

Default (150x150x3 input, two classes)::

    Conv2D(16, 3x3, relu) MaxPool(2)  Conv2D(32, 3x3, relu) MaxPool(2)
    Conv2D(64, 3x3, relu) MaxPool(2)  Flatten  Dense(512, relu)  Dense(1, sigmoid)
    = 9,494,561 parameters
"""

from __future__ import annotations

from .config import TrainConfig


def make_model(config: TrainConfig, num_classes: int = 2, steps_per_execution: int = 1):
    """Build and compile the configured network.

    Args:
        config: the run's config (image size, layers, optimizer, learning rate).
        num_classes: 2 gives the lab's single sigmoid unit with binary cross-entropy;
            more gives a softmax layer with sparse categorical cross-entropy.
        steps_per_execution: training steps run per call into the compiled graph (the
            same steps either way; more per call saves Keras's per-step Python work).

    Returns:
        A compiled ``keras.Model``.

    Example:
        >>> make_model(TrainConfig()).count_params()      # doctest: +SKIP
        9494561
    """
    import keras
    from keras import layers

    size = config.image_size
    model = keras.Sequential(name="happysad")
    model.add(keras.Input(shape=(size, size, 3), name="image"))
    # Fixed layer names: the summary reads the same however many models a process built.
    for i, filters in enumerate(config.conv_filters, start=1):
        model.add(layers.Conv2D(filters, (3, 3), activation="relu", name=f"conv{i}"))
        model.add(layers.MaxPooling2D(2, 2, name=f"pool{i}"))
    model.add(layers.Flatten(name="flatten"))
    model.add(layers.Dense(config.dense_units, activation="relu", name="hidden"))
    if num_classes == 2:
        model.add(layers.Dense(1, activation="sigmoid", name="output"))
        loss = "binary_crossentropy"
    else:
        model.add(layers.Dense(num_classes, activation="softmax", name="output"))
        loss = "sparse_categorical_crossentropy"
    model.compile(
        optimizer=make_optimizer(config),
        loss=loss,
        metrics=["accuracy"],
        jit_compile=config.jit_compile,
        steps_per_execution=steps_per_execution,
    )
    return model


def make_optimizer(config: TrainConfig):
    import keras

    optimizers = {
        "rmsprop": keras.optimizers.RMSprop,
        "adam": keras.optimizers.Adam,
        "sgd": keras.optimizers.SGD,
    }
    return optimizers[config.optimizer](learning_rate=config.learning_rate)


def summary_text(model) -> str:
    """The Keras summary table as text (no terminal colours)."""
    lines: list[str] = []
    model.summary(print_fn=lambda line, *args, **kwargs: lines.append(line), line_length=80)
    return "\n".join(lines).rstrip() + "\n"
