"""Check emulator traffic against a vendor OpenAPI extract (openapi-core), plus unknown response fields."""
import json
import re
import threading
import warnings
from urllib.parse import parse_qsl, unquote

import yaml
from jsonschema.exceptions import best_match
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.responses.exceptions import ResponseNotFound
from werkzeug.datastructures import Headers, ImmutableMultiDict

_HOST = "http://emulator.invalid"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
# OData instance annotations ("@odata.type", "prop@odata.nextLink"...) are not properties.
_ANNOTATION = "@odata."
MAX_DETAIL = 300  # jsonschema messages can embed whole values and schemas


def load_spec(spec_path):
    """Read an OpenAPI document from YAML or JSON."""
    with open(spec_path, encoding="utf-8") as fh:
        text = fh.read()
    if spec_path.endswith(".json"):
        return json.loads(text)
    return yaml.safe_load(text)


def _quiet():
    """Silence openapi-core's per-request warning about the oauth2 alternative it cannot check."""
    # Auth0 operations accept bearerAuth *or* oAuth2ClientCredentials; the bearer one is checked.
    warnings.filterwarnings("ignore", message="Unsupported scheme type")


def _pointer(root, ref):
    """Resolve a local JSON pointer such as '#/components/schemas/User'."""
    node = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _deref(node, root, seen=()):
    """Inline local $refs (not recursive ones): jsonschema then skips ref lookups, ~25 % faster."""
    if isinstance(node, list):
        return [_deref(item, root, seen) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and ref not in seen:
        target = _deref(_pointer(root, ref), root, seen + (ref,))
        siblings = {k: _deref(v, root, seen) for k, v in node.items() if k != "$ref"}
        return {**siblings, **target} if siblings and isinstance(target, dict) else target
    return {key: _deref(value, root, seen) for key, value in node.items()}


class _Route:
    """One path template of the spec, compiled to a regex over the raw (encoded) path."""

    def __init__(self, template, methods):
        self.template, self.methods, self.names = template, methods, []
        parts, pos = [], 0
        for match in re.finditer(r"\{([^}]+)\}", template):
            parts.append(re.escape(template[pos:match.start()]) + "([^/]+)")
            self.names.append(match.group(1))
            pos = match.end()
        parts.append(re.escape(template[pos:]))
        self.regex = re.compile("".join(parts))
        self.literal_len = len(re.sub(r"\{[^}]+\}", "", template))

    def match(self, path):
        """Path parameters (decoded) when path fits this template, else None."""
        found = self.regex.fullmatch(path)
        if not found:
            return None
        return {name: unquote(value) for name, value in zip(self.names, found.groups())}


class _Request:
    """The request protocol openapi-core expects, built from raw parts."""

    def __init__(self, method, path, template, params, query_string, headers, body):
        if isinstance(query_string, bytes):
            query_string = query_string.decode("latin-1")
        self.host_url, self.path, self.method = _HOST, path, method.lower()
        self.path_pattern = template
        hdrs = Headers(list(headers.items()) if hasattr(headers, "items") else list(headers or []))
        self.parameters = RequestParameters(
            path=params, query=ImmutableMultiDict(parse_qsl(query_string or "", keep_blank_values=True)),
            header=hdrs, cookie=ImmutableMultiDict())
        self.content_type = hdrs.get("Content-Type", "application/json")
        self.body = body or b""


class _Response:
    """The response protocol openapi-core expects."""

    def __init__(self, status, headers, body):
        self.status_code, self.data = int(status), body or b""
        self.headers = Headers(list(headers.items()) if hasattr(headers, "items") else list(headers or []))
        self.content_type = self.headers.get("Content-Type", "application/json")


def _schema_errors(error):
    """The JSON Schema errors an openapi-core error wraps (None when it wraps none)."""
    cause = error.__cause__ if getattr(error, "__cause__", None) is not None else error
    found = getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None)
    return list(found) if found else None


def _ambiguous(err):
    """A `oneOf` matched by several alternatives: the vendor meant anyOf (e.g. Auth0's list-or-page
    shapes, where `{"users": [...]}` fits both paginated alternatives), so the value conforms."""
    return err.validator == "oneOf" and not err.context


def _describe(error):
    """Human-readable text for an openapi-core error, or None when it only reports ambiguous oneOfs."""
    schema_errors = _schema_errors(error)
    if schema_errors is None:
        return str(error)
    real = [err for err in schema_errors if not _ambiguous(err)]
    if not real:
        return None
    name = getattr(error, "name", None)
    label = type(error).__name__ + (f" ({getattr(error, 'location', '')} parameter {name!r})" if name else "")
    details = []
    for err in real:
        err = best_match([err] + list(err.context or [])) if err.context else err
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        text = err.message if len(err.message) <= MAX_DETAIL else err.message[:MAX_DETAIL] + "…"
        details.append(f"{text} at {where}")
    return f"{label}: " + "; ".join(details)


