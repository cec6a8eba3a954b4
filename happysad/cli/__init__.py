"""The command line. The only package that knows click.

Each command resolves its config, calls one plain function, and prints the result.
TensorFlow, Keras and matplotlib are imported inside the commands that need them, so
``happysad --help`` and ``happysad --version`` stay fast.
"""

from __future__ import annotations

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


def _register() -> None:
    from . import commands, scratch  # noqa: F401  (each module adds its commands to main)


_register()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
