"""gunicorn settings for the companion: migrate once in the master, then fork the workers."""
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
timeout = 60
# Longer than the waiting page's refresh (1-3 s), so a browser's reused connection is not closed under it.
keepalive = 5
accesslog = None  # the app logs one JSON access line per request itself


def on_starting(server):
    """Bring the schema up to date before any worker serves (one migration, not one per worker)."""
    from service.db import Store, migrate
    from service.settings import from_env

    migrate(Store(from_env().database_url).engine)


def post_worker_init(worker):
    """Start this worker's provisioning poller (threads must start after the fork, not in the master)."""
    worker.wsgi.extensions["companion"].driver.start()
