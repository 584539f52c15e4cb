# Entra Companion for Auth0: one image for the web service (default), the sync worker and the migration.
#   docker build -t entra-companion .   (not exercised by this project's tests: no Docker engine there)
# Patch-level tags; pin by digest (python:3.11.14-slim-bookworm@sha256:…) in your registry for byte-exact builds.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Every runtime dependency is pinned in requirements.txt and installed here, never at run time.
COPY requirements.txt /tmp/requirements.txt
RUN python -m venv /venv && /venv/bin/pip install --no-compile -r /tmp/requirements.txt

FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --gid 0 --home-dir /app --shell /usr/sbin/nologin companion \
    && mkdir -p /app/var && chown companion:0 /app/var
WORKDIR /app
COPY --from=build /venv /venv
COPY service/ /app/service/
COPY gunicorn.conf.py /app/
ENV PATH=/venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 BIND=0.0.0.0:8000
USER 10001
EXPOSE 8000
# Liveness of the web service; the worker and migrate services in docker-compose.yml switch it off.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
# gunicorn with gunicorn.conf.py, once WEB_CONCURRENCY, GUNICORN_THREADS and the settings read cleanly
CMD ["python", "-m", "service", "web"]