class SpecValidator:
    """Validates requests and responses of one API against its vendor OpenAPI extract."""

    def __init__(self, spec_path, base_path, undeclared_error_status_ok=True):
        raw = load_spec(spec_path)
        self.raw, self.base_path = raw, base_path.rstrip("/")
        self.undeclared_error_status_ok = undeclared_error_status_ok
        inlined = dict(raw, servers=[{"url": _HOST}], paths=_deref(raw["paths"], raw))
        self._api = OpenAPI.from_dict(inlined)
        self._lock = threading.Lock()
        routes = [_Route(t, {m for m in item if m in _METHODS}) for t, item in raw["paths"].items()]
        # Literal templates first (/users/delta() before /users/{user-id}), then longer literals.
        self._routes = sorted(routes, key=lambda r: (len(r.names), -r.literal_len))

    def find(self, method, path):
        """(template, path params) of the spec operation serving method+path, or None."""
        path = path.split("?", 1)[0]
        if not path.startswith(self.base_path + "/"):
            return None
        rest = path[len(self.base_path):]
        for route in self._routes:
            params = route.match(rest)
            if params is not None and method.lower() in route.methods:
                return route.template, params
        return None

    def matches(self, method, path):
        """Whether the spec has an operation for method+path."""
        return self.find(method, path) is not None

    def check_request(self, method, path, query_string, headers, body_bytes):
        """Violations of the request alone ([] when the spec has no such operation)."""
        found = self.find(method, path)
        if found is None:
            return []
        req = _Request(method, path, found[0], found[1], query_string, headers, body_bytes)
        with self._lock, warnings.catch_warnings():
            _quiet()
            errors = list(self._api.request_validator.iter_errors(req))
        described = (_describe(e) for e in errors)
        return [f"{method.upper()} {found[0]}: request: {text}" for text in described if text]

    def check_response(self, method, path, query_string, headers, body_bytes, status,
                       response_headers, response_body_bytes):
        """Violations of the response: schema, undeclared status, fields the vendor schema lacks."""
        found = self.find(method, path)
        if found is None:
            return []
        req = _Request(method, path, found[0], found[1], query_string, headers, body_bytes)
        resp = _Response(status, response_headers, response_body_bytes)
        with self._lock, warnings.catch_warnings():
            _quiet()
            errors = list(self._api.response_validator.iter_errors(req, resp))
        label = f"{method.upper()} {found[0]} -> {status}"
        out = []
        for error in errors:
            if isinstance(error, ResponseNotFound) and int(status) >= 400 and self.undeclared_error_status_ok:
                continue  # vendors list error statuses only partly (e.g. Auth0's 413 is documented elsewhere)
            text = _describe(error)
            if text:
                out.append(f"{label}: response: {text}")
        if not out and response_body_bytes:
            out += self.response_unknown_fields(method, path, status, response_body_bytes)
        return out

    def check(self, method, path, query_string, headers, body_bytes, status, response_headers,
              response_body_bytes):
        """All violations of one exchange; [] for paths the spec does not have.

        A request that breaks the schema is only a violation when the emulator accepted it
        (status < 400): rejecting bad input is the vendor's behaviour too.
        """
        out = []
        if int(status) < 400:
            out += self.check_request(method, path, query_string, headers, body_bytes)
        out += self.check_response(method, path, query_string, headers, body_bytes, status,
                                   response_headers, response_body_bytes)
        return out

    def response_schema(self, method, path, status):
        """The JSON schema the spec declares for this response, or None."""
        found = self.find(method, path)
        if found is None:
            return None
        responses = self.raw["paths"][found[0]][method.lower()].get("responses", {})
        status = str(status)
        declared = responses.get(status) or responses.get(status[0] + "XX") or responses.get("default")
        if not declared:
            return None
        declared = self._resolve(declared)
        media = (declared.get("content") or {}).get("application/json")
        return media.get("schema") if media else None

    def response_unknown_fields(self, method, path, status, body):
        """Response fields the vendor schema does not define (a bug in the emulator)."""
        schema = self.response_schema(method, path, status)
        if schema is None or body in (None, b"", ""):
            return []
        if isinstance(body, (bytes, str)):
            try:
                body = json.loads(body)
            except ValueError:
                return []
        label = f"{method.upper()} {self.find(method, path)[0]} -> {status}"
        return [f"{label}: response field {where} is not in the vendor schema"
                for where in self._unknown(schema, body)]

    def unknown_properties(self, schema_name_or_pointer, obj):
        """JSON paths in obj that the named component schema (or '#/...' pointer) does not define."""
        ref = schema_name_or_pointer
        if not ref.startswith("#/"):
            ref = f"#/components/schemas/{ref}"
        return self._unknown({"$ref": ref}, obj)

    def schema_errors(self, schema_name_or_pointer, obj):
        """JSON Schema violations of obj against a component schema (e.g. an error-body schema)."""
        from jsonschema import Draft202012Validator, Draft4Validator
        ref = schema_name_or_pointer
        if not ref.startswith("#/"):
            ref = f"#/components/schemas/{ref}"
        schema = _deref({"$ref": ref}, self.raw)
        cls = Draft202012Validator if str(self.raw.get("openapi", "")).startswith("3.1") else Draft4Validator
        return [f"{e.message} at $" + "".join(f".{p}" for p in e.absolute_path)
                for e in cls(schema).iter_errors(obj)]

    def _resolve(self, node):
        """Follow $ref chains to the schema they name."""
        seen = 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 50:
            node, seen = _pointer(self.raw, node["$ref"]), seen + 1
        return node

    def _views(self, schema, depth=0):
        """Flatten allOf and expand oneOf/anyOf into alternative plain schemas."""
        schema = self._resolve(schema)
        if not isinstance(schema, dict) or depth > 20:
            return [{}]
        base = {k: v for k, v in schema.items() if k not in ("allOf", "oneOf", "anyOf")}
        views = [base]
        for part in schema.get("allOf", []):
            views = [_merge(v, p) for v in views for p in self._views(part, depth + 1)]
        alternatives = schema.get("oneOf", []) + schema.get("anyOf", [])
        if alternatives:
            alts = [a for part in alternatives for a in self._views(part, depth + 1)]
            views = [_merge(v, a) for v in views for a in alts]
        return views

    def _unknown(self, schema, value, where="$", depth=0):
        """Walk value along schema; list paths of properties the schema does not declare."""
        if value is None or depth > 40:
            return []
        if isinstance(value, dict):
            return self._unknown_in_object(schema, value, where, depth)
        if isinstance(value, list):
            views = [v for v in self._views(schema) if _accepts(v, "array")]
            items = views[0].get("items") if views else None
            if not isinstance(items, dict):
                return []
            return [p for i, item in enumerate(value) for p in self._unknown(items, item, f"{where}[{i}]", depth + 1)]
        return []

    def _unknown_in_object(self, schema, value, where, depth):
        """Unknown keys of one object, choosing the alternative that fits best."""
        odata_type = value.get("@odata.type")
        if isinstance(odata_type, str):
            name = odata_type.lstrip("#")
            if name in self.raw.get("components", {}).get("schemas", {}):
                schema = {"$ref": f"#/components/schemas/{name}"}
        views = [v for v in self._views(schema) if _accepts(v, "object")] or [{}]
        best = None
        for view in views:
            found = _scan_keys(view, value, where)
            if best is None or len(found[0]) < len(best[0]):
                best = found
        unknown, known = best
        out = list(unknown)
        for key, sub_schema in known:
            out += self._unknown(sub_schema, value[key], f"{where}.{key}", depth + 1)
        return out


