"""Who may do what with a verified bearer token: least privilege for the provisioning API.

Three kinds of caller:
- an Auth0 Action (HS256, signed with COMPANION_SECRET): acts for the user in its `sub` only;
- a machine (RS256 client-credentials token: `gty` = client-credentials, `sub` = <client id>@clients):
  needs the operation's permission in `scope` or `permissions`, and may then act on any user;
- a person (any other RS256 token: `sub` is their Auth0 user id): needs the permission too, and acts
  on themselves only.
"""
from service import tokens

PROVISION = "provision:office365"
READ = "read:office365"
MACHINE_SUFFIX = "@clients"


class Forbidden(Exception):
    """The token is genuine but does not allow this; `field` names what to change."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.message, self.field = message, field


def permissions(claims):
    """The permissions a token grants: Auth0's `permissions` list (RBAC) and its `scope` string."""
    granted = set()
    if isinstance(claims.get("scope"), str):
        granted.update(claims["scope"].split())
    if isinstance(claims.get("permissions"), list):
        granted.update(p for p in claims["permissions"] if isinstance(p, str))
    return granted


def kind(claims):
    """action, machine or person; Forbidden when the token mixes the two shapes."""
    if claims.get("iss") == tokens.ACTION_ISSUER:
        return "action"
    sub = claims.get("sub", "")
    machine_grant = claims.get("gty") == "client-credentials"
    if machine_grant != sub.endswith(MACHINE_SUFFIX):
        raise Forbidden("The token is neither a client-credentials token (gty and sub ending in @clients) "
                        "nor a user's token.")
    return "machine" if machine_grant else "person"


def authorize(claims, permission, user_id):
    """Return when the caller may apply `permission` to `user_id`; raise Forbidden saying why not."""
    who = kind(claims)
    if who != "action" and permission not in permissions(claims):
        raise Forbidden(f"The token lacks the permission {permission}; grant it to the caller in the API's "
                        "permissions (COMPANION_API_AUDIENCE).")
    if who != "machine" and claims.get("sub") != user_id:
        raise Forbidden("The token's sub is another user; a user's token acts on that user only.", "user_id")
