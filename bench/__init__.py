"""Benchmarks of the Entra Companion against the local sandbox (run as scripts)."""
import signal
import sys


def stop_children_on_sigterm():
    """SIGTERM unwinds like Ctrl-C, so a benchmark's finally blocks stop the emulators and gunicorns it
    started: they run in sessions of their own, so a signal to the benchmark alone would leave them."""
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sys.exit(143))
