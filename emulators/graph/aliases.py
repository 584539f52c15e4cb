"""Graph request paths in their canonical spelling: repeated slashes merged, the `graph.` alias expanded.

Microsoft Graph reads `/v1.0//users` as `/v1.0/users`; msgraph-sdk for Python sends exactly that, because
httpx gives the SDK's base URL a trailing slash and the URL templates start with one. Graph's CSDL declares
`<Schema Namespace="microsoft.graph" Alias="graph">`, so `graph.user` and `microsoft.graph.user` name the same
type; the SDKs write casts and bound actions with the alias (`/groups/{id}/transitiveMembers/graph.user`).
"""
import re

SLASHES = re.compile(r"/{2,}")
# Only the names the emulator serves as casts or bound functions/actions, as a whole segment, so that a
# key such as the UPN `graph.user@contoso.com` is never rewritten.
ALIASED = re.compile(r"(?<=/)graph\.(?=(?:user|group|delta|assignLicense|revokeSignInSessions|restore|reauthorize)"
                     r"(?:\(\))?(?:/|$))")


def canonical_path(path):
    """The path Graph would route for a /v1.0 request path (other paths unchanged)."""
    merged = SLASHES.sub("/", path)
    if not (merged == "/v1.0" or merged.startswith("/v1.0/")):
        return path
    return ALIASED.sub("microsoft.graph.", merged)


def canonical(environ):
    """The WSGI environ with its PATH_INFO in canonical spelling (changed in place and returned)."""
    environ["PATH_INFO"] = canonical_path(environ.get("PATH_INFO", ""))
    return environ
