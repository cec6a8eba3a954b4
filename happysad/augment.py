"""Random flip, rotation and zoom of training batches, drawn from a seed per batch.

What ``--augment`` does: each image is flipped left-right with probability 1/2, rotated
by up to ``rotation`` of a full turn and zoomed in or out by up to ``zoom``, both about its
centre, with bilinear interpolation and reflected borders (Keras's ``RandomFlip``,
``RandomRotation(0.1)`` and ``RandomZoom(0.1)`` defaults). Unlike Keras's layers, whose
random generator restarts with the process, a batch's transformations here depend only on
the run's seed, the epoch and the step: a resumed run draws exactly the transformations
that a run never interrupted would have drawn.

TensorFlow is imported by the functions, never at module level.
"""

from __future__ import annotations

import math

# Keeps augmentation's random streams apart from the shuffle's, which use the bare seed.
_STREAM = 0x61756720  # "aug "


def batch_seed(seed: int, epoch, step):
    """The stateless seed (an int64 pair) of one training batch."""
    import tensorflow as tf

    key = tf.constant([seed, _STREAM], tf.int64)
    key = tf.random.experimental.stateless_fold_in(key, tf.cast(epoch, tf.int64))
    return tf.random.experimental.stateless_fold_in(key, tf.cast(step, tf.int64))


def random_transform(images, seed, rotation: float = 0.1, zoom: float = 0.1):
    """Flip, rotate and zoom a batch of images, each its own way, as ``seed`` decides.

    Args:
        images: float tensor of shape (batch, height, width, channels).
        seed: a stateless seed, shape (2,) (see ``batch_seed``).
        rotation: the largest rotation, as a fraction of a full turn (0.1: 36 degrees).
        zoom: the largest zoom in or out, as a fraction of the size (0.1: 90% to 110%).

    Returns:
        The transformed batch, same shape and dtype.

    Example:
        >>> import tensorflow as tf
        >>> out = random_transform(tf.zeros((4, 32, 32, 3)), batch_seed(42, 0, 0))
        >>> tuple(out.shape)
        (4, 32, 32, 3)
    """
    import tensorflow as tf

    n = tf.shape(images)[0]
    height = tf.cast(tf.shape(images)[1], tf.float32)
    width = tf.cast(tf.shape(images)[2], tf.float32)
    flip_seed, angle_seed, zoom_seed = tf.unstack(
        tf.random.experimental.stateless_split(seed, 3))

    flip = tf.random.stateless_uniform([n], flip_seed) < 0.5
    images = tf.where(flip[:, None, None, None], tf.reverse(images, axis=[2]), images)

    angle = tf.random.stateless_uniform([n], angle_seed, -rotation * 2 * math.pi,
                                        rotation * 2 * math.pi)
    scale = tf.random.stateless_uniform([n], zoom_seed, 1.0 - zoom, 1.0 + zoom)
    # The transform maps each output pixel (x, y) to the input point it samples:
    # input = centre + scale * R(angle) @ (output - centre); scale > 1 zooms out.
    cx, cy = (width - 1) / 2, (height - 1) / 2
    cos, sin = scale * tf.cos(angle), scale * tf.sin(angle)
    zeros = tf.zeros_like(cos)
    transforms = tf.stack([
        cos, -sin, cx - cos * cx + sin * cy,
        sin, cos, cy - sin * cx - cos * cy,
        zeros, zeros,
    ], axis=1)
    out = tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=transforms,
        output_shape=tf.shape(images)[1:3], fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT",
    )
    return tf.ensure_shape(out, images.shape)
