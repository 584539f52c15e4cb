"""JSON request bodies, parsed once and safely: bounded nesting and a named 400, never a 5xx."""
import json

from flask import g, request

from service import text
from service.views.errors import ApiError

MAX_DEPTH = 32  # our callers send a profile or a notification batch: a few levels deep at most


def json_body(check_text=True):
    """The request's JSON value; 400 naming `body` (or the offending path) when it cannot be used."""
    if "json_body" not in g:
        try:
            value = json.loads(request.get_data(cache=True) or b"null")
        except RecursionError:
            raise _too_deep() from None
        except ValueError:
            raise ApiError(400, "invalid_json", "The body is not valid UTF-8 JSON.", field="body") from None
        _walk(value, check_text)
        g.json_body = value
    return g.json_body


def _too_deep():
    return ApiError(400, "too_deep", f"The body nests deeper than {MAX_DEPTH} levels; send a flat object.",
                    field="body")


def _walk(value, check_text):
    """Refuse deep nesting and (when asked) text nobody downstream can store, naming where it is."""
    stack = [(value, "body", 0)]
    while stack:
        node, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _too_deep()
        if isinstance(node, dict):
            for key, child in node.items():
                _check_text(key, path, check_text)
                stack.append((child, key if path == "body" else f"{path}.{key}", depth + 1))
        elif isinstance(node, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(node))
        elif isinstance(node, str):
            _check_text(node, path, check_text)


def _check_text(value, path, check_text):
    if check_text and not text.storable(value):
        raise ApiError(400, "invalid_text", f"{path} holds a NUL character or invalid Unicode; send UTF-8 text.",
                       field=path)
