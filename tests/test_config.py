"""Config: YAML file, then overrides, into one validated TrainConfig."""

from __future__ import annotations

import dataclasses

import pytest

from happysad.config import (TrainConfig, load_config, parse_override, parse_stop_when,
                             save_config)
from happysad.errors import ConfigError

from .conftest import REPO


def test_defaults_are_the_lab_settings():
    c = TrainConfig()
    assert (c.image_size, c.conv_filters, c.dense_units) == (150, [16, 32, 64], 512)
    assert (c.optimizer, c.learning_rate, c.batch_size, c.epochs) == ("rmsprop", 0.001, 10, 15)
    assert (c.monitor, c.threshold) == ("accuracy", 0.999)


def test_default_yaml_matches_the_dataclass():
    assert load_config(TrainConfig, REPO / "configs" / "default.yaml") == TrainConfig()


@pytest.mark.parametrize("name", ["lab", "smoke", "default"])
def test_shipped_configs_load(name):
    load_config(TrainConfig, REPO / "configs" / f"{name}.yaml")


def test_lab_config_uses_all_images_and_eight_steps():
    c = load_config(TrainConfig, REPO / "configs" / "lab.yaml")
    assert c.val_split == 0.0 and c.steps_per_epoch == 8 and c.batch_size == 10


def test_file_then_named_then_set_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("epochs: 3\nbatch_size: 4\nlearning_rate: 0.01\n")
    c = load_config(TrainConfig, f, {"epochs": 5, "seed": None}, ["conv_filters=[8, 16]"])
    assert c.epochs == 5 and c.batch_size == 4 and c.learning_rate == 0.01
    assert c.conv_filters == [8, 16] and c.seed == TrainConfig().seed


def test_set_values_are_read_as_yaml_scalars():
    c = load_config(TrainConfig, None, None, ["threshold=null", "augment=true", "epochs=2"])
    assert c.threshold is None and c.augment is True and c.epochs == 2


