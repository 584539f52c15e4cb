"""Benchmarks of the Entra Companion against the local sandbox (run as scripts)."""
import atexit
import signal


def stop_children_on_sigterm():
    """SIGTERM unwinds like Ctrl-C, so a benchmark's finally blocks stop the emulators and gunicorns it
    started: they run in sessions of their own, so a signal to the benchmark alone would leave them.
    Whatever a finally block had not heard of yet is stopped on the way out."""
    from service import sandbox
    atexit.register(sandbox.stop_all)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: sandbox.exit_when_safe(143))
