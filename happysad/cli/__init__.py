"""The command line. The only package that knows click.

Each command resolves its config, calls one plain function, and prints the result.
TensorFlow, Keras and matplotlib are imported inside the commands that need them, so
``happysad --help`` and ``happysad --version`` stay fast.
"""

from __future__ import annotations

import io
import logging
import os
import sys

import click

from .. import __version__
from ..errors import HappysadError
from ..signals import ignore_late_signals


def one_line(message: str) -> str:
    """A message as one line: libraries' multi-line texts are folded, not cut."""
    return " ".join(part.strip() for part in str(message).splitlines() if part.strip())


class HappysadGroup(click.Group):
    """A click group whose every failure is one ``error: ...`` line and an exit code.

    HappysadErrors (the user's to fix) exit 1 (config: 2); click's usage errors exit 2;
    Ctrl-C outside training exits 130; an unforeseen disk or permission fault exits 1.
    Anything else is our bug and keeps its traceback.
    """

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        _survive_closed_pipes()
        try:
            try:
                code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            finally:
                ignore_late_signals()  # no traceback from Python's exit handlers after this
        except click.exceptions.NoArgsIsHelpError as exc:  # bare 'happysad': the help, unfolded
            click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message(), err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:  # bad options, unknown commands: one line too
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            click.echo(f"error: {one_line(exc.format_message())}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("error: interrupted", err=True)
            sys.exit(130)
        except OSError as exc:  # writing the output itself failed (--version > /dev/full)
            click.echo(f"error: cannot write the output: {exc.strerror or one_line(exc)}", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HappysadError as exc:
            click.echo(f"error: {one_line(exc)}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("error: interrupted; nothing was left half-written", err=True)
            ctx.exit(130)
        except MemoryError:
            click.echo("error: out of memory; use smaller settings (image_size, batch_size, "
                       "layer sizes)", err=True)
            ctx.exit(1)
        except OSError as exc:
            # A disk or permission fault the commands did not foresee: still one line.
            where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
            click.echo(f"error: {exc.strerror or one_line(exc)}{where}; check the path, "
                       "its permissions and free space", err=True)
            ctx.exit(1)


@click.group("happysad", cls=HappysadGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="happysad")
def main() -> None:
    """Train and study small image-classification networks with Keras.

    Start with 'happysad train --data PATH' (a zip or a folder of class folders),
    then 'happysad plot RUN'. 'happysad scratch' holds the from-scratch NumPy network.
    """
    _setup_logging()


class _PipeSafeWriter(io.RawIOBase):
    """A file descriptor whose writes go nowhere, without an error, once its reader is gone.

    ``happysad train | head -3`` closes the pipe after three lines; the next write would
    raise BrokenPipeError and end the run half-written. Instead the rest of the output is
    dropped and the command finishes its work.
    """

    def __init__(self, fd: int):
        super().__init__()
        self._fd = fd
        self._reader_gone = False

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._fd

    def isatty(self) -> bool:
        return os.isatty(self._fd)

    def write(self, data) -> int:
        if not self._reader_gone:
            try:
                return os.write(self._fd, data)
            except BrokenPipeError:
                self._reader_gone = True
            except OSError:  # a full disk or device: say so once (the caller), then drop
                self._reader_gone = True
                raise
        return len(data)


def _survive_closed_pipes() -> None:
    """Put stdout and stderr on ``_PipeSafeWriter``s (real console streams only)."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:  # started with the stream closed (`>&-`): discard
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))
            continue
        stream = getattr(sys, name)
        if stream is None or stream is not getattr(sys, f"__{name}__"):
            continue  # already replaced (a test runner, a notebook): leave it alone
        try:
            fd = stream.fileno()
        except (OSError, ValueError, io.UnsupportedOperation):
            continue
        stream.flush()
        safe = io.TextIOWrapper(
            io.BufferedWriter(_PipeSafeWriter(fd)), encoding=stream.encoding,
            errors=stream.errors, line_buffering=stream.line_buffering or name == "stderr",
        )
        setattr(sys, name, safe)
        setattr(sys, f"__{name}__", safe)  # what Python flushes at exit


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
