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
            from .scratch.network import describe

            return describe(folder.network_path)
        if folder.model_path.is_file():
            import keras

            from .model import summary_text

            try:
                model = keras.models.load_model(folder.model_path)
            except Exception as exc:  # a damaged or foreign file: say which
                raise RunError(f"cannot load {folder.model_path}: {exc}") from None
            return summary_text(model)
        config = build_config(TrainConfig, folder.config_dict(), source=str(folder.config_path))
    else:
        config = load_config(TrainConfig, config_file, None, sets)
    from .model import make_model, summary_text

    return summary_text(make_model(config))
