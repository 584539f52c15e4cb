"""gunicorn settings for the companion: migrate once in the master, then fork the workers."""
import os
import re
import tempfile

from gunicorn import glogging

# Metrics from every worker in one scrape (service/metrics.py): prometheus-client's multiprocess mode needs
# the directory before any worker imports it. Give the sync worker the same PROMETHEUS_MULTIPROC_DIR to
# have its counters in the web's /metrics too.
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="companion-metrics-"))

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))  # checked by `python -m service web` first
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
timeout = 60
# Longer than the waiting page's refresh (1-3 s), so a browser's reused connection is not closed under it.
keepalive = 5
accesslog = None  # the app logs one JSON access line per request itself


class _AppLogsAccess(glogging.Logger):
    """With a logconfig gunicorn builds an access line on every request even with nowhere to write it
    (~3 % of a login storm's CPU); the app writes its own."""

    def access(self, resp, req, environ, request_time):
        """Nothing: see the class."""


logger_class = _AppLogsAccess
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
    _forget_dead_processes(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def child_exit(server, worker):
    """A worker's live gauges leave with it (its counters stay summed, as Prometheus expects)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _forget_dead_processes(folder):
    """Metric files of processes gone since an earlier start; a running sync worker's files are kept."""
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        match = re.search(r"_(\d+)\.db$", name)
        if match and not _alive(int(match.group(1))):
            os.remove(os.path.join(folder, name))


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def post_worker_init(worker):
    """Start this worker's provisioning poller (threads must start after the fork, not in the master)."""
    worker.wsgi.extensions["companion"].driver.start()
