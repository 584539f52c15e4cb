"""Environment for a companion wired to the running emulators (the sandbox module owns it)."""
from service.sandbox import COMPANION_SECRET, companion_env  # noqa: F401
