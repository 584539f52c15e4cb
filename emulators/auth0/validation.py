"""`--validate-spec`: every /api/v2 exchange is checked against Auth0's OpenAPI extract off the request path."""
import json
import queue
import threading

from emulators._spec import SpecValidator

# The extract's error-body schemas (copied from Auth0's file, unreferenced by the kept operations).
ERROR_SCHEMAS = {400: "BadRequestSchema", 401: "UnauthorizedSchema", 403: "ForbiddenSchema",
                 429: "TooManyRequestsSchema"}
MAX_KEPT = 1000


class SpecRecorder:
    """Queues exchanges, checks them on a worker thread, keeps distinct violation messages."""

    def __init__(self, spec_path, base_path="/api/v2"):
        self._spec_path, self._base = spec_path, base_path
        self._queue = queue.Queue()
        self._found = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True, name="auth0-spec-check").start()

    def record(self, method, path, query, headers, body, status, response_headers, response_body):
        """Queue one exchange for checking."""
        self._queue.put((method, path, query, headers, body, status, response_headers, response_body))

    def violations(self):
        """Every distinct violation so far, after the queue has drained."""
        self._queue.join()
        with self._lock:
            return list(self._found)

    def _run(self):
        """Worker: load the spec once, then check exchanges as they come."""
        try:
            validator = SpecValidator(self._spec_path, self._base)
        except Exception as exc:  # noqa: BLE001 - a broken/missing extract must surface as a violation
            validator, failure = None, f"could not load {self._spec_path}: {exc!r}"
        while True:
            exchange = self._queue.get()
            try:
                found = self._check(validator, exchange) if validator else [failure]
            except Exception as exc:  # noqa: BLE001 - a checker bug must not kill the worker
                found = [f"checker failed on {exchange[0]} {exchange[1]}: {exc!r}"]
            with self._lock:
                for message in found:
                    if len(self._found) < MAX_KEPT:
                        self._found.setdefault(message, exchange[1])
            self._queue.task_done()

    @staticmethod
    def _check(validator, exchange):
        """Schema violations plus the error-body shape for statuses the extract describes."""
        found = validator.check(*exchange)
        status, body = exchange[5], exchange[7]
        schema = ERROR_SCHEMAS.get(status)
        if schema and validator.matches(exchange[0], exchange[1]):
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = None
            for problem in validator.schema_errors(schema, parsed):
                found.append(f"{exchange[0]} {exchange[1]} -> {status}: error body: {problem}")
        return found
