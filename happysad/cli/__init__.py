"""The command line. The only package that knows click.

Each command resolves its config, calls one plain function, and prints the result.
TensorFlow, Keras and matplotlib are imported inside the commands that need them, so
``happysad --help`` and ``happysad --version`` stay fast.
"""

from __future__ import annotations

import logging
import sys

import click

from .. import __version__
from ..errors import HappysadError


class HappysadGroup(click.Group):
    """A click group that turns a HappysadError into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HappysadError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("error: interrupted; nothing was left half-written", err=True)
            ctx.exit(130)
        except OSError as exc:
            # A disk or permission fault the commands did not foresee: still one line.
            where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
            click.echo(f"error: {exc.strerror or exc}{where}", err=True)
            ctx.exit(1)


@click.group(cls=HappysadGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="happysad")
def main() -> None:
    """Train and study small image-classification networks with Keras.

    Start with 'happysad train --data PATH' (a zip or a folder of class folders),
    then 'happysad plot RUN'. 'happysad scratch' holds the from-scratch NumPy network.
    """
    _setup_logging()


def _setup_logging() -> None:
    """Warnings from the library ('skipped 3 non-image files') as one line on stderr."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter
    log = logging.getLogger("happysad")
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        log.addHandler(_StderrHandler())
        log.setLevel(logging.INFO)
        log.propagate = False


class _StderrHandler(logging.Handler):
    """Writes 'warning: ...' to whatever sys.stderr is at the time (tests swap it)."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)


def _register() -> None:
    from . import commands, scratch, synth  # noqa: F401  (each module adds its commands to main)


_register()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
