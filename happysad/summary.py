"""The model's layer table, without data or training: of a config, or of a saved run."""

from __future__ import annotations

from pathlib import Path

from .errors import RunError
from .runs import RunFolder


def summarize(run: str | Path | None = None, config_file: str | Path | None = None,
              sets: tuple[str, ...] | list[str] = ()) -> str:
    """Return the Keras summary table as text.

    Args:
        run: a run folder: its saved model (or, for an unfinished run, the model its
            config describes).
        config_file, sets: otherwise, the model a config (plus overrides) describes.

    Returns:
        The table, ending with the total parameter count.
    """
    from .config import TrainConfig, build_config, load_config
    from .backend import load_keras

    load_keras()
    if run is not None:
        folder = RunFolder(run).require()
        if folder.network_path.is_file():
            return _describe_scratch(folder.network_path)
        if folder.model_path.is_file():
            import keras

            from .model import summary_text

            try:
                # Without its optimizer: the table then counts the model's own parameters.
                model = keras.models.load_model(folder.model_path, compile=False)
            except Exception as exc:  # a damaged or foreign file: say which
                raise RunError(
                    f"cannot load {folder.model_path}: the file is damaged or not a Keras "
                    f"model ({type(exc).__name__}); train the run again"
                ) from None
            return summary_text(model)
        values = folder.config_dict()
        if "hidden" in values:  # a from-scratch run's config, but no network was saved
            raise RunError(f"{folder.path} is a from-scratch run without a saved network "
                           "(it failed or was cut short); train it again")
        config = build_config(TrainConfig, values, source=str(folder.config_path))
    else:
        config = load_config(TrainConfig, config_file, None, sets)
    from .model import make_model, summary_text

    return summary_text(make_model(config))


def _describe_scratch(path: Path) -> str:
    """The from-scratch network's layers as a table like Keras's."""
    from .scratch.network import Network

    network = Network.load(path)
    sizes = network.layer_sizes
    lines = [f"From-scratch network {'-'.join(map(str, sizes))} "
             f"({network.hidden_activation} hidden, sigmoid output)",
             f"{'layer':<10}{'units':>8}{'weights Θ (with bias column)':>34}{'params':>12}"]
    lines.append(f"{'input':<10}{sizes[0]:>8}{'':>34}{0:>12,}")
    total = 0
    for i, (s_in, s_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        params = s_out * (s_in + 1)
        total += params
        name = "output" if i == len(sizes) - 1 else f"hidden{i}"
        lines.append(f"{name:<10}{s_out:>8}{f'Θ({i}): {s_out} x {s_in + 1}':>34}{params:>12,}")
    lines.append(f"Total params: {total:,}")
    lines.append(f"Classes: {', '.join(network.class_names)}")
    return "\n".join(lines) + "\n"
