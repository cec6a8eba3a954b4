"""One typed, validated config object per job: YAML file, then overrides, then checks.

Config flows one way::

    configs/*.yaml  ──>  overrides (command line)  ──>  TrainConfig (validated)  ──>  train()

Every setting lives in a dataclass below with its default and a one-line comment. The
resolved config is saved in each run folder as ``config.yaml`` and can be fed back with
``--config``.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
import reprlib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union

from .errors import ConfigError

DEFAULT_URL = "https://storage.googleapis.com/laurencemoroney-blog.appspot.com/happy-or-sad.zip"
DEFAULT_SHA256 = "891cbe64fa5437598d9769baba2d68550dc3c688fb59523a42bfafc1a8f8cf6a"


# ---------------------------------------------------------------------------------------
# Generic machinery: any dataclass whose fields carry plain types can be loaded this way.
# ---------------------------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is list:
        (inner,) = typing.get_args(tp)
        return f"a list of {_type_name(inner)}"
    if tp is type(None):
        return "null"
    return {int: "an integer", float: "a number", str: "a string", bool: "true/false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _coerce(key: str, value: Any, tp: Any, from_text: bool) -> Any:
    """Return ``value`` as type ``tp`` or raise ConfigError naming ``key``.

    ``from_text`` is true for command-line overrides, whose values arrive as strings and
    are read as YAML scalars ("3" -> 3, "null" -> None, "[1, 2]" -> [1, 2]).
    """
    if from_text and isinstance(value, str):
        import yaml

        try:
            value = yaml.load(value, Loader=yaml_loader()) if value.strip() else value
        except yaml.YAMLError:
            pass  # keep the raw text; the type check below says what is wrong
        except RecursionError:
            raise ConfigError(f"{key}: the value is nested too deeply; give a plain value") from None
    origin = typing.get_origin(tp)
    bad = ConfigError(f"{key}: expected {_type_name(tp)}, got {reprlib.repr(value)}")
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(key, value, arg, from_text=False)
            except ConfigError:
                continue
        raise bad
    if origin is Literal:
        choices = typing.get_args(tp)
        if value in choices:
            return value
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(
            f"{key}: {value!r} is not one of {', '.join(repr(c) for c in choices)}{hint}"
        )
    if origin is list:
        (inner,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise bad
        return [_coerce(f"{key}[{i}]", v, inner, from_text=False) for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise bad
    if tp is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise bad
    if tp is float:
        if isinstance(value, str):
            # PyYAML reads 1e-3 (no dot) as a string; people write it that way.
            try:
                return float(value)
            except ValueError:
                raise bad from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise bad
    raise bad  # pragma: no cover - a field type this module does not know


def _unknown_key(key: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
    return ConfigError(f"unknown config key {key!r}{hint}")


def yaml_loader():
    import yaml

    class StrictLoader(yaml.SafeLoader):
        """PyYAML's safe loader, except that a key given twice is an error, not 'last wins',
        and aliases (``*name``) are refused: nested ones expand exponentially (a YAML bomb)."""

        def compose_node(self, parent, index):
            if self.check_event(yaml.events.AliasEvent):
                raise yaml.composer.ComposerError(
                    None, None, "aliases (*name) are not allowed in a config",
                    self.peek_event().start_mark)
            return super().compose_node(parent, index)

        def construct_mapping(self, node, deep=False):
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
            return super().construct_mapping(node, deep=deep)

    return StrictLoader


def read_yaml(path: str | Path) -> dict[str, Any]:
    """Read a YAML mapping, turning every failure into one clear ConfigError."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"config file {path} not found; see configs/ for examples"
            if not path.exists()
            else f"config path {path} is not a file"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    try:
        data = yaml.load(text, Loader=yaml_loader())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}{where}: {problem}; fix the YAML") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config; fix the YAML") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping of 'key: value' lines, not {type(data).__name__}")
    return data


def parse_override(text: str) -> tuple[str, str]:
    """Split a ``key=value`` override; the value stays text until it is typed."""
    key, sep, value = text.partition("=")
    key = key.strip().replace("-", "_")
    if not sep or not key:
        raise ConfigError(f"override {text!r} must look like key=value, e.g. epochs=5")
    return key, value


