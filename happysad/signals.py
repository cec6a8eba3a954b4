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


def signals_held():
    """Ignore Ctrl-C and SIGTERM while the run folder is completed (about a second).

    A signal in the middle of saving the model would leave a run that is neither
    finished nor resumable; one that arrives in that second is dropped: the run is
    complete just after, and the command is ending anyway.
    """
    return handled(lambda signum, frame: None)


class InterruptRequest:
    """Note Ctrl-C and SIGTERM inside a ``with`` block; raise KeyboardInterrupt on request.

    The first signal only sets ``signal_name`` and prints one line on standard error;
    ``raise_if_requested`` then raises at a point the caller chose. A second signal raises
    KeyboardInterrupt at once, wherever the program is.

    Example:
        >>> request = InterruptRequest()
        >>> with request:                      # doctest: +SKIP
        ...     for step in steps:
        ...         step()
        ...         request.raise_if_requested()
    """

    def __init__(self):
        self.signal_name: str | None = None
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
            raise KeyboardInterrupt
        self.signal_name = signal.Signals(signum).name
        try:  # os.write: a print here could land inside another print and fail
            os.write(2, f"\n{self.signal_name}: stopping after the current step "
                        "(send it again to stop at once)\n".encode())
        except OSError:
            pass

    def raise_if_requested(self) -> None:
        """Raise KeyboardInterrupt if a signal arrived since the block began."""
        if self.signal_name is not None:
            raise KeyboardInterrupt(self.signal_name)
