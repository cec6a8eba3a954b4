"""Errors a user can cause. The CLI prints them as one line and exits non-zero.

Anything raised as a ``HappysadError`` is the user's to fix (a bad file, a bad option, a
network fault); anything else is our bug and keeps its traceback.
"""


class HappysadError(Exception):
    """A problem the user can fix; the message names it and says what to do."""

    exit_code = 1


class ConfigError(HappysadError):
    """A bad config file, key, type or value."""

    exit_code = 2


class DataError(HappysadError):
    """A dataset that cannot be used: missing, malformed, empty, corrupt."""


class DownloadError(HappysadError):
    """The dataset could not be fetched or did not verify."""


class RunError(HappysadError):
    """A run folder that is missing, incomplete or cannot be written."""


class TrainingError(HappysadError):
    """Training stopped on a fault (NaN loss, ...); the run folder keeps what was written."""