def _typed_values(cls: type, values: dict[str, Any], *, from_text: bool = False,
                  source: str = "") -> dict[str, Any]:
    """Check every key is known and every value has its field's type; name ``source``."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    typed = {}
    for key, value in values.items():
        key = str(key)
        try:
            if key not in names:
                raise _unknown_key(key, names)
            typed[key] = _coerce(key, value, hints[key], from_text)
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}" if source else str(err)) from None
    return typed


def build_config(cls: type, values: dict[str, Any], *, from_text: bool = False, source: str = ""):
    """Type-check ``values`` against dataclass ``cls`` and return a validated instance."""
    config = cls(**_typed_values(cls, values, from_text=from_text, source=source))
    if hasattr(config, "validate"):
        try:
            config.validate()
        except ConfigError as err:
            raise ConfigError(f"{source}: {err}" if source else str(err)) from None
    return config


def load_config(
    cls: type,
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    text_overrides: list[str] | tuple[str, ...] = (),
):
    """Resolve a config: defaults, then the YAML file, then overrides; validated once.

    Args:
        cls: the config dataclass (``TrainConfig``, ...).
        path: a YAML file of settings, or None for the defaults.
        overrides: typed values (from named command-line options); None values are skipped.
        text_overrides: ``key=value`` strings (from ``--set``), read as YAML scalars.

    Returns:
        A validated instance of ``cls``.
    """
    values: dict[str, Any] = {}
    if path is not None:
        # Keys and types are checked per file (errors name it); ranges once, after overrides.
        values.update(_typed_values(cls, read_yaml(path), source=str(path)))
    for text in text_overrides:
        key, raw = parse_override(text)
        names = [f.name for f in dataclasses.fields(cls)]
        if key not in names:
            raise _unknown_key(key, names)
        values[key] = _coerce(key, raw, typing.get_type_hints(cls)[key], from_text=True)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    return build_config(cls, values)


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def save_config(config: Any, path: Path) -> None:
    """Write the resolved config as YAML, in field order, readable by ``load_config``."""
    import yaml

    from .files import atomic_write_text

    text = yaml.safe_dump(to_dict(config), sort_keys=False, default_flow_style=None)
    atomic_write_text(Path(path), text)


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)


# A stop condition: "metric op value", e.g. "val_accuracy>=0.95".
STOP_WHEN_PATTERN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")


def parse_stop_when(text: str) -> tuple[str, str, float]:
    """Parse ``"val_accuracy>=0.95"`` into ``("val_accuracy", ">=", 0.95)``."""
    match = STOP_WHEN_PATTERN.match(text)
    if not match:
        raise ConfigError(
            f"stop_when {text!r} must look like METRIC OP VALUE, e.g. 'val_accuracy>=0.95' "
            "(OP one of > >= < <=)"
        )
    metric, op, value = match.groups()
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"stop_when {text!r}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ConfigError(f"stop_when {text!r}: the value must be a finite number, e.g. 0.95")
    return metric, op, number


# ---------------------------------------------------------------------------------------
# The Keras training job.
# ---------------------------------------------------------------------------------------

MAX_EPOCHS = 100_000
MAX_PARAMS = 500_000_000  # ~2 GB of float32 weights, ~6 GB with RMSprop state and gradients


def parameter_count(config: "TrainConfig", num_classes: int = 2) -> int:
    """Trainable parameters of the configured network, from its shapes alone."""
    size, channels, total = config.image_size, 3, 0
    for filters in config.conv_filters:
        total += 3 * 3 * channels * filters + filters
        size, channels = max((size - 2) // 2, 0), filters
    flat = size * size * channels
    outputs = 1 if num_classes == 2 else num_classes
    return total + flat * config.dense_units + config.dense_units + (config.dense_units + 1) * outputs


def training_memory_bytes(config: "TrainConfig", num_classes: int = 2) -> int:
    """A lower bound on the memory one training step needs, from the shapes alone.

    Each conv block's output and its pooled copy are kept for the backward pass, which
    needs a gradient of the same size (float32, so x4 bytes, x2); the weights need
    themselves, a gradient and RMSprop's average (x3). Kernels' scratch space comes on top.
    """
    size, floats = config.image_size, 3 * config.image_size ** 2
    for filters in config.conv_filters:
        conv = (size - 2) ** 2 * filters
        size = (size - 2) // 2
        floats += conv + size * size * filters
    per_image = floats + config.dense_units
    return 4 * (2 * config.batch_size * per_image + 3 * parameter_count(config, num_classes))


def physical_memory_bytes() -> int | None:
    """This machine's RAM, or None where the platform does not say."""
    import os

    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


Strategy = Literal["default", "mirrored", "multiworker"]
Progress = Literal["auto", "bar", "epoch", "none"]


