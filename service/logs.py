"""JSON log lines with a request id, and a filter that keeps secret values out of every line."""
import json
import logging
import sys
import threading
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
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exc"] = record.exc_text  # already redacted by RedactSecrets
        return json.dumps(entry, default=str)


class RedactSecrets(logging.Filter):
    """Replace any configured secret value in a record's message, fields, traceback and stack."""

    _plain = logging.Formatter()  # renders tracebacks the standard way, before any handler sees them

    def __init__(self, secrets):
        super().__init__()
        self.secrets = tuple(s for s in secrets if s and len(s) >= 6)

    def filter(self, record):
        if not self.secrets:
            return True
        record.msg, record.args = _redact(record.getMessage(), self.secrets), None
        fields = getattr(record, "fields", None)
        if fields:
            record.fields = json.loads(_redact(json.dumps(fields, default=str), self.secrets))
        if record.exc_info and not record.exc_text:
            record.exc_text = self._plain.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text, record.exc_info = _redact(record.exc_text, self.secrets), None
        if record.stack_info:
            record.stack_info = _redact(record.stack_info, self.secrets)
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
    """JSON lines on stderr for any entry point, also before the settings could be read; secrets redacted."""
    redact = RedactSecrets(secrets)
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(redact)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("gunicorn.error", "gunicorn.access"):  # gunicorn's own handlers do not pass through root
        for other in logging.getLogger(name).handlers:
            other.addFilter(redact)
    _route_uncaught(logging.getLogger("companion.crash"))
    # urllib3 logs full URLs at DEBUG; keep it quieter than our own lines.
    logging.getLogger("urllib3").setLevel(max(logging.INFO, root.level))


def config_error(err):
    """One line per configuration problem, naming the variable and the fix; no traceback."""
    logger = logging.getLogger("companion.config")
    for problem in err.problems:
        log(logger, logging.ERROR, problem, variable=problem.split(" ", 1)[0])


def _route_uncaught(logger):
    """Uncaught exceptions (main thread and others) are logged, so their tracebacks are redacted too."""
    sys.excepthook = lambda kind, value, tb: logger.critical("uncaught exception", exc_info=(kind, value, tb))
    threading.excepthook = lambda args: logger.critical(
        "uncaught exception in a thread", exc_info=(args.exc_type, args.exc_value, args.exc_traceback))


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
