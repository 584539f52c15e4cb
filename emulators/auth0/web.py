"""HTTP plumbing shared by the handlers: replies, bodies, query parameters and offset paging."""
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from emulators.auth0.config import MAX_BODY_BYTES
from emulators.auth0.errors import Auth0Error, bad_query, payload_too_large

JSON_TYPE = "application/json; charset=utf-8"


@dataclass
class Reply:
    """What a handler answers: status, JSON-able body (or raw bytes) and extra headers."""

    status: int = 200
    body: object = None
    headers: dict = field(default_factory=dict)
    raw: bytes | None = None
    content_type: str = JSON_TYPE

    def payload(self):
        """The body bytes."""
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode()


def error_reply(err):
    """The Reply for an Auth0Error."""
    return Reply(err.status, err.body(), dict(err.headers))


def raw_body(req):
    """The request body, refusing more than 1 MB (413) before reading it all."""
    length = req.content_length
    if length is not None and length > MAX_BODY_BYTES:
        raise payload_too_large(MAX_BODY_BYTES)
    data = req.stream.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise payload_too_large(MAX_BODY_BYTES)
    return data


def parse_body(req, data, optional=False):
    """Decode a JSON or form body (both are declared in the vendor extract)."""
    if not data.strip():
        if optional:
            return {}
        raise Auth0Error(400, "Payload validation error: 'Expected type object but found type null'.",
                         "invalid_body")
    if req.mimetype == "application/x-www-form-urlencoded":
        return dict(parse_qsl(data.decode("utf-8", "replace"), keep_blank_values=True))
    try:
        return json.loads(data)
    except ValueError:
        raise Auth0Error(400, "Invalid request payload JSON format", "invalid_body") from None


def int_arg(req, name, default=None, low=None, high=None):
    """An integer query parameter within bounds, or 400 naming it."""
    text = req.args.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise bad_query(f"'Expected type integer but found type string' on property {name}.") from None
    if low is not None and value < low:
        raise bad_query(f"'Value {value} is less than minimum {low}' on property {name}.")
    if high is not None and value > high:
        raise bad_query(f"'Value {value} is greater than maximum {high}' on property {name}.")
    return value


def bool_arg(req, name, default=False):
    """A boolean query parameter (`true`/`false`), or 400 naming it."""
    text = req.args.get(name)
    if text is None or text == "":
        return default
    if text.lower() not in ("true", "false"):
        raise bad_query(f"'Expected type boolean but found type string' on property {name}.")
    return text.lower() == "true"


def paginate(req, items, key, with_length=False, default_per_page=50, min_per_page=1):
    """Offset paging (`page`, `per_page`, `include_totals`) in the shape each list schema declares."""
    page = int_arg(req, "page", 0, low=0)
    per_page = int_arg(req, "per_page", default_per_page, low=min_per_page, high=100)
    start = page * per_page
    chunk = items[start:start + per_page]
    if not bool_arg(req, "include_totals"):
        return chunk
    out = {"start": start, "limit": per_page, "total": len(items), key: chunk}
    if with_length:
        out["length"] = len(chunk)
    return out


def checkpoint(req, rows, key, cursor):
    """Checkpoint paging (`from`, `take` 1–100, default 50) over rows sorted by `cursor`.

    Auth0 answers `{key: [...], "next": "…"}` and leaves `next` out on the last page; a cursor that compares
    by id keeps a walk exact while rows before or after it come and go.
    """
    take = int_arg(req, "take", 50, low=1, high=100)
    start = req.args.get("from") or ""
    after = [row for row in rows if row[cursor] > start] if start else rows
    out = {key: after[:take]}
    if len(after) > take:
        out["next"] = after[take - 1][cursor]
    return out