def _merge(left, right):
    """Combine two flattened schemas (allOf semantics for the keywords the walker reads)."""
    merged = dict(left)
    merged.update({k: v for k, v in right.items() if k not in ("properties",)})
    if "properties" in left or "properties" in right:
        merged["properties"] = {**left.get("properties", {}), **right.get("properties", {})}
    if "required" in left or "required" in right:
        merged["required"] = list(left.get("required", [])) + list(right.get("required", []))
    if left.get("additionalProperties") is False or right.get("additionalProperties") is False:
        merged["additionalProperties"] = False
    return merged


def _accepts(view, json_type):
    """Whether a flattened schema may describe a value of json_type."""
    declared = view.get("type")
    if declared is None:
        return json_type != "array" or "items" in view or "properties" not in view
    return json_type in (declared if isinstance(declared, list) else [declared])


def _scan_keys(view, value, where):
    """(unknown key paths, [(key, schema)] to descend into) for one object against one view."""
    # A name listed in `required` is declared even without a `properties` entry (Auth0 does this).
    props = dict.fromkeys(view.get("required") or (), {})
    props.update(view.get("properties") or {})
    extra = view.get("additionalProperties")
    unknown, known = [], []
    for key in value:
        if _ANNOTATION in key:
            continue
        if key in props:
            known.append((key, props[key]))
        elif props or extra is False:
            unknown.append(f"{where}.{key}")
        elif isinstance(extra, dict):
            known.append((key, extra))
    return unknown, known
