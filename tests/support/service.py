"""The companion under gunicorn (the sandbox module owns it)."""
from service.sandbox import start_companion  # noqa: F401