def test_unknown_key_suggests_the_close_one(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("learning_rat: 0.1\n")
    with pytest.raises(ConfigError, match=r"unknown config key 'learning_rat'.*did you mean 'learning_rate'"):
        load_config(TrainConfig, f)
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        load_config(TrainConfig, None, None, ["epoch=3"])


@pytest.mark.parametrize("text,match", [
    ("epochs: three", r"epochs: expected an integer, got 'three'"),
    ("epochs: 2.5", r"epochs: expected an integer"),
    ("augment: 1", r"augment: expected true/false"),
    ("conv_filters: 16", r"conv_filters: expected a list"),
    ("optimizer: adamw", r"optimizer: 'adamw' is not one of .*did you mean 'adam'"),
    ("learning_rate: 0", r"learning_rate must be > 0"),
    ("learning_rate: -1e-3", r"learning_rate must be > 0"),
    ("threshold: 1.5", r"threshold must be in \(0, 1\]"),
    ("threshold: 0", r"threshold must be in \(0, 1\]"),
    ("batch_size: 0", r"batch_size must be at least 1"),
    ("epochs: 0", r"epochs must be at least 1"),
    ("val_split: 1.0", r"val_split must be in \[0, 1\)"),
    ("val_split: -0.1", r"val_split must be in \[0, 1\)"),
    ("image_size: 20", r"image_size 20 is too small for 3 conv blocks"),
    ("stop_when: val_accuracy=0.9", r"stop_when .* must look like METRIC OP VALUE"),
    ("patience: 0", r"patience must be at least 1"),
    ("sha256: abc", r"sha256 must be 64 hex digits"),
])
def test_bad_values_name_the_key(tmp_path, text, match):
    f = tmp_path / "c.yaml"
    f.write_text(text + "\n")
    with pytest.raises(ConfigError, match=match):
        load_config(TrainConfig, f)


def test_missing_file_and_yaml_syntax_error_with_line(tmp_path):
    with pytest.raises(ConfigError, match="config file .*nope.yaml not found"):
        load_config(TrainConfig, tmp_path / "nope.yaml")
    f = tmp_path / "bad.yaml"
    f.write_text("epochs: 3\nbatch_size: [4\nseed: 1\n")
    with pytest.raises(ConfigError, match=r"bad.yaml at line \d+, column \d+"):
        load_config(TrainConfig, f)
    f.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(TrainConfig, f)


def test_empty_file_means_defaults(tmp_path):
    f = tmp_path / "empty.yaml"
    f.write_text("# nothing\n")
    assert load_config(TrainConfig, f) == TrainConfig()


def test_saved_config_round_trips(tmp_path):
    c = load_config(TrainConfig, None, {"epochs": 4, "stop_when": "val_loss<0.1"})
    save_config(c, tmp_path / "config.yaml")
    assert load_config(TrainConfig, tmp_path / "config.yaml") == c
    assert list(dataclasses.asdict(c)) == [f.name for f in dataclasses.fields(TrainConfig)]


def test_override_syntax():
    assert parse_override("batch-size=3") == ("batch_size", "3")
    with pytest.raises(ConfigError, match="must look like key=value"):
        parse_override("epochs")


def test_stop_when_parsing():
    assert parse_stop_when("val_accuracy>=0.95") == ("val_accuracy", ">=", 0.95)
    assert parse_stop_when(" loss < 1e-3 ") == ("loss", "<", 0.001)
    with pytest.raises(ConfigError):
        parse_stop_when("accuracy ~ 1")
    for infinite in ("loss<1e999", "loss>-1e999"):
        with pytest.raises(ConfigError, match="finite"):
            parse_stop_when(infinite)


def test_deeply_nested_yaml_is_one_clear_error(tmp_path):
    path = tmp_path / "deep.yaml"
    path.write_text("epochs: " + "[" * 20000 + "\n")
    with pytest.raises(ConfigError, match="nested too deeply|fix the YAML"):
        load_config(TrainConfig, path)


def test_duplicate_keys_are_an_error(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("epochs: 3\nepochs: 4\n")
    with pytest.raises(ConfigError, match=r"line 2.*duplicate key 'epochs'"):
        load_config(TrainConfig, f)


def test_file_values_are_range_checked_after_overrides(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("epochs: 0\n")
    assert load_config(TrainConfig, f, {"epochs": 5}).epochs == 5
    with pytest.raises(ConfigError, match="epochs must be at least 1"):
        load_config(TrainConfig, f)
    f.write_text("epochs: many\n")
    with pytest.raises(ConfigError, match=r"c.yaml: epochs: expected an integer"):
        load_config(TrainConfig, f, {"epochs": 5})


def test_parameter_count_matches_the_lab_network():
    from happysad.config import parameter_count

    assert parameter_count(TrainConfig()) == 9_494_561
    assert parameter_count(TrainConfig(), num_classes=4) == 9_494_561 - 513 + 4 * 513


@pytest.mark.parametrize("values,match", [
    ({"seed": 2**32}, "seed must be in"),
    ({"epochs": 10**9}, "epochs must be at most"),
    ({"dense_units": 10**6}, "parameters"),
    ({"conv_filters": [10**6]}, "conv_filters must be between 1 and 4096"),
    ({"name": " x"}, "plain folder name"),
    ({"name": "a" * 201}, "plain folder name"),
])
def test_absurd_sizes_are_refused_before_anything_runs(values, match):
    with pytest.raises(ConfigError, match=match):
        load_config(TrainConfig, None, values)


def test_yaml_aliases_are_refused_and_long_values_are_cut_in_errors(tmp_path):
    # Nested aliases expand exponentially (a YAML bomb); a config never needs them.
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines + ["epochs: *a9"]) + "\n")
    with pytest.raises(ConfigError, match="aliases .* are not allowed"):
        load_config(TrainConfig, path)
    with pytest.raises(ConfigError, match="epochs: expected an integer, got '.&a"):
        load_config(TrainConfig, None, {}, ["epochs=[&a [1], *a]"])  # kept as text, unexpanded
    with pytest.raises(ConfigError) as err:
        load_config(TrainConfig, None, {}, ["epochs=" + str(list(range(10000)))])
    assert len(str(err.value)) < 200
