"""Training on more than one device with TensorFlow's own engine, ``tf.distribute``.

- ``default``: one device (the first GPU if any, else the CPU).
- ``mirrored``: every GPU of this machine (``MirroredStrategy``); with no GPU, the CPU
  devices TensorFlow sees (set ``HAPPYSAD_CPU_DEVICES=2`` to split the CPU into two
  logical devices, which is how the tests check it without a GPU).
- ``multiworker``: several machines, each running the same command, configured through
  the ``TF_CONFIG`` environment variable (``MultiWorkerMirroredStrategy``). Worker 0 is
  the chief and alone writes the run folder.

The configured ``batch_size`` is the batch of one replica; the global batch is
``batch_size x replicas``, as TensorFlow's distributed-training guide sets it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from .errors import ConfigError

CPU_DEVICES_ENV = "HAPPYSAD_CPU_DEVICES"


@dataclass
class Placement:
    """Where training runs: the strategy, how many replicas, and whether we write."""

    strategy: object  # tf.distribute.Strategy
    name: str
    replicas: int
    is_chief: bool
    worker_index: int = 0
    workers: int = 1


def _split_cpu(tf) -> None:
    """Split the CPU into N logical devices when HAPPYSAD_CPU_DEVICES asks for it."""
    wanted = os.environ.get(CPU_DEVICES_ENV)
    if not wanted:
        return
    try:
        n = int(wanted)
    except ValueError:
        raise ConfigError(f"{CPU_DEVICES_ENV} must be a whole number, got {wanted!r}") from None
    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
        )
    except RuntimeError:
        pass  # devices already initialised in this process; keep what is there


def read_tf_config() -> dict:
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise ConfigError(
            "strategy 'multiworker' needs the TF_CONFIG environment variable "
            '(e.g. {"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}); see the README'
        )
    try:
        tf_config = json.loads(text)
        workers = tf_config["cluster"]["worker"]
        task = tf_config["task"]
        index = int(task["index"])
    except (ValueError, KeyError, TypeError):
        raise ConfigError(
            "TF_CONFIG must be JSON with cluster.worker (a list of host:port) and "
            "task.type/task.index"
        ) from None
    if not isinstance(workers, list) or not (0 <= index < len(workers)):
        raise ConfigError(f"TF_CONFIG task.index {index} is not a worker of the cluster")
    return tf_config


def make_placement(name: str) -> Placement:
    """Build the ``tf.distribute`` strategy named in the config."""
    import tensorflow as tf

    if name == "default":
        strategy = tf.distribute.get_strategy()
        return Placement(strategy, name, 1, True)
    if name == "mirrored":
        _split_cpu(tf)
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        strategy = tf.distribute.MirroredStrategy(devices=devices)
        return Placement(strategy, name, strategy.num_replicas_in_sync, True)
    if name == "multiworker":
        tf_config = read_tf_config()
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        task = tf_config["task"]
        index = int(task["index"])
        is_chief = task.get("type") == "chief" or (
            task.get("type") == "worker" and index == 0 and "chief" not in tf_config["cluster"]
        )
        return Placement(
            strategy, name, strategy.num_replicas_in_sync, is_chief,
            worker_index=index, workers=len(tf_config["cluster"]["worker"]),
        )
    raise ConfigError(f"unknown strategy {name!r}: use default, mirrored or multiworker")
