"""Ctrl-C and SIGTERM during training, acted on only where it is safe.

Python's own Ctrl-C handler raises KeyboardInterrupt in whatever Python code the main thread
runs when the signal is seen. During ``model.fit`` that is often TensorFlow's or Keras's own
code: a ``__del__`` (the exception is printed and dropped, so the signal is lost: 3 of ~150
SIGTERMs in a trial), or halfway through releasing a native resource (a CI run crashed with
SIGSEGV). So training notes the signal here and raises it itself at the next step boundary
(``callbacks.SafeInterrupt``); a second signal raises at once, for a user who will not wait.

Nothing here imports TensorFlow or Keras.
"""

from __future__ import annotations

import os
import signal
from contextlib import contextmanager

INTERRUPT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def handled(handler, signals=INTERRUPT_SIGNALS):
    """Handle ``signals`` with ``handler`` inside the block, then put the old handlers back.

    A signal the process was told to ignore (SIG_IGN, as ``nohup`` or a job runner may
    set) stays ignored. Outside the main thread (where Python allows no handlers) the block
    runs unchanged.
    """
    try:
        previous = {sig: signal.signal(sig, handler) for sig in signals
                    if signal.getsignal(sig) is not signal.SIG_IGN}
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def exit_now(signal_name: str, run_path: str | os.PathLike | None = None) -> None:
    """End the process at once with exit code 130, as a second Ctrl-C asks.

    No Python code runs after it: a KeyboardInterrupt raised inside TensorFlow can leave
    its state corrupt (one in a trial of double signals ended in an AttributeError from
    Keras), whereas an exit here is like a SIGKILL, which a run resumes from (its last
    backup on disk). ``run_path`` is the run the message tells the user to resume.
    """
    try:
        os.write(2, f"{signal_name} again: stopped at once; `happysad train --resume "
                    f"{run_path or 'RUN'}` continues from the last backup on disk\n".encode())
    finally:
        os._exit(130)


def ignore_late_signals() -> None:
    """Ignore Ctrl-C and SIGTERM from here on: the command is ending, and one arriving
    while Python shuts down would print a traceback from its exit handlers."""
    try:
        for sig in INTERRUPT_SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
    except ValueError:  # not the main thread
        pass


def sigterm_as_ctrl_c():
    """Inside the block, SIGTERM raises KeyboardInterrupt as Ctrl-C does (exit 130, cleanup)."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    return handled(interrupt, [signal.SIGTERM])


def signals_held():
    """Ignore Ctrl-C and SIGTERM inside the block, wherever nothing inside handles them.

    Training wraps everything after its data and model are ready: during ``fit`` the
    signals are noted (``InterruptRequest`` inside), and after it, while the run folder is
    completed (about a second), they are dropped. A signal in the middle of saving the
    model would leave a run that is neither finished nor resumable, and one that lands
    after a stop condition fired would have the run train on when resumed; the command
    is ending anyway.
    """
    return handled(lambda signum, frame: None)


class InterruptRequest:
    """Note Ctrl-C and SIGTERM inside a ``with`` block; raise KeyboardInterrupt on request.

    The first signal only sets ``signal_name`` and prints one line on standard error;
    ``raise_if_requested`` then raises at a point the caller chose. A second signal raises
    KeyboardInterrupt as soon as Python runs again (a call into native code, such as a
    TensorFlow graph, finishes first: signals wait for it, and two of them count as one).

    Args:
        when: what the notice says about when training will stop (a function, asked at
            the moment the signal arrives).
        on_second: called with the signal's name on a second signal, instead of raising
            KeyboardInterrupt (``exit_now`` ends the process at once).

    Example:
        >>> request = InterruptRequest()
        >>> with request:                      # doctest: +SKIP
        ...     for step in steps:
        ...         step()
        ...         request.raise_if_requested()
    """

    def __init__(self, when=lambda: "after the current step", on_second=None):
        self.signal_name: str | None = None
        self.when = when
        self.on_second = on_second
        self._handlers = None

    def __enter__(self):
        self.signal_name = None
        self._handlers = handled(self._note)
        self._handlers.__enter__()
        return self

    def __exit__(self, *exc_info):
        handlers, self._handlers = self._handlers, None
        return handlers.__exit__(*exc_info)

    def _note(self, signum, frame):
        if self.signal_name is not None:
            if self.on_second is not None:
                self.on_second(signal.Signals(signum).name)
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        try:  # os.write: a print here could land inside another print and fail
            os.write(2, f"\n{self.signal_name}: stopping {self.when()} "
                        "(send it again to stop sooner)\n".encode())
        except OSError:
            pass

    def raise_if_requested(self) -> None:
        """Raise KeyboardInterrupt if a signal arrived since the block began."""
        if self.signal_name is not None:
            raise KeyboardInterrupt(self.signal_name)
