"""OData query options other than $filter: $select, $top, $skiptoken paging, @odata.context, projection."""
import base64
import json
from urllib.parse import urlencode

from emulators.graph.errors import GraphError, unsupported_query

# GET /users without $select returns this set (Learn `graph/api/user-list`, "Optional query parameters").
USER_DEFAULT = ("businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id")
MAX_TOP = 999


def parse_select(raw, schema, entity):
    """Canonical property names of a $select value, or None when absent."""
    if raw is None:
        return None
    fields = schema.fields(entity)
    lowered = {name.lower(): name for name in fields}
    names = []
    for part in raw.split(","):
        part = part.strip()
        if not part:
            continue
        name = lowered.get(part.lower())
        if name is None:
            raise GraphError(400, "BadRequest", "Parsing OData Select and Expand failed: Could not find a "
                             f"property named '{part}' on type 'microsoft.graph.{entity}'.")
        if name not in names:
            names.append(name)
    return names or None


def parse_top(raw, default=100, maximum=MAX_TOP):
    """The page size asked for with $top (400 outside 1..maximum, as Graph answers)."""
    if raw is None:
        return default
    try:
        top = int(raw)
    except ValueError:
        top = None
    if top is None or not 1 <= top <= maximum:
        raise GraphError(400, "Request_BadRequest",
                         f"Invalid page size specified: '{raw}'. Must be between 1 and {maximum} inclusive.")
    return top


def reject_unsupported(args, allowed=("$select", "$filter", "$top", "$skiptoken", "$count")):
    """400 for query options the emulator does not serve (rather than silently ignoring them)."""
    for key in args:
        if key.startswith("$") and key not in allowed:
            raise unsupported_query(f"The query option '{key}' is not supported by this emulator.")


def encode_skiptoken(after):
    """Opaque cursor: the last id returned (ids are served in sorted order)."""
    raw = json.dumps({"after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_skiptoken(token):
    """The id a $skiptoken points after (400 when it was not made here)."""
    try:
        padded = token + "=" * (-len(token) % 4)
        return str(json.loads(base64.urlsafe_b64decode(padded))["after"])
    except (ValueError, KeyError, TypeError):
        raise GraphError(400, "Request_BadRequest", "Invalid skip token.") from None


def next_link(base, path, args, after):
    """The @odata.nextLink: the same query with a $skiptoken after the last id of this page."""
    query = [(k, v) for k, v in args.items(multi=True) if k != "$skiptoken"]
    query.append(("$skiptoken", encode_skiptoken(after)))
    return f"{base}{path}?{urlencode(query, safe='$,()')}"


def context(base, segment, select=None, entity=False):
    """@odata.context such as `$metadata#users(id,displayName)/$entity`."""
    url = f"{base}/v1.0/$metadata#{segment}"
    if select:
        url += f"({','.join(select)})"
    return url + ("/$entity" if entity else "")


def project(obj, names, fields):
    """obj limited to names, with Graph's null/[] for unset values; the id is always included."""
    # A value Graph would send as null is left out where the extract's schema does not allow null
    # (complex types such as passwordProfile), so responses stay valid against the vendor schema.
    out = {"id": obj["id"]}
    for name in names:
        value = obj.get(name)
        field = fields.get(name)
        if value is None and field is not None:
            if field.kind == "array":
                value = []
            elif field.kind == "object" or not field.nullable:
                continue
        out[name] = value
    return out
