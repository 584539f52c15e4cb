"""Process helpers for tests (the sandbox module owns them)."""
from service.sandbox import ROOT, Proc, free_port, python_module, wait_until_up

__all__ = ["ROOT", "Proc", "free_port", "python_module", "wait_until_up"]
