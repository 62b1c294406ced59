"""Tests that misbehave towards the runner, run by tests/test_runner_misbehaving.py
(each selected with -k there); test_after shows the run went on."""

import contextlib
import ctypes
import os
import signal
import termios
import threading
import time

from syscalls.profile import PROPERTY


def test_records_a_property_that_does_not_pickle(record_property, observe) -> None:
    observe("seen", 1)
    record_property("lock", threading.Lock())


def test_records_what_is_not_observations_as_its_observations(record_property) -> None:
    record_property(PROPERTY, "not JSON {")


def test_leaves_a_thread_that_takes_the_interpreters_lock() -> None:
    hold = ctypes.PyDLL(None).sleep  # PyDLL: the GIL stays held during the call
    threading.Thread(target=lambda: (time.sleep(0.05), hold(1000)), daemon=True).start()


def test_gives_the_terminal_away_with_echo_off() -> None:
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # its worker's group is in the background
    fd = os.open("/dev/tty", os.O_RDWR)
    attrs = termios.tcgetattr(fd)
    attrs[3] &= ~termios.ECHO
    termios.tcsetattr(fd, termios.TCSANOW, attrs)
    os.tcsetpgrp(fd, os.getpgrp())
    os.close(fd)
    signal.signal(signal.SIGTTOU, signal.SIG_DFL)


PTRACE_TRACEME = 0


def _trace_me() -> None:
    assert ctypes.CDLL(None).ptrace(PTRACE_TRACEME, 0, None, None) == 0


def test_makes_its_controller_its_tracer() -> None:
    _trace_me()  # every later signal stops its worker, for a tracer that never waits


def test_signals_itself_after_the_tracer_test() -> None:
    signal.signal(signal.SIGUSR1, lambda *_: None)
    os.kill(os.getpid(), signal.SIGUSR1)
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)


def test_makes_its_controller_its_tracer_and_stops_for_it() -> None:
    _trace_me()
    signal.signal(signal.SIGUSR1, lambda *_: None)
    os.kill(os.getpid(), signal.SIGUSR1)


def test_makes_every_descriptor_it_finds_non_blocking() -> None:
    for fd in range(1024):  # its worker's pipes, and the run's output through its copies
        with contextlib.suppress(OSError):
            os.set_blocking(fd, False)


def test_ends_its_main_thread() -> None:
    threading.Thread(target=lambda: time.sleep(1000), daemon=True).start()
    ctypes.CDLL(None).pthread_exit(None)  # the thread above keeps the worker alive


def test_after() -> None:
    pass
