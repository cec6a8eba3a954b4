"""Signals noted inside a block and raised where the caller asks (no Keras needed)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from happysad.signals import InterruptRequest, signals_held


def test_signals_are_held_while_the_run_folder_is_completed():
    before = signal.getsignal(signal.SIGINT)
    with signals_held():
        os.kill(os.getpid(), signal.SIGINT)  # would raise KeyboardInterrupt here
        os.kill(os.getpid(), signal.SIGTERM)  # would end the process
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_the_first_signal_is_noted_and_raised_on_request(sig, capfd):
    before = signal.getsignal(sig)
    with InterruptRequest() as request:
        request.raise_if_requested()  # nothing yet
        os.kill(os.getpid(), sig)  # would raise here, or end the process, without the block
        assert request.signal_name == sig.name
        with pytest.raises(KeyboardInterrupt):
            request.raise_if_requested()
    assert signal.getsignal(sig) is before
    assert f"{sig.name}: stopping after the current step" in capfd.readouterr().err


def test_a_second_signal_stops_at_once():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with InterruptRequest() as request:
            os.kill(os.getpid(), signal.SIGTERM)
            assert request.signal_name == "SIGTERM"
            os.kill(os.getpid(), signal.SIGTERM)
            pytest.fail("the second signal did not interrupt")
    assert signal.getsignal(signal.SIGTERM) is before


def test_each_block_starts_without_a_request():
    request = InterruptRequest()
    with request:
        os.kill(os.getpid(), signal.SIGINT)
    with request:
        assert request.signal_name is None
        request.raise_if_requested()


def test_an_ignored_signal_stays_ignored():
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with InterruptRequest() as request:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGINT)
            assert request.signal_name is None
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_outside_the_main_thread_signals_are_left_alone():
    seen = []

    def body():
        with InterruptRequest() as request:
            seen.append(request.signal_name)

    worker = threading.Thread(target=body)
    worker.start()
    worker.join()
    assert seen == [None]


def test_sigterm_as_ctrl_c_raises_keyboard_interrupt_inside_the_block():
    from happysad.signals import sigterm_as_ctrl_c

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with sigterm_as_ctrl_c():
            os.kill(os.getpid(), signal.SIGTERM)
            pytest.fail("SIGTERM did not interrupt")
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_notice_says_when_training_will_stop(capfd):
    with InterruptRequest(when=lambda: "when this epoch ends") as request:
        os.kill(os.getpid(), signal.SIGINT)
    assert "SIGINT: stopping when this epoch ends (send it again to stop sooner)" in (
        capfd.readouterr().err)
    assert request.signal_name == "SIGINT"


def test_ignore_late_signals_ignores_both():
    from happysad.signals import ignore_late_signals

    ignore_late_signals()  # the conftest fixture restores the handlers after this test
    os.kill(os.getpid(), signal.SIGINT)
    os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN


def test_a_second_signal_can_call_a_function_instead():
    seen = []

    def on_second(name):
        seen.append(name)
        raise SystemExit(130)

    with pytest.raises(SystemExit):
        with InterruptRequest(on_second=on_second):
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
    assert seen == ["SIGINT"]
