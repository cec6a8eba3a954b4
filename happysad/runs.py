"""The run folder: its layout in one place, written by training, read by everything else.

A run folder holds::

    config.yaml     the resolved config the run used
    history.csv     one row per finished epoch (epoch, loss, accuracy, val_loss, ...)
    history.json    the same rows as a list of objects
    metrics.json    final metrics, epochs run, stop reason, class names, versions, ...
    model.keras     the trained Keras model        (Keras runs)
    network.npz     the trained NumPy network      (scratch runs)
    summary.txt     the model summary
    backup/         the last finished epoch's state while a run is unfinished

Readers (plot, evaluate, predict, runs) go through ``RunFolder`` so that none of them
hard-codes a file name.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from .errors import RunError
from .files import atomic_write_text, probe_writable

CONFIG_FILE = "config.yaml"
HISTORY_CSV = "history.csv"
HISTORY_JSON = "history.json"
METRICS_FILE = "metrics.json"
MODEL_FILE = "model.keras"
NETWORK_FILE = "network.npz"
SUMMARY_FILE = "summary.txt"
BACKUP_DIR = "backup"


def _json_default(value: Any) -> Any:
    # numpy scalars and paths show up in metrics; keep the file plain JSON.
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def _finite_or_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, default=_json_default) + "\n")


def check_writable(directory: Path, keep: bool = True) -> None:
    """Raise RunError unless files can be created in ``directory`` (made if missing).

    Args:
        directory: the runs folder.
        keep: leave the folders made for the test (False: remove them again).
    """
    directory = Path(directory)
    try:
        probe_writable(directory, keep)
    except OSError as exc:
        raise RunError(
            f"cannot write run folders under {directory}: {exc.strerror or exc}; "
            "choose another --runs-dir"
        ) from None


def create_run_dir(runs_dir: Path, name: str | None = None) -> Path:
    """Make a new, empty run folder under ``runs_dir`` and return it.

    Args:
        runs_dir: parent folder, created if missing.
        name: folder name; default a timestamp. An existing folder is never reused: an
            explicit name that exists is an error, a default one gets a numeric suffix.

    Returns:
        The path of the new folder.
    """
    runs_dir = Path(runs_dir)
    check_writable(runs_dir)
    if name is not None:
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise RunError(f"bad run name {name!r}: use a plain folder name such as 'lab-1'")
        path = runs_dir / name
        try:
            path.mkdir()
        except FileExistsError:
            raise name_taken(path) from None
        return path
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for i in range(1000):
        path = runs_dir / (stamp if i == 0 else f"{stamp}-{i}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RunError(f"could not find a free run folder name under {runs_dir}")


def name_taken(path: Path) -> RunError:
    """The error for a run name in use; resuming is suggested only where it would work."""
    status = None
    try:
        status = RunFolder(path).metrics().get("status") if (path / METRICS_FILE).is_file() else None
    except RunError:
        pass
    resumable = (path / CONFIG_FILE).is_file() and status not in ("finished", "failed")
    hint = f" or continue it with --resume {path}" if resumable else ""
    return RunError(f"run folder {path} already exists; pick another --name{hint}")


class RunFolder:
    """Read and write the files of one run folder.

    Args:
        path: the run folder.

    Example:
        >>> run = RunFolder("runs/20261203-120000")      # doctest: +SKIP
        >>> run.history()["accuracy"][-1]                 # doctest: +SKIP
        1.0
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # -- paths -----------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def history_csv(self) -> Path:
        return self.path / HISTORY_CSV

    @property
    def history_json(self) -> Path:
        return self.path / HISTORY_JSON

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def model_path(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def network_path(self) -> Path:
        return self.path / NETWORK_FILE

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY_FILE

    @property
    def backup_dir(self) -> Path:
        return self.path / BACKUP_DIR

    # -- checks ----------------------------------------------------------------
    def require(self, *files: str) -> "RunFolder":
        """Raise RunError unless the folder exists and holds ``files``."""
        if not self.path.is_dir():
            raise RunError(f"run folder {self.path} not found; list runs with 'happysad runs'")
        for name in files:
            if not (self.path / name).is_file():
                raise RunError(
                    f"{self.path} has no {name}: it is not a finished run folder "
                    "(was training interrupted? continue it with 'happysad train --resume')"
                )
        return self

    # -- history ---------------------------------------------------------------
    def write_history(self, rows: list[dict[str, Any]]) -> None:
        """Write all epochs so far, as CSV and JSON (replacing both atomically)."""
        rows = [{k: _finite_or_none(v) for k, v in row.items()} for row in rows]
        keys: list[str] = []
        for row in rows:
            keys.extend(k for k in row if k not in keys)
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(self.history_csv, buf.getvalue())
        write_json(self.history_json, rows)

    def history_rows(self) -> list[dict[str, Any]]:
        """The per-epoch rows, from history.json (or history.csv if that is all there is)."""
        self.require()
        if self.history_json.is_file():
            try:
                rows = json.loads(self.history_json.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise RunError(
                    f"cannot read {self.history_json}: {exc}; the run folder is damaged"
                ) from None
            if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
                raise RunError(f"{self.history_json} is not a list of epochs; the run folder is damaged")
            return _check_epochs(self.history_json, rows)
        if self.history_csv.is_file():
            return _check_epochs(self.history_csv, self._read_history_csv())
        raise RunError(f"{self.path} has no history yet: no epoch finished in this run")

    def _read_history_csv(self) -> list[dict[str, Any]]:
        path = self.history_csv
        rows = []
        try:
            with path.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                for row in reader:
                    if None in row:  # DictReader files cells beyond the header under the key None
                        raise RunError(f"{path}: line {reader.line_num} has more cells than the "
                                       "header; the run folder is damaged")
                    rows.append({k: _parse_number(v) for k, v in row.items()})
        except (OSError, ValueError, csv.Error) as exc:  # ValueError: not UTF-8 (a binary file)
            raise RunError(f"cannot read {path}: {exc}; the run folder is damaged") from None
        return rows

    def history(self) -> dict[str, list[Any]]:
        """The history as columns: ``{"epoch": [1, 2], "loss": [...], ...}``."""
        rows = self.history_rows()
        keys: list[str] = []
        for row in rows:
            keys.extend(k for k in row if k not in keys)
        return {k: [row.get(k) for row in rows] for k in keys}

    # -- metrics and config ----------------------------------------------------
    def write_metrics(self, metrics: dict[str, Any]) -> None:
        write_json(self.metrics_path, metrics)

    def metrics(self) -> dict[str, Any]:
        self.require(METRICS_FILE)
        try:
            data = json.loads(self.metrics_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise RunError(f"cannot read {self.metrics_path}: {exc}; the run folder is damaged") from None
        if not isinstance(data, dict):
            raise RunError(f"{self.metrics_path} is not a JSON object; the run folder is damaged")
        return _check_metrics(self.metrics_path, data)

    def config_dict(self) -> dict[str, Any]:
        """The saved config as a plain dict (see ``happysad.config`` to validate it)."""
        import yaml

        from .config import yaml_loader

        self.require(CONFIG_FILE)
        try:
            data = yaml.load(self.config_path.read_text(encoding="utf-8"), Loader=yaml_loader())
        except (OSError, ValueError, RecursionError, yaml.YAMLError) as exc:  # ValueError: not UTF-8
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise RunError(f"cannot read {self.config_path} ({first}); the run folder is damaged") from None
        if not isinstance(data, dict):
            raise RunError(f"{self.config_path} is not a mapping of settings")
        return data

    def is_scratch(self) -> bool:
        """Whether this is a from-scratch (NumPy) run, told even when its network file is gone."""
        if self.network_path.is_file():
            return True
        try:
            if self.metrics_path.is_file() and self.metrics().get("kind") == "scratch":
                return True
            config = self.config_dict() if self.config_path.is_file() else {}
        except RunError:
            return False
        return "hidden" in config and "conv_filters" not in config  # only scratch has 'hidden'


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    """A whole number >= 0 (JSON and CSV may spell it 3.0)."""
    return _is_number(value) and math.isfinite(value) and value == int(value) >= 0


def _check_metrics(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """``data`` unchanged, or RunError naming a field whose type readers cannot use.

    Only fields that are present are checked: runs cut short or from older versions lack some.
    """
    def damaged(key: str, expected: str) -> RunError:
        return RunError(f"{path}: {key} is {_short(data[key])}, not {expected}; "
                        "the run folder is damaged")

    for key in ("kind", "status", "stop_reason", "data", "data_sha256"):
        if key in data and not isinstance(data[key], str):
            raise damaged(key, "text")
    for key in ("epochs_run", "model_epoch"):
        value = data.get(key)
        if value is not None and not _is_count(value):
            raise damaged(key, "a whole number")
    for key in ("train_accuracy", "val_accuracy"):
        if data.get(key) is not None and not _is_number(data[key]):
            raise damaged(key, "a number")
    final = data.get("final")
    if final is not None and not (isinstance(final, dict)
                                  and all(v is None or _is_number(v) for v in final.values())):
        raise damaged("final", "a mapping of metric names to numbers")
    names = data.get("class_names")
    if names is not None and not (
        isinstance(names, list) and all(isinstance(n, str) and n for n in names)
        and len(set(names)) == len(names) >= 2
    ):
        raise damaged("class_names", "a list of two or more distinct class names")
    return data


def _check_epochs(path: Path, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` unchanged, or RunError if their epoch numbers are missing or not numbers.

    Every reader puts epochs on an axis or compares them; NaN or text there breaks them all.
    A history without an epoch column at all is fine (epochs are then counted from 1).
    """
    if not any("epoch" in row for row in rows):
        return rows
    for row in rows:
        epoch = row.get("epoch")
        if not _is_count(epoch):
            raise RunError(f"{path}: epoch {_short(epoch)} is not an epoch number; "
                           "the run folder is damaged")
    return rows


def _parse_number(text: str | None) -> Any:
    if text is None or text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        return text
    return int(number) if number.is_integer() and "." not in text else number


def list_runs(runs_dir: Path) -> list[RunFolder]:
    """Run folders under ``runs_dir`` (those with a config), oldest first."""
    runs_dir = Path(runs_dir)
    if not runs_dir.is_dir():
        return []
    found = [RunFolder(p) for p in runs_dir.iterdir() if (p / CONFIG_FILE).is_file()]
    return sorted(found, key=lambda r: (r.config_path.stat().st_mtime, r.path.name))


def summarize_runs(runs_dir: Path) -> list[dict[str, Any]]:
    """One row per run folder: name, status, epochs, final metrics, stop reason.

    A run whose metrics.json or history cannot be read is listed with status "damaged".
    """
    rows = []
    for run in list_runs(runs_dir):
        row: dict[str, Any] = {"run": run.path.name, "status": "incomplete", "epochs": None,
                               "accuracy": None, "val_accuracy": None, "stop_reason": ""}
        try:
            metrics = run.metrics() if run.metrics_path.is_file() else {}
        except RunError:  # one damaged run must not hide the others
            row["status"] = "damaged"
            rows.append(row)
            continue
        if metrics:
            final = metrics.get("final") or {}
            row.update(
                status=metrics.get("status", "finished"),
                epochs=metrics.get("epochs_run"),
                accuracy=final.get("accuracy", metrics.get("train_accuracy")),
                val_accuracy=final.get("val_accuracy", metrics.get("val_accuracy")),
                stop_reason=metrics.get("stop_reason", ""),
            )
        else:  # killed outright (or still training): what the history says so far
            if not (run.history_json.is_file() or run.history_csv.is_file()):
                epochs = []  # no epoch finished yet
            else:
                try:
                    epochs = run.history_rows()
                except RunError:
                    row["status"] = "damaged"
                    rows.append(row)
                    continue
            last = epochs[-1] if epochs else {}
            row.update(epochs=len(epochs), accuracy=last.get("accuracy"),
                       val_accuracy=last.get("val_accuracy"))
        rows.append(row)
    return rows
