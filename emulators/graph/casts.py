"""OData casts and `$count` segments: `/groups/{id}/members/microsoft.graph.user`, `/users/$count`, ...

A cast keeps the objects of one type (Learn `group-list-members`, "OData cast"); the `graph.` alias spelling
the SDKs use reaches these routes through emulators.graph.aliases. `$count` as a path segment answers the
number alone, as text/plain, and on directory objects needs `ConsistencyLevel: eventual` (Learn
`query-parameters#count-parameter`, `aad-advanced-queries`).
"""
from functools import partial

from emulators.graph import groups, odata
from emulators.graph.errors import GraphError
from emulators.graph.filters import compile_filter
from emulators.graph.routing import Reply, Route
from emulators.graph.users import user_filter

TEXT_TYPE = "text/plain;charset=utf-8"


def _count_reply(ctx, kind, predicate=None, candidates=None):
    """The number of visible objects that match, as Graph's text/plain answer."""
    count = ctx.store.count(kind, predicate, candidates)
    return Reply(200, count, content_type=TEXT_TYPE, raw=str(count).encode())


def _require_eventual(ctx):
    """$count on directory objects is an advanced query: 400 without the ConsistencyLevel header."""
    odata.reject_unsupported(ctx.args, ("$filter",))
    if ctx.req.headers.get("ConsistencyLevel", "").lower() != "eventual":
        raise GraphError(400, "Request_BadRequest", "$count is not currently supported.")


def count_users(ctx):
    """GET /users/$count[?$filter=…] -> 200 text/plain, e.g. `3`."""
    _require_eventual(ctx)
    return _count_reply(ctx, "user", *user_filter(ctx, advanced=True))


def count_groups(ctx):
    """GET /groups/$count[?$filter=…] -> 200 text/plain."""
    _require_eventual(ctx)
    text = ctx.args.get("$filter")
    predicate = compile_filter(text, ctx.app.schema, "group", advanced=True)[0] if text else None
    return _count_reply(ctx, "group", predicate)


def _cast_routes():
    """GET routes of the casts on membership collections, each with its RU cost and entity."""
    routes = []
    for segment, handler, units, kinds in (
            ("groups/<gid>/members", groups.members, 3, ("user", "group")),
            ("groups/<gid>/transitiveMembers", groups.transitive_members, 5, ("user", "group")),
            ("users/<key>/memberOf", groups.member_of, 2, ("group",)),
            ("users/<key>/transitiveMemberOf", groups.transitive_member_of, 2, ("group",))):
        for kind in kinds:
            routes.append(Route("GET", f"/v1.0/{segment}/microsoft.graph.{kind}", partial(handler, cast=kind),
                                ru=units, entity=kind))
    return routes


ROUTES = [
    Route("GET", "/v1.0/users/$count", count_users),
    Route("GET", "/v1.0/groups/$count", count_groups),
    *_cast_routes(),
]
