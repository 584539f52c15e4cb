"""Start real server processes on free loopback ports and wait until they answer."""
import os
import socket
import subprocess
import sys
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url, verify=True, timeout=20.0, proc=None):
    """Poll url until it answers any HTTP status, or fail with the process output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            requests.get(url, verify=verify, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


class Proc:
    """A child process with its log file; stopped by stop()."""

    def __init__(self, args, env=None, log_path=None, cwd=ROOT):
        self.log_path = log_path or os.devnull
        self._log = open(self.log_path, "ab")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.popen = subprocess.Popen(args, cwd=cwd, env=full_env, stdout=self._log,
                                      stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self, sig=None):
        """Terminate (or send sig) and reap the process."""
        if self.popen.poll() is None:
            if sig is None:
                self.popen.terminate()
            else:
                self.popen.send_signal(sig)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._log.close()

    def output(self):
        """Return what the process has logged so far."""
        if self.log_path == os.devnull:
            return ""
        with open(self.log_path, encoding="utf-8", errors="replace") as fh:
            return fh.read()


def python_module(module, *args, env=None, log_path=None):
    """Start `python -m module args…` with this interpreter."""
    return Proc([sys.executable, "-m", module, *map(str, args)], env=env, log_path=log_path)