@dataclass
class TrainConfig:
    """Every setting of ``happysad train``; the defaults are the lab's."""

    # -- data --
    data: str | None = None  # zip, folder, or "synth"; None downloads `url` (env HAPPYSAD_DATA)
    val_data: str | None = None  # a separate validation folder/zip; else val_split is used
    url: str = DEFAULT_URL  # where `happysad download` fetches the zip
    sha256: str = DEFAULT_SHA256  # the zip's pinned checksum; a mismatch is an error
    image_size: int = 150  # images are resized to image_size x image_size RGB
    val_split: float = 0.2  # stratified, seeded fraction held out for validation (0: none)
    skip_bad_images: bool = False  # skip (and count) corrupt images instead of failing
    augment: bool = False  # random flip/rotation/zoom on training batches only
    # -- model --
    conv_filters: list[int] = field(default_factory=lambda: [16, 32, 64])  # 3x3 conv + 2x2 pool each
    dense_units: int = 512  # the hidden Dense layer
    # -- optimisation --
    optimizer: Literal["rmsprop", "adam", "sgd"] = "rmsprop"
    learning_rate: float = 0.001
    batch_size: int = 10  # global batch (split across replicas under a strategy)
    epochs: int = 15  # upper bound; the stop conditions usually end training sooner
    steps_per_epoch: int | None = None  # None: one pass over the training images
    seed: int = 1  # data split, shuffling and initial weights
    deterministic: bool = False  # TF deterministic ops (slower; bit-exact reruns)
    # -- stopping --
    monitor: str = "accuracy"  # metric the threshold stop watches
    threshold: float | None = 0.999  # stop once `monitor` is above this; null: never
    stop_when: str | None = None  # any-metric stop, e.g. "val_accuracy>=0.95"
    patience: int | None = None  # early stopping on val_loss after this many flat epochs
    restore_best: bool = False  # with patience: keep the weights of the best epoch
    # -- speed and scale --
    speedups: bool = True  # fused RMSprop update, faster Dense input gradient, freed memory kept (happysad/speed.py)
    jit_compile: bool = False  # XLA-compile the whole train step (slower on CPU; see PERFORMANCE)
    strategy: Strategy = "default"  # tf.distribute: one device, all local GPUs, or TF_CONFIG workers
    # -- output --
    runs_dir: str = "runs"  # parent of the run folders
    name: str | None = None  # run folder name; default a timestamp
    tensorboard: bool = False  # also write TensorBoard logs into the run folder
    backup_interval: float = 10.0  # seconds between on-disk epoch backups (0: every epoch)
    progress: Progress = "auto"  # bar on a terminal, a line per epoch otherwise

    def validate(self) -> None:
        _check(self.image_size >= 8, f"image_size must be at least 8, got {self.image_size}")
        _check(self.image_size <= 1024, f"image_size must be at most 1024, got {self.image_size}")
        _check(0.0 <= self.val_split < 1.0, f"val_split must be in [0, 1), got {self.val_split}")
        _check(len(self.conv_filters) >= 1, "conv_filters needs at least one layer, e.g. [16, 32, 64]")
        _check(all(1 <= f <= 4096 for f in self.conv_filters),
               f"conv_filters must be between 1 and 4096, got {self.conv_filters}")
        # Each block halves the size after a 3x3 valid conv; the last must keep >= 1 pixel.
        size = self.image_size
        for _ in self.conv_filters:
            size = (size - 2) // 2
        _check(
            size >= 1,
            f"image_size {self.image_size} is too small for {len(self.conv_filters)} conv blocks; "
            "raise image_size or drop a block",
        )
        _check(self.dense_units >= 1, f"dense_units must be at least 1, got {self.dense_units}")
        _check(
            math.isfinite(self.learning_rate) and self.learning_rate > 0,
            f"learning_rate must be > 0, got {self.learning_rate}",
        )
        _check(self.batch_size >= 1, f"batch_size must be at least 1, got {self.batch_size}")
        _check(self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}")
        _check(
            self.steps_per_epoch is None or self.steps_per_epoch >= 1,
            f"steps_per_epoch must be at least 1 or null, got {self.steps_per_epoch}",
        )
        _check(0 <= self.seed < 2**32, f"seed must be in [0, 2**32), got {self.seed}")
        _check(self.epochs <= MAX_EPOCHS, f"epochs must be at most {MAX_EPOCHS:,}, got {self.epochs}")
        _check(self.batch_size <= 65536, f"batch_size must be at most 65536, got {self.batch_size}")
        _check(
            self.steps_per_epoch is None or self.steps_per_epoch <= 1_000_000,
            f"steps_per_epoch must be at most 1,000,000, got {self.steps_per_epoch}",
        )
        params = parameter_count(self)
        _check(
            params <= MAX_PARAMS,
            f"the network would have {params:,} parameters (at most {MAX_PARAMS:,}); "
            "reduce dense_units, conv_filters or image_size",
        )
        _check(
            self.threshold is None or (0.0 < self.threshold <= 1.0),
            f"threshold must be in (0, 1], got {self.threshold}",
        )
        _check(bool(self.monitor.strip()), "monitor must name a metric, e.g. accuracy")
        if self.stop_when is not None:
            parse_stop_when(self.stop_when)
        _check(
            math.isfinite(self.backup_interval) and self.backup_interval >= 0,
            f"backup_interval must be a number of seconds >= 0, got {self.backup_interval}",
        )
        _check(
            self.patience is None or self.patience >= 1,
            f"patience must be at least 1 or null, got {self.patience}",
        )
        _check(
            re.fullmatch(r"[0-9a-fA-F]{64}", self.sha256) is not None,
            f"sha256 must be 64 hex digits, got {self.sha256!r}",
        )
        if self.name is not None:
            _check(
                bool(self.name.strip()) and self.name == self.name.strip()
                and self.name.isprintable() and not any(c in self.name for c in '/\\')
                and self.name not in (".", "..")
                and len(self.name) <= 200,
                f"name must be a plain folder name (no slashes, not blank, at most 200 "
                f"characters), got {self.name!r}",
            )
