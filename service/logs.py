"""JSON log lines with a request id, and a filter that keeps secret values out of every line."""
import json
import logging
import sys
import time
import uuid

from flask import g, has_request_context, request

REDACTED = "[redacted]"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extras."""

    def format(self, record):
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        # Fields never replace the line's own keys: the request id is what a person reads out to the help desk.
        entry.update({k: v for k, v in (getattr(record, "fields", {}) or {}).items() if k not in entry})
        if has_request_context():
            entry["request_id"] = getattr(g, "request_id", None)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class RedactSecrets(logging.Filter):
    """Replace any configured secret value that reaches a log record (defence in depth)."""

    def __init__(self, secrets):
        super().__init__()
        self.secrets = tuple(s for s in secrets if s and len(s) >= 6)

    def filter(self, record):
        message = record.getMessage()
        fields = getattr(record, "fields", None)
        text = message + (json.dumps(fields, default=str) if fields else "")
        if any(secret in text for secret in self.secrets):
            for secret in self.secrets:
                message = message.replace(secret, REDACTED)
            record.msg, record.args = message, None
            if fields:
                record.fields = json.loads(_redact(json.dumps(fields, default=str), self.secrets))
        return True


def _redact(text, secrets):
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test capture, gunicorn's redirection)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


def configure(settings):
    """Route the root logger to stderr as JSON, at the configured level, with secret redaction."""
    setup(settings.log_level, settings.secret_values())


def setup(level="INFO", secrets=()):
    """JSON lines on stderr for any entry point, also before the settings could be read."""
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # urllib3 logs full URLs at DEBUG; keep it quieter than our own lines.
    logging.getLogger("urllib3").setLevel(max(logging.INFO, root.level))


def config_error(err):
    """One line per configuration problem, naming the variable and the fix; no traceback."""
    logger = logging.getLogger("companion.config")
    for problem in err.problems:
        log(logger, logging.ERROR, problem, variable=problem.split(" ", 1)[0])


def log(logger, level, msg, **fields):
    """Log msg with structured fields."""
    logger.log(level, msg, extra={"fields": fields})


def begin_request():
    """Take the caller's X-Request-Id when it is sane, else make one."""
    given = request.headers.get("X-Request-Id", "")
    g.request_id = given if given.isprintable() and 0 < len(given) <= 64 else uuid.uuid4().hex
    g.started = time.monotonic()


def end_request(response):
    """Echo the request id and log one access line."""
    response.headers["X-Request-Id"] = g.get("request_id", "")
    elapsed = round((time.monotonic() - g.get("started", time.monotonic())) * 1000, 1)
    log(logging.getLogger("companion.access"), logging.INFO, "request",
        method=request.method, path=request.path, status=response.status_code, ms=elapsed)
    return response
