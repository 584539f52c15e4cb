"""gunicorn settings for the companion: migrate once in the master, then fork the workers."""
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
timeout = 60
# Longer than the waiting page's 2 s refresh, so a browser's reused connection is not closed under it.
keepalive = 5
accesslog = None  # the app logs one JSON access line per request itself
# gunicorn's own lines (start, workers booted or killed) as JSON too, like every other line.
logconfig_dict = {
    "version": 1, "disable_existing_loggers": False,
    "formatters": {"json": {"()": "service.logs.JsonFormatter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {"gunicorn.error": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
                "gunicorn.access": {"handlers": [], "level": "INFO", "propagate": False}},
}


def _settings_or_exit():
    """JSON logs at the configured level, or one line per configuration problem and exit 2 (no traceback)."""
    from service import logs
    from service.settings import ConfigError, from_env

    try:
        logs.configure(from_env())
    except ConfigError as err:
        logs.setup()
        logs.config_error(err)
        raise SystemExit(2) from None


def on_starting(server):
    """Bring the schema up to date before any worker serves (one migration, not one per worker)."""
    from service.db import Store, migrate
    from service.settings import from_env

    _settings_or_exit()
    migrate(Store(from_env().database_url).engine)
