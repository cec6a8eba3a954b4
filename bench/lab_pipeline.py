"""The lab's original Keras code, changed only where today's TensorFlow breaks it.

The lab used ``fit_generator`` (gone: ``fit``), ``RMSprop(lr=...)`` (now
``learning_rate=``) and a callback reading ``logs['acc']`` (now ``'accuracy'``). The data
pipeline is the lab's: ``ImageDataGenerator(rescale=1/255).flow_from_directory`` decoding
the PNGs from disk every epoch, batch 10, all 80 images for training, 8 steps per epoch.
This is the "before" side of the benchmark; happysad itself never imports it.
"""

from __future__ import annotations

import tensorflow as tf
from tensorflow.keras.preprocessing.image import ImageDataGenerator

DESIRED_ACCURACY = 0.999


class LabCallback(tf.keras.callbacks.Callback):
    """The lab's stop callback, reading the metric name Keras 3 logs."""

    def on_epoch_end(self, epoch, logs=None):
        if logs.get("accuracy", 0) > DESIRED_ACCURACY:
            print("\nReached 99.9% accuracy so cancelling training!")
            self.model.stop_training = True


def lab_model():
    model = tf.keras.models.Sequential([
        tf.keras.Input(shape=(150, 150, 3)),
        tf.keras.layers.Conv2D(16, (3, 3), activation="relu"),
        tf.keras.layers.MaxPooling2D(2, 2),
        tf.keras.layers.Conv2D(32, (3, 3), activation="relu"),
        tf.keras.layers.MaxPooling2D(2, 2),
        tf.keras.layers.Conv2D(64, (3, 3), activation="relu"),
        tf.keras.layers.MaxPooling2D(2, 2),
        tf.keras.layers.Flatten(),
        tf.keras.layers.Dense(512, activation="relu"),
        tf.keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(loss="binary_crossentropy",
                  optimizer=tf.keras.optimizers.RMSprop(learning_rate=0.001),
                  metrics=["accuracy"])
    return model


def lab_generator(folder):
    train_datagen = ImageDataGenerator(rescale=1 / 255)
    return train_datagen.flow_from_directory(
        str(folder), target_size=(150, 150), batch_size=10, class_mode="binary"
    )
